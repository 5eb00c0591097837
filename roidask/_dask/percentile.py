"""Exact, lazy percentiles of dask arrays by radix selection.

:func:`dask.array.percentile` merges per-chunk percentiles and is only
approximate. Here the order statistics a percentile needs are found
exactly, without gathering the data: values are mapped to unsigned integer
keys that sort like the values, and the keys are selected 16 bits at a time.
Each round is a per-block histogram of the next 16 bits of the keys that
match the prefix chosen so far, summed over blocks; the sum says which
bucket holds the wanted rank. Two rounds settle float32, four float64, one
any 16-bit type. Ties cost nothing, memory is a 65536-bin histogram per
block, and the graph is linear in the number of blocks.

Every round re-reads the input through a copy of its graph made to wait for
the previous round (:func:`dask.graph_manipulation.bind`), so blocks are not
all held in memory between rounds: the price of a percentile over data
larger than memory is one pass per round.

The value is then interpolated exactly as :func:`scipy.stats.scoreatpercentile`
does (``interpolation_method="fraction"``).

Examples
--------
>>> import dask.array as da
>>> import numpy as np
>>> from scipy.stats import scoreatpercentile
>>> values = np.random.default_rng(0).standard_normal(1000).astype("float32")
>>> x = da.from_array(values, chunks=128)
>>> bool(score_at_percentile(x, 97.0).compute() == scoreatpercentile(values, 97.0))
True
"""

import dask
import dask.array as da
import numpy as np
from dask.graph_manipulation import bind

from roidask._dask.graphs import tree_reduce

DIGIT_BITS = 16


def _key_dtype(dtype):
    return np.dtype(f"u{np.dtype(dtype).itemsize}")


def sort_keys(values):
    """Unsigned integer keys whose order is the order of ``values`` (no NaN).

    Examples
    --------
    >>> values = np.array([-2.0, -0.5, 0.0, 1.5, 3.0], "float32")
    >>> bool(np.all(np.diff(sort_keys(values).astype("int64")) > 0))
    True
    """
    values = np.asarray(values)
    if values.dtype.kind == "b":
        values = values.astype(np.uint8)
    kind, ukind = values.dtype.kind, _key_dtype(values.dtype)
    bits = ukind.itemsize * 8
    sign = ukind.type(1 << (bits - 1))
    if kind == "u":
        return values.view(ukind)
    if kind == "i":
        return values.view(ukind) ^ sign
    if kind == "f":
        values = values + values.dtype.type(0)  # -0.0 -> +0.0
        raw = values.view(ukind)
        return np.where(raw & sign, ~raw, raw | sign).astype(ukind, copy=False)
    raise TypeError(f"cannot sort values of dtype {values.dtype}")


def keys_to_values(keys, dtype):
    """Inverse of :func:`sort_keys` for values of ``dtype``."""
    dtype = np.dtype(dtype)
    source = np.dtype(np.uint8) if dtype.kind == "b" else dtype
    ukind = _key_dtype(source)
    keys = np.asarray(keys, dtype=ukind)
    bits = ukind.itemsize * 8
    sign = ukind.type(1 << (bits - 1))
    kind = np.dtype(source).kind
    if kind == "u":
        raw = keys
    elif kind == "i":
        raw = keys ^ sign
    else:
        raw = np.where(keys & sign, keys ^ sign, ~keys).astype(ukind, copy=False)
    return raw.view(source).astype(dtype)


