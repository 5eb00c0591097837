"""The images a masker is given: loaded from paths, viewed as 4D, checked as masks."""

from pathlib import Path

from roidask.errors import DimensionError
from roidask.grid import TIME_DIM, as_image, image_affine
from roidask.image.resampling import resample_img


def _load(obj, argument):
    """An image from a roidask image or a path (opened lazily)."""
    if isinstance(obj, (str, Path)):
        from roidask.io import load_img

        return load_img(obj)
    return as_image(obj, argument)


def _load_checked(obj, argument, ndim, what):
    """:func:`_load`, refused unless the image has ``ndim`` dims; None stays None."""
    if obj is None:
        return None
    img = _load(obj, argument)
    if img.ndim != ndim:
        raise DimensionError(argument, f"a {ndim}D {what}", f"a {img.ndim}D image", img.ndim, ndim)
    return img


def _resample_to(img, target, interpolation):
    """``img`` on ``target``'s grid, by ``resample_img`` as nilearn's maskers do it."""
    return resample_img(img, image_affine(target), target.shape[:3],
                        interpolation=interpolation)


def _as_4d(img):
    if TIME_DIM in img.dims:
        return img, False
    return img.expand_dims(TIME_DIM, axis=3).assign_coords({TIME_DIM: [0]}), True
