"""Argument checks shared by the mask operations (morphology and labelling).

Mask operations accept boolean or integer images (nonzero is foreground, as
in :mod:`scipy.ndimage`) and refuse floating-point maps, so that a t-map is
never labelled or dilated as a whole by mistake: threshold it first.

Examples
--------
>>> binary_structure(None, 2).sum()
np.int64(19)
"""

import numbers

import numpy as np
from scipy import ndimage as ndi

from roidask._imgdata import dask_data
from roidask.errors import ParameterError
from roidask.grid import SPATIAL_DIMS, as_image


def binary_structure(structure, connectivity, *, labelling=False):
    """The 3D boolean structuring element for ``structure`` / ``connectivity``.

    ``structure`` wins when given. For labelling it must be a centro-symmetric
    3x3x3 array, as :func:`scipy.ndimage.label` requires.
    """
    if structure is None:
        if (
            isinstance(connectivity, bool)
            or not isinstance(connectivity, numbers.Integral)
            or connectivity not in (1, 2, 3)
        ):
            raise ParameterError("connectivity", "1, 2 or 3", connectivity)
        return ndi.generate_binary_structure(3, int(connectivity))
    array = np.asarray(structure)
    if array.ndim != 3 or array.size == 0:
        raise ParameterError("structure", "a non-empty 3D array", f"shape {array.shape}")
    array = array.astype(bool)
    symmetric = np.array_equal(array, array[::-1, ::-1, ::-1])
    if labelling and (array.shape != (3, 3, 3) or not symmetric):
        raise ParameterError(
            "structure", "a centro-symmetric 3x3x3 array", f"shape {array.shape}"
        )
    return array


def check_iterations(iterations):
    """``iterations`` as a positive int (scipy's "until stable" is not local)."""
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, numbers.Integral)
        or iterations < 1
    ):
        raise ParameterError("iterations", "a positive integer", iterations)
    return int(iterations)


def check_border_value(border_value):
    """``border_value`` as 0 or 1."""
    if isinstance(border_value, (bool, np.bool_)) or border_value in (0, 1):
        return int(border_value)
    raise ParameterError("border_value", "0 or 1", border_value)


def mask_input(img, name="img", *, allow_4d=False):
    """Validate a mask image; return it and its dask data as booleans."""
    img = as_image(img, name)
    if img.ndim == 4 and not allow_4d:
        raise ParameterError(name, f"a 3D image with dims {SPATIAL_DIMS}", img.dims)
    if img.dtype.kind not in "biu":
        raise ParameterError(
            name,
            "a boolean or integer mask (threshold a map first, e.g. img > 3)",
            f"{img.dtype} values",
        )
    data = dask_data(img)
    return img, (data if data.dtype == bool else data != 0)
