"""Warnings: every one is a RoidaskWarning and points at the caller's line.

Each case calls a public function that warns several calls deep (at call
time, or inside a task while the result is computed on the synchronous
scheduler); the warning must name this file, as xarray's user-level
warnings do, whatever the depth.
"""

import warnings

import dask
import numpy as np
import pytest

from roidask.errors import (
    MaskWarning,
    RegionsWarning,
    ResamplingWarning,
    RoidaskWarning,
    SignalWarning,
)
from roidask.grid import new_image
from roidask.maskers import Masker
from roidask.masking import compute_background_mask
from roidask.regions import connected_regions
from roidask.signal import clean, standardize_signal


def _image(t=40, affine=None):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((6, 6, 6, t)).astype("float32") + 10
    return new_image(data, np.eye(4) if affine is None else affine)


def _mask():
    mask = np.zeros((6, 6, 6), "int8")
    mask[1:5, 1:5, 1:5] = 1
    return new_image(mask, np.eye(4))


SHIFTED = np.eye(4) + 0.5 * np.eye(4, k=3)  # half a voxel along i: another grid


def _resampled_by_transform():
    Masker(_mask()).fit().transform(_image(affine=SHIFTED))


def _resampled_by_fit_transform():
    Masker(_mask(), target_affine=np.eye(4)).fit_transform(_image(affine=SHIFTED))


def _filtered_by_masker_on_compute():
    signals = Masker(_mask(), low_pass=0.8, t_r=1.0).fit().transform(_image().chunk({"t": -1}))
    signals.compute(scheduler="sync")


def _clean_at_nyquist():
    clean(np.random.default_rng(1).standard_normal((40, 3)), low_pass=0.6, t_r=1.0)


def _psc_of_zero_mean():
    standardize_signal(np.array([[1.0, -1.0], [2.0, 1.0], [3.0, 0.0]]), standardize="psc")


def _empty_mask_on_compute():
    flat = new_image(np.full((6, 6, 6, 3), 5.0, "float32"), np.eye(4))
    compute_background_mask(flat).compute(scheduler="sync")


def _no_region_on_compute():
    img = new_image(np.zeros((6, 6, 6), "float32"), np.eye(4)).chunk(3)
    dask.compute(*connected_regions(img, 5, "connected_components"), scheduler="sync")


CASES = {
    "masker transform resamples": (_resampled_by_transform, ResamplingWarning),
    "masker fit_transform resamples": (_resampled_by_fit_transform, ResamplingWarning),
    "masker filter, in a task": (_filtered_by_masker_on_compute, SignalWarning),
    "clean cutoff above Nyquist": (_clean_at_nyquist, SignalWarning),
    "psc of a zero-mean signal": (_psc_of_zero_mean, SignalWarning),
    "empty mask, in a task": (_empty_mask_on_compute, MaskWarning),
    "no region, in a task": (_no_region_on_compute, RegionsWarning),
}


@pytest.mark.parametrize("case", CASES)
def test_warning_points_at_the_callers_file(case):
    run, category = CASES[case]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    ours = [w for w in caught if issubclass(w.category, RoidaskWarning)]
    assert ours, [str(w.message) for w in caught]
    assert {w.category for w in ours} == {category}
    assert {w.filename for w in ours} == {__file__}


def test_every_warning_is_a_user_warning():
    for category in (MaskWarning, SignalWarning, ResamplingWarning, RegionsWarning):
        assert issubclass(category, RoidaskWarning)
    assert issubclass(RoidaskWarning, UserWarning)
