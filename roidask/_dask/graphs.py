"""Small task graphs written by hand, for steps that gather many blocks.

``dask.delayed`` re-optimizes (culls) the whole graph of its arguments on
every call, which is quadratic when a step takes one argument per block;
these helpers write one layer of plain tasks instead.

Examples
--------
>>> import numpy as np, dask.array as da
>>> x = da.arange(6, chunks=2)
>>> dsk = {"total": (sum, [(sum, key) for key in block_keys(x)])}
>>> total = new_delayed("total", "total", dsk, [x])
>>> int(total.compute())
15
"""

import dask
import numpy as np
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph


def block_keys(array):
    """The keys of ``array``'s blocks, in C order of the block grid."""
    return [(array.name, *index) for index in np.ndindex(*array.numblocks)]


def nested_block_keys(array):
    """The keys of ``array``'s blocks as nested lists, for :func:`numpy.block`."""
    keys = np.empty(array.numblocks, dtype=object)
    for index in np.ndindex(*array.numblocks):
        keys[index] = (array.name, *index)
    return keys.tolist()


def new_delayed(keys, layer, dsk, dependencies):
    """Delayed objects for ``keys`` of a new layer ``dsk`` over ``dependencies``.

    ``keys`` is one key (returns one Delayed) or a tuple of keys.
    """
    graph = HighLevelGraph.from_collections(layer, dsk, dependencies=dependencies)
    if isinstance(keys, tuple):
        return tuple(Delayed(key, graph, layer=layer) for key in keys)
    return Delayed(keys, graph, layer=layer)


def tree_reduce(items, combine, split=8):
    """Combine delayed values in a tree of fan-in ``split`` (graph linear in items)."""
    combine = dask.delayed(combine, pure=True)
    while len(items) > 1:
        items = [combine(*items[i:i + split]) for i in range(0, len(items), split)]
    return items[0]
