"""nilearn's ``reorder_img``: an image whose affine is diagonal and positive (RAS+), lazily.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import image_affine, new_image
>>> affine = np.array([[0, 0, 2.0, 10], [-3.0, 0, 0, 20], [0, 4.0, 0, 30], [0, 0, 0, 1]])
>>> img = new_image(np.arange(24.0).reshape(2, 3, 4), affine)
>>> out = reorder_img(img)
>>> out.shape, np.diag(image_affine(out)).tolist()
((4, 2, 3), [2.0, 3.0, 4.0, 1.0])
"""

import numpy as np

from roidask._dask.data import dask_data
from roidask.errors import ParameterError
from roidask.grid import as_image, image_affine, image_on_grid
from roidask.image.resampling import resample_img

__all__ = ["reorder_img"]


def reorder_img(img, resample=None, copy_header=True):
    """Permute and flip the voxel axes so the affine is diagonal and positive.

    As :func:`nilearn.image.reorder_img`: the voxel axes are permuted to x,
    y, z order and flipped where they run towards left, posterior or
    inferior; the data are not interpolated. An affine with rotations cannot
    be reordered: with ``resample`` ('continuous', 'linear' or 'nearest')
    the image is resampled onto the diagonal grid nilearn chooses instead.

    Parameters
    ----------
    img : xarray.DataArray
        3D or 4D image.
    resample : str, optional
        Interpolation for an affine with rotations.
    copy_header : bool
        Keep the header facts (units, TR).

    Returns
    -------
    xarray.DataArray
        The reordered image (``t`` coordinates kept); lazy.

    Raises
    ------
    ParameterError
        An affine with rotations and no ``resample`` (a ``ValueError``, as
        nilearn's).
    """
    img = as_image(img, "img")
    affine = image_affine(img)
    matrix, offset = affine[:3, :3], affine[:3, 3].copy()
    if not np.all((np.abs(matrix) > 0.001).sum(axis=0) == 1):
        if resample is None:
            raise ParameterError("img", "an affine without rotations, or resample= to "
                                 "interpolate onto a diagonal grid",
                                 "an affine with rotations")
        q, r = np.linalg.qr(matrix)
        target = np.diag(np.abs(np.diag(r))[np.abs(q).argmax(axis=1)])
        return resample_img(img, target_affine=target, interpolation=resample,
                            copy_header=copy_header)
    order = np.argsort(np.argmax(np.abs(matrix), axis=0))  # voxel axis of x, y, z
    data = dask_data(img).transpose(tuple(order) + tuple(range(3, img.ndim)))
    pixdim = np.diag(matrix[:, order]).copy()
    flips = [slice(None)] * 3
    for axis in np.flatnonzero(pixdim < 0):  # runs towards L, P or I: flip it
        offset[axis] += pixdim[axis] * (data.shape[axis] - 1)
        pixdim[axis] = -pixdim[axis]
        flips[axis] = slice(None, None, -1)
    data = data[tuple(flips)]
    new_affine = np.eye(4)
    new_affine[:3, :3] = np.diag(pixdim)
    new_affine[:3, 3] = offset
    return image_on_grid(img, data, new_affine, copy_header=copy_header)
