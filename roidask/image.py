"""Image operations with nilearn's names and results, lazy on dask.

Smoothing, thresholding and resampling live in :mod:`roidask.smoothing`,
:mod:`roidask.thresholding` and :mod:`roidask.resampling` and are
re-exported here; this module adds volume selection, means over time, new
images and mask logic. Nothing here computes: every function returns an
image backed by a dask graph.

Examples
--------
>>> import numpy as np
>>> from roidask.testing import random_image
>>> img = random_image((6, 7, 5, 4), chunks={"t": 2})
>>> mean_img(smooth_img(img, 6.0)).shape
(6, 7, 5)
"""

import numbers

import dask.array as da
import numpy as np

from roidask._imgdata import as_lazy, dask_data, image_on_grid, mask_truth, with_data
from roidask.chunks import volume_layout
from roidask.errors import ParameterError
from roidask.grid import (
    TIME_DIM,
    as_image,
    check_same_grid,
    header_facts,
    image_affine,
    like_image,
    new_image,
)
from roidask.moments import COUNT, M2, moments
from roidask.resampling import resample_img, resample_to_img
from roidask.smoothing import smooth_img
from roidask.thresholding import binarize_img, threshold_img

__all__ = [
    "binarize_img",
    "index_img",
    "mask_and",
    "mask_not",
    "mask_or",
    "mean_img",
    "new_img_like",
    "resample_img",
    "resample_to_img",
    "smooth_img",
    "std_img",
    "threshold_img",
]


def _require_4d(img, argument="img"):
    if img.ndim != 4:
        raise ParameterError(argument, "a 4D image", f"a {img.ndim}D image of shape {img.shape}")


def _time_index(index, n):
    """Validate a volume index as nilearn's ``index_img`` accepts it."""
    if hasattr(index, "iloc") and hasattr(index, "to_numpy"):
        index = index.to_numpy().ravel()
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
                raise ParameterError("index", f"a boolean array of length {n}", index)
            return values
        if values.size == 0:
            return values.astype(np.intp)
        if values.ndim != 1 or values.dtype.kind not in "iu":
            raise ParameterError("index", expected, index)
        if values.min() < -n or values.max() >= n:
            raise ParameterError("index", f"integers in [{-n}, {n})", index)
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


def _mean_dtype(dtype):
    """numpy's result dtype for a mean or std: integers give float64."""
    return np.dtype(np.float64) if np.dtype(dtype).kind in "iub" else np.dtype(dtype)


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
        data = data.mean(axis=3, dtype=np.float64).astype(_mean_dtype(data.dtype))
    out = with_data(img, data, copy_header=copy_header)
    if target_affine is None and target_shape is None:
        return out
    return resample_img(out, target_affine, target_shape)


