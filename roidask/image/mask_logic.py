"""Mask logic: voxels in every mask, in any mask, outside a mask (int8 0/1 images).

A voxel is in a mask when its value is finite and not 0 (nilearn's rule).
Masks are 3D, as nilearn's (``load_mask_img``, ``intersect_masks``): a 4D
image raises :class:`~roidask.errors.DimensionError` (a ``TypeError``, as
nilearn's); combine 4D images volume by volume with
:func:`~roidask.image.math_img` (``"(a != 0) & (b != 0)"``).
"""


import numpy as np

from roidask._dask.data import dask_data
from roidask._utils.checks import mask_truth
from roidask.errors import DimensionError, ParameterError
from roidask.grid import (
    as_image,
    check_same_grid,
    like_image,
)


def _mask_values(mask_img, argument):
    """A mask image as a lazy boolean dask array (non-finite and 0 are False)."""
    mask_img = as_image(mask_img, argument)
    if mask_img.ndim != 3:
        raise DimensionError(
            argument, "a 3D mask (for 4D images, math_img('(a != 0) & (b != 0)', ...))",
            f"a {mask_img.ndim}D image of shape {mask_img.shape}", mask_img.ndim, 3,
        )
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
    DimensionError
        If a mask is not 3D.

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
