"""nilearn's multi-subject maskers: lists of 4D images, per-image confounds, nilearn's values."""

import warnings

import dask
import nibabel as nib
import numpy as np
import pytest
from nilearn import maskers as nmaskers
from sklearn.base import clone

from roidask.errors import ParameterError
from roidask.grid import new_image
from roidask.maskers import (
    MultiLabelsMasker,
    MultiMapsMasker,
    MultiMasker,
    MultiNiftiLabelsMasker,
    MultiNiftiMasker,
)
from roidask.testing import raise_if_dask_computes

SHAPE = (9, 10, 8)
AFFINE = np.diag([3.0, 3.0, 3.5, 1.0])
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (4, 5), "j": (3, 7), "k": (5, 3), "t": 5},
    "thin": {"i": 2, "j": 2, "k": 2, "t": 2},
}


def run_values(seed, n_volumes=12):
    """A run: a brain-like block of signal over a zero border, noisy, distinct per seed."""
    rng = np.random.default_rng(seed)
    data = np.zeros(SHAPE + (n_volumes,), "float32")
    data[1:-1, 2:-1, 1:-1] = 100 + 10 * rng.standard_normal((7, 7, 6, n_volumes))
    data[2:5, 3:6, 2:4] += 30 * rng.standard_normal(n_volumes)
    return data


def atlas():
    labels = np.zeros(SHAPE, "int16")
    labels[1:5, 2:6, 1:4], labels[5:8, 2:6, 1:4], labels[2:7, 6:9, 4:7] = 1, 2, 3
    return labels


def runs(chunks):
    images = [new_image(run_values(seed, n), AFFINE) for seed, n in ((1, 12), (2, 9))]
    return [img if chunks is None else img.chunk(chunks) for img in images]


def niftis():
    return [nib.Nifti1Image(run_values(seed, n), AFFINE) for seed, n in ((1, 12), (2, 9))]


def confounds():
    rng = np.random.default_rng(5)
    return [rng.standard_normal((12, 2)), rng.standard_normal((9, 2))]


def computed(signals):
    return [np.asarray(s) for s in dask.compute(*signals)]


def assert_lists_close(ours, theirs, atol=1e-5):
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-5, atol=atol * np.abs(expected).max())


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_multi_labels_masker_equals_nilearn(chunks):
    options = dict(standardize="zscore_sample", detrend=True)
    masker = MultiLabelsMasker(new_image(atlas(), AFFINE), **options)
    with raise_if_dask_computes(max_computes=1):  # fit lists the atlas's regions
        signals = masker.fit_transform(runs(chunks), confounds=confounds())
    reference = nmaskers.MultiNiftiLabelsMasker(nib.Nifti1Image(atlas(), AFFINE), **options)
    expected = reference.fit_transform(niftis(), confounds=confounds())
    assert_lists_close(computed(signals), expected)


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_multi_maps_masker_equals_nilearn(chunks):
    rng = np.random.default_rng(3)
    maps = np.clip(rng.standard_normal(SHAPE + (3,)), 0, None).astype("float32")
    masker = MultiMapsMasker(new_image(maps, AFFINE), standardize="zscore_sample")
    signals = masker.fit_transform(runs(chunks))
    reference = nmaskers.MultiNiftiMapsMasker(nib.Nifti1Image(maps, AFFINE),
                                              standardize="zscore_sample")
    # least squares in float32 (nilearn) and float64 (roidask): the maps masker's own
    # parity tolerance (tests/test_maps_masker.py)
    assert_lists_close(computed(signals), reference.fit_transform(niftis()), atol=2e-5)


@pytest.mark.parametrize("strategy", ["background", "epi"])
@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_multi_masker_computes_the_common_mask_as_nilearn(chunks, strategy):
    masker = MultiMasker(mask_strategy=strategy)
    signals = masker.fit_transform(runs(chunks))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = nmaskers.MultiNiftiMasker(mask_strategy=strategy)
        expected = reference.fit_transform(niftis())
    np.testing.assert_array_equal(masker.mask_img_.values,
                                  np.asarray(reference.mask_img_.dataobj))
    assert_lists_close(computed(signals), expected)


def test_multi_masker_threshold_option_keeps_voxels_of_most_images():
    images = runs(None)
    strict = MultiMasker(mask_strategy="background", mask_args={"threshold": 1.0}).fit(images)
    loose = MultiMasker(mask_strategy="background", mask_args={"threshold": 0.0}).fit(images)
    assert strict.n_elements_ <= loose.n_elements_


def test_one_image_gives_one_result_and_lists_give_lists():
    masker = MultiNiftiLabelsMasker(new_image(atlas(), AFFINE)).fit()
    single = masker.transform(runs(None)[0])
    assert single.dims == ("t", "region")
    assert isinstance(masker.transform(runs(None)), list)
    assert MultiNiftiMasker is MultiMasker


def test_sample_masks_per_image_and_bad_lengths():
    masker = MultiLabelsMasker(new_image(atlas(), AFFINE)).fit()
    kept = masker.transform(runs(None), sample_mask=[np.arange(5), np.arange(3)])
    assert [s.sizes["t"] for s in kept] == [5, 3]
    with pytest.raises(ParameterError, match="confounds: expected None or a list of 2"):
        masker.transform(runs(None), confounds=confounds()[:1])
    with pytest.raises(ParameterError, match="imgs_list: expected a non-empty list"):
        masker.transform_imgs([])


def test_multi_maskers_clone_with_n_jobs():
    masker = MultiLabelsMasker(new_image(atlas(), AFFINE), n_jobs=2, standardize="zscore_sample")
    twin = clone(masker)
    assert twin.get_params()["n_jobs"] == 2
    assert twin.get_params()["standardize"] == "zscore_sample"
