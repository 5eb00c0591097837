"""Maskers on lazy images: nilearn's NiftiLabelsMasker and NiftiMasker, out of core.

:class:`LabelsMasker` turns a 4D image into one signal per atlas region and
volume; :class:`Masker` into one signal per in-mask voxel and volume. Both
follow nilearn's steps and give nilearn's numbers: resample, smooth, extract,
then :func:`roidask.signal.clean` (detrend, filter, confounds, standardize).

``fit`` computes the small 3D things a masker needs to know in advance --
the label list of the atlas, or the mask (for a mask computed from the data,
its mean image is a streaming reduction over the time chunks). ``transform``
never computes: it returns a lazy :class:`xarray.DataArray` of dims
``("t", "region")`` or ``("t", "voxel")`` that reads each chunk of the data
once when computed, in memory bounded by the chunk size. The ``t``
coordinates of the image (``time``, ``condition``, ``run``) are carried over,
so per-condition signals are ``signals.groupby("condition")`` or
``signals.sel(t=signals.condition == "face")`` without another pass.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> labels = new_image(np.repeat([0, 1, 2], 4).reshape(3, 2, 2), np.eye(4))
>>> img = new_image(np.arange(60, dtype="float32").reshape(3, 2, 2, 5), np.eye(4))
>>> signals = LabelsMasker(labels, labels=["left", "right"]).fit_transform(img)
>>> signals.dims, signals["name"].values.tolist()
(('t', 'region'), ['left', 'right'])
>>> signals.sel(region=2).values.tolist()
[47.5, 48.5, 49.5, 50.5, 51.5]
"""

from roidask.maskers.base import NotFittedError
from roidask.maskers.labels import RESAMPLING_TARGETS as RESAMPLING_TARGETS
from roidask.maskers.labels import LabelsMasker
from roidask.maskers.maps import MAPS_RESAMPLING_TARGETS as MAPS_RESAMPLING_TARGETS
from roidask.maskers.maps import MapsMasker, NiftiMapsMasker
from roidask.maskers.multi import (
    MultiLabelsMasker,
    MultiMapsMasker,
    MultiMasker,
    MultiNiftiLabelsMasker,
    MultiNiftiMapsMasker,
    MultiNiftiMasker,
)
from roidask.maskers.region_extractor import RegionExtractor
from roidask.maskers.spheres import NiftiSpheresMasker, SpheresMasker
from roidask.maskers.voxels import MASK_STRATEGIES as MASK_STRATEGIES
from roidask.maskers.voxels import Masker

#: nilearn's class names, so a port changes only the import prefix
NiftiLabelsMasker = LabelsMasker
NiftiMasker = Masker

__all__ = [
    "LabelsMasker", "MapsMasker", "Masker", "MultiLabelsMasker", "MultiMapsMasker",
    "MultiMasker", "MultiNiftiLabelsMasker", "MultiNiftiMapsMasker", "MultiNiftiMasker",
    "NiftiLabelsMasker", "NiftiMapsMasker", "NiftiMasker", "NiftiSpheresMasker",
    "NotFittedError", "RegionExtractor", "SpheresMasker",
]
