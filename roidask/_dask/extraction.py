"""One-pass signal extraction from lazy 4D arrays: per-label statistics and masked voxels.

Both work on a dask array in ``(i, j, k, t)`` order and a small in-memory 3D
array (label codes or a mask) on the same grid; both build graphs linear in
the number of chunks and read every chunk once.

* :func:`label_statistics` reduces each chunk to per-label partial statistics
  with ``np.bincount`` (float64), then merges the partials of all spatial
  chunks of a time block in a dask tree: sums add, minima and maxima combine,
  variances merge as :mod:`roidask._dask.moments`' ``(count, mean, M2)`` with its
  Chan update (:func:`~roidask._dask.moments.merge_moments`). The label list is
  fixed up front, so partials of every chunk have the same shape. The
  median gathers the labelled voxels of each time block (one block of
  volumes, not the whole series) and takes exact per-label medians.
* :func:`masked_voxels` returns the in-mask voxels of every volume as a
  ``(voxel, t)`` array in C order of ``(i, j, k)`` -- nilearn's
  ``apply_mask`` order -- with one chunk per i-block and time block.

Non-finite values count as 0, as in nilearn (``ensure_finite=True``).

Examples
--------
>>> import dask.array as da, numpy as np
>>> data = da.from_array(np.arange(16.0).reshape(2, 2, 1, 4), chunks=(1, 2, 1, 2))
>>> codes = np.array([[[0], [1]], [[1], [2]]])  # 2 labels; code 2 = not labelled
>>> label_statistics(data, codes, 2, "mean").compute().tolist()
[[0.0, 6.0], [1.0, 7.0], [2.0, 8.0], [3.0, 9.0]]
"""

import dataclasses

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from scipy import ndimage, sparse

from roidask._dask.chunks import gather_chunks
from roidask._dask.moments import COUNT, M2, MEAN, N_FIELDS, _keep, merge_moments
from roidask._dask.pending import unwind_weights
from roidask._utils.dtypes import finite_copy
from roidask.errors import ParameterError

STRATEGIES = (
    "mean", "median", "sum", "minimum", "maximum", "standard_deviation", "variance",
)

__all__ = [
    "STRATEGIES", "label_codes", "label_statistics", "masked_voxels", "unmask", "weighted_sums",
]


def label_codes(labels, label_values):
    """Map label values to codes ``0..L-1`` (their position); other voxels get ``L``.

    Parameters
    ----------
    labels : numpy.ndarray
        Label value of each voxel.
    label_values : sequence of numbers
        The labels kept, in output order (sorted).

    Returns
    -------
    numpy.ndarray of int32

    Examples
    --------
    >>> label_codes(np.array([0, 3, 5, 3, 7]), [3, 5]).tolist()
    [2, 0, 1, 0, 2]
    """
    values = np.asarray(label_values)
    n_labels = len(values)
    if n_labels == 0:
        return np.full(np.shape(labels), 0, dtype=np.int32)
    position = np.searchsorted(values, labels).clip(0, n_labels - 1)
    found = values[position] == labels
    return np.where(found, position, n_labels).astype(np.int32)


SLAB_BYTES = 16 * 2**20  # float64 working memory per slab of volumes


def _labelled_voxels(codes, chunks, n_labels):
    """Per spatial block: where its labelled voxels are once flattened (C and F order),
    and their codes, as a dask array of one object per block.

    Computed once, from the in-memory codes, when the graph is built: in the
    tasks it would be redone for every chunk of volumes.
    """
    bounds = [np.cumsum((0,) + c) for c in chunks]
    found = np.empty(tuple(len(c) for c in chunks), dtype=object)
    for index in np.ndindex(*found.shape):
        block = codes[tuple(slice(b[i], b[i + 1]) for b, i in zip(bounds, index))]
        entry = {}
        for order in "CF":
            flat = np.ravel(block, order=order)
            where = np.flatnonzero(flat < n_labels)
            entry[order] = (None if where.size == flat.size else where, flat[where])
        found[index] = entry
    return da.from_array(found, chunks=1)


