"""New images like a reference image: nilearn's ``new_img_like``."""


import dask.array as da
import numpy as np

from roidask._dask.chunks import volume_layout
from roidask._dask.data import dask_data
from roidask.errors import ParameterError
from roidask.grid import (
    as_image,
    header_facts,
    image_affine,
    image_on_grid,
    new_image,
    with_data,
)


def new_img_like(ref_img, data, affine=None, *, copy_header=True):
    """A new image of ``data`` like ``ref_img`` (its grid, header facts, coordinates).

    As :func:`nilearn.image.new_img_like`: booleans become uint8; the affine
    is ``ref_img``'s unless given.

    Parameters
    ----------
    ref_img : xarray.DataArray
        Reference image.
    data : numpy array, dask array or xarray.DataArray, 3D or 4D
        Voxel values; numpy values are wrapped in dask (``ref_img``'s chunks
        when the shapes agree, else the volume layout).
    affine : (4, 4) array-like, optional
        Affine of the new image; default ``ref_img``'s.
    copy_header : bool
        Keep the header facts (units, TR) of ``ref_img``.

    Returns
    -------
    xarray.DataArray
        The new image. With ``ref_img``'s grid and shape it keeps
        ``ref_img``'s coordinates (``t``, ``condition``...).

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> ref = new_image(np.zeros((2, 3, 4)), np.diag([2.0, 2.0, 2.0, 1.0]), header={"t_r": 2.0})
    >>> img = new_img_like(ref, np.ones((2, 3, 4), bool))
    >>> img.dtype.name, img.nii.t_r, img.nii.voxel_size.tolist()
    ('uint8', 2.0, [2.0, 2.0, 2.0])
    """
    ref_img = as_image(ref_img, "ref_img")
    if hasattr(data, "dims") and hasattr(data, "data"):
        data = data.data
    if not isinstance(data, da.Array):
        data = np.asarray(data)
    if data.ndim not in (3, 4):
        raise ParameterError("data", "a 3D or 4D array", f"shape {data.shape}")
    if data.dtype == bool:
        data = data.astype(np.uint8)
    if not isinstance(data, da.Array):
        ref_data = dask_data(ref_img)
        chunks = ref_data.chunks if data.shape == ref_data.shape else (
            ref_data.chunks[:3] if data.shape[:3] == ref_data.shape[:3] and data.ndim == 3
            else volume_layout(data.shape, data.dtype)
        )
        data = da.from_array(data, chunks=chunks)
    ref_affine = image_affine(ref_img)
    same_affine = affine is None or np.allclose(np.asarray(affine, dtype=float), ref_affine)
    if same_affine and data.shape[:3] == ref_img.shape[:3] and (
        data.ndim == 3 or data.shape == ref_img.shape
    ):
        return with_data(ref_img, data, copy_header=copy_header)
    affine = ref_affine if affine is None else np.asarray(affine, dtype=float)
    if data.ndim == 4 and ref_img.ndim == 4 and data.shape[3] == ref_img.shape[3]:
        return image_on_grid(ref_img, data, affine, copy_header=copy_header)
    header = header_facts(ref_img) if copy_header else None
    return new_image(data, affine, header=header)
