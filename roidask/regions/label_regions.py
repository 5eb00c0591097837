"""nilearn's ``connected_label_regions``: each label of an atlas split into its connected parts.

The label image is a small 3D image: its relabelling runs in one task over
the gathered volume (as in nilearn), lazily; the new names, when ``labels``
are given, are a lazy list computed with it.

Examples
--------
>>> import dask, numpy as np
>>> from roidask.grid import new_image
>>> atlas = np.zeros((5, 1, 1), "int16")
>>> atlas[[0, 1, 3], 0, 0] = 1  # two parts of label 1
>>> atlas[4, 0, 0] = 2
>>> out, names = connected_label_regions(new_image(atlas, np.eye(4)), labels=["a", "b"])
>>> out, names = dask.compute(out, names)
>>> out.values.ravel().tolist(), names
([1, 1, 0, 2, 3], ['a', 'a', 'b'])
"""

import numbers

import dask
import dask.array as da
import numpy as np
from scipy import ndimage

from roidask._dask.data import dask_data
from roidask._utils.checks import check_bool
from roidask.errors import ParameterError, ParameterTypeError
from roidask.grid import as_image, image_affine, like_image

__all__ = ["connected_label_regions"]


def _without_small_regions(regions, min_voxels):
    """nilearn's ``_remove_small_regions``: drop regions of at most ``min_voxels``, renumber."""
    _, indices = np.unique(regions, return_inverse=True)
    kept = np.bincount(indices.ravel()) > min_voxels
    kept[0] = True  # background
    if kept.all():
        return regions
    regions = np.where(np.isin(regions, np.flatnonzero(~kept)), 0, regions)
    return np.searchsorted(np.unique(regions), regions)


def _split_labels(values, min_voxels, connect_diag, names):
    present = np.unique(values)
    if np.any(present < 0):
        raise ParameterError("labels_img", "non-negative integer labels",
                             f"negative labels {present[present < 0].tolist()}")
    unique = present[present != 0]
    if names is not None and len(names) != len(unique):
        raise ParameterError("labels", f"{len(unique)} names, one per label of labels_img",
                             f"{len(names)} names")
    structure = np.ones((3, 3, 3), dtype=np.int32) if connect_diag else None
    out = np.zeros(values.shape, dtype=np.int32)
    new_names, top = [], 0
    for position, value in enumerate(unique):
        regions, count = ndimage.label((values == value).astype(np.int32), structure=structure)
        if min_voxels is not None:
            regions = _without_small_regions(regions, min_voxels)
            count = int(regions.max())
        out[regions != 0] = regions[regions != 0] + top
        top += count
        if names is not None:
            new_names.extend([names[position]] * count)
    return out, new_names


def connected_label_regions(labels_img, min_size=None, connect_diag=True, labels=None):
    """Split each label of an atlas into connected regions, as nilearn does.

    Parameters
    ----------
    labels_img : xarray.DataArray
        3D image of non-negative integer labels (0 is background).
    min_size : float, optional
        Regions smaller than this (mm^3) are removed.
    connect_diag : bool
        26-connectivity (True) or 6 (False).
    labels : sequence of str, optional
        A name per label value (in sorted order); each new region gets the
        name of the label it came from.

    Returns
    -------
    xarray.DataArray, or (xarray.DataArray, dask.delayed.Delayed)
        The new label image (int32, regions numbered 1, 2, ...), and with
        ``labels`` the lazy list of the new regions' names.
    """
    img = as_image(labels_img, "labels_img")
    if img.ndim != 3:
        raise ParameterError("labels_img", "a 3D label image", f"a {img.ndim}D image")
    if min_size is not None and (not isinstance(min_size, numbers.Number)
                                 or isinstance(min_size, bool)):
        raise ParameterTypeError("min_size", "a size in mm^3 (a number) or None", min_size)
    check_bool(connect_diag, "connect_diag")
    names = None
    if labels is not None:
        names = [labels] if isinstance(labels, str) else list(labels)
    min_voxels = (None if min_size is None
                  else min_size / abs(np.linalg.det(image_affine(img)[:3, :3])))
    data = dask_data(img)
    values = da.where(da.isfinite(data), data, 0) if data.dtype.kind == "f" else data
    split = dask.delayed(_split_labels, pure=True)(values.rechunk(-1), min_voxels,
                                                   connect_diag, names)
    out = da.from_delayed(split[0], img.shape, dtype=np.int32).rechunk(data.chunks)
    result = like_image(img, out)
    return result if labels is None else (result, split[1])
