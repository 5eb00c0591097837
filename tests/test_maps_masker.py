"""MapsMasker against nilearn's NiftiMapsMasker, on a probabilistic atlas made here."""

import warnings

import nibabel as nib
import numpy as np
import pytest
from nilearn.maskers import NiftiMapsMasker as NilearnMapsMasker

from roidask.errors import GridMismatchError, MaskWarning, ParameterError
from roidask.grid import new_image
from roidask.maskers import MapsMasker, NiftiMapsMasker, NotFittedError
from roidask.testing import raise_if_dask_computes

SHAPE = (10, 12, 11, 20)
T_R = 2.0
CHUNKINGS = [None, {"t": (7, 8, 5)}, {"i": 3, "j": 2, "k": 3, "t": 2},
             {"i": (4, 6), "j": (5, 7), "k": (2, 9), "t": (3, 17)}]


def _affine():
    affine = np.diag([3.0, 3.5, 3.0, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 2.0]
    return affine


@pytest.fixture(scope="module")
def data():
    """float32 data and four overlapping Gaussian maps (a probabilistic atlas)."""
    rng = np.random.default_rng(1)
    i, j, k = np.meshgrid(*[np.arange(n) for n in SHAPE[:3]], indexing="ij")
    values = rng.standard_normal(SHAPE) * 5 + 300 + (i * 3.0)[..., None]
    values += np.sin(np.arange(SHAPE[3]) * 0.5) * 10
    values = values.astype("float32")
    centres = [(3, 3, 3), (6, 8, 5), (2, 9, 8), (7, 4, 8)]
    maps = np.stack([np.exp(-((i - a) ** 2 + (j - b) ** 2 + (k - c) ** 2) / 6.0)
                     for a, b, c in centres], axis=-1)
    maps[maps < 0.05] = 0
    return values, maps.astype("float32")


def _image(values, chunks=None):
    img = new_image(values, _affine())
    return img.chunk(chunks) if chunks else img


def _nifti(values, affine=None):
    return nib.Nifti1Image(values, _affine() if affine is None else affine)


def _nilearn(maps, values, mask=None, **kwargs):
    masker = NilearnMapsMasker(_nifti(maps), mask_img=None if mask is None else _nifti(mask),
                               **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return masker.fit_transform(_nifti(values))


def assert_signals(got, expected, atol=2e-5):
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol * scale)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_maps_signals_equal_nilearn(data, chunks):
    values, maps = data
    masker = MapsMasker(_image(maps)).fit(_image(values, chunks))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, chunks))
    assert signals.dims == ("t", "region")
    assert_signals(signals.values, _nilearn(maps, values))


@pytest.mark.parametrize("chunks", CHUNKINGS[1:])
@pytest.mark.parametrize("options", [
    {"standardize": "zscore_sample"}, {"detrend": True},
    {"detrend": True, "standardize": "psc"},
])
def test_maps_cleaning_equal_nilearn(data, chunks, options):
    values, maps = data
    masker = MapsMasker(_image(maps), **options).fit(_image(values, chunks))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, chunks))
    assert_signals(signals.values, _nilearn(maps, values, **options))


def test_maps_confounds_equal_nilearn(data):
    values, maps = data
    confounds = np.random.default_rng(2).standard_normal((SHAPE[3], 2))
    masker = MapsMasker(_image(maps)).fit(_image(values, CHUNKINGS[2]))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, CHUNKINGS[2]), confounds=confounds)
    expected = NilearnMapsMasker(_nifti(maps)).fit_transform(_nifti(values), confounds=confounds)
    assert_signals(signals.values, expected)


@pytest.mark.parametrize("chunks", CHUNKINGS[1:3])
def test_maps_with_mask_equal_nilearn(data, chunks):
    values, maps = data
    mask = np.zeros(SHAPE[:3], "int8")
    mask[:, :4] = 1  # removes maps 1 and 2 entirely, part of map 0
    masker = MapsMasker(_image(maps), _image(mask))
    with pytest.warns(MaskWarning, match=r"removed maps \[1, 2\]"):
        masker.fit(_image(values, chunks))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, chunks))
    assert masker.region_ids_.tolist() == [0, 3]
    assert_signals(signals.values, _nilearn(maps, values, mask))


def test_maps_on_another_grid_resampled_lazily(data):
    """Maps on a coarser grid: resampled onto the data (linear) as nilearn, in fit and transform."""
    values, maps = data
    coarse_affine = _affine() @ np.diag([2.0, 2.0, 2.0, 1.0])
    coarse = maps[::2, ::2, ::2]
    expected = NilearnMapsMasker(_nifti(coarse, coarse_affine)).fit_transform(_nifti(values))
    masker = MapsMasker(new_image(coarse, coarse_affine)).fit(_image(values, CHUNKINGS[2]))
    assert_signals(masker.transform(_image(values, CHUNKINGS[2])).values, expected)
    # fitted on the coarse grid, then given data on the fine grid: no refit, no compute
    masker = MapsMasker(new_image(coarse, coarse_affine)).fit()
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, CHUNKINGS[2]))
    assert_signals(signals.values, expected)
    assert masker.maps_img_.shape[:3] == coarse.shape[:3]
    # fitted on one data grid, transformed on another: the maps as given are resampled
    other = _affine() @ np.diag([1.5, 1.5, 1.5, 1.0])
    other_values = values[:7, :8, :7]
    masker = MapsMasker(new_image(coarse, coarse_affine)).fit(_image(values))
    with raise_if_dask_computes():
        signals = masker.transform(new_image(other_values, other).chunk({"i": 3, "t": 6}))
    expected = NilearnMapsMasker(_nifti(coarse, coarse_affine)).fit_transform(
        _nifti(other_values, other))
    assert_signals(signals.values, expected)


