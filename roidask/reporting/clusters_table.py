"""Clusters table of a thresholded statistical map, equal to nilearn's ``get_clusters_table``.

The map is thresholded lazily (:func:`roidask.image.thresholding.apply_threshold`
and :func:`~roidask.image.thresholding.cluster_size_filter`, the code of
:func:`roidask.image.threshold_img`), then the thresholded 3D map is computed
once — a table is a result in memory, as nilearn's DataFrame — and the peaks,
subpeaks and cluster sizes are found on it exactly as nilearn 0.14.1 does.

Unlike :func:`roidask.image.threshold_img`, a threshold above the data is not
an error here: as in nilearn, it gives an empty table and a warning.
"""

import functools
import numbers
from string import ascii_lowercase

import dask
import dask.array as da
import numpy as np
import pandas as pd
from scipy.ndimage import (
    center_of_mass,
    generate_binary_structure,
    label,
    maximum_filter,
    minimum_filter,
)

from roidask._dask.data import dask_data
from roidask._utils.warnings import warn_user
from roidask.errors import ParameterError, RoidaskWarning
from roidask.grid import as_image, image_affine, like_image, voxel_size
from roidask.image.thresholding import apply_threshold, cluster_size_filter

COLUMNS = ["Cluster ID", "X", "Y", "Z", "Peak Stat", "Cluster Size (mm3)"]


class ClustersWarning(RoidaskWarning):
    """No cluster found, or a peak falls outside its cluster (nilearn's UserWarning)."""


def _apply(affine, ijk):
    ijk = np.asarray(ijk, dtype=float)
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def _cluster_nearest_neighbor(ijk, labels_index, labeled):
    labels = labeled[labeled > 0]
    clusters_ijk = np.array(labeled.nonzero()).T
    nbrs = np.zeros_like(ijk)
    for ii, (lab, point) in enumerate(zip(labels_index, ijk, strict=False)):
        lab_ijk = clusters_ijk[labels == lab]
        dist = np.linalg.norm(lab_ijk - point, axis=1)
        nbrs[ii] = lab_ijk[np.argmin(dist)]
    return nbrs


def _identify_subpeaks(data):
    data_max = maximum_filter(data, 3)
    maxima = data == data_max
    zero_mask = data == 0
    maxima[zero_mask] = 0
    is_constant = np.isclose(data[~zero_mask].max(), data[~zero_mask].min())
    if not is_constant:
        data_min = minimum_filter(data, 3)
        diff = (data_max - data_min) > 0
        maxima[diff == 0] = 0
    labeled, n_subpeaks = label(maxima)
    labels_index = np.arange(1, n_subpeaks + 1)
    ijk = np.array(center_of_mass(data, labeled, labels_index))
    ijk = np.round(ijk).astype(int)
    outside = labeled[ijk[:, 0], ijk[:, 1], ijk[:, 2]] != labels_index
    if np.any(outside):
        warn_user(
            "Attention: At least one of the (sub)peaks falls outside of the cluster body. "
            "Identifying the nearest in-cluster voxel.", ClustersWarning,
        )
        ijk[outside] = _cluster_nearest_neighbor(ijk[outside], labels_index[outside], labeled)
    return ijk, data[ijk[:, 0], ijk[:, 1], ijk[:, 2]]


def _local_max(data, affine, min_distance):
    """nilearn's ``_local_max``: subpeaks sorted by value, at least ``min_distance`` mm apart."""
    ijk, vals = _identify_subpeaks(data)
    order = (-vals).argsort()
    vals, ijk = vals[order], ijk[order, :]
    xyz = _apply(affine, ijk)
    keep = np.ones(xyz.shape[0], dtype=bool)
    for i in range(xyz.shape[0]):
        for j in range(i + 1, xyz.shape[0]):
            if keep[i]:
                keep[j] = np.linalg.norm(xyz[i, :] - xyz[j, :]) > min_distance
    return ijk[keep, :], vals[keep]