def _labelled_slabs(block, labelled, n_labels):
    """Yield float64 (labelled voxels x volumes) slabs of a 4D block, with their codes.

    Only labelled voxels are kept (a copy in the block's own dtype; their
    positions come from :func:`_labelled_voxels`), then volumes are
    converted to float64 a slab at a time, so working memory stays near
    :data:`SLAB_BYTES` whatever the chunk size. Non-finite values become 0.
    An F-ordered block (as NIfTI reads give) is flattened without a
    reordering copy.
    """
    block = np.asarray(block)
    order = "F" if block.flags.f_contiguous and not block.flags.c_contiguous else "C"
    flat = block.reshape(-1, block.shape[-1], order=order)
    where, codes = labelled.flat[0][order]
    if where is not None:  # volume by volume: contiguous gathers (5x faster than one take)
        kept = np.empty((where.size, flat.shape[1]), dtype=flat.dtype, order="F")
        for column in range(flat.shape[1]):
            np.take(flat[:, column], where, out=kept[:, column])
        flat = kept
    step = max(1, SLAB_BYTES // (8 * max(1, flat.shape[0])))
    for start in range(0, max(1, flat.shape[1]), step):
        values = flat[:, start:start + step].astype(np.float64, order="F")
        if not np.isfinite(values).all():
            values[~np.isfinite(values)] = 0.0
        yield values, codes


def _bincount_columns(codes, values, n_bins):
    """Per-code sums of each column of ``values`` (voxels x t) -> (n_bins, t)."""
    out = np.empty((n_bins, values.shape[1]))
    for column in range(values.shape[1]):
        out[:, column] = np.bincount(codes, weights=values[:, column], minlength=n_bins)
    return out


def _block_partials(block, labelled, n_labels, kind):
    """Partial statistics of one chunk, shaped (1, 1, 1, n_labels, t, fields)."""
    parts = [_slab_partials(values, slab_codes, n_labels, kind)
             for values, slab_codes in _labelled_slabs(block, labelled, n_labels)]
    return np.concatenate(parts, axis=1)[None, None, None]


def _slab_partials(values, codes, n_labels, kind):
    """Partial statistics (n_labels, t, fields) of a (voxels x t) float64 slab.

    For ``kind="moments"`` the fields are :mod:`roidask._dask.moments`' ``(count,
    mean, M2)``, merged with :func:`roidask._dask.moments.merge_moments`.
    """
    n_times = values.shape[1]
    counts = np.bincount(codes, minlength=n_labels + 1)[:n_labels].astype(np.float64)
    if kind == "sum":
        out = _bincount_columns(codes, values, n_labels + 1)[:n_labels, :, None]
    elif kind == "moments":
        sums = _bincount_columns(codes, values, n_labels + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / np.append(counts, 1.0)[:, None]
        means[:n_labels][counts == 0] = 0.0
        deviations = (values - means[codes]) ** 2
        m2 = _bincount_columns(codes, deviations, n_labels + 1)
        out = np.empty((n_labels, n_times, N_FIELDS))
        out[..., COUNT] = counts[:, None]
        out[..., MEAN] = means[:n_labels]
        out[..., M2] = m2[:n_labels]
    else:  # minimum / maximum
        fill = np.inf if kind == "minimum" else -np.inf
        out = np.full((n_labels, n_times, 1), fill)
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        keep = sorted_codes < n_labels
        order, sorted_codes = order[keep], sorted_codes[keep]
        if order.size:
            present, starts = np.unique(sorted_codes, return_index=True)
            reduce = np.minimum if kind == "minimum" else np.maximum
            out[present, :, 0] = reduce.reduceat(values[order], starts, axis=0)
    return out


def _reduce_partials(partials, kind, split_every):
    axes = (0, 1, 2)
    if kind == "sum":
        return partials.sum(axis=axes, split_every=split_every)
    if kind == "minimum":
        return partials.min(axis=axes, split_every=split_every)
    if kind == "maximum":
        return partials.max(axis=axes, split_every=split_every)
    return da.reduction(
        partials, chunk=_keep, combine=merge_moments, aggregate=merge_moments,
        axis=axes, dtype=np.float64, concatenate=True, split_every=split_every,
        meta=np.empty((0, 0, 0), dtype=np.float64),
    )


def _finish(stats, counts, strategy):
    """(L, t, fields) merged statistics -> (L, t) signals."""
    if strategy == "sum":
        out = stats[..., 0]
    elif strategy == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            out = stats[..., 0] / counts[:, None]
    elif strategy in ("minimum", "maximum"):
        out = np.where(np.isfinite(stats[..., 0]), stats[..., 0], np.nan)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = stats[..., M2] / stats[..., COUNT]
        if strategy == "standard_deviation":
            out = np.sqrt(out)
    return out


def _median_block(values, codes_sorted, order, n_labels):
    """Per-label medians of a (labelled voxels x t) block -> (L, t)."""
    values = np.where(np.isfinite(values), values, 0) if values.dtype.kind == "f" else values
    out = np.full((n_labels, values.shape[1]), np.nan)
    if order.size:
        present, starts = np.unique(codes_sorted, return_index=True)
        ends = np.append(starts[1:], codes_sorted.size)
        ordered = values[order]
        for code, start, end in zip(present, starts, ends):
            out[code] = np.median(ordered[start:end], axis=0)
    return out


def label_statistics(data, codes, n_labels, strategy="mean", *, split_every=None):
    """Per-label statistic of every volume, in one pass over ``data``.

    Parameters
    ----------
    data : dask.array.Array or numpy.ndarray, shape (I, J, K, T)
        Voxel values.
    codes : numpy.ndarray of int, shape (I, J, K)
        Label code of each voxel, ``0..n_labels-1``; ``n_labels`` for voxels
        outside every label (see :func:`label_codes`).
    n_labels : int
    strategy : str
        One of :data:`STRATEGIES` (as :mod:`scipy.ndimage` computes them;
        variances use ddof=0).
    split_every : int, optional
        Fan-in of the tree reduction over spatial chunks.

    Returns
    -------
    dask.array.Array of float64, shape (T, n_labels)
        One chunk per time block of ``data``. Labels without voxels give NaN.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> data = da.from_array(np.arange(8.0).reshape(2, 2, 2, 1), chunks=1)
    >>> codes = np.array([0, 0, 0, 1, 1, 1, 1, 2]).reshape(2, 2, 2)
    >>> label_statistics(data, codes, 2, "median").compute().tolist()
    [[1.0, 4.5]]
    """
    if strategy not in STRATEGIES:
        raise ParameterError("strategy", f"one of {STRATEGIES}", strategy)
    data = data if isinstance(data, da.Array) else da.from_array(np.asarray(data), chunks=-1)
    codes = np.asarray(codes, dtype=np.int32)
    counts = np.bincount(codes.ravel(), minlength=n_labels + 1)[:n_labels].astype(np.float64)
    if strategy in ("mean", "sum"):
        raw, weights, dtype = unwind_weights(data, _label_crops(codes, n_labels))
        if dtype is not None:  # sums of a linear per-volume operator's values
            sums = weighted_sums(raw, weights, dtype)
            return sums if strategy == "sum" else sums.map_blocks(
                _per_count, counts, dtype=np.float64)
    if strategy == "median":
        return _label_medians(data, codes, n_labels)
    kind = {"mean": "sum", "sum": "sum", "minimum": "minimum", "maximum": "maximum"}.get(
        strategy, "moments"
    )
    n_fields = N_FIELDS if kind == "moments" else 1
    labelled = _labelled_voxels(codes, data.chunks[:3], n_labels)
    partials = da.blockwise(
        _block_partials, "ijklts", data, "ijkt", labelled, "ijk",
        new_axes={"l": n_labels, "s": n_fields}, adjust_chunks={"i": 1, "j": 1, "k": 1},
        n_labels=n_labels, kind=kind, dtype=np.float64, align_arrays=False,
        meta=np.empty((0,) * 6, dtype=np.float64),
    )
    stats = _reduce_partials(partials, kind, split_every)
    return stats.map_blocks(
        _finish, counts, strategy, drop_axis=2, chunks=(stats.chunks[0], stats.chunks[1]),
        dtype=np.float64, meta=np.empty((0, 0), dtype=np.float64),
    ).T


def _per_count(sums, counts):
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _label_crops(codes, n_labels):
    """Each label's indicator as a float64 crop of its bounding box (None if empty)."""
    boxes = ndimage.find_objects(np.where(codes < n_labels, codes + 1, 0), max_label=n_labels)
    return [None if box is None else ((codes[box] == code).astype(np.float64), box)
            for code, box in enumerate(boxes)]


@dataclasses.dataclass(frozen=True)
class _BlockWeights:
    """The weighted voxels of one spatial block: their positions and an (L x voxels) matrix."""

    index: tuple
    matrix: sparse.csr_matrix


def _block_weights(weights, block, n_columns):
    """The part of every column's weights that falls in ``block`` (a tuple of slices)."""
    rows, positions, values = [], [], []
    shape = tuple(b.stop - b.start for b in block)
    for column, item in enumerate(weights):
        if item is None:
            continue
        crop, box = item
        inner = tuple(slice(max(a.start, b.start), min(a.stop, b.stop)) for a, b in zip(box, block))
        if any(s.start >= s.stop for s in inner):
            continue
        part = crop[tuple(slice(s.start - a.start, s.stop - a.start) for s, a in zip(inner, box))]
        local = np.nonzero(part)
        values.append(part[local])
        positions.append(np.ravel_multi_index(
            tuple(ax + s.start - b.start for ax, s, b in zip(local, inner, block)), shape))
        rows.append(np.full(local[0].size, column))
    if not values or not sum(v.size for v in values):
        return None
    flat, columns = np.unique(np.concatenate(positions), return_inverse=True)
    matrix = sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), columns)), shape=(n_columns, flat.size))
    return _BlockWeights(np.unravel_index(flat, shape), matrix)


