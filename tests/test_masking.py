"""Masks from roidask.masking equal nilearn.masking's, voxel for voxel, at any chunking."""

import sys
import warnings

import nibabel as nib
import numpy as np
import pytest
from nilearn import masking as nmasking

from roidask.errors import GridMismatchError, ParameterError
from roidask.grid import image_affine, new_image
from roidask.masking import (
    MaskWarning,
    TemplatesUnavailableError,
    compute_background_mask,
    compute_brain_mask,
    compute_epi_mask,
    intersect_masks,
    load_mni152_template,
)
from roidask.testing import CountingArray, raise_if_dask_computes

SHAPE = (10, 12, 11, 30)
CHUNKINGS = [None, {"t": (7, 13, 10)}, {"i": 3, "j": 5, "k": 4, "t": 8}]


def _affine():
    affine = np.diag([3.0, 3.5, 3.0, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 2.0]
    return affine


def _brain():
    i, j, k = np.meshgrid(*[np.arange(n) for n in SHAPE[:3]], indexing="ij")
    return ((i - 4.5) / 4) ** 2 + ((j - 5.5) / 5) ** 2 + ((k - 5) / 4.5) ** 2 < 1


@pytest.fixture(scope="module")
def epi():
    """EPI-like float32 data: a bright ellipsoid over a dim noisy background."""
    rng = np.random.default_rng(0)
    level = np.where(_brain(), 800.0, 30.0)[..., None]
    return (rng.standard_normal(SHAPE) * 5 + level).astype("float32")


@pytest.fixture(scope="module")
def skull_stripped(epi):
    """The same with an exact 0 background (what background masks look for)."""
    out = epi.copy()
    out[~_brain()] = 0
    return out


def _image(values, chunks):
    img = new_image(values, _affine())
    return img.chunk(chunks) if chunks else img


def _nifti(values, affine=None):
    return nib.Nifti1Image(values, _affine() if affine is None else affine)


def _nilearn(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(function(*args, **kwargs).get_fdata())


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("options", [
    {},
    dict(opening=0, connected=False),
    dict(lower_cutoff=0.1, upper_cutoff=0.9, exclude_zeros=True, opening=1),
])
def test_epi_mask_equals_nilearn(epi, chunks, options):
    with raise_if_dask_computes():
        mask = compute_epi_mask(_image(epi, chunks), **options)
    assert mask.dims == ("i", "j", "k") and mask.dtype == np.int8
    np.testing.assert_allclose(image_affine(mask), _affine())
    expected = _nilearn(nmasking.compute_epi_mask, _nifti(epi), **options)
    np.testing.assert_array_equal(mask.values, expected)
    assert 0 < mask.values.sum() < mask.size


def test_epi_mask_resampled_equals_nilearn(epi):
    target = np.diag([4.0, 4.0, 4.0, 1.0])
    target[:3, 3] = [-10.0, 5.0, 2.0]
    with raise_if_dask_computes():
        mask = compute_epi_mask(_image(epi, {"t": 9}), target_affine=target, target_shape=(8, 9, 8))
    expected = _nilearn(nmasking.compute_epi_mask, _nifti(epi), target_affine=target,
                        target_shape=(8, 9, 8))
    np.testing.assert_array_equal(mask.values, expected)
    np.testing.assert_allclose(image_affine(mask), target)


def test_epi_mask_of_int16_3d_image(epi):
    volume = epi.mean(axis=3).astype(np.int16)
    expected = _nilearn(nmasking.compute_epi_mask, _nifti(volume))
    np.testing.assert_array_equal(compute_epi_mask(_image(volume, {"i": 4})).values, expected)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("options", [{}, dict(border_size=1, opening=1, connected=True)])
def test_background_mask_equals_nilearn(skull_stripped, chunks, options):
    with raise_if_dask_computes():
        mask = compute_background_mask(_image(skull_stripped, chunks), **options)
    expected = _nilearn(nmasking.compute_background_mask, _nifti(skull_stripped), **options)
    np.testing.assert_array_equal(mask.values, expected)


def test_background_mask_with_nan_background(skull_stripped):
    values = skull_stripped.copy()
    values[~_brain()] = np.nan
    expected = _nilearn(nmasking.compute_background_mask, _nifti(values))
    mask = compute_background_mask(_image(values, {"t": 11}))
    np.testing.assert_array_equal(mask.values, expected)
    assert mask.values.sum() == _brain().sum()


@pytest.mark.parametrize("mask_type", ["whole-brain", "gm", "wm"])
def test_brain_mask_equals_nilearn(mask_type):
    affine = np.array([[6.0, 0, 0, -90], [0, 6, 0, -126], [0, 0, 6, -72], [0, 0, 0, 1]])
    target = new_image(np.zeros((31, 37, 31, 2), "float32"), affine).chunk({"t": 1})
    with raise_if_dask_computes():
        mask = compute_brain_mask(target, mask_type=mask_type, opening=1)
    expected = _nilearn(nmasking.compute_brain_mask, _nifti(np.zeros((31, 37, 31)), affine),
                        mask_type=mask_type, opening=1)
    np.testing.assert_array_equal(mask.values, expected)
    assert mask.values.sum() > 0


def test_templates_are_nilearns_files():
    template = load_mni152_template("whole-brain")
    assert template.shape == (197, 233, 189) and template.dtype == np.float32
    assert float(template.max()) == 1.0


def test_missing_nilearn_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "nilearn", None)
    with pytest.raises(TemplatesUnavailableError, match=r'pip install "roidask\[templates\]"'):
        load_mni152_template("gm")
    with pytest.raises(ImportError):
        compute_brain_mask(new_image(np.zeros((4, 4, 4)), np.eye(4)))


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("connected", [True, False])
def test_intersect_masks_equals_nilearn(threshold, connected):
    rng = np.random.default_rng(3)
    masks = [(rng.random((6, 7, 8)) > p).astype("int8") for p in (0.4, 0.4, 0.6)]
    with raise_if_dask_computes():
        out = intersect_masks([_image(m, {"i": 4}) for m in masks], threshold=threshold,
                              connected=connected)
    expected = _nilearn(nmasking.intersect_masks, [_nifti(m) for m in masks],
                        threshold=threshold, connected=connected)
    np.testing.assert_array_equal(out.values, expected)


def test_intersect_masks_errors():
    a = new_image(np.ones((4, 4, 4), "int8"), np.eye(4))
    b = new_image(np.ones((4, 4, 4), "int8"), np.diag([2.0, 2.0, 2.0, 1.0]))
    with pytest.raises(GridMismatchError, match="mask_imgs\\[1\\] is on a different grid"):
        intersect_masks([a, b])
    with pytest.raises(ParameterError, match="threshold: expected a number between 0 and 1"):
        intersect_masks([a, a], threshold=1.5)
    with pytest.raises(ParameterError, match="at least one mask"):
        intersect_masks([])
    three_values = new_image(np.arange(64).reshape(4, 4, 4) % 3, np.eye(4))
    lazy = intersect_masks([a, three_values])  # values are only known when computed
    with pytest.raises(ParameterError, match=r"mask_imgs\[1\]: expected a mask"):
        lazy.compute()


def test_parameter_errors(epi):
    img = _image(epi, None)
    with pytest.raises(ParameterError, match="lower_cutoff: expected a value below"):
        compute_epi_mask(img, lower_cutoff=0.9, upper_cutoff=0.5)
    with pytest.raises(ParameterError, match="upper_cutoff: expected a number between 0 and 1"):
        compute_epi_mask(img, upper_cutoff=2)
    with pytest.raises(ParameterError, match="opening"):
        compute_epi_mask(img, opening=-1)
    with pytest.raises(ParameterError, match="border_size"):
        compute_background_mask(img, border_size=0)
    with pytest.raises(ParameterError, match="mask_type"):
        compute_brain_mask(img, mask_type="csf")


def test_empty_mask_warns_when_computed():
    flat = new_image(np.full((6, 6, 6, 3), 5.0, "float32"), np.eye(4))
    mask = compute_background_mask(flat)
    with pytest.warns(MaskWarning, match="empty mask"):
        values = mask.values
    assert values.sum() == 0


def test_epi_mask_with_opening_reads_the_data_once():
    import dask.array as da

    from roidask.masking import compute_epi_mask

    values = np.random.default_rng(0).random((10, 11, 12, 24)).astype("float32") + 5
    source = CountingArray(values)
    data = da.from_array(source, chunks=(10, 11, 12, 1), asarray=False,
                         meta=np.array((), "float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compute_epi_mask(new_image(data, np.eye(4)), opening=2).compute()
    assert len(source.reads) == data.npartitions