def std_img(img, *, ddof=0, copy_header=True):
    """Standard deviation over time of a 4D image, lazily.

    ``numpy.std(data, axis=-1, ddof=ddof)`` per voxel, computed from float64
    per-chunk means and centred sums of squares merged across time chunks
    (:func:`roidask.moments.moments`), returned in numpy's dtype (float32
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
    std = da.sqrt(variance).astype(_mean_dtype(data.dtype))
    return with_data(img, std, copy_header=copy_header)


def new_img_like(ref_img, data, affine=None, *, copy_header=True):
    """A new image of ``data`` like ``ref_img`` (its grid, header facts, coordinates).

    As :func:`nilearn.image.new_img_like`: booleans become uint8; the affine
    is ``ref_img``'s unless given.

    Parameters
    ----------
    ref_img : xarray.DataArray
        Reference image.
    data : numpy array, dask array or xarray.DataArray, 3D or 4D
        Voxel values; numpy values are wrapped in dask (``ref_img``'s chunks
        when the shapes agree, else the volume layout).
    affine : (4, 4) array-like, optional
        Affine of the new image; default ``ref_img``'s.
    copy_header : bool
        Keep the header facts (units, TR) of ``ref_img``.

    Returns
    -------
    xarray.DataArray
        The new image. With ``ref_img``'s grid and shape it keeps
        ``ref_img``'s coordinates (``t``, ``condition``...).

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> ref = new_image(np.zeros((2, 3, 4)), np.diag([2.0, 2.0, 2.0, 1.0]), header={"t_r": 2.0})
    >>> img = new_img_like(ref, np.ones((2, 3, 4), bool))
    >>> img.dtype.name, img.nii.t_r, img.nii.voxel_size.tolist()
    ('uint8', 2.0, [2.0, 2.0, 2.0])
    """
    ref_img = as_image(ref_img, "ref_img")
    if hasattr(data, "dims") and hasattr(data, "data"):
        data = data.data
    if not isinstance(data, da.Array):
        data = np.asarray(data)
    if data.ndim not in (3, 4):
        raise ParameterError("data", "a 3D or 4D array", f"shape {data.shape}")
    if data.dtype == bool:
        data = data.astype(np.uint8)
    if not isinstance(data, da.Array):
        ref_data = dask_data(ref_img)
        chunks = ref_data.chunks if data.shape == ref_data.shape else (
            ref_data.chunks[:3] if data.shape[:3] == ref_data.shape[:3] and data.ndim == 3
            else volume_layout(data.shape, data.dtype)
        )
        data = da.from_array(data, chunks=chunks)
    ref_affine = image_affine(ref_img)
    same_affine = affine is None or np.allclose(np.asarray(affine, dtype=float), ref_affine)
    if same_affine and data.shape[:3] == ref_img.shape[:3] and (
        data.ndim == 3 or data.shape == ref_img.shape
    ):
        return with_data(ref_img, data, copy_header=copy_header)
    affine = ref_affine if affine is None else np.asarray(affine, dtype=float)
    if data.ndim == 4 and ref_img.ndim == 4 and data.shape[3] == ref_img.shape[3]:
        return image_on_grid(ref_img, data, affine, copy_header=copy_header)
    header = header_facts(ref_img) if copy_header else None
    return new_image(data, affine, header=header)


def _mask_values(mask_img, argument):
    """A mask image as a lazy boolean dask array (non-finite and 0 are False)."""
    mask_img = as_image(mask_img, argument)
    return mask_img, dask_data(mask_img).map_blocks(mask_truth, dtype=bool)


def _combine_masks(func, mask_img, other_masks, name):
    mask_img, result = _mask_values(mask_img, "mask_img")
    for position, other in enumerate(other_masks):
        argument = f"{name}[{position}]"
        other, values = _mask_values(other, argument)
        check_same_grid(mask_img, other, ("mask_img", argument))
        if other.shape != mask_img.shape:
            raise ParameterError(argument, f"a mask of shape {mask_img.shape}", other.shape)
        result = func(result, values.rechunk(result.chunks))
    return like_image(mask_img, result.astype(np.int8), name=mask_img.name)


def mask_and(mask_img, *other_masks):
    """Voxels in every mask (logical AND), as an int8 image of 0 and 1.

    A voxel is in a mask when its value is finite and not 0. All masks must
    share ``mask_img``'s grid; resample first with
    ``resample_to_img(mask, mask_img, interpolation='nearest')``.

    Parameters
    ----------
    mask_img : xarray.DataArray
        First mask; its grid is the result's.
    *other_masks : xarray.DataArray
        More masks of the same shape on the same grid.

    Returns
    -------
    xarray.DataArray
        int8 mask.

    Raises
    ------
    GridMismatchError
        If a mask is on another grid (shape or affine).

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> a = new_image(np.array([1, 1, 0, 0]).reshape(1, 2, 2), np.eye(4))
    >>> b = new_image(np.array([1.0, 0.0, 1.0, np.nan]).reshape(1, 2, 2), np.eye(4))
    >>> mask_and(a, b).values.ravel().tolist()
    [1, 0, 0, 0]
    """
    return _combine_masks(np.logical_and, mask_img, other_masks, "other_masks")


def mask_or(mask_img, *other_masks):
    """Voxels in any mask (logical OR), as an int8 image of 0 and 1.

    Parameters, result and grid rules as for :func:`mask_and`; a mask on
    another grid raises :class:`~roidask.errors.GridMismatchError`.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> left = new_image(np.array([[[1, 0, 0]]]), np.eye(4))
    >>> right = new_image(np.array([[[0.0, 0.0, 2.5]]]), np.eye(4))
    >>> mask_or(left, right).values.ravel().tolist()
    [1, 0, 1]
    """
    return _combine_masks(np.logical_or, mask_img, other_masks, "other_masks")


def mask_not(mask_img):
    """Voxels outside a mask (logical NOT), as an int8 image of 0 and 1.

    Non-finite values count as outside the mask, so they become 1.

    Parameters
    ----------
    mask_img : xarray.DataArray
        Mask image.

    Returns
    -------
    xarray.DataArray
        int8 mask on the same grid.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> mask_not(new_image(np.array([2, 0]).reshape(1, 1, 2), np.eye(4))).values.ravel().tolist()
    [0, 1]
    """
    mask_img, values = _mask_values(mask_img, "mask_img")
    return like_image(mask_img, (~values).astype(np.int8), name=mask_img.name)
