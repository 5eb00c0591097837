"""Lazy images that know their algebra: what a smoothed image skips, proven by counting.

Each rule is checked three ways: the values equal nilearn's, the input chunks
are read once, and the Gaussian filter runs only on the volumes (or the one
3D mean) the rule says, never on a 4D block.
"""

import dask.array as da
import nibabel as nib
import numpy as np
import pytest
from nilearn import image as nilearn_image
from nilearn.maskers import NiftiLabelsMasker
from scipy import stats as scipy_stats

import roidask.image.smoothing
from roidask.grid import new_image
from roidask.image import index_img, mean_img, smooth_img
from roidask.maskers import LabelsMasker
from roidask.stats import ttest_ind
from roidask.testing import CountingArray, raise_if_dask_computes

SHAPE = (12, 13, 9, 20)
AFFINE = np.diag([3.0, 3.5, 4.0, 1.0])
FWHM = 6.0
CHUNKINGS = [(12, 13, 9, 7), (5, 13, 4, 6), (2, 3, 9, 20)]  # the last is thinner than the halo


@pytest.fixture(scope="module")
def values():
    rng = np.random.default_rng(0)
    data = (rng.normal(size=SHAPE) * 5 + 100).astype("float32")
    data[3, 4, 5, 2] = np.nan  # counts as 0 in nilearn's smoothing
    return data


@pytest.fixture(scope="module")
def labels():
    atlas = np.random.default_rng(1).integers(0, 5, size=SHAPE[:3]).astype("int32")
    atlas[:4] = 0
    atlas[-1, -1, -1] = 7  # a one-voxel region at the corner: reflected edges
    return atlas


@pytest.fixture(scope="module")
def nilearn_smoothed(values):
    return nilearn_image.smooth_img(nib.Nifti1Image(values, AFFINE), FWHM)


class FilterCalls:
    """Spy on the Gaussian filter roidask calls: the shape of every array it filters."""

    def __init__(self, monkeypatch):
        self.shapes = []
        real = roidask.image.smoothing.gaussian_filter1d

        def spy(array, *args, **kwargs):
            self.shapes.append(np.shape(array))
            return real(array, *args, **kwargs)

        monkeypatch.setattr(roidask.image.smoothing, "gaussian_filter1d", spy)

    @property
    def on_data(self):
        """Calls on image data (3D or more), not on the small 1D filter matrices."""
        return [shape for shape in self.shapes if len(shape) >= 3]


def counted_image(values, chunks):
    source = CountingArray(values)
    data = da.from_array(source, chunks=chunks, asarray=False, meta=np.empty((0,) * 4, "f4"))
    return new_image(data, AFFINE), source


