"""nilearn's ``RegionExtractor``: regions cut out of maps, then a maps masker on them.

``fit`` thresholds the maps (``thresholding_strategy``), splits them into
connected regions larger than ``min_region_size`` mm^3
(:func:`roidask.regions.connected_regions`, with ``extractor`` and
``smoothing_fwhm``), and fits a :class:`MapsMasker` on those regions:
``regions_img_`` holds one region per volume and ``index_`` the map each
came from. ``transform`` is the maps masker's, lazily. The thresholds are
computed exactly over all maps (``ratio_n_voxels``: nilearn's
``100 - 100 / n_maps * threshold`` percentile of the absolute values).

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> maps = np.zeros((10, 10, 10, 2), "float32")
>>> maps[1:4, 1:4, 1:4, 0] = 1.0
>>> maps[6:9, 6:9, 6:9, 0] = 2.0
>>> maps[2:8, 2:8, 4:6, 1] = 1.5
>>> extractor = RegionExtractor(new_image(maps, np.eye(4)), min_region_size=10,
...                             threshold=0.5, thresholding_strategy="img_value",
...                             extractor="connected_components", smoothing_fwhm=None)
>>> extractor.fit().index_
[0, 0, 1]
"""

import numbers

import dask
import dask.array as da
import numpy as np

from roidask._dask.data import dask_data
from roidask._dask.percentile import score_at_percentile
from roidask.errors import ParameterError, ParameterTypeError
from roidask.grid import like_image
from roidask.image.thresholding import threshold_img
from roidask.maskers.inputs import _load_checked
from roidask.maskers.maps import MapsMasker
from roidask.regions import connected_regions

__all__ = ["RegionExtractor", "THRESHOLDING_STRATEGIES"]

THRESHOLDING_STRATEGIES = ("ratio_n_voxels", "img_value", "percentile")


def _threshold_ratio(maps_img, ratio):
    """nilearn's ``ratio_n_voxels``: zero |values| below one percentile of all maps."""
    n_maps = maps_img.shape[-1]
    if not isinstance(ratio, numbers.Real) or isinstance(ratio, bool) or not 0 < ratio <= n_maps:
        raise ParameterError(
            "threshold", f"a ratio in (0, n_maps={n_maps}] (thresholding_strategy="
            "'ratio_n_voxels')", ratio,
        )
    data = dask_data(maps_img)
    values = da.where(da.isfinite(data), data, 0).astype(data.dtype)
    magnitude = da.absolute(values)
    cutoff = score_at_percentile(magnitude, 100.0 - (100.0 / n_maps) * ratio)
    return like_image(maps_img, da.where(magnitude < cutoff, 0, values).astype(data.dtype))


class RegionExtractor(MapsMasker):
    """Regions of maps as signals: nilearn's ``RegionExtractor``, lazily.

    Parameters
    ----------
    maps_img : xarray.DataArray or path
        4D maps (e.g. a probabilistic atlas or ICA components).
    mask_img : xarray.DataArray or path, optional
        Regions and signals are restricted to it.
    min_region_size : float
        Smallest region kept, in mm^3.
    threshold : float
        Its meaning depends on ``thresholding_strategy``: a ratio of voxels
        to keep per map (``ratio_n_voxels``), a value (``img_value``) or a
        percentile (``percentile``).
    thresholding_strategy : {'ratio_n_voxels', 'img_value', 'percentile'}
    two_sided : bool
        For ``img_value`` and ``percentile``: threshold absolute values.
    extractor : {'local_regions', 'connected_components'}
        How maps are split into regions (see
        :func:`roidask.regions.connected_regions`).
    smoothing_fwhm : float or None
        Smoothing before the split into regions, and of the data the signals
        are taken from, as in nilearn.
    standardize, standardize_confounds, high_variance_confounds, detrend, low_pass, \
high_pass, t_r, resampling_target, allow_overlap, runs
        As in :class:`MapsMasker`.

    Attributes
    ----------
    regions_img_ : xarray.DataArray
        One region per volume, holding its map's values.
    index_ : list of int
        The map each region came from.
    """

    _param_names = MapsMasker._param_names + (
        "min_region_size", "threshold", "thresholding_strategy", "two_sided", "extractor",
    )

    def __init__(self, maps_img=None, mask_img=None, *, min_region_size=1350, threshold=1.0,
                 thresholding_strategy="ratio_n_voxels", two_sided=False,
                 extractor="local_regions", smoothing_fwhm=6, standardize=False,
                 standardize_confounds=True, high_variance_confounds=False, detrend=False,
                 low_pass=None, high_pass=None, t_r=None, resampling_target="data",
                 allow_overlap=True, runs=None):
        self._set_params(locals())

    def _thresholded(self, maps_img, mask_img):
        if self.thresholding_strategy not in THRESHOLDING_STRATEGIES:
            raise ParameterError("thresholding_strategy", f"one of {THRESHOLDING_STRATEGIES}",
                                 self.thresholding_strategy)
        if self.threshold is None or isinstance(self.threshold, str):
            raise ParameterTypeError(
                "threshold", f"a number for thresholding_strategy="
                f"{self.thresholding_strategy!r}", self.threshold,
            )
        if self.thresholding_strategy == "ratio_n_voxels":
            return _threshold_ratio(maps_img, self.threshold)
        threshold = (f"{self.threshold}%" if self.thresholding_strategy == "percentile"
                     else self.threshold)
        return threshold_img(maps_img, threshold, two_sided=self.two_sided, mask_img=mask_img)

    def _maps_to_fit(self, mask_img):
        """The regions of the thresholded maps (computed now: their number sets the columns)."""
        maps_img = _load_checked(self.maps_img, "maps_img", 4, "maps image")
        thresholded = self._thresholded(maps_img, mask_img)
        regions, index = dask.compute(*connected_regions(
            thresholded, self.min_region_size, self.extractor, self.smoothing_fwhm,
            mask_img=mask_img,
        ))
        if regions is None:
            raise ParameterError(
                "min_region_size", "a size some region of the thresholded maps reaches "
                "(or a lower threshold)", self.min_region_size,
            )
        self.regions_img_ = regions
        self.index_ = [int(i) for i in index]
        return regions

    @property
    def n_regions_(self):
        """The number of regions extracted."""
        return int(np.shape(self.regions_img_)[-1])
