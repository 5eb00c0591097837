"""Joining and iterating volumes: nilearn's ``concat_imgs`` and ``iter_img``, lazily.

Examples
--------
>>> from roidask.testing import random_image
>>> a, b = random_image((4, 5, 6), chunks=2), random_image((4, 5, 6, 3), chunks=2)
>>> concat_imgs([a, b]).shape
(4, 5, 6, 4)
"""

import dask.array as da
import numpy as np

from roidask._dask.data import dask_data
from roidask.errors import ParameterTypeError
from roidask.grid import (
    as_image,
    check_same_grid,
    header_facts,
    image_affine,
    new_image,
    same_grid,
)
from roidask.image.volumes import index_img


def concat_imgs(imgs, dtype=np.float32, *, ensure_ndim=None, auto_resample=False):
    """Concatenate 3D or 4D images along time, lazily, as :func:`nilearn.image.concat_imgs`.

    Parameters
    ----------
    imgs : sequence of xarray.DataArray
        Images on one grid (3D ones count as one volume).
    dtype : numpy dtype or None
        Result dtype (nilearn's default float32); None keeps the first image's.
    ensure_ndim : {None, 4}
        Accepted for nilearn compatibility; the result is always 4D.
    auto_resample : bool
        Resample (continuous) onto the first image's grid instead of raising.

    Returns
    -------
    xarray.DataArray
        4D image; ``t`` numbers the volumes 0..n-1; header facts of the first image.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> vols = [new_image(np.full((2, 2, 2), v), np.eye(4)) for v in (1.0, 2.0)]
    >>> img = concat_imgs(vols)
    >>> img.shape, img.dtype.name, img.values[0, 0, 0].tolist()
    ((2, 2, 2, 2), 'float32', [1.0, 2.0])
    """
    if isinstance(imgs, (list, tuple)) and not imgs:
        raise ParameterTypeError("imgs", "a non-empty sequence of images", "an empty one")
    if not isinstance(imgs, (list, tuple)):
        imgs = [imgs]
    images = [as_image(img, f"imgs[{n}]") for n, img in enumerate(imgs)]
    first = images[0]
    parts = []
    for n, img in enumerate(images):
        if auto_resample and not same_grid(first, img):
            from roidask.image.resampling import resample_to_img

            img = resample_to_img(img, first)
        check_same_grid(first, img, ("imgs[0]", f"imgs[{n}]"))
        data = dask_data(img)
        parts.append(data[..., np.newaxis] if data.ndim == 3 else data)
    out_dtype = parts[0].dtype if dtype is None else np.dtype(dtype)
    data = da.concatenate([part.astype(out_dtype) for part in parts], axis=3)
    return new_image(data, image_affine(first), header=header_facts(first))


def iter_img(imgs):
    """Iterate over the 3D volumes of a 4D image (or a list of 3D images), lazily.

    As :func:`nilearn.image.iter_img`; each volume is :func:`index_img`.

    Examples
    --------
    >>> from roidask.testing import random_image
    >>> [v.shape for v in iter_img(random_image((2, 3, 4, 2), chunks=1))]
    [(2, 3, 4), (2, 3, 4)]
    """
    if isinstance(imgs, (list, tuple)):
        return iter([as_image(img, "imgs") for img in imgs])
    img = as_image(imgs, "imgs")
    if img.ndim == 3:
        return iter([img])
    return (index_img(img, t) for t in range(img.sizes["t"]))