def test_maps_resampling_target_maps_equal_nilearn(data):
    values, maps = data
    coarse_affine = _affine() @ np.diag([2.0, 2.0, 2.0, 1.0])
    coarse = maps[::2, ::2, ::2]
    masker = MapsMasker(new_image(coarse, coarse_affine), resampling_target="maps").fit()
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, CHUNKINGS[2]))
    expected = NilearnMapsMasker(_nifti(coarse, coarse_affine),
                                 resampling_target="maps").fit_transform(_nifti(values))
    assert_signals(signals.values, expected)


def test_maps_3d_image_and_alias(data):
    values, maps = data
    assert NiftiMapsMasker is MapsMasker
    masker = MapsMasker(_image(maps)).fit()
    one = masker.transform(_image(values[..., 3]))
    assert one.dims == ("region",)
    expected = _nilearn(maps, values[..., 3:4])[0]
    np.testing.assert_allclose(one.values, expected, rtol=0, atol=2e-5 * np.abs(expected).max())


def test_maps_inverse_transform_equal_nilearn(data):
    values, maps = data
    masker = MapsMasker(_image(maps)).fit()
    signals = masker.transform(_image(values, CHUNKINGS[2]))
    with raise_if_dask_computes():
        back = masker.inverse_transform(signals)
    reference = NilearnMapsMasker(_nifti(maps)).fit(_nifti(values))
    expected = reference.inverse_transform(reference.transform(_nifti(values))).get_fdata()
    np.testing.assert_allclose(back.values, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_maps_errors(data):
    values, maps = data
    with pytest.raises(ParameterError, match="maps_img"):
        MapsMasker(_image(maps[..., 0])).fit()
    with pytest.raises(ParameterError, match="maps_img"):
        MapsMasker().fit()
    with pytest.raises(ParameterError, match="resampling_target"):
        MapsMasker(_image(maps), resampling_target="labels").fit()
    with pytest.raises(ParameterError, match="mask_img"):
        MapsMasker(_image(maps), resampling_target="mask").fit()
    with pytest.raises(ParameterError, match="overlap"):
        MapsMasker(_image(maps), allow_overlap=False).fit()
    with pytest.raises(NotFittedError):
        MapsMasker(_image(maps)).transform(_image(values))
    with pytest.raises(GridMismatchError):
        MapsMasker(_image(maps), resampling_target=None).fit(
            new_image(values, np.diag([2.0, 2.0, 2.0, 1.0])))
    with pytest.raises(ParameterError, match="signals"):
        MapsMasker(_image(maps)).fit().inverse_transform(np.ones(3))
    # disjoint maps pass allow_overlap=False
    disjoint = np.zeros_like(maps)
    disjoint[:5, ..., 0] = 1
    disjoint[5:, ..., 1] = 1
    assert MapsMasker(_image(disjoint), allow_overlap=False).fit().n_elements_ == 4


def test_maps_report_and_repr(data):
    values, maps = data
    masker = MapsMasker(_image(maps), detrend=True).fit(_image(values))
    assert "4 maps" in masker.generate_report().html
    assert repr(masker).startswith("MapsMasker(")


def test_maps_resampling_target_mask_equal_nilearn(data):
    values, maps = data
    mask_affine = _affine() @ np.diag([1.5, 1.5, 1.5, 1.0])
    mask = np.zeros((7, 8, 7), "int8")
    mask[1:6, 1:7, 1:6] = 1
    masker = MapsMasker(_image(maps), new_image(mask, mask_affine), resampling_target="mask")
    masker.fit(_image(values, CHUNKINGS[2]))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, CHUNKINGS[2]))
    reference = NilearnMapsMasker(_nifti(maps), mask_img=_nifti(mask, mask_affine),
                                  resampling_target="mask")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = reference.fit_transform(_nifti(values))
    assert masker.maps_img_.shape[:3] == mask.shape
    assert_signals(signals.values, expected)


def test_maps_nonfinite_data_count_as_zero_as_nilearn(data):
    values, maps = data
    values = values.copy()
    values[3, 4, 5, 2] = np.nan
    values[6, 8, 5, 7] = np.inf
    masker = MapsMasker(_image(maps)).fit()
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, CHUNKINGS[2]))
    assert_signals(signals.values, _nilearn(maps, values))
