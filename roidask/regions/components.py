"""Connected regions of images: labels, sizes, and nilearn's region extraction.

:func:`label` numbers connected components across chunks exactly as
:func:`scipy.ndimage.label` does, with a task graph linear in the number of
blocks (see :mod:`roidask._dask.labels`). :func:`region_sizes` counts voxels per
label with a bincount per chunk and a tree sum
(:func:`roidask._dask.label_counts.counts_per_label`). :func:`connected_region_labels`
and :func:`connected_regions` follow :func:`nilearn.regions.connected_regions`.

Examples
--------
>>> import numpy as np, roidask
>>> from roidask.regions import label, region_sizes
>>> data = np.zeros((6, 6, 6), bool)
>>> data[:2, :2, :2] = data[4:, 4:, :] = True
>>> labels, n = label(roidask.new_image(data, np.diag([2.0, 2.0, 2.0, 1.0])).chunk(3))
>>> int(n)
2
>>> region_sizes(labels, 2).to_dataframe()  # doctest: +NORMALIZE_WHITESPACE
       voxels  volume_mm3
label
1           8        64.0
2          24       192.0
"""

import numbers
import operator

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import is_dask_collection, tokenize
from dask.highlevelgraph import HighLevelGraph

from roidask._dask.data import dask_data, mask_input
from roidask._dask.graphs import block_keys, nested_block_keys, new_delayed
from roidask._dask.label_counts import counts_per_label
from roidask._dask.labels import LABEL_DTYPE, label_array
from roidask._utils.checks import binary_structure
from roidask._utils.docs import fill_doc
from roidask._utils.warnings import warn_user
from roidask.errors import DimensionError, ParameterError, RegionsWarning
from roidask.grid import (
    SPATIAL_DIMS,
    as_image,
    header_facts,
    image_affine,
    like_image,
    new_image,
    same_grid,
    voxel_volume,
)
from roidask.regions.local_regions import local_region_labels

EXTRACT_TYPES = ("connected_components", "local_regions")


def label(img, connectivity=1, *, structure=None):
    """Connected components of a mask, numbered exactly like :func:`scipy.ndimage.label`.

    Each block is labelled with scipy, labels touching across block faces
    (and edges and corners, as the connectivity requires) are merged once,
    and components are numbered in the raster (C) order of their first voxel,
    as scipy does. The task graph grows linearly with the number of blocks.

    Parameters
    ----------
    img : image, bool or int, 3D
        Mask; nonzero voxels are foreground. Threshold float maps first.
    connectivity : {1, 2, 3}, default=1
        Neighbours that connect: sharing a face (1), an edge (2) or a corner (3).
    structure : (3, 3, 3) array of bool, optional
        Centro-symmetric structuring element; overrides ``connectivity``.

    Returns
    -------
    labels_img : image of int32
        0 on background, 1..n on the components; same grid and chunks as ``img``.
    n_labels : xarray.DataArray, 0-d, dask-backed
        The number of components (``int(n_labels)`` computes it).

    Examples
    --------
    >>> import numpy as np, roidask
    >>> from scipy import ndimage as ndi
    >>> data = np.random.default_rng(0).random((10, 11, 12)) > 0.7
    >>> labels, n = label(roidask.new_image(data, np.eye(4)).chunk(4), connectivity=2)
    >>> expected, expected_n = ndi.label(data, ndi.generate_binary_structure(3, 2))
    >>> bool((labels.values == expected).all()), int(n) == expected_n
    (True, True)
    """
    img, mask = mask_input(img)
    structure = binary_structure(structure, connectivity, labelling=True)
    labels, n_labels = label_array(mask, structure)
    return like_image(img, labels, name="labels"), xr.DataArray(n_labels, name="n_labels")


