"""Volume selection and reductions over time: nilearn's ``index_img``, ``mean_img``.

Examples
--------
>>> import numpy as np
>>> from roidask.testing import random_image
>>> img = random_image((6, 7, 5, 4), chunks={"t": 2})
>>> mean_img(index_img(img, [0, 2])).shape
(6, 7, 5)
"""

import numbers

import dask.array as da
import numpy as np

from roidask._dask.data import as_lazy, dask_data
from roidask._dask.moments import COUNT, M2, moments
from roidask._dask.pending import time_mean
from roidask._utils.dtypes import mean_dtype
from roidask.errors import DimensionError, ParameterError
from roidask.grid import (
    TIME_DIM,
    as_image,
    with_data,
)
from roidask.image.resampling import resample_img


def _require_4d(img, argument="img"):
    if img.ndim != 4:
        raise DimensionError(argument, "a 4D image", f"a {img.ndim}D image of shape {img.shape}",
                             img.ndim, 4)


def _time_index(index, n):
    """Validate a volume index as nilearn's ``index_img`` accepts it."""
    if hasattr(index, "iloc") and hasattr(index, "to_numpy"):  # pandas
        index = index.to_numpy().ravel()
    if hasattr(index, "dims") and hasattr(index, "values"):  # xarray, e.g. img.condition == "a"
        index = np.asarray(index.values)
    expected = "an int, a slice, a list of ints or a boolean array over the volumes"
    if isinstance(index, (numbers.Integral, np.integer)) and not isinstance(index, bool):
        if not -n <= index < n:
            raise ParameterError("index", f"an integer in [{-n}, {n})", index)
        return int(index)
    if isinstance(index, slice):
        return index
    if isinstance(index, (list, tuple, np.ndarray, range)):
        values = np.asarray(index)
        if values.dtype == bool:
            if values.shape != (n,):
                raise ParameterError("index", f"a boolean array of length {n}",
                                     f"one of shape {values.shape}")
            return values
        if values.size == 0:
            return values.astype(np.intp)
        if values.ndim != 1 or values.dtype.kind not in "iu":
            raise ParameterError("index", expected,
                                 f"an array of shape {values.shape} and dtype {values.dtype}")
        if values.min() < -n or values.max() >= n:
            raise ParameterError("index", f"integers in [{-n}, {n})",
                                 f"values from {values.min()} to {values.max()}")
        return values
    raise ParameterError("index", expected, index)


def index_img(img, index):
    """Select volumes of a 4D image, keeping their ``t`` coordinates.

    Equal to :func:`nilearn.image.index_img`.

    Parameters
    ----------
    img : xarray.DataArray
        4D image.
    index : int, slice, sequence of ints, boolean array or pandas Series
        Volumes to keep. An integer gives a 3D image.

    Returns
    -------
    xarray.DataArray
        The selected volumes; ``t`` and its coordinates (``condition``,
        ``run``, ...) follow the selection.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> img = new_image(np.zeros((2, 2, 2, 5)), np.eye(4), time_coords={"run": [0, 0, 1, 1, 1]})
    >>> index_img(img, img.run.values == 1).t.values.tolist()
    [2, 3, 4]
    >>> index_img(img, -1).shape
    (2, 2, 2)
    """
    img = as_lazy(as_image(img))
    _require_4d(img)
    return as_image(img.isel({TIME_DIM: _time_index(index, img.sizes[TIME_DIM])}))


def mean_img(img, *, target_affine=None, target_shape=None, copy_header=True):
    """Mean over time of an image, lazily.

    Equal to :func:`nilearn.image.mean_img` for one image: the mean is
    accumulated in float64 (tree sum over time chunks) and returned in
    numpy's dtype (float32 stays float32, integers give float64). A 3D
    image is returned as it is.

    Parameters
    ----------
    img : xarray.DataArray
        3D or 4D image.
    target_affine, target_shape : optional
        Resample the mean onto this grid (continuous interpolation), as
        nilearn does; see :func:`resample_img`.
    copy_header : bool
        Keep the header facts (units, TR) of ``img``.

    Returns
    -------
    xarray.DataArray
        3D mean image.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> img = new_image(np.arange(8, dtype="int16").reshape(1, 1, 2, 4), np.eye(4))
    >>> m = mean_img(img.chunk({"t": 3}))
    >>> m.values.ravel().tolist(), m.dtype.name
    ([1.5, 5.5], 'float64')
    """
    img = as_image(img)
    data = dask_data(img)
    if img.ndim == 4:
        data = time_mean(data).astype(mean_dtype(data.dtype))
    out = with_data(img, data, copy_header=copy_header)
    if target_affine is None and target_shape is None:
        return out
    return resample_img(out, target_affine, target_shape)


def std_img(img, *, ddof=0, copy_header=True):
    """Standard deviation over time of a 4D image, lazily.

    ``numpy.std(data, axis=-1, ddof=ddof)`` per voxel, computed from float64
    per-chunk means and centred sums of squares merged across time chunks
    (:func:`roidask._dask.moments.moments`), returned in numpy's dtype (float32
    stays float32, integers give float64). nilearn has no ``std_img``.

    Parameters
    ----------
    img : xarray.DataArray
        4D image.
    ddof : int
        Delta degrees of freedom (0: population, 1: sample).
    copy_header : bool
        Keep the header facts (units, TR) of ``img``.

    Returns
    -------
    xarray.DataArray
        3D image.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> img = new_image(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4), np.eye(4))
    >>> round(float(std_img(img.chunk({"t": 3}), ddof=1).squeeze()), 6)
    1.290994
    """
    img = as_lazy(as_image(img))
    _require_4d(img)
    if not isinstance(ddof, numbers.Integral) or isinstance(ddof, bool) or ddof < 0:
        raise ParameterError("ddof", "an integer >= 0", ddof)
    data = dask_data(img)
    m = moments(data)[..., 0, :]
    variance = m[..., M2] / da.maximum(m[..., COUNT] - ddof, 0)  # as numpy: 0 below ddof
    std = da.sqrt(variance).astype(mean_dtype(data.dtype))
    return with_data(img, std, copy_header=copy_header)