def _check_number(value, name, expected, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ParameterError(name, expected, value)
    if positive and value <= 0:
        raise ParameterError(name, expected, value)
    return value


def get_clusters_table(stat_img, stat_threshold, cluster_threshold=0, two_sided=False,
                       min_distance=8.0, return_label_maps=False):
    """Peaks and sizes of the clusters of a thresholded map, as nilearn's ``get_clusters_table``.

    Parameters
    ----------
    stat_img : xarray.DataArray
        3D statistical map.
    stat_threshold : float
        Cluster-forming threshold (voxels strictly beyond it form clusters;
        a negative one-sided threshold looks for negative clusters).
    cluster_threshold : int or None
        Drop clusters with fewer voxels than this (None or 0: keep all).
    two_sided : bool
        Table the positive clusters, then the negative ones.
    min_distance : float
        Minimum distance between subpeaks, in mm (> 0).
    return_label_maps : bool
        Also return the label map(s) of the clusters (numbered as the table).

    Returns
    -------
    pandas.DataFrame
        ``Cluster ID, X, Y, Z`` (world mm) ``, Peak Stat, Cluster Size (mm3)``;
        up to three subpeaks per cluster (``"1a"``...) follow each cluster.
    list of xarray.DataArray
        With ``return_label_maps``: one label image per sign.

    Raises
    ------
    ParameterError
        (a ``ValueError``, as in nilearn) for a non-positive ``min_distance``
        or a bad ``stat_threshold`` / ``cluster_threshold``.

    Notes
    -----
    One dask compute runs, of the thresholded 3D map.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> data = np.zeros((6, 6, 6))
    >>> data[1:3, 1:3, 1:3] = 4.0
    >>> data[2, 2, 2] = 5.0
    >>> img = new_image(data, np.diag([2.0, 2.0, 2.0, 1.0])).chunk(3)
    >>> get_clusters_table(img, 3.0).to_dict("records")
    [{'Cluster ID': 1, 'X': 4.0, 'Y': 4.0, 'Z': 4.0, 'Peak Stat': 5.0, 'Cluster Size (mm3)': 64}]
    """
    stat_img = as_image(stat_img, "stat_img")
    if stat_img.ndim != 3:
        raise ParameterError("stat_img", "a 3D statistical map", f"a {stat_img.ndim}D image")
    stat_threshold = _check_number(stat_threshold, "stat_threshold", "a number")
    if cluster_threshold is None:
        cluster_threshold = 0
    _check_number(cluster_threshold, "cluster_threshold", "a number of voxels >= 0")
    if cluster_threshold < 0:
        raise ParameterError("cluster_threshold", "a number of voxels >= 0", cluster_threshold)
    if two_sided and stat_threshold < 0:
        raise ParameterError(
            "stat_threshold", "a value >= 0 when two_sided=True", stat_threshold
        )
    min_distance = _check_number(min_distance, "min_distance", "a positive distance in mm",
                                 positive=True)

    data = dask_data(stat_img)
    func = functools.partial(apply_threshold, two_sided=bool(two_sided))
    out = da.blockwise(func, "ijk", data, "ijk", np.float64(stat_threshold), None,
                       dtype=data.dtype, concatenate=True,
                       meta=np.empty((0, 0, 0), dtype=data.dtype))
    if cluster_threshold > 0:
        out = cluster_size_filter(out, cluster_threshold)
    (stat_map,) = dask.compute(out)
    stat_map = np.asarray(stat_map)
    affine = image_affine(stat_img)
    table, label_maps = _table(stat_map, affine, float(np.prod(voxel_size(stat_img))),
                               stat_threshold, two_sided, min_distance, return_label_maps)
    if return_label_maps:
        return table, [like_image(stat_img, m) for m in label_maps]
    return table


def _table(stat_map, affine, voxel_volume, stat_threshold, two_sided, min_distance,
           return_label_maps):
    """nilearn's ``_get_clusters_table_volume`` on the thresholded map in memory."""
    bin_struct = generate_binary_structure(rank=3, connectivity=1)
    negative = not two_sided and stat_threshold < 0
    rows, label_maps, found = [], [], False
    for sign in [1, -1] if two_sided else [1]:
        offset = len(rows)
        temp = stat_map * sign
        binarized = (temp < stat_threshold if negative else temp > stat_threshold).astype(int)
        if np.sum(binarized) == 0:
            warn_user(
                f"No clusters found with stat {'higher' if sign == 1 else 'lower'} "
                f"than {stat_threshold * sign}", ClustersWarning,
            )
            continue
        label_map = label(binarized, bin_struct)[0]
        clust_ids = sorted(np.unique(label_map)[1:])
        extreme = np.min if negative else np.max
        peak_vals = np.array([extreme(temp * (label_map == c)) for c in clust_ids])
        clust_ids = [clust_ids[c] for c in (-peak_vals).argsort()]
        if return_label_maps:
            relabel_idx = np.insert(clust_ids, 0, 0).argsort().astype(np.int32)
            label_maps.append(relabel_idx[label_map.flatten()].reshape(stat_map.shape))
        for c_id, c_val in enumerate(clust_ids):
            cluster_mask = label_map == c_val
            masked = temp * cluster_mask
            if negative:
                masked *= -1
            size_mm = int(np.sum(cluster_mask) * voxel_volume)
            ijk, vals = _local_max(masked, affine, min_distance)
            vals *= sign
            xyz = _apply(affine, ijk)
            for sub in range(min(len(vals), 4)):
                cid = c_id + offset + 1
                if sub:
                    cid = f"{cid}{ascii_lowercase[sub - 1]}"
                rows.append([cid, *xyz[sub], vals[sub], size_mm if sub == 0 else ""])
        found = True
    table = pd.DataFrame(columns=COLUMNS, data=rows) if found else pd.DataFrame(columns=COLUMNS)
    return table, label_maps
