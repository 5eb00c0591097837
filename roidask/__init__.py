"""roidask: neuroimaging region-of-interest analysis, lazy and out-of-core on Dask.

Images are xarray DataArrays on a voxel grid (see :mod:`roidask.grid`),
backed by dask; operations build lazy graphs and only writers (and
``.compute()``) run work. Names follow nilearn's, in nilearn's namespaces
(:mod:`roidask.image`, :mod:`roidask.masking`, :mod:`roidask.maskers`,
:mod:`roidask.regions`, :mod:`roidask.signal`); the flat names below are a
convenience, each loaded from its module on first use, so ``import
roidask`` stays light (no distributed, zarr, matplotlib or pipeline).

Examples
--------
>>> import roidask
>>> roidask.smooth_img.__module__
'roidask.image.smoothing'
"""

import importlib

from roidask import accessor  # noqa: F401  (registers the .nii accessor)
from roidask.errors import (
    GridMismatchError,
    InputFileError,
    NotAnImageError,
    ParameterError,
    RoidaskError,
)
from roidask.grid import as_image, check_same_grid, image_affine, new_image, voxel_size

__version__ = "0.1.0"

_LAZY = {
    "roidask._dask.cluster": ["get_client"],
    "roidask.image": [
        "binarize_img", "binary_closing", "binary_dilation", "binary_erosion",
        "binary_fill_holes", "binary_opening", "clean_img", "concat_imgs", "crop_img",
        "get_data", "index_img", "iter_img", "load_img", "mask_and", "mask_not", "mask_or",
        "math_img", "mean_img", "new_img_like", "reorder_img", "resample_img", "resample_to_img",
        "smooth_img", "std_img", "threshold_img",
    ],
    "roidask.io": [
        "attach_volume_labels", "open_zarr", "read_volume_labels", "to_nifti", "to_zarr",
    ],
    "roidask.maskers": [
        "LabelsMasker", "MapsMasker", "Masker", "MultiLabelsMasker", "MultiMapsMasker",
        "MultiMasker", "MultiNiftiLabelsMasker", "MultiNiftiMapsMasker", "MultiNiftiMasker",
        "NiftiLabelsMasker", "NiftiMapsMasker", "NiftiMasker", "NiftiSpheresMasker",
        "NotFittedError", "RegionExtractor", "SpheresMasker",
    ],
    "roidask.masking": [
        "apply_mask", "compute_background_mask", "compute_brain_mask", "compute_epi_mask",
        "compute_multi_background_mask", "compute_multi_brain_mask", "compute_multi_epi_mask",
        "intersect_masks", "unmask",
    ],
    "roidask.glm": ["fdr_threshold", "threshold_stats_img"],
    "roidask.reporting": ["get_clusters_table"],
    "roidask.regions": [
        "connected_label_regions", "connected_region_labels", "connected_regions", "label",
        "region_sizes",
    ],
    "roidask.signal": ["high_variance_confounds"],
    "roidask.stats": ["f_oneway", "ttest_1samp", "ttest_ind"],
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}
_SUBMODULES = {
    "bids", "datasets", "errors", "glm", "grid", "image", "interfaces", "io", "maskers",
    "masking", "pipeline", "regions", "reporting", "signal", "stats", "testing",
}

__all__ = [
    "GridMismatchError", "InputFileError", "NotAnImageError", "ParameterError", "RoidaskError",
    "as_image", "check_same_grid", "image_affine", "new_image", "voxel_size",
]
__all__ += sorted(_HOME)


def __getattr__(name):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"roidask.{name}")
    raise AttributeError(f"module 'roidask' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME) | _SUBMODULES)
