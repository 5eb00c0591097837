"""math_img, get_data, concat_imgs and iter_img against nilearn, at three chunkings, lazily."""

import dask
import nibabel as nib
import numpy as np
import pytest
from nilearn import image as nimage

from roidask import image
from roidask.errors import GridMismatchError, ParameterError
from roidask.grid import new_image
from roidask.testing import raise_if_dask_computes

SHAPE = (12, 14, 10, 6)
AFFINE = np.array([[-2.0, 0, 0, 20], [0, 2.5, 0, -10], [0, 0, 3.0, 5], [0, 0, 0, 1]])
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (5, 4, 3), "j": (4, 6, 4), "k": (7, 3), "t": (4, 2)},
    "thin": {"i": 3, "j": 3, "k": 3, "t": 3},
}


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def values(seed=3):
    return np.random.default_rng(seed).standard_normal(SHAPE).astype("float32")


def chunked(data, chunks):
    img = new_image(data, AFFINE)
    if chunks is None:
        return img.chunk()
    return img.chunk({dim: size for dim, size in chunks.items() if dim in img.dims})


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
@pytest.mark.parametrize("formula", [
    "img1 + img2", "np.mean(img1, axis=-1)", "img1 * (img2 > 0)", "np.abs(img1) - 2 * img2",
])
def test_math_img_equals_nilearn(chunks, formula):
    a, b = values(3), values(4)
    with raise_if_dask_computes():
        out = image.math_img(formula, img1=chunked(a, chunks), img2=chunked(b, chunks))
    ref = nimage.math_img(formula, img1=nib.Nifti1Image(a, AFFINE),
                          img2=nib.Nifti1Image(b, AFFINE))
    assert out.shape == ref.shape
    # a mean over uneven time chunks sums in another order: within 1 ulp of float32
    np.testing.assert_allclose(out.values, np.asarray(ref.dataobj), rtol=2e-6, atol=2e-7)
    np.testing.assert_allclose(out.nii.affine, ref.affine)


def test_math_img_refuses_builtins_and_other_grids():
    img = chunked(values(), None)
    with pytest.raises(ParameterError):
        image.math_img("img.__class__", img=img)
    with pytest.raises(NameError):
        image.math_img("open('x')", img=img)
    other = new_image(values(), np.eye(4))
    with pytest.raises(GridMismatchError):
        image.math_img("a + b", a=img, b=other)


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
@pytest.mark.parametrize("ndim", [3, 4])
def test_concat_and_iter_equal_nilearn(chunks, ndim):
    a, b = values(3), values(4)
    if ndim == 3:
        a, b = a[..., 0], b[..., 1]
    with raise_if_dask_computes():
        out = image.concat_imgs([chunked(a, chunks), chunked(b, chunks)])
        volumes = list(image.iter_img(out))
        data = image.get_data(out)
    ref = nimage.concat_imgs([nib.Nifti1Image(a, AFFINE), nib.Nifti1Image(b, AFFINE)])
    assert out.dtype == ref.get_data_dtype()
    np.testing.assert_array_equal(out.values, ref.get_fdata(dtype="float32"))
    np.testing.assert_array_equal(data.compute(), ref.get_fdata(dtype="float32"))
    refs = list(nimage.iter_img(ref))
    assert len(volumes) == len(refs) == (2 if ndim == 3 else 12)
    for vol, vol_ref in zip(volumes, refs):
        np.testing.assert_array_equal(vol.values, vol_ref.get_fdata(dtype="float32"))


def test_concat_imgs_mixes_volumes_and_runs():
    """Unlike nilearn, which refuses, a 3D image counts as one volume among 4D ones."""
    a, b = values(3), values(4)
    out = image.concat_imgs([chunked(a, CHUNKINGS["thin"]), chunked(b[..., 0], None)])
    expected = np.concatenate([a, b[..., :1]], axis=3)
    np.testing.assert_array_equal(out.values, expected)


def test_concat_imgs_refuses_an_empty_list_and_other_grids():
    with pytest.raises(ParameterError, match="imgs"):
        image.concat_imgs([])
    with pytest.raises(GridMismatchError):
        image.concat_imgs([chunked(values(), None), new_image(values(), np.eye(4))])
