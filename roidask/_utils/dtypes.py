"""dtype rules shared by the operations (nilearn's and numpy's), in one place.

Examples
--------
>>> float_dtype("int16").name, float_dtype("int64").name, float_dtype("float32").name
('float32', 'float64', 'float32')
>>> mean_dtype("int16").name, resampled_dtype("int16", "continuous").name
('float64', 'float32')
"""

import numpy as np


def float_dtype(dtype):
    """nilearn's working float dtype (``_ensure_float``, smoothing, cleaning).

    Floats (and complex) keep their dtype; 64-bit integers become float64;
    other integers and booleans become float32.
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        return dtype
    return np.dtype("float64") if dtype.itemsize == 8 else np.dtype("float32")


def mean_dtype(dtype):
    """numpy's result dtype for a mean or std: integers give float64."""
    return np.dtype(np.float64) if np.dtype(dtype).kind in "iub" else np.dtype(dtype)


def resampled_dtype(dtype, interpolation):
    """nilearn's resampling dtype: signed integers become floats for 'continuous'."""
    dtype = np.dtype(dtype)
    if interpolation == "continuous" and dtype.kind == "i":
        name = dtype.name.replace("int", "float")
        return np.dtype("float32" if name in ("float8", "float16") else name)
    return dtype


def finite_copy(block, dtype):
    """``block`` as ``dtype`` (a copy) with NaN and infinities set to 0."""
    out = np.array(block, dtype=dtype, copy=True)
    if out.dtype.kind in "fc":
        out[~np.isfinite(out)] = 0
    return out