def calls_per_volume(monkeypatch, img):
    """Filter calls that smoothing one volume of ``img`` takes (per block, per axis)."""
    calls = FilterCalls(monkeypatch)
    smooth_img(img, FWHM).compute()
    assert len(calls.on_data) % SHAPE[3] == 0
    return len(calls.on_data) // SHAPE[3]


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_selection_after_smoothing_smooths_only_the_selected_volumes(
        monkeypatch, values, nilearn_smoothed, chunks):
    img = new_image(values, AFFINE).chunk(dict(zip("ijkt", chunks)))
    per_volume = calls_per_volume(monkeypatch, img)
    calls = FilterCalls(monkeypatch)
    with raise_if_dask_computes():
        selected = index_img(smooth_img(img, FWHM), [1, 5, 17])
    got = selected.values
    np.testing.assert_array_equal(got, nilearn_smoothed.get_fdata()[..., [1, 5, 17]])
    assert all(len(shape) == 3 for shape in calls.on_data)  # volume by volume
    assert len(calls.on_data) == 3 * per_volume
    by_sel = smooth_img(img, FWHM).sel(t=[2, 3]).values  # xarray's sel goes the same way
    np.testing.assert_array_equal(by_sel, nilearn_smoothed.get_fdata()[..., [2, 3]])
    assert len(calls.on_data) == 5 * per_volume


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_mean_of_smoothed_image_is_one_3d_smoothing_of_one_read(
        monkeypatch, values, nilearn_smoothed, chunks):
    per_volume = calls_per_volume(monkeypatch, new_image(values, AFFINE).chunk(
        dict(zip("ijkt", chunks))))
    img, source = counted_image(values, chunks)
    calls = FilterCalls(monkeypatch)
    with raise_if_dask_computes():
        mean = mean_img(smooth_img(img, FWHM))
    got = mean.values
    expected = nilearn_image.mean_img(nilearn_smoothed, copy_header=True).get_fdata()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)
    assert got.dtype == np.float32
    assert len(source.reads) == len(set(source.reads)) == np.prod(
        [-(-n // c) for n, c in zip(SHAPE, chunks)])  # every chunk once
    assert len(calls.on_data) == per_volume  # one 3D smoothing


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("strategy", ["mean", "sum"])
def test_region_sums_of_smoothed_image_read_the_raw_data_once(
        monkeypatch, values, labels, nilearn_smoothed, chunks, strategy):
    img, source = counted_image(values, chunks)
    calls = FilterCalls(monkeypatch)
    masker = LabelsMasker(new_image(labels, AFFINE), strategy=strategy)
    with raise_if_dask_computes(max_computes=1):  # fit reads the atlas
        signals = masker.fit_transform(smooth_img(img, FWHM))
    got = signals.values
    expected = NiftiLabelsMasker(nib.Nifti1Image(labels, AFFINE), strategy=strategy,
                                 standardize=None).fit_transform(nilearn_smoothed)
    np.testing.assert_allclose(got, expected, rtol=2e-6)
    assert got.dtype == np.float32
    assert calls.on_data == []  # the data are never smoothed: the weights are
    assert len(source.reads) == len(set(source.reads))  # every chunk at most once


def test_masker_smoothing_and_chained_smoothing_use_the_weights(monkeypatch, values, labels):
    img = new_image(values, AFFINE).chunk({"i": 5, "t": 7})
    atlas = nib.Nifti1Image(labels, AFFINE)
    calls = FilterCalls(monkeypatch)
    own = LabelsMasker(new_image(labels, AFFINE), smoothing_fwhm=FWHM).fit_transform(img)
    expected = NiftiLabelsMasker(atlas, smoothing_fwhm=FWHM, standardize=None).fit_transform(
        nib.Nifti1Image(values, AFFINE))
    np.testing.assert_allclose(own.values, expected, rtol=2e-6)
    twice = LabelsMasker(new_image(labels, AFFINE), strategy="sum").fit_transform(
        smooth_img(smooth_img(img, 4.0), "fast"))
    nilearn_twice = nilearn_image.smooth_img(
        nilearn_image.smooth_img(nib.Nifti1Image(values, AFFINE), 4.0), "fast")
    expected = NiftiLabelsMasker(atlas, strategy="sum", standardize=None).fit_transform(
        nilearn_twice)
    np.testing.assert_allclose(twice.values, expected, rtol=2e-6)
    assert calls.on_data == []


def test_ttest_of_selected_smoothed_volumes_smooths_each_once(
        monkeypatch, values, nilearn_smoothed):
    img = new_image(values, AFFINE, time_coords={"condition": list("ab" * 10)}).chunk(
        {"t": 6})
    calls = FilterCalls(monkeypatch)
    smoothed = smooth_img(img, FWHM)
    a = index_img(smoothed, smoothed.condition.values == "a")
    b = index_img(smoothed, smoothed.condition.values == "b")
    got = ttest_ind(a, b)
    log_p = got["neg_log10_p"].values
    reference = nilearn_smoothed.get_fdata()
    _, p = scipy_stats.ttest_ind(reference[..., ::2], reference[..., 1::2], axis=-1)
    np.testing.assert_allclose(log_p, np.minimum(-np.log10(p), log_p.max()), rtol=1e-4,
                               atol=1e-5)
    assert len(calls.on_data) == 3 * SHAPE[3]  # each volume once, 3 axes


def test_other_uses_see_the_smoothed_values(values, nilearn_smoothed):
    img = new_image(values, AFFINE).chunk({"t": 7})
    smoothed = smooth_img(img, FWHM)
    reference = nilearn_smoothed.get_fdata()
    np.testing.assert_array_equal(smoothed[:4, ..., [0, 3]].values, reference[:4, ..., [0, 3]])
    np.testing.assert_array_equal((smoothed * 2).values, reference * 2)
    np.testing.assert_array_equal(smoothed.copy().values, reference)
    np.testing.assert_array_equal(smoothed.isel(t=4).values, reference[..., 4])


def test_persisted_smoothed_image_keeps_its_grid(values):
    smoothed = smooth_img(new_image(values, AFFINE).chunk({"t": 7}), FWHM)
    persisted = smoothed.persist()
    assert isinstance(persisted.data, da.Array)
    np.testing.assert_array_equal(persisted.nii.affine, AFFINE)
    assert persisted.t.values.tolist() == smoothed.t.values.tolist()
    # the persisted values are plain data: their mean is taken over the float32 smoothed
    # volumes, the lazy one smooths the float64 mean: equal to float32 rounding
    np.testing.assert_allclose(mean_img(persisted).values, mean_img(smoothed).values, rtol=1e-6)
