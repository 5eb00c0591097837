"""SpheresMasker against nilearn's NiftiSpheresMasker."""

import warnings

import nibabel as nib
import numpy as np
import pytest
from nilearn.maskers import NiftiSpheresMasker as NilearnSpheresMasker

from roidask.errors import ParameterError
from roidask.grid import new_image
from roidask.maskers import NiftiSpheresMasker, NotFittedError, SpheresMasker
from roidask.testing import raise_if_dask_computes

SHAPE = (10, 12, 11, 20)
CHUNKINGS = [None, {"t": (7, 8, 5)}, {"i": 3, "j": 2, "k": 3, "t": 2},
             {"i": (4, 6), "j": (5, 7), "k": (2, 9), "t": (3, 17)}]
# seeds between voxel centres, on them, at the edge, with negative coordinates
SEEDS = [(-1.3, 12.2, 8.0), (5.0, 26.0, 14.0), (12.4, 40.1, 29.6), (-10.0, 5.0, 2.0)]


def _affine():
    affine = np.diag([3.0, 3.5, 3.0, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 2.0]
    return affine


@pytest.fixture(scope="module")
def values():
    rng = np.random.default_rng(3)
    i = np.arange(SHAPE[0])[:, None, None, None]
    data = rng.standard_normal(SHAPE) * 5 + 300 + i * 3.0
    return (data + np.sin(np.arange(SHAPE[3]) * 0.5) * 10).astype("float32")


def _image(values, chunks=None, affine=None):
    img = new_image(values, _affine() if affine is None else affine)
    return img.chunk(chunks) if chunks else img


def _nilearn(values, mask=None, affine=None, **kwargs):
    affine = _affine() if affine is None else affine
    masker = NilearnSpheresMasker(
        mask_img=None if mask is None else nib.Nifti1Image(mask, _affine()), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return masker.fit_transform(nib.Nifti1Image(values, affine))


def assert_signals(got, expected, atol=2e-6):
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol * scale)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("radius", [0.0, 2.0, 4.5, 7.0])
def test_spheres_signals_equal_nilearn(values, chunks, radius):
    masker = SpheresMasker(SEEDS, radius=radius, allow_overlap=True)
    masker.fit(_image(values, chunks))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, chunks))
    assert signals.dims == ("t", "region")
    expected = _nilearn(values, seeds=SEEDS, radius=radius, allow_overlap=True)
    assert_signals(signals.values, expected)


def test_sphere_sizes_follow_nilearn_rules(values):
    """radius 0 is one voxel (the nearest); nilearn's truncated-coordinates voxel is added."""
    masker = SpheresMasker(SEEDS, radius=0.0, allow_overlap=True).fit(_image(values))
    assert masker.sphere_sizes_.tolist()[1:] == [1, 1, 1]
    assert masker.sphere_sizes_[0] in (1, 2)
    big = SpheresMasker(SEEDS, radius=7.0, allow_overlap=True).fit(_image(values))
    assert (big.sphere_sizes_ > 5).all()


@pytest.mark.parametrize("chunks", CHUNKINGS[2:])
def test_spheres_with_mask_equal_nilearn(values, chunks):
    mask = np.zeros(SHAPE[:3], "int8")
    mask[:6] = 1
    seeds = SEEDS[:2]
    masker = SpheresMasker(seeds, radius=5.0, mask_img=_image(mask), allow_overlap=True)
    masker.fit(_image(values, chunks))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, chunks))
    expected = _nilearn(values, mask, seeds=seeds, radius=5.0, allow_overlap=True)
    assert_signals(signals.values, expected)


@pytest.mark.parametrize("options", [
    {"standardize": "zscore_sample"}, {"detrend": True},
    {"detrend": True, "standardize": "psc"}, {"smoothing_fwhm": 5.0},
])
def test_spheres_cleaning_equal_nilearn(values, options):
    masker = SpheresMasker(SEEDS[:3], radius=4.0, **options).fit(_image(values, CHUNKINGS[2]))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, CHUNKINGS[2]))
    expected = _nilearn(values, seeds=SEEDS[:3], radius=4.0, **options)
    assert_signals(signals.values, expected, atol=2e-5)


def test_spheres_on_another_grid_lazily(values):
    """Fitted without data: the spheres are placed on the grid of the transformed image."""
    affine = np.diag([2.0, 2.5, 2.0, 1.0])
    affine[:3, 3] = [-8.0, 6.0, 1.0]
    seeds = [SEEDS[0], SEEDS[1], SEEDS[3]]  # SEEDS[2] is outside this grid
    masker = SpheresMasker(seeds, radius=3.0, allow_overlap=True).fit()
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, CHUNKINGS[2], affine))
    expected = _nilearn(values, affine=affine, seeds=seeds, radius=3.0, allow_overlap=True)
    assert_signals(signals.values, expected)
    assert NiftiSpheresMasker is SpheresMasker


def test_spheres_overlap_and_errors(values):
    seeds = [(-1.0, 12.0, 8.0), (2.0, 12.0, 8.0)]
    with pytest.raises(ValueError, match="Overlap"):
        _nilearn(values, seeds=seeds, radius=4.0)
    with pytest.raises(ParameterError, match="overlap"):
        SpheresMasker(seeds, radius=4.0).fit(_image(values))
    assert SpheresMasker(seeds, radius=1.0).fit(_image(values)).n_elements_ == 2
    with pytest.raises(ParameterError, match="seeds"):
        SpheresMasker([(1.0, 2.0)]).fit()
    with pytest.raises(ParameterError, match="seeds"):
        SpheresMasker("seeds").fit()
    with pytest.raises(ParameterError, match="radius"):
        SpheresMasker(SEEDS, radius=-1).fit()
    with pytest.raises(ValueError, match="empty"):
        _nilearn(values, seeds=[(500.0, 0.0, 0.0)], radius=2.0)
    with pytest.raises(ParameterError, match="empty"):
        SpheresMasker([(500.0, 0.0, 0.0)], radius=2.0).fit(_image(values))
    with pytest.raises(NotFittedError):
        SpheresMasker(SEEDS).transform(_image(values))


def test_spheres_report(values):
    masker = SpheresMasker(SEEDS[:2], radius=4.0).fit(_image(values))
    assert "2 spheres" in masker.generate_report().html


def test_spheres_nonfinite_data_count_as_zero_as_nilearn(values):
    values = values.copy()
    values[3, 2, 2, 4] = np.nan
    masker = SpheresMasker(SEEDS, radius=4.0, allow_overlap=True).fit()
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, CHUNKINGS[2]))
    expected = _nilearn(values, seeds=SEEDS, radius=4.0, allow_overlap=True)
    assert_signals(signals.values, expected)


def test_spheres_default_radius_is_nilearns(values):
    """radius=None (both libraries' default): the voxel nearest to each seed."""
    seeds = [(2.2, 12.0, 8.0), (5.0, 26.0, 14.0)]
    masker = SpheresMasker(seeds).fit(_image(values, CHUNKINGS[3]))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, CHUNKINGS[3]))
    assert_signals(signals.values, _nilearn(values, seeds=seeds))
    assert masker.sphere_sizes_.tolist() == [1, 1]
