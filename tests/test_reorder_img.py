"""reorder_img against nilearn's: permuted and flipped axes, diagonal affine, lazily."""

import nibabel as nib
import numpy as np
import pytest
from nilearn import image as nimage

from roidask.errors import ParameterError
from roidask.grid import chunk_data, image_affine, new_image
from roidask.image import reorder_img
from roidask.testing import raise_if_dask_computes

AFFINES = {
    "diagonal": np.diag([2.0, 2.5, 3.0, 1.0]),
    "flipped-x": np.array([[-2.0, 0, 0, 30], [0, 2.5, 0, -20], [0, 0, 3.0, -10], [0, 0, 0, 1]]),
    "permuted": np.array([[0, 0, 2.0, 10], [-3.0, 0, 0, 20], [0, 4.0, 0, 30], [0, 0, 0, 1]]),
    "permuted-flipped": np.array([[0, -2.0, 0, 10], [0, 0, -3.0, 20], [4.0, 0, 0, 30],
                                  [0, 0, 0, 1]]),
}
CHUNKINGS = {"one-chunk": None, "uneven": {"i": (2, 3), "j": (4, 2), "k": (3, 4), "t": (2, 1)}}


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
@pytest.mark.parametrize("name", AFFINES)
def test_reorder_img_equals_nilearn(name, chunks):
    values = np.random.default_rng(0).standard_normal((5, 6, 7, 3)).astype("float32")
    img = new_image(values, AFFINES[name], time_coords={"condition": ["a", "b", "c"]})
    img = img if chunks is None else chunk_data(img, chunks)
    with raise_if_dask_computes():
        out = reorder_img(img)
    expected = nimage.reorder_img(nib.Nifti1Image(values, AFFINES[name]), copy_header=True)
    np.testing.assert_array_equal(out.values, expected.get_fdata(dtype=np.float32))
    np.testing.assert_allclose(image_affine(out), expected.affine)
    assert out.condition.values.tolist() == ["a", "b", "c"]


def test_rotations_need_resample_as_in_nilearn():
    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0, 0],
                         [np.sin(angle), np.cos(angle), 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    affine = rotation @ np.diag([2.0, 2.0, 2.0, 1.0])
    values = np.random.default_rng(1).standard_normal((6, 6, 6)).astype("float32")
    img = new_image(values, affine)
    with pytest.raises(ParameterError, match="affine without rotations"):
        reorder_img(img)
    with pytest.raises(ValueError):
        nimage.reorder_img(nib.Nifti1Image(values, affine))
    out = reorder_img(img, resample="nearest")
    expected = nimage.reorder_img(nib.Nifti1Image(values, affine), resample="nearest")
    np.testing.assert_allclose(image_affine(out), expected.affine)
    np.testing.assert_array_equal(out.values, expected.get_fdata(dtype=np.float32))
