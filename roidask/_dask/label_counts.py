"""Voxels per label value of a chunked integer array: a bincount per block and a tree sum.

:func:`counts_per_label` writes one layer of plain tasks (one bincount per
block, then sums of at most ``split`` partial counts at a time), so its graph
grows linearly with the number of blocks and no task holds more than
``split`` small count vectors.

Examples
--------
>>> import numpy as np, dask.array as da
>>> labels = da.from_array(np.array([[0, 1, 1], [3, 3, 3]]), chunks=1)
>>> counts_per_label(labels).compute().tolist()
[1, 2, 0, 3]
>>> counts_per_label(labels, 3).compute().tolist()  # labels 0..2 only
[1, 2, 0]
"""

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from roidask._dask.graphs import block_keys

COUNT_DTYPE = np.int64


def _block_counts(block, length):
    flat = np.asarray(block).ravel()
    if length is None:
        return np.bincount(flat[flat >= 0].astype(np.intp, copy=False))
    kept = flat[(flat >= 0) & (flat < length)].astype(np.intp, copy=False)
    return np.bincount(kept, minlength=length)


def _sum_counts(counts, length):
    if length is None:
        length = max((len(c) for c in counts), default=0)
    total = np.zeros(length, COUNT_DTYPE)
    for c in counts:
        total[: len(c)] += c
    return total


def counts_per_label(labels, length=None, *, split=8):
    """Count the voxels of each label value, lazily, in a graph linear in the blocks.

    Parameters
    ----------
    labels : dask.array.Array of int
        Label values, any shape and chunks. Negative values are not counted.
    length : int, optional
        Count the labels ``0 .. length - 1`` (larger values are not
        counted); the result then has a known shape. By default, count up
        to the largest label, and the length is known only once computed.
    split : int, default=8
        Partial counts summed by one task (the fan-in of the tree).

    Returns
    -------
    dask.array.Array of int64
        1D, one chunk: ``counts[v]`` is the number of voxels equal to ``v``.
        Its shape is ``(length,)``, or ``(nan,)`` when ``length`` is None.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> labels = da.from_array(np.arange(20) % 3, chunks=3)
    >>> counts = counts_per_label(labels, split=2)
    >>> counts.compute().tolist(), counts.shape
    ([7, 7, 6], (nan,))
    """
    if length is not None:
        length = int(length)
    token = tokenize(labels, length, split)
    name = f"counts-per-label-{token}"
    dsk = {}
    level = []
    for key in block_keys(labels):
        level.append((f"{name}-block", *key[1:]))
        dsk[level[-1]] = (_block_counts, key, length)
    depth = 0
    while len(level) > split:
        depth += 1
        level, parts = [], level
        for i in range(0, len(parts), split):
            level.append((f"{name}-sum", depth, i // split))
            dsk[level[-1]] = (_sum_counts, parts[i:i + split], length)
    dsk[(name, 0)] = (_sum_counts, level, length)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[labels])
    size = np.nan if length is None else length
    return da.Array(graph, name, chunks=((size,),), dtype=COUNT_DTYPE)