def _weighted_block(block, weights, dtype, n_columns, n_times):
    """(1, 1, 1, columns, t) weighted sums of one block's voxels; zeros if it has none."""
    if weights is None:
        return np.zeros((1, 1, 1, n_columns, n_times))
    values = finite_copy(np.asarray(block)[weights.index], dtype).astype(np.float64, copy=False)
    return (weights.matrix @ values)[None, None, None]


def weighted_sums(data, weights, dtype):
    """Weighted sums of every volume's voxels, one per weight map, in one pass.

    Parameters
    ----------
    data : dask.array.Array, shape (I, J, K, T)
    weights : list of (numpy.ndarray, tuple of slices) or None
        Float64 weight crops of the grid and where they sit (None: all zero).
    dtype : numpy.dtype
        Values are cast to ``dtype`` with non-finite values as 0, then summed
        in float64.

    Returns
    -------
    dask.array.Array of float64, shape (T, len(weights))
        One chunk per time block of ``data``. Spatial blocks that no weight
        touches are not read.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> data = da.from_array(np.arange(16.0).reshape(2, 2, 2, 2), chunks=(1, 2, 2, 1))
    >>> weights = [(np.full((1, 1, 1), 2.0), (slice(1, 2), slice(0, 1), slice(0, 1))), None]
    >>> weighted_sums(data, weights, np.float32).compute().tolist()
    [[16.0, 0.0], [18.0, 0.0]]
    """
    n_columns = len(weights)
    bounds = [np.cumsum((0,) + c) for c in data.chunks[:3]]
    name = "weighted-sums-" + tokenize(data, weights, dtype)
    dsk = {}
    for index in np.ndindex(*data.numblocks[:3]):
        block = tuple(slice(b[i], b[i + 1]) for b, i in zip(bounds, index))
        block_weights = _block_weights(weights, block, n_columns)
        for t, n_times in enumerate(data.chunks[3]):
            source = (data.name, *index, t) if block_weights is not None else None
            dsk[(name, *index, 0, t)] = (
                _weighted_block, source, block_weights, dtype, n_columns, n_times)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[data])
    chunks = tuple((1,) * n for n in data.numblocks[:3]) + ((n_columns,), data.chunks[3])
    partials = da.Array(graph, name, chunks, dtype=np.float64,
                        meta=np.empty((0,) * 5, dtype=np.float64))
    return partials.sum(axis=(0, 1, 2)).T


