"""Image values as dask arrays: numpy data get the volume layout.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> img = new_image(np.zeros((2, 3, 4), "int16"), np.eye(4))
>>> type(dask_data(img)).__name__, is_lazy(img)
('Array', False)
"""

import dask.array as da
import numpy as np

from roidask._dask.chunks import volume_layout
from roidask._utils.checks import check_mask_dtype
from roidask.errors import ParameterError
from roidask.grid import SPATIAL_DIMS, as_image


def dask_data(img):
    """The values of ``img`` as a dask array (numpy data get the volume layout)."""
    data = img.data
    if isinstance(data, da.Array):
        return data
    data = np.asarray(data)
    return da.from_array(data, chunks=volume_layout(data.shape, data.dtype))


def as_lazy(img):
    """``img`` itself if dask-backed, else a copy backed by dask (volume layout)."""
    return img if isinstance(img.data, da.Array) else img.copy(data=dask_data(img))


def is_lazy(img):
    """Whether ``img`` is backed by dask (so its values cost a compute)."""
    return isinstance(img.data, da.Array)


def mask_input(img, name="img", *, allow_4d=False):
    """Validate a mask image; return it and its dask data as booleans."""
    img = as_image(img, name)
    if img.ndim == 4 and not allow_4d:
        raise ParameterError(name, f"a 3D image with dims {SPATIAL_DIMS}", img.dims)
    check_mask_dtype(img, name)
    data = dask_data(img)
    return img, (data if data.dtype == bool else data != 0)
