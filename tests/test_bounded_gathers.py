"""Steps that need whole volumes or all voxels at once keep their chunks bounded.

With a time-series chunking (``t=-1``), resampling, the median strategy and
the voxel masker must not gather the whole 4D image into one task: each
gathered chunk holds as many volumes as fit in
:data:`roidask._dask.chunks.TARGET_CHUNK_BYTES`. Results equal nilearn's.
"""

import warnings

import nibabel as nib
import numpy as np
import pytest
from nilearn import image as nimage
from nilearn.maskers import NiftiLabelsMasker, NiftiMasker

from roidask._dask.chunks import TARGET_CHUNK_BYTES
from roidask.grid import new_image
from roidask.image import resample_img
from roidask.maskers import LabelsMasker, Masker

SHAPE = (16, 16, 16, 600)  # 9.8 MB of float32: more than one bounded chunk
AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])


@pytest.fixture(scope="module")
def values():
    return np.random.default_rng(0).standard_normal(SHAPE).astype("float32")


@pytest.fixture(scope="module")
def series(values):
    """The run chunked as whole time series (t=-1), thin in space."""
    return new_image(values, AFFINE).chunk({"i": 8, "j": 8, "k": 8, "t": -1})


def test_resampling_a_time_series_chunking_gathers_bounded_volumes(values, series):
    target = np.diag([4.0, 4.0, 4.0, 1.0])
    out = resample_img(series, target, (12, 12, 12), interpolation="linear")
    assert len(out.data.chunks[3]) > 1
    assert max(out.data.chunks[3]) * int(np.prod(SHAPE[:3])) * 4 <= TARGET_CHUNK_BYTES
    expected = nimage.resample_img(nib.Nifti1Image(values, AFFINE), target_affine=target,
                                   target_shape=(12, 12, 12), interpolation="linear",
                                   force_resample=True, copy_header=True)
    np.testing.assert_array_equal(out.values, expected.get_fdata(dtype="float32"))


def test_median_of_a_time_series_chunking_gathers_bounded_voxels(values, series):
    atlas = np.zeros(SHAPE[:3], dtype="int16")
    atlas[:8], atlas[8:] = 1, 2
    signals = LabelsMasker(new_image(atlas, AFFINE), strategy="median").fit_transform(series)
    assert len(signals.data.chunks[0]) > 1
    assert max(signals.data.chunks[0]) * int(np.prod(SHAPE[:3])) * 4 <= TARGET_CHUNK_BYTES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = NiftiLabelsMasker(nib.Nifti1Image(atlas, AFFINE), strategy="median"
                                     ).fit_transform(nib.Nifti1Image(values, AFFINE))
    np.testing.assert_allclose(signals.values, expected, rtol=1e-6)


def test_voxel_masker_of_a_time_series_chunking_reads_bounded_slabs(values, series):
    mask = np.zeros(SHAPE[:3], dtype="int8")
    mask[2:14, 2:14, 2:14] = 1
    whole_series = series.chunk({"i": -1, "j": -1, "k": -1})  # one chunk of 9.8 MB
    signals = Masker(new_image(mask, AFFINE)).fit_transform(whole_series)
    assert len(signals.data.chunks[0]) > 1
    assert max(signals.data.chunks[0]) * int(np.prod(SHAPE[:3])) * 4 <= TARGET_CHUNK_BYTES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = NiftiMasker(nib.Nifti1Image(mask, AFFINE)).fit_transform(
            nib.Nifti1Image(values, AFFINE))
    np.testing.assert_array_equal(signals.values, expected)
