"""roidask: neuroimaging region-of-interest analysis, lazy and out-of-core on Dask.

Images are xarray DataArrays on a voxel grid (see :mod:`roidask.grid`),
backed by dask; operations build lazy graphs and only writers (and
``.compute()``) run work. Names follow nilearn's.
"""

from roidask import accessor  # noqa: F401  (registers the .nii accessor)
from roidask.cluster import get_client
from roidask.confounds import high_variance_confounds
from roidask.errors import (
    GridMismatchError,
    InputFileError,
    NotAnImageError,
    ParameterError,
    RoidaskError,
)
from roidask.grid import as_image, check_same_grid, image_affine, new_image, voxel_size
from roidask.image import (
    binarize_img,
    index_img,
    mask_and,
    mask_not,
    mask_or,
    mean_img,
    new_img_like,
    resample_img,
    resample_to_img,
    smooth_img,
    std_img,
    threshold_img,
)
from roidask.io import (
    attach_volume_labels,
    load_img,
    open_zarr,
    read_volume_labels,
    to_nifti,
    to_zarr,
)
from roidask.maskers import LabelsMasker, Masker, NotFittedError
from roidask.masking import (
    compute_background_mask,
    compute_brain_mask,
    compute_epi_mask,
    intersect_masks,
)
from roidask.morphology import (
    binary_closing,
    binary_dilation,
    binary_erosion,
    binary_fill_holes,
    binary_opening,
)
from roidask.regions import connected_region_labels, connected_regions, label, region_sizes
from roidask.stats import f_oneway, ttest_1samp, ttest_ind

__version__ = "0.1.0"

__all__ = [
    "GridMismatchError",
    "InputFileError",
    "LabelsMasker",
    "Masker",
    "NotAnImageError",
    "NotFittedError",
    "ParameterError",
    "RoidaskError",
    "as_image",
    "attach_volume_labels",
    "binarize_img",
    "binary_closing",
    "binary_dilation",
    "binary_erosion",
    "binary_fill_holes",
    "binary_opening",
    "check_same_grid",
    "compute_background_mask",
    "compute_brain_mask",
    "compute_epi_mask",
    "connected_region_labels",
    "connected_regions",
    "f_oneway",
    "get_client",
    "high_variance_confounds",
    "image_affine",
    "index_img",
    "intersect_masks",
    "label",
    "load_img",
    "mask_and",
    "mask_not",
    "mask_or",
    "mean_img",
    "new_image",
    "new_img_like",
    "open_zarr",
    "read_volume_labels",
    "region_sizes",
    "resample_img",
    "resample_to_img",
    "smooth_img",
    "std_img",
    "threshold_img",
    "to_nifti",
    "to_zarr",
    "ttest_1samp",
    "ttest_ind",
    "voxel_size",
]