def _label_values(labels):
    if isinstance(labels, (xr.DataArray, da.Array)) or is_dask_collection(labels):
        raise ParameterError(
            "labels",
            "an int or a list of label values known now (compute n_labels first: int(n_labels))",
            type(labels).__name__,
        )
    if isinstance(labels, numbers.Integral) and not isinstance(labels, bool):
        if labels < 0:
            raise ParameterError("labels", "a non-negative number of labels", labels)
        return np.arange(1, int(labels) + 1)
    values = np.asarray(labels)
    if values.ndim != 1 or values.dtype.kind not in "iu" or (values < 0).any():
        raise ParameterError("labels", "an int or a 1D list of non-negative integers", labels)
    return values


def region_sizes(labels_img, labels):
    """Size of each labelled region in voxels and mm^3, lazily.

    A bincount per chunk and a tree sum; nothing is computed until asked.
    The label values must be known when the graph is built (the result's
    length is its shape): pass ``int(n_labels)`` from :func:`label`, or the
    atlas's label values.

    Parameters
    ----------
    labels_img : image of int, 3D
        Label image (0 is background).
    labels : int or sequence of int
        ``n`` for labels ``1..n``, or the label values to count (0 allowed).

    Returns
    -------
    xarray.Dataset
        Indexed by ``label``, with ``voxels`` (int64) and ``volume_mm3``
        (voxels x :func:`roidask.grid.voxel_volume`). ``.to_dataframe()``
        after ``.compute()`` gives a pandas DataFrame.

    Examples
    --------
    >>> import numpy as np, roidask
    >>> data = np.array([0, 1, 1, 3, 3, 3]).reshape(1, 2, 3)
    >>> img = roidask.new_image(data, np.diag([2.0, 3.0, 1.0, 1.0])).chunk(1)
    >>> sizes = region_sizes(img, [1, 2, 3])
    >>> sizes.voxels.values.tolist(), sizes.volume_mm3.values.tolist()
    ([2, 0, 3], [12.0, 0.0, 18.0])
    """
    labels_img = as_image(labels_img, "labels_img")
    if labels_img.ndim != 3:
        raise DimensionError("labels_img", f"a 3D image with dims {SPATIAL_DIMS}", labels_img.dims,
                             labels_img.ndim, 3)
    if labels_img.dtype.kind not in "iu":
        raise ParameterError("labels_img", "an integer label image", f"{labels_img.dtype} values")
    values = _label_values(labels)
    data = dask_data(labels_img)
    top = int(values.max()) if values.size else 0
    voxels = counts_per_label(data, top + 1)[values]
    return xr.Dataset(
        {
            "voxels": ("label", voxels),
            "volume_mm3": ("label", voxels * voxel_volume(labels_img)),
        },
        coords={"label": values},
    )


def _check_regions_args(maps_img, extract_type, mask_img):
    maps_img = as_image(maps_img, "maps_img")
    if extract_type not in EXTRACT_TYPES:
        raise ParameterError(
            "extract_type", "'connected_components' or 'local_regions'", extract_type
        )
    maps = dask_data(maps_img)
    if maps.ndim == 3:
        maps = maps[..., np.newaxis]
    if mask_img is not None:
        mask_img, mask = mask_input(mask_img, "mask_img")
        if not same_grid(maps_img, mask_img):  # as nilearn: the mask follows the maps
            from roidask.image.resampling import resample_img

            mask_img = resample_img(mask_img, image_affine(maps_img), maps_img.shape[:3],
                                    interpolation="nearest")
            mask_img, mask = mask_input(mask_img, "mask_img")
        mask = mask.rechunk(maps.chunks[:3])[..., np.newaxis]
        maps = da.where(mask, maps, 0).astype(maps.dtype)
    return maps_img, maps


def _region_table(counts, offset, min_voxels):
    """The table from one map's labels to global region numbers, after ``offset``."""
    counts = counts.copy()
    counts[0] = 0
    kept = np.flatnonzero(counts > min_voxels)
    table = np.zeros(len(counts), LABEL_DTYPE)
    table[kept] = np.arange(offset + 1, offset + len(kept) + 1)
    return table


