"""A fitted LabelsMasker transforms images of another grid without refitting, as nilearn."""

import warnings

import dask
import nibabel as nib
import numpy as np
import pytest
from nilearn.maskers import NiftiLabelsMasker

from roidask.errors import ResamplingWarning
from roidask.grid import new_image
from roidask.maskers import LabelsMasker
from roidask.testing import raise_if_dask_computes

FIT_AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])
OTHER_AFFINE = np.array([[2.0, 0, 0, 1], [0, 2.0, 0, -1], [0, 0, 2.0, 0.5], [0, 0, 0, 1]])


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def atlas():
    labels = np.zeros((8, 8, 8), "int16")
    labels[1:4, 1:5, 1:6], labels[4:7, 2:7, 2:7], labels[1:3, 5:8, 5:8] = 1, 2, 3
    return labels


def run(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape + (5,)).astype("float32")


@pytest.mark.parametrize("chunks", [None, {"i": 3, "j": 4, "k": 5, "t": 2}])
def test_transform_on_another_grid_resamples_the_atlas_and_keeps_the_fit(chunks):
    fitted_data, other_data = run((8, 8, 8), 1), run((11, 12, 10), 2)
    fitted = new_image(fitted_data, FIT_AFFINE)
    other = new_image(other_data, OTHER_AFFINE)
    if chunks is not None:
        other = other.chunk(chunks)
    masker = LabelsMasker(new_image(atlas(), FIT_AFFINE), resampling_target="data").fit(fitted)
    fitted_labels = masker.labels_img_.values.copy()
    with pytest.warns(ResamplingWarning, match="another grid"), raise_if_dask_computes():
        first = masker.transform(other)
    with pytest.warns(ResamplingWarning):
        second = masker.transform(other)
    np.testing.assert_array_equal(masker.labels_img_.values, fitted_labels)
    assert first["region"].values.tolist() == second["region"].values.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(masker.transform(fitted).shape, (5, 3))

    reference = NiftiLabelsMasker(nib.Nifti1Image(atlas(), FIT_AFFINE), resampling_target="data")
    reference.fit(nib.Nifti1Image(fitted_data, FIT_AFFINE))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = reference.transform(nib.Nifti1Image(other_data, OTHER_AFFINE))
    np.testing.assert_allclose(first.values, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(first.values, second.values)
