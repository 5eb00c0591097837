"""The images a masker is given: loaded from paths, viewed as 4D, checked as masks."""

from pathlib import Path

import numpy as np

from roidask.errors import ParameterError
from roidask.grid import TIME_DIM, as_image


def _load(obj, argument):
    """An image from a roidask image or a path (opened lazily)."""
    if isinstance(obj, (str, Path)):
        from roidask.io import load_img

        return load_img(obj)
    return as_image(obj, argument)


def _time_coords(img):
    """The coordinates along ``t`` of a 4D image (index, time, condition, run...)."""
    return {name: coord for name, coord in img.coords.items() if coord.dims == (TIME_DIM,)}


def _as_4d(img):
    if TIME_DIM in img.dims:
        return img, False
    return img.expand_dims(TIME_DIM, axis=3).assign_coords({TIME_DIM: [0]}), True


def _mask_values(values, argument):
    """nilearn's ``load_mask_img``: check a mask's values and make it boolean."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        values = np.where(np.isfinite(values), values, 0)
    present = np.unique(values)
    if len(present) == 1 and present[0] == 0:
        raise ParameterError(argument, "a mask with at least one voxel", "an empty mask (all 0)")
    if len(present) > 2 or (len(present) == 2 and 0 not in present):
        raise ParameterError(
            argument, "a mask: 0 for background and one other value",
            f"an image with values {present[:6].tolist()}",
        )
    return values != 0
