"""Block functions that need neighbours: one ``map_overlap`` per halo op.

Axes in one chunk get no halo. Chunked axes get one
:func:`dask.array.map_overlap` with ``boundary="none"``: a block then starts
exactly at the true image edge wherever it touches one, so the block
function's own edge mode (scipy's) applies there, and whatever it does at the
cut halo edges only reaches voxels that are trimmed away. Axes whose chunks
are thinner than the halo are merged up to the halo width first and split
back to the input chunks afterwards.

Examples
--------
>>> merge_thin_chunks((2, 2, 2, 5), 3)
(4, 7)
"""

import dask.array as da
import numpy as np


def merge_thin_chunks(chunks, width):
    """Merge neighbouring chunks until each is at least ``width`` wide.

    Boundaries of the result are boundaries of the input, so splitting back
    to the input chunks is pure slicing.

    Examples
    --------
    >>> merge_thin_chunks((3, 3, 3, 3, 3, 3, 2), 8)
    (9, 11)
    >>> merge_thin_chunks((3, 3), 8)
    (6,)
    """
    merged, current = [], 0
    for size in chunks:
        current += size
        if current >= width:
            merged.append(current)
            current = 0
    if current:
        if merged:
            merged[-1] += current
        else:
            merged.append(current)
    return tuple(merged)


def halo_map(func, data, radius, dtype):
    """Apply a block function that needs ``radius[axis]`` neighbours per side.

    Axes in one chunk get no halo; others get one :func:`dask.array.map_overlap`
    with ``boundary="none"``, after merging chunks thinner than the halo (and
    splitting back afterwards). ``func`` must handle the true image edges
    itself (a block touching an edge starts or ends there).
    """
    chunks = list(data.chunks)
    for axis, width in enumerate(radius):
        if width > 0 and len(chunks[axis]) > 1:
            chunks[axis] = merge_thin_chunks(chunks[axis], width)
    depth = {
        axis: (width if width > 0 and len(chunks[axis]) > 1 else 0)
        for axis, width in enumerate(radius)
    }
    depth.update({axis: 0 for axis in range(len(radius), data.ndim)})
    meta = np.empty((0,) * data.ndim, dtype=dtype)
    original = data.chunks
    if tuple(chunks) != original:
        data = data.rechunk(tuple(chunks))
    if any(depth.values()):
        out = da.map_overlap(
            func, data, depth=depth, boundary="none", trim=True, dtype=dtype, meta=meta,
            allow_rechunk=False,
        )
    else:
        out = data.map_blocks(func, dtype=dtype, meta=meta)
    if out.chunks != original:
        out = out.rechunk(original)
    return out