def _next_offset(offset, table):
    """The last global region number used up to this map's table."""
    return max(offset, int(table.max()))


def _lookup(block, table):
    return table[block][..., np.newaxis]


def _local_labels_block(volume, affine, fwhm):
    return local_region_labels(volume, affine, fwhm).astype(LABEL_DTYPE)


def _map_labels(volume, extract_type, affine, fwhm):
    """Per-map labels (nilearn's numbering before the size filter), chunked like the map."""
    if extract_type == "connected_components":
        labels, _ = label_array(volume != 0, binary_structure(None, 1))
        return labels
    whole = volume.rechunk(-1)
    labels = whole.map_blocks(
        _local_labels_block, affine, fwhm, dtype=LABEL_DTYPE, meta=np.array((), LABEL_DTYPE)
    )
    return labels.rechunk(volume.chunks)


def _region_label_data(maps_img, maps, min_region_size, extract_type, smoothing_fwhm):
    """4D region labels, one chunk per map along t: a count per block, a table per map.

    Map ``t``'s table needs only the number of regions kept in maps before
    it (a chain of offsets), so its label blocks are released once it is
    done rather than held until every map has been counted.
    """
    if smoothing_fwhm is not None and (
        isinstance(smoothing_fwhm, bool) or not isinstance(smoothing_fwhm, numbers.Real)
        or smoothing_fwhm < 0
    ):
        raise ParameterError(
            "smoothing_fwhm", "a non-negative number of mm or None", smoothing_fwhm
        )
    if isinstance(min_region_size, bool) or not isinstance(min_region_size, numbers.Real):
        raise ParameterError("min_region_size", "a number of mm^3", min_region_size)
    affine = image_affine(maps_img)
    min_voxels = min_region_size / voxel_volume(maps_img)
    per_map = [
        _map_labels(maps[..., t], extract_type, affine, smoothing_fwhm)
        for t in range(maps.shape[3])
    ]
    counts = [counts_per_label(labels) for labels in per_map]
    token = tokenize(per_map, min_voxels)
    name = f"regions-{token}"
    dsk, offset = {}, 0  # offset: the key (or value) of the last region number so far
    for t, labels in enumerate(per_map):
        table = (f"region-table-{token}", t)
        dsk[table] = (_region_table, (counts[t].name, 0), offset, min_voxels)
        for key in block_keys(labels):
            dsk[(name, *key[1:], t)] = (_lookup, key, table)
        dsk[(f"region-offset-{token}", t)] = (_next_offset, offset, table)
        offset = (f"region-offset-{token}", t)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=per_map + counts)
    chunks = maps.chunks[:3] + ((1,) * maps.shape[3],)
    return da.Array(graph, name, chunks=chunks, dtype=LABEL_DTYPE)


@fill_doc
def connected_region_labels(
    maps_img, min_region_size=1350, extract_type="local_regions", smoothing_fwhm=6,
    mask_img=None,
):
    """The regions of :func:`nilearn.regions.connected_regions` as a lazy label image.

    Region ``r`` (1-based) here is volume ``r - 1`` of nilearn's 4D result:
    regions are numbered map by map, in the order nilearn keeps them. Regions
    of one map never overlap, so one label volume per map holds them all and
    the shape is known before anything is computed.

    ``"connected_components"`` runs chunk by chunk (:func:`label`).
    ``"local_regions"`` (smoothing, local maxima as seeds, random walker, as
    nilearn does) needs the whole 3D map at once: each map is gathered into
    one chunk on one worker; maps are processed in parallel.

    %(regions_parameters)s

    Returns
    -------
    image of int32
        3D for a 3D map, else 4D (one label volume per map); 0 outside regions.

    Examples
    --------
    >>> import numpy as np, roidask
    >>> data = np.zeros((8, 8, 8), "float32")
    >>> data[1:4, 1:4, 1:4] = 2.0
    >>> data[5:7, 5:7, 5:7] = 1.0
    >>> img = roidask.new_image(data, np.eye(4)).chunk(4)
    >>> regions = connected_region_labels(img, 10, "connected_components")
    >>> np.unique(regions.values).tolist()
    [0, 1]
    """
    maps_img, maps = _check_regions_args(maps_img, extract_type, mask_img)
    data = _region_label_data(maps_img, maps, min_region_size, extract_type, smoothing_fwhm)
    if maps_img.ndim == 3:
        data = data[..., 0]
    return like_image(maps_img, data, name="regions")


