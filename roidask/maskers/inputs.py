"""The images a masker is given: loaded from paths, viewed as 4D, checked as masks."""

from pathlib import Path

from roidask.grid import TIME_DIM, as_image


def _load(obj, argument):
    """An image from a roidask image or a path (opened lazily)."""
    if isinstance(obj, (str, Path)):
        from roidask.io import load_img

        return load_img(obj)
    return as_image(obj, argument)


def _as_4d(img):
    if TIME_DIM in img.dims:
        return img, False
    return img.expand_dims(TIME_DIM, axis=3).assign_coords({TIME_DIM: [0]}), True