def _label_medians(data, codes, n_labels):
    labelled = codes < n_labels
    values = masked_voxels(data, labelled)
    values = values.rechunk(gather_chunks(values, (0,)))
    codes_in_order = codes[labelled]
    order = np.argsort(codes_in_order, kind="stable")
    codes_sorted = codes_in_order[order]
    return values.map_blocks(
        _median_block, codes_sorted, order, n_labels,
        chunks=((n_labels,), values.chunks[1]), dtype=np.float64,
        meta=np.empty((0, 0), dtype=np.float64),
    ).T


def _slab_voxels(block, mask):
    return np.asarray(block)[mask]  # (voxels in the slab, t), C order


def masked_voxels(data, mask):
    """The in-mask voxels of every volume, shape (n_voxels, T), lazily.

    Voxels come in C order of ``(i, j, k)`` (as ``data[mask]``), one chunk
    per i-block and time block of ``data``; chunks split along ``j`` or
    ``k`` are merged into i-slabs first.

    Parameters
    ----------
    data : dask.array.Array or numpy.ndarray, shape (I, J, K, T)
    mask : numpy.ndarray of bool, shape (I, J, K)

    Returns
    -------
    dask.array.Array, shape (mask.sum(), T), dtype of ``data``

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> data = da.from_array(np.arange(8).reshape(2, 2, 2, 1), chunks=1)
    >>> mask = np.array([True, False, True, True, False, False, False, True]).reshape(2, 2, 2)
    >>> masked_voxels(data, mask).compute().ravel().tolist()
    [0, 2, 3, 7]
    """
    data = data if isinstance(data, da.Array) else da.from_array(np.asarray(data), chunks=-1)
    mask = np.asarray(mask, dtype=bool)
    data = data.rechunk(gather_chunks(data, (1, 2)))
    bounds = np.cumsum((0,) + data.chunks[0])
    sizes = tuple(int(mask[a:b].sum()) for a, b in zip(bounds[:-1], bounds[1:]))
    mask_dask = da.from_array(mask, chunks=data.chunks[:3])
    return da.blockwise(
        _slab_voxels, "it", data, "ijkt", mask_dask, "ijk", concatenate=True,
        adjust_chunks={"i": sizes}, dtype=data.dtype, meta=np.empty((0, 0), dtype=data.dtype),
    )


