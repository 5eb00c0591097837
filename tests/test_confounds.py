"""roidask.signal.high_variance_confounds against nilearn.image.high_variance_confounds."""

import warnings

import dask.array as da
import nibabel as nib
import numpy as np
import pytest
from nilearn.image import high_variance_confounds as nilearn_high_variance_confounds

from roidask.errors import GridMismatchError, ParameterError
from roidask.grid import chunk_data, new_image
from roidask.signal.confounds import high_variance_confounds
from roidask.testing import raise_if_dask_computes

SHAPE = (10, 12, 11, 30)
CHUNKINGS = [None, {"t": (7, 13, 10)}, {"i": 3, "j": 5, "k": 4, "t": 8}]


@pytest.fixture(scope="module")
def values():
    """BOLD-like values (large mean) whose noise grows along i, and a few noisy voxels."""
    rng = np.random.default_rng(0)
    noise = np.linspace(0, 1, SHAPE[0])[:, None, None, None] * rng.standard_normal(SHAPE) * 30
    out = rng.standard_normal(SHAPE) * 5 + 800 + noise
    out[2, 3, 4] += 200 * np.sin(np.arange(SHAPE[3]) * 0.5)
    return out


def _image(values, chunks=None):
    img = new_image(values, np.eye(4), time_coords={"time": np.arange(SHAPE[3]) * 2.0})
    return chunk_data(img, chunks) if chunks else img


def _nilearn(values, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "mask_img" in kwargs:
            kwargs["mask_img"] = nib.Nifti1Image(kwargs["mask_img"], np.eye(4))
        return nilearn_high_variance_confounds(nib.Nifti1Image(values, np.eye(4)), **kwargs)


def assert_equal_up_to_sign(got, expected, atol):
    assert got.shape == expected.shape
    sign = np.sign((got * expected).sum(axis=0))
    np.testing.assert_allclose(got * sign, expected, rtol=0, atol=atol)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("options", [
    {},
    dict(n_confounds=3, percentile=10.0, detrend=False),
    dict(n_confounds=8, percentile=5.0),
])
def test_equal_to_nilearn(values, chunks, options):
    with raise_if_dask_computes():
        confounds = high_variance_confounds(_image(values, chunks), **options)
    assert confounds.dims == ("t", "confound")
    assert confounds["time"].values[1] == 2.0
    assert_equal_up_to_sign(confounds.values, _nilearn(values, **options), atol=1e-10)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_float32_and_mask_equal_nilearn(values, chunks):
    data = values.astype("float32")
    mask = np.zeros(SHAPE[:3], "int8")
    mask[1:8, 2:10, 1:9] = 1
    img = _image(data, chunks)
    with raise_if_dask_computes():
        confounds = high_variance_confounds(img, mask_img=new_image(mask, np.eye(4)),
                                            percentile=5.0)
    # nilearn works in float32 on float32 data
    assert_equal_up_to_sign(confounds.values, _nilearn(data, mask_img=mask, percentile=5.0),
                            atol=2e-5)


def test_reads_the_data_twice_chunk_by_chunk(values):
    reads = []

    def read(block):
        reads.append(block.shape)  # list.append is thread-safe
        return block

    lazy = da.from_array(values, chunks=(5, 6, 11, 8)).map_blocks(
        read, dtype=values.dtype, meta=np.array((), values.dtype))
    confounds = high_variance_confounds(new_image(lazy, np.eye(4)))
    assert not reads
    assert_equal_up_to_sign(confounds.values, _nilearn(values), atol=1e-10)
    assert len(reads) == 2 * lazy.npartitions


def test_errors(values):
    img = _image(values)
    with pytest.raises(ParameterError, match="img: expected a 4D image, got 'a 3D image'"):
        high_variance_confounds(new_image(values[..., 0], np.eye(4)))
    with pytest.raises(ParameterError, match="n_confounds: expected a positive integer"):
        high_variance_confounds(img, n_confounds=0)
    with pytest.raises(ParameterError, match="percentile: expected a number from 0 to 100"):
        high_variance_confounds(img, percentile=120)
    with pytest.raises(ParameterError, match="detrend: expected True or False"):
        high_variance_confounds(img, detrend="yes")
    with pytest.raises(GridMismatchError):
        high_variance_confounds(img, mask_img=new_image(np.ones((4, 4, 4)), np.eye(4)))