def _volume(nested_blocks):
    """One 3D volume from nested lists of (i, j, k, 1) blocks."""
    return np.block(
        [[[block[..., 0] for block in row] for row in plane] for plane in nested_blocks]
    )


def _regions_of_map(label_blocks, map_blocks):
    labels, volume = _volume(label_blocks), _volume(map_blocks)
    return [(labels == region) * volume for region in np.unique(labels[labels > 0])]


def _assemble_regions(parts, affine, header):
    volumes = [volume for part in parts for volume in part]
    if not volumes:
        warn_user("No supra threshold regions was found", RegionsWarning)
        return None, None
    index = [t for t, part in enumerate(parts) for _ in part]
    return new_image(np.stack(volumes, axis=-1), affine, header=header), index


@fill_doc
def connected_regions(
    maps_img, min_region_size=1350, extract_type="local_regions", smoothing_fwhm=6,
    mask_img=None,
):
    """Split maps into connected regions, as :func:`nilearn.regions.connected_regions`.

    The number of regions is known only once the data are read, and an
    image's shape must be known up front, so both results are
    :class:`dask.delayed.Delayed`: ``dask.compute(regions_img, index)`` runs
    one graph and returns an in-memory 4D image (one volume per region, each
    holding the map's values on the region, as nilearn returns) and the list
    of the map each region came from, or ``(None, None)`` with a warning when
    no region is large enough. The 4D result lives in one process, as in
    nilearn; for large data use :func:`connected_region_labels`, its lazy
    label-image form. ``"local_regions"`` gathers each 3D map into one task.

    %(regions_parameters)s

    Returns
    -------
    regions_img : Delayed
        Computes to a 4D image (one region per ``t``), or None.
    index_of_each_map : Delayed
        Computes to a list of int: the map index of each region, or None.

    Examples
    --------
    >>> import dask, numpy as np, roidask
    >>> data = np.zeros((8, 8, 8), "float32")
    >>> data[1:4, 1:4, 1:4] = 2.0
    >>> data[5:7, 5:7, 5:7] = -1.0
    >>> img = roidask.new_image(data, np.eye(4)).chunk(4)
    >>> regions, index = connected_regions(img, 5, "connected_components")
    >>> regions, index = dask.compute(regions, index)
    >>> regions.shape, index, float(regions[..., 1].sum())
    ((8, 8, 8, 2), [0, 0], -8.0)
    """
    maps_img, maps = _check_regions_args(maps_img, extract_type, mask_img)
    data = _region_label_data(maps_img, maps, min_region_size, extract_type, smoothing_fwhm)
    maps = maps.rechunk(data.chunks)
    token = tokenize(data, maps)
    assemble = f"regions-assemble-{token}"
    label_keys, map_keys = nested_block_keys(data), nested_block_keys(maps)
    dsk = {}
    parts = []
    for t in range(maps.shape[3]):
        parts.append((f"regions-split-{token}", t))
        dsk[parts[-1]] = (
            _regions_of_map,
            [[[row[t] for row in plane] for plane in block] for block in label_keys],
            [[[row[t] for row in plane] for plane in block] for block in map_keys],
        )
    dsk[assemble] = (_assemble_regions, parts, image_affine(maps_img), header_facts(maps_img))
    keys = (f"regions-img-{token}", f"regions-index-{token}")
    dsk[keys[0]] = (operator.getitem, assemble, 0)
    dsk[keys[1]] = (operator.getitem, assemble, 1)
    return new_delayed(keys, assemble, dsk, [data, maps])