def _digit_plan(dtype):
    """(shift, width) of each round, most significant digit first."""
    bits = np.dtype(dtype).itemsize * 8
    width = min(DIGIT_BITS, bits)
    return [(bits - width * (r + 1), width) for r in range(bits // width)]


def _block_histograms(block, where, state, shift, width):
    """Histograms of one digit of the keys that match each target's prefix."""
    block = np.asarray(block)
    values = block[np.asarray(where, dtype=bool)] if where is not None else block.ravel()
    keys = sort_keys(values)
    n_targets = 1 if state is None else len(state["prefixes"])
    hist = np.zeros((n_targets, 1 << width), dtype=np.int64)
    digits = ((keys >> keys.dtype.type(shift)) & keys.dtype.type((1 << width) - 1)).astype(np.intp)
    if state is None:
        hist[0] = np.bincount(digits, minlength=1 << width)
        return hist
    high = keys >> keys.dtype.type(shift + width)
    for target, prefix in enumerate(state["prefixes"]):
        match = digits[high == keys.dtype.type(prefix)]
        hist[target] = np.bincount(match, minlength=1 << width)
    return hist


def _sum_histograms(*hists):
    return sum(hists[1:], hists[0])


def _first_ranks(hist, per):
    """Ranks (0-based) of the order statistics scipy's percentile reads."""
    n = int(hist.sum())
    if n == 0:
        return n, []
    idx = per / 100.0 * (n - 1)
    i = int(idx)
    return n, [i] if i == idx else [i, i + 1]


def _select(hist, state, per, width):
    """Move each target rank one digit down; return the new state."""
    if state is None:
        n, ranks = _first_ranks(hist[0], per)
        state = {"n": n, "ranks": ranks, "prefixes": [0] * len(ranks)}
        hist = np.repeat(hist, len(ranks), axis=0)
    prefixes, ranks = [], []
    for target, rank in enumerate(state["ranks"]):
        cumulative = np.cumsum(hist[target])
        digit = int(np.searchsorted(cumulative, rank, side="right"))
        below = int(cumulative[digit - 1]) if digit else 0
        prefixes.append((state["prefixes"][target] << width) | digit)
        ranks.append(rank - below)
    return {"n": state["n"], "ranks": ranks, "prefixes": prefixes}


def _finish(state, per, dtype):
    """scipy's ``_compute_qth_percentile`` on the selected order statistics."""
    if state["n"] == 0:
        return np.float64(np.nan)
    values = keys_to_values(np.array(state["prefixes"]), dtype)
    idx = per / 100.0 * (state["n"] - 1)
    i = int(idx)
    if i == idx:
        return np.float64(np.add.reduce(values[:1] * np.array(1), axis=0) / 1.0)
    j = i + 1
    weights = np.array([(j - idx), (idx - i)], float)
    return np.float64(np.add.reduce(values * weights, axis=0) / weights.sum())


def score_at_percentile(x, per, *, where=None):
    """Exact ``scipy.stats.scoreatpercentile(x[where], per)`` as a lazy 0-d array.

    Parameters
    ----------
    x : dask.array.Array
        Values, without NaN (put NaN to a value first, as nilearn does).
    per : float
        Percentile in [0, 100].
    where : dask.array.Array of bool, optional
        Which values count; same shape and chunks as ``x``.

    Returns
    -------
    dask.array.Array
        0-d float64; NaN when no value counts.

    Examples
    --------
    >>> x = da.from_array(np.arange(10, dtype="int16")[::-1], chunks=3)
    >>> float(score_at_percentile(x, 50.0, where=x % 2 == 0).compute())
    4.0
    """
    per = float(per)
    if not 0.0 <= per <= 100.0:
        raise ValueError(f"percentile must be in the range [0, 100], got {per}")
    if where is not None and where.chunks != x.chunks:
        where = where.rechunk(x.chunks)
    dtype = x.dtype
    state = None
    for round_, (shift, width) in enumerate(_digit_plan(dtype)):
        if round_ == 0:
            blocks, masks = x, where
        elif where is None:
            blocks, masks = bind(x, state), None
        else:
            blocks, masks = bind((x, where), state)
        # unoptimised: an optimised copy would hold the keys of the blocks' graph with
        # other (fused) tasks, beside the same keys in every other use of ``x``
        block_list = blocks.to_delayed(optimize_graph=False).ravel()
        mask_list = ([None] * len(block_list) if masks is None
                     else masks.to_delayed(optimize_graph=False).ravel())
        hists = [
            dask.delayed(_block_histograms, pure=True)(b, m, state, shift, width)
            for b, m in zip(block_list, mask_list)
        ]
        total = tree_reduce(hists, _sum_histograms)
        state = dask.delayed(_select, pure=True)(total, state, per, width)
    value = dask.delayed(_finish, pure=True)(state, per, dtype)
    return da.from_delayed(value, shape=(), dtype=np.float64)

