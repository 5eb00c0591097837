"""Streaming per-voxel moments: count, mean and M2 in float64.

Each block of volumes is reduced on its own to float64 ``(count, mean, M2)``
per voxel (and per group of volumes, when groups are given), with a two-pass
mean and centred sum of squares inside the block. Blocks are then merged
along ``t`` with Chan, Golub & LeVeque's parallel update

    n = sum(n_b),  mean = sum(n_b * mean_b) / n,
    M2 = sum(M2_b) + sum(n_b * (mean_b - mean) ** 2)

in a dask tree reduction, so the graph has one task per block plus a tree
of merges: it grows linearly with the number of chunks. Unlike sums of
squares in float32, this keeps full precision on BOLD-like data (large mean,
small variance).

A moments array has the input's spatial shape followed by ``(groups, 3)``;
the last axis holds :data:`COUNT`, :data:`MEAN` and :data:`M2`.

Examples
--------
>>> import dask.array as da
>>> import numpy as np
>>> x = da.from_array(np.arange(24.0).reshape(2, 12), chunks=(1, 5))
>>> m = moments(x).compute()
>>> m.shape
(2, 1, 3)
>>> m[0, 0].tolist()  # count, mean, M2 of 0..11
[12.0, 5.5, 143.0]
"""

import dask.array as da
import numpy as np

COUNT, MEAN, M2 = 0, 1, 2
N_FIELDS = 3
SLAB_BYTES = 16 * 2**20  # float64 working copy per block, bounded whatever the chunk size