def _scatter_block(index_block, values, fill):
    columns = values.T if values.ndim == 2 else values  # (N[, t])
    out = np.full(index_block.shape + columns.shape[1:], fill, dtype=values.dtype)
    inside = index_block >= 0
    out[inside] = columns[index_block[inside]]
    return out


def unmask(values, index, *, chunks=None, fill=0):
    """Scatter per-column values back onto a grid: the inverse of extraction.

    Parameters
    ----------
    values : dask.array.Array or numpy.ndarray, shape (T, N) or (N,)
        One value per column (voxel or label) and volume.
    index : numpy.ndarray of int, shape (I, J, K)
        Column of ``values`` each voxel takes, or -1 for ``fill``.
    chunks : tuple, optional
        Spatial chunks of the output (default: one chunk).
    fill : number
        Value of voxels whose index is -1.

    Returns
    -------
    dask.array.Array, shape (I, J, K, T) or (I, J, K)

    Examples
    --------
    >>> import numpy as np
    >>> index = np.array([0, -1, 1, 0]).reshape(2, 2, 1)
    >>> unmask(np.array([[5.0, 7.0]]), index)[..., 0].compute().ravel().tolist()
    [5.0, 0.0, 7.0, 5.0]
    """
    values = values if isinstance(values, da.Array) else da.from_array(np.asarray(values))
    index = np.asarray(index)
    index_dask = da.from_array(index, chunks=chunks or index.shape)
    if values.ndim == 1:
        values = values.rechunk(-1)
        return da.blockwise(
            _scatter_block, "ijk", index_dask, "ijk", values, "n", concatenate=True,
            fill=fill, dtype=values.dtype, meta=np.empty((0, 0, 0), dtype=values.dtype),
        )
    values = values.rechunk({1: -1})  # all columns of each time block
    return da.blockwise(
        _scatter_block, "ijkt", index_dask, "ijk", values, "tn", concatenate=True,
        fill=fill, dtype=values.dtype, meta=np.empty((0,) * 4, dtype=values.dtype),
    )
