"""Cropping an image to the box of its non-negligible values, as nilearn's ``crop_img``.

The box depends on the data, and an image's shape must be known before its
values, so :func:`crop_img` is one of the few functions that compute: it
reads the image once (every chunk once, in one dask computation) to get,
for each spatial axis, the largest absolute value of every slice across
the other axes -- three short vectors -- and the box follows from them.
The cropped image itself is a lazy selection of the input. To crop several
images alike, call :func:`crop_box` once and select with the slices it
returns.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> data = np.zeros((5, 6, 7))
>>> data[2:4, 1:5, 3:6] = 1
>>> cropped, offset = crop_img(new_image(data, np.diag([4, 3, 2, 1])), return_offset=True)
>>> cropped.shape, offset
((4, 6, 5), (slice(1, 5, None), slice(0, 6, None), slice(2, 7, None)))
"""

import numbers

import dask
import dask.array as da
import numpy as np

from roidask._dask.data import dask_data
from roidask._utils.checks import check_bool
from roidask._utils.warnings import warn_user
from roidask.errors import ParameterError, RoidaskWarning
from roidask.grid import as_image, image_affine, image_on_grid

__all__ = ["crop_box", "crop_img"]


class CropWarning(RoidaskWarning):
    """No value of the image is above the cropping tolerance: nothing is cropped."""


def _slice_maxima(data):
    """For each spatial axis, the largest |value| of each slice (NaN propagates, as np.max)."""
    if data.dtype.kind == "b":
        data = data.astype(np.int8)
    elif data.dtype.kind in "iu":
        data = data.astype(np.float64)  # abs(-128) of an int8 wraps
    magnitude = da.absolute(data)
    axes = tuple(range(data.ndim))
    return [magnitude.max(axis=tuple(a for a in axes if a != axis)) for axis in range(3)]


def crop_box(img, rtol=1e-8, *, pad=True):
    """The slices of nilearn's ``crop_img`` box: computes (one pass over ``img``).

    Parameters
    ----------
    img : xarray.DataArray
        3D or 4D image (a 4D image's box holds every volume's values).
    rtol : float
        Values whose magnitude is at most ``rtol`` times the largest one are
        negligible.
    pad : bool
        Widen the box by one voxel on each side (inside the image).

    Returns
    -------
    tuple of slice
        One per spatial axis. The whole image (and a :class:`CropWarning`)
        when no value is above the tolerance, as nilearn (which also does not
        pad then); an image holding NaN or inf counts as having none, as in
        nilearn.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> data = np.zeros((4, 4, 4))
    >>> data[1, 2, 3] = -5.0
    >>> crop_box(new_image(data, np.eye(4)), pad=False)
    (slice(1, 2, None), slice(2, 3, None), slice(3, 4, None))
    """
    img = as_image(img)
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not rtol >= 0:
        raise ParameterError("rtol", "a tolerance >= 0", rtol)
    pad = check_bool(pad, "pad")
    maxima = dask.compute(*_slice_maxima(dask_data(img)))
    norm = max(float(m.max()) if m.size else 0.0 for m in maxima)
    with np.errstate(invalid="ignore"):
        passing = [m > rtol * norm for m in maxima]
    if not all(p.any() for p in passing):
        warn_user(f"no value above rtol={rtol} times the largest one: nothing cropped",
                  CropWarning)
        return tuple(slice(0, n) for n in img.shape[:3])
    box = []
    for axis, kept in enumerate(passing):
        index = np.flatnonzero(kept)
        start, end = int(index[0]), int(index[-1]) + 1
        if pad:
            start, end = max(start - 1, 0), min(end + 1, img.shape[axis])
        box.append(slice(start, end))
    return tuple(box)


def crop_img(img, rtol=1e-8, *, copy=True, pad=True, return_offset=False, copy_header=True):
    """Crop an image to the box of its non-negligible values, equal to nilearn's ``crop_img``.

    Computes the box (see :func:`crop_box`: one pass reading ``img``); the
    result is a lazy selection of ``img`` on the cropped grid (its affine's
    origin moved to the box's first voxel).

    Parameters
    ----------
    img : xarray.DataArray
        3D or 4D image.
    rtol : float
        Values whose magnitude is at most ``rtol`` times the largest one are
        negligible (cropped away when outside the box of the others).
    copy : bool
        nilearn's option; dask results never share memory with their
        input, so both values give the same image.
    pad : bool
        Keep one voxel around the box (inside the image).
    return_offset : bool
        Also return the box: one slice per spatial axis, into ``img``.
    copy_header : bool
        Keep the header facts (units, TR) of ``img``.

    Returns
    -------
    xarray.DataArray or (xarray.DataArray, tuple of slice)
        The cropped image (``img``'s own grid when nothing is cropped), and
        the box when ``return_offset``.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import image_affine, new_image
    >>> data = np.zeros((6, 6, 6), "float32")
    >>> data[2:4, 3, 1:5] = 2.0
    >>> out = crop_img(new_image(data, np.eye(4)).chunk(4))
    >>> out.shape, image_affine(out)[:3, 3].tolist()
    ((4, 3, 6), [1.0, 2.0, 0.0])
    """
    img = as_image(img)
    check_bool(copy, "copy")
    check_bool(return_offset, "return_offset")
    box = crop_box(img, rtol, pad=pad)
    affine = image_affine(img)
    origin = np.eye(4)
    origin[:3, 3] = [s.start for s in box]
    data = dask_data(img)[box]
    cropped = image_on_grid(img, data, affine @ origin, copy_header=copy_header)
    return (cropped, box) if return_offset else cropped