def block_moments(block, codes=None, n_groups=1):
    """Float64 moments of one block, per voxel and group.

    Works through the block in slabs of voxels, so its float64 working copy
    stays under :data:`SLAB_BYTES` whatever the chunk size; within a slab,
    each group gets a two-pass mean and centred sum of squares.

    Parameters
    ----------
    block : ndarray, shape (..., t)
        Voxel values; the last axis is time.
    codes : ndarray of int, shape (t,), optional
        Group index of each volume in ``range(n_groups)``; ``-1`` leaves a
        volume out. Without codes every volume is in group 0.
    n_groups : int
        Number of groups.

    Returns
    -------
    ndarray, shape (..., 1, n_groups, 3)
        ``(count, mean, M2)`` per voxel and group; groups without volumes in
        the block have all three at 0.

    Examples
    --------
    >>> block = np.array([[1.0, 2.0, 10.0, 3.0]])
    >>> block_moments(block, np.array([0, 0, 1, 0]), n_groups=2)[0, 0].tolist()
    [[3.0, 2.0, 2.0], [1.0, 10.0, 0.0]]
    """
    block = np.asarray(block)
    spatial, n_times = block.shape[:-1], block.shape[-1]
    flat = block.reshape(int(np.prod(spatial)), n_times)
    if codes is None:
        order = np.arange(n_times)
    else:
        codes = np.asarray(codes, dtype=np.intp)
        order = np.flatnonzero(codes >= 0)
        order = order[np.argsort(codes[order], kind="stable")]
    groups, starts, counts = np.unique(
        np.zeros(n_times, np.intp) if codes is None else codes[order],
        return_index=True, return_counts=True,
    )
    out = np.zeros((flat.shape[0], n_groups, N_FIELDS))
    out[:, groups, COUNT] = counts
    rows = max(1, SLAB_BYTES // (8 * max(1, order.size)))
    for first in range(0, flat.shape[0], rows):
        # A float64 copy of a slab of voxels, volumes sorted by group.
        slab = np.array(flat[first:first + rows, order], dtype=np.float64)
        for group, start, count in zip(groups, starts, counts):
            values = slab[:, start:start + count]
            mean = values.mean(axis=1)
            values -= mean[:, None]
            out[first:first + rows, group, MEAN] = mean
            out[first:first + rows, group, M2] = np.einsum("ij,ij->i", values, values)
    return out.reshape(spatial + (1, n_groups, N_FIELDS))


def merge_moments(parts, axis, keepdims=False):
    """Merge moments along ``axis`` with Chan's parallel algorithm.

    Parameters
    ----------
    parts : ndarray, shape (..., 3)
        Moments to merge; the last axis is ``(count, mean, M2)``.
    axis : int or tuple of int
        Axis (or axes) of ``parts`` to merge over (negative counts from the
        end of ``parts``); must not be the last one.
    keepdims : bool
        Keep the merged axes with length 1.

    Examples
    --------
    >>> halves = np.array([[2.0, 1.5, 0.5], [2.0, 3.5, 0.5]])  # [1, 2] and [3, 4]
    >>> merge_moments(halves, axis=0).tolist()
    [4.0, 2.5, 5.0]
    """
    axis = tuple(int(a) % parts.ndim for a in np.atleast_1d(axis))
    if parts.ndim - 1 in axis:
        raise ValueError("merge_moments: cannot merge over the field axis (the last one)")
    count, mean, m2 = parts[..., COUNT], parts[..., MEAN], parts[..., M2]
    total = count.sum(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        merged_mean = np.where(total > 0, (count * mean).sum(axis=axis, keepdims=True) / total, 0.0)
    spread = count * (mean - merged_mean) ** 2
    merged_m2 = m2.sum(axis=axis, keepdims=True) + spread.sum(axis=axis, keepdims=True)
    out = np.stack([total, merged_mean, merged_m2], axis=-1)
    return out if keepdims else np.squeeze(out, axis=axis)


def _keep(parts, axis, keepdims):
    return parts


def moments(x, codes=None, n_groups=1, *, split_every=None):
    """Lazy float64 moments of a dask array over its last axis.

    Parameters
    ----------
    x : dask.array.Array, shape (..., t)
        Values; the last axis is reduced.
    codes : array-like of int, shape (t,), optional
        Group index of each volume (``-1`` leaves it out), numpy or dask;
        see :func:`block_moments`.
    n_groups : int
        Number of groups.
    split_every : int, optional
        Fan-in of the merge tree (dask's default when None).

    Returns
    -------
    dask.array.Array, shape (..., n_groups, 3)
        ``(count, mean, M2)`` per voxel and group, with ``x``'s spatial
        chunks; the group and field axes are single chunks.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.from_array(np.array([[1.0, 2.0, 10.0, 3.0, 12.0]]), chunks=(1, 2))
    >>> moments(x, [0, 0, 1, 0, 1], n_groups=2).compute()[0].tolist()
    [[3.0, 2.0, 2.0], [2.0, 11.0, 2.0]]
    """
    x = da.asarray(x)
    index = tuple(f"axis{axis}" for axis in range(x.ndim))
    time = index[-1]
    args = [x, index]
    if isinstance(codes, da.Array):
        args += [codes.astype(np.intp).rechunk((x.chunks[-1],)), (time,)]
    elif codes is not None:
        codes = np.asarray(codes, dtype=np.intp)
        args += [da.from_array(codes, chunks=(x.chunks[-1],)), (time,)]
    parts = da.blockwise(
        block_moments, index + ("group", "field"), *args,
        n_groups=n_groups,
        new_axes={"group": n_groups, "field": N_FIELDS},
        adjust_chunks={time: 1},
        dtype=np.float64,
        meta=np.empty((0,) * (x.ndim + 2), dtype=np.float64),
        name=f"block-moments-{da.core.tokenize(x, codes, n_groups)}",
    )
    return da.reduction(
        parts, _keep, merge_moments, combine=merge_moments, axis=x.ndim - 1, keepdims=False,
        dtype=np.float64, split_every=split_every, concatenate=True, name="merge-moments",
        meta=np.empty((0,) * (x.ndim + 1), dtype=np.float64),
    )


def pool_groups(m):
    """Merge the group axis of a moments array: moments of all included volumes.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.from_array(np.array([[1.0, 2.0, 3.0, 4.0]]), chunks=(1, 3))
    >>> pool_groups(moments(x, [0, 1, 1, 0], n_groups=2)).compute().tolist()
    [[4.0, 2.5, 5.0]]
    """
    group_axis = m.ndim - 2
    return da.map_blocks(
        merge_moments, m, axis=group_axis, drop_axis=group_axis, dtype=np.float64,
        meta=np.empty((0,) * (m.ndim - 1), dtype=np.float64),
    )
