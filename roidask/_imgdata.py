"""Helpers shared by the image operations: dask data, dtypes, new grids.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> img = new_image(np.zeros((2, 3, 4), "int16"), np.eye(4))
>>> type(dask_data(img)).__name__, smoothing_dtype(img.dtype).name
('Array', 'float32')
"""

import dask
import dask.array as da
import numpy as np

from roidask.chunks import volume_layout
from roidask.grid import SPATIAL_DIMS, TIME_DIM, header_facts, image_affine, like_image, new_image


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


def smoothing_dtype(dtype):
    """nilearn's working dtype: integers become float32 (64-bit ones float64)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iub":
        return np.dtype("float64") if dtype.itemsize == 8 else np.dtype("float32")
    return dtype


def finite_copy(block, dtype):
    """``block`` as ``dtype`` (a copy) with NaN and infinities set to 0."""
    out = np.array(block, dtype=dtype, copy=True)
    if out.dtype.kind in "fc":
        out[~np.isfinite(out)] = 0
    return out


def mask_truth(block):
    """Which voxels of a mask block are in the mask: finite and not 0 (nilearn's rule)."""
    block = np.asarray(block)
    if block.dtype.kind in "fc":
        return np.isfinite(block) & (block != 0)
    return block != 0


def time_coords(img):
    """The coordinates of ``img`` along ``t`` (besides ``t`` itself)."""
    return {
        name: coord.values
        for name, coord in img.coords.items()
        if coord.dims == (TIME_DIM,) and name != TIME_DIM
    }


def image_on_grid(img, data, affine, *, copy_header=True):
    """A new image of ``data`` on a new grid, keeping ``img``'s ``t`` coordinates.

    Used when an operation changes the grid (resampling); header facts
    (units, TR) come from ``img`` when ``copy_header``.
    """
    header = header_facts(img) if copy_header else None
    four_d = data.ndim == 4 and TIME_DIM in img.dims
    out = new_image(
        data, affine, header=header, time_coords=time_coords(img) if four_d else None,
        name=img.name,
    )
    if four_d:
        out = out.assign_coords({TIME_DIM: img.coords[TIME_DIM].values})
    return out


def with_data(img, data, *, copy_header=True):
    """``data`` on the grid of ``img`` with its coordinates; header facts if asked."""
    if copy_header:
        return like_image(img, data, name=img.name)
    return image_on_grid(img, data, image_affine(img), copy_header=False)


def spatial_single_chunk(array):
    """Whether each spatial axis of a dask array is one chunk."""
    return all(len(array.chunks[axis]) == 1 for axis in range(len(SPATIAL_DIMS)))


def tree_reduce(items, combine, split=8):
    """Combine delayed values in a tree of fan-in ``split`` (graph linear in items)."""
    combine = dask.delayed(combine, pure=True)
    while len(items) > 1:
        items = [combine(*items[i:i + split]) for i in range(0, len(items), split)]
    return items[0]
