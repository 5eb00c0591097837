"""Lazy arrays that remember a pending per-volume operator, and the rules that use it.

A per-volume operator acts on each volume of a 4D array on its own:
``y[..., t] = op(f(x[..., t]))``, where ``f`` casts to the operator's float
dtype and sets non-finite values to 0 (as nilearn does before smoothing).
An operation that is one (smoothing) returns a :class:`PendingArray`: a
plain dask array whose graph applies ``op`` to every volume, which also
remembers ``x`` and ``op``. Everything that does not know the rules sees a
dask array and gets the right values. Consumers that know them skip work:

* selection -- ``y[..., idx]`` is ``op`` of ``x[..., idx]``: only the
  selected volumes are processed (:meth:`PendingArray.__getitem__`; xarray's
  ``isel``/``sel`` and :func:`roidask.image.index_img` go through it);
* time means of a linear ``op`` -- ``mean_t(y) = op(mean_t(f(x)))``: one 3D
  operation (:func:`time_mean`);
* weighted sums over voxels of a linear ``op`` -- ``<w, op(f(x_t))> =
  <op^T w, f(x_t)>``: the adjoint moves to the weights and the data are read
  raw (:func:`unwind_weights`, used by region sums and means).

An operator is an object with ``dtype`` (its float result dtype), ``linear``
(bool) and ``apply(data, dtype=None)`` (lazy, any chunking, 3D or 4D); a
linear one also has ``adjoint(weights, box, shape)``, which returns the
adjoint applied to ``weights`` (a float64 crop of the grid at ``box``, a
tuple of slices) as a new ``(weights, box)``.

Examples
--------
>>> import dask.array as da, numpy as np
>>> class Double:
...     dtype, linear = np.dtype("float64"), True
...     def apply(self, data, dtype=None):
...         return data.astype(dtype or self.dtype) * 2
...     def adjoint(self, weights, box, shape):
...         return weights * 2, box
>>> x = da.ones((2, 2, 2, 6), chunks=(2, 2, 2, 3))
>>> y = PendingArray.wrap(Double().apply(x), x, Double())
>>> pending_operator(y[..., [0, 4]]) is not None, y[..., [0, 4]].shape
(True, (2, 2, 2, 2))
>>> float(time_mean(y).sum().compute())
16.0
"""

import dask.array as da
import numpy as np

from roidask._utils.dtypes import finite_copy

__all__ = ["PendingArray", "pending_operator", "time_mean", "unwind_weights"]


class PendingArray(da.Array):
    """A dask array equal to ``operator.apply(source)``, which remembers both.

    Create with :meth:`wrap`. Selections along the last (time) axis alone
    return ``operator`` applied to the selected volumes of ``source``; any
    other operation gives a plain dask array with the operator's values.
    """

    @classmethod
    def wrap(cls, result, source, operator):
        """``result`` (``operator.apply(source)``) as a :class:`PendingArray`."""
        out = cls(result.dask, result.name, result.chunks, meta=result._meta)
        out.source, out.operator = source, operator
        return out

    def __getitem__(self, key):
        time_key = _time_only(key, self.shape)
        if time_key is None:
            return super().__getitem__(key)
        source = self.source[(slice(None),) * (self.ndim - 1) + (time_key,)]
        result = self.operator.apply(source)
        return type(self).wrap(result, source, self.operator) if source.ndim == 4 else result

    def copy(self):
        """The same lazy array (dask arrays are immutable)."""
        return type(self).wrap(self, self.source, self.operator)

    def __deepcopy__(self, memo):
        return self.copy()


def _time_only(key, shape):
    """The time entry of ``key`` when it selects whole volumes, else None."""
    if len(shape) != 4:
        return None
    key = key if isinstance(key, tuple) else (key,)
    ellipses = [at for at, k in enumerate(key) if k is Ellipsis]
    if any(k is None for k in key) or len(ellipses) > 1:
        return None
    if ellipses:
        at = ellipses[0]
        key = key[:at] + (slice(None),) * (len(shape) - len(key) + 1) + key[at + 1:]
    key = key + (slice(None),) * (len(shape) - len(key))
    if len(key) != len(shape):
        return None
    for k, n in zip(key[:3], shape[:3]):
        if not (isinstance(k, slice) and range(*k.indices(n)) == range(n)):
            return None
    return key[3]


def pending_operator(data):
    """``(source, operator)`` when ``data`` is a :class:`PendingArray`, else None."""
    if isinstance(data, PendingArray):
        return data.source, data.operator
    return None


def time_mean(data):
    """Mean over the last axis in float64, through linear pending operators.

    For a :class:`PendingArray` of a linear operator, the operator is applied
    (in float64) to the time mean of its source; otherwise the values are
    averaged as they are. Accumulates in float64.
    """
    found = pending_operator(data)
    if found is None or not found[1].linear:
        return data.mean(axis=-1, dtype=np.float64)
    source, operator = found
    return operator.apply(time_mean(_finite(source, operator.dtype)), np.float64)


def _finite(data, dtype):
    """``f`` of a pending operator: cast to ``dtype``, non-finite values to 0."""
    found = pending_operator(data)
    if found is not None and found[1].linear:
        return data  # a linear operator's values: finite, of its float dtype
    return data.map_blocks(finite_copy, dtype, dtype=dtype)


def unwind_weights(data, weights):
    """Move the linear pending operators of ``data`` onto voxel weights.

    Parameters
    ----------
    data : dask.array.Array, shape (I, J, K, T)
    weights : list of (numpy.ndarray, tuple of slices)
        Float64 weight crops of the grid and where they sit.

    Returns
    -------
    raw : dask.array.Array
        The data under every linear pending operator.
    weights : list of (numpy.ndarray, tuple of slices)
        Weights such that ``<w, data[..., t]> = <w', f(raw[..., t])>``.
    dtype : numpy.dtype or None
        The dtype ``f`` casts ``raw`` to (non-finite values count as 0), or
        None when ``data`` had no linear pending operator.
    """
    dtype = None
    shape = data.shape[:3]
    found = pending_operator(data)
    while found is not None and found[1].linear:
        data, operator = found
        weights = [operator.adjoint(crop, box, shape) for crop, box in weights]
        dtype = operator.dtype
        found = pending_operator(data)
    return data, weights, dtype
