"""masking.apply_mask and masking.unmask against nilearn's, at three chunkings, lazily."""

import nibabel as nib
import numpy as np
import pytest
from nilearn import masking as nmasking

from roidask import masking
from roidask.errors import ParameterError
from roidask.grid import new_image
from roidask.testing import raise_if_dask_computes

SHAPE = (9, 10, 8, 5)
AFFINE = np.diag([2.0, 2.5, 3.0, 1.0])
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (4, 5), "j": (3, 7), "k": (5, 3), "t": (2, 3)},
    "thin": {"i": 2, "j": 3, "k": 2, "t": 1},
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    values = rng.standard_normal(SHAPE).astype("float32")
    values[0, 0, 0, 0] = np.nan
    mask = np.zeros(SHAPE[:3], "int8")
    mask[:7, 2:9, 1:7] = 1
    return values, mask


def chunked(values, chunks):
    img = new_image(values, AFFINE)
    if chunks is None:
        return img
    return img.chunk({k: v for k, v in chunks.items() if k in img.dims})


@pytest.mark.parametrize("smoothing_fwhm", [None, 5.0])
@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_apply_mask_equals_nilearn(data, chunks, smoothing_fwhm):
    values, mask = data
    mask[0, 2, 1] = 1  # the NaN voxel's neighbour is in the mask
    img, mask_img = chunked(values, chunks), chunked(mask, chunks)
    with raise_if_dask_computes(max_computes=1):  # the mask's voxel count
        out = masking.apply_mask(img, mask_img, smoothing_fwhm=smoothing_fwhm)
    expected = nmasking.apply_mask(nib.Nifti1Image(values, AFFINE),
                                   nib.Nifti1Image(mask, AFFINE),
                                   smoothing_fwhm=smoothing_fwhm)
    np.testing.assert_allclose(out.compute(), expected, rtol=1e-6, atol=1e-6)
    assert out.dtype == expected.dtype
    one = masking.apply_mask(chunked(values[..., 1], chunks), mask_img)
    np.testing.assert_array_equal(
        one.compute(), nmasking.apply_mask(nib.Nifti1Image(values[..., 1], AFFINE),
                                           nib.Nifti1Image(mask, AFFINE)))


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_unmask_equals_nilearn(data, chunks):
    values, mask = data
    n_voxels = int(mask.sum())
    X = np.random.default_rng(1).standard_normal((4, n_voxels)).astype("float32")
    mask_img = chunked(mask, chunks)
    out = masking.unmask(X, mask_img)
    expected = nmasking.unmask(X, nib.Nifti1Image(mask, AFFINE))
    np.testing.assert_array_equal(out.values, expected.get_fdata(dtype=np.float32))
    np.testing.assert_allclose(out.nii.affine, AFFINE)
    one = masking.unmask(X[0], mask_img)
    assert one.shape == SHAPE[:3]
    np.testing.assert_array_equal(one.values, nmasking.unmask(
        X[0], nib.Nifti1Image(mask, AFFINE)).get_fdata(dtype=np.float32))
    back = masking.apply_mask(out, mask_img)
    np.testing.assert_array_equal(back.compute(), X)


def test_unmask_refuses_the_wrong_number_of_voxels(data):
    _, mask = data
    with pytest.raises(ParameterError, match="X: expected"):
        masking.unmask(np.zeros((2, 3)), new_image(mask, AFFINE))
