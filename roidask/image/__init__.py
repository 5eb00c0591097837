"""Image operations with nilearn's names and results, lazy on dask.

``from nilearn.image import smooth_img`` becomes ``from roidask.image import
smooth_img``. Nothing here computes (but ``crop_img``, whose result's shape
is the box of the data: it computes that box, one pass over the image): every
function returns an image backed by a dask graph. Besides nilearn's names: ``std_img``, mask logic
(``mask_and``, ``mask_or``, ``mask_not``) and binary morphology.

Examples
--------
>>> from roidask.image import mean_img, smooth_img
>>> from roidask.testing import random_image
>>> img = random_image((6, 7, 5, 4), chunks={"t": 2})
>>> mean_img(smooth_img(img, 6.0)).shape
(6, 7, 5)
"""

from roidask.image.cleaning import clean_img
from roidask.image.concat import concat_imgs, iter_img
from roidask.image.cropping import crop_img
from roidask.image.loading import load_img
from roidask.image.mask_logic import mask_and, mask_not, mask_or
from roidask.image.math import get_data, math_img
from roidask.image.morphology import (
    binary_closing,
    binary_dilation,
    binary_erosion,
    binary_fill_holes,
    binary_opening,
)
from roidask.image.new_img import new_img_like
from roidask.image.reordering import reorder_img
from roidask.image.resampling import resample_img, resample_to_img
from roidask.image.smoothing import smooth_img
from roidask.image.thresholding import binarize_img, threshold_img
from roidask.image.volumes import index_img, mean_img, std_img

__all__ = [
    "binarize_img",
    "binary_closing",
    "binary_dilation",
    "binary_erosion",
    "binary_fill_holes",
    "binary_opening",
    "clean_img",
    "concat_imgs",
    "crop_img",
    "get_data",
    "index_img",
    "iter_img",
    "load_img",
    "mask_and",
    "mask_not",
    "mask_or",
    "math_img",
    "mean_img",
    "new_img_like",
    "reorder_img",
    "resample_img",
    "resample_to_img",
    "smooth_img",
    "std_img",
    "threshold_img",
]
