"""roidask: neuroimaging region-of-interest analysis, lazy and out-of-core on Dask.

Images are xarray DataArrays on a voxel grid (see :mod:`roidask.grid`),
backed by dask; operations build lazy graphs and only writers compute.
"""

from roidask import accessor  # noqa: F401  (registers the .nii accessor)
from roidask.errors import (
    GridMismatchError,
    InputFileError,
    NotAnImageError,
    ParameterError,
    RoidaskError,
)
from roidask.grid import as_image, check_same_grid, image_affine, new_image, voxel_size
from roidask.io import (
    attach_volume_labels,
    load_img,
    open_zarr,
    read_volume_labels,
    to_nifti,
    to_zarr,
)

__version__ = "0.1.0"

__all__ = [
    "GridMismatchError",
    "InputFileError",
    "NotAnImageError",
    "ParameterError",
    "RoidaskError",
    "as_image",
    "attach_volume_labels",
    "check_same_grid",
    "image_affine",
    "load_img",
    "new_image",
    "open_zarr",
    "read_volume_labels",
    "to_nifti",
    "to_zarr",
    "voxel_size",
]
