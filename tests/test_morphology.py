"""Binary morphology equals scipy.ndimage at any chunking, lazily."""

import numpy as np
import pytest
from nilearn import datasets
from scipy import ndimage as ndi

import roidask
from roidask.errors import ParameterError
from roidask.image import morphology
from roidask.testing import raise_if_dask_computes

AFFINE = np.diag([2.0, 2.5, 3.0, 1.0])
SHAPE = (10, 9, 8)
# one chunk; uneven chunks; chunks thinner than the halo (and of one voxel)
CHUNKINGS = [
    {"i": -1, "j": -1, "k": -1},
    {"i": (5, 3, 2), "j": (4, 5), "k": (2, 3, 3)},
    {"i": 2, "j": 3, "k": (1, 2, 2, 3)},
]
OPS = ["dilation", "erosion", "opening", "closing"]


def blobs(shape=SHAPE, seed=0, level=0.2):
    noise = np.random.default_rng(seed).standard_normal(shape)
    return ndi.gaussian_filter(noise, 1.0) > level


def image(data, chunks):
    return roidask.new_image(data, AFFINE).chunk(chunks)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("connectivity", [1, 2, 3])
@pytest.mark.parametrize("op", OPS)
def test_equals_scipy(op, connectivity, chunks):
    data = blobs()
    img = image(data, chunks)
    structure = ndi.generate_binary_structure(3, connectivity)
    for iterations, border_value in [(1, 0), (2, 1), (3, 0)]:
        with raise_if_dask_computes():
            out = getattr(morphology, f"binary_{op}")(
                img, iterations=iterations, connectivity=connectivity,
                border_value=border_value,
            )
        expected = getattr(ndi, f"binary_{op}")(
            data, structure, iterations, border_value=border_value
        )
        assert out.dtype == bool
        assert out.data.chunks == img.data.chunks
        np.testing.assert_array_equal(out.values, expected)
        np.testing.assert_allclose(out.nii.affine, AFFINE)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_custom_structures(chunks):
    data = blobs(seed=1)
    img = image(data.astype("uint8"), chunks)  # integers: nonzero is foreground
    ball = np.sum(np.indices((5, 5, 5)) - 2, axis=0) ** 2 <= 4
    lopsided = np.zeros((2, 3, 1), bool)
    lopsided[0, :, 0] = lopsided[1, 1, 0] = True
    for structure in (ball, lopsided):
        for op in OPS:
            out = getattr(morphology, f"binary_{op}")(img, structure, 2)
            expected = getattr(ndi, f"binary_{op}")(data, structure, 2)
            np.testing.assert_array_equal(out.values, expected, err_msg=op)


def test_4d_volume_by_volume():
    data = np.stack([blobs(seed=s) for s in range(3)], axis=-1)
    img = roidask.new_image(data, AFFINE).chunk({"i": 4, "j": 5, "k": 3, "t": 2})
    structure = ndi.generate_binary_structure(3, 2)
    out = morphology.binary_dilation(img, connectivity=2, iterations=2)
    expected = ndi.binary_dilation(data, structure[..., np.newaxis], 2)
    assert out.dims == ("i", "j", "k", "t")
    np.testing.assert_array_equal(out.values, expected)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("connectivity", [1, 2, 3])
def test_fill_holes_equals_scipy(chunks, connectivity):
    # sparse random voids: many holes, some crossing block corners
    data = np.random.default_rng(1).random(SHAPE) > 0.15
    structure = ndi.generate_binary_structure(3, connectivity)
    expected = ndi.binary_fill_holes(data, structure)
    assert expected.sum() > data.sum()  # there are holes to fill
    with raise_if_dask_computes():
        out = morphology.binary_fill_holes(image(data, chunks), connectivity=connectivity)
    assert out.data.chunks == image(data, chunks).data.chunks
    np.testing.assert_array_equal(out.values, expected)


def test_motor_map_parity():
    # read the .nii.gz once: each chunk read of a gzip file decompresses it whole
    img = roidask.load_img(datasets.load_sample_motor_activation_image()).load()
    mask = (abs(img) > 3).chunk({"i": 20, "j": 30, "k": 23})
    data = mask.values
    structure = ndi.generate_binary_structure(3, 3)
    np.testing.assert_array_equal(
        morphology.binary_closing(mask, iterations=2, connectivity=3).values,
        ndi.binary_closing(data, structure, 2),
    )
    np.testing.assert_array_equal(
        morphology.binary_fill_holes(~mask).values, ndi.binary_fill_holes(~data)
    )


def test_numpy_backed_input_is_wrapped():
    data = blobs()
    out = morphology.binary_erosion(roidask.new_image(data, AFFINE))
    assert hasattr(out.data, "dask")
    np.testing.assert_array_equal(out.values, ndi.binary_erosion(data))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"connectivity": 4}, "connectivity: expected 1, 2 or 3, got 4"),
        ({"iterations": 0}, "iterations: expected a positive integer, got 0"),
        ({"border_value": 2}, "border_value: expected 0 or 1, got 2"),
        ({"structure": np.ones((3, 3))}, "structure: expected a non-empty 3D array"),
    ],
)
def test_bad_parameters(kwargs, message):
    img = image(blobs(), CHUNKINGS[0])
    with pytest.raises(ParameterError, match=message.replace("(", r"\(")):
        morphology.binary_dilation(img, **kwargs)


def test_float_input_is_refused():
    img = roidask.new_image(np.ones(SHAPE, "float32"), AFFINE).chunk(4)
    with pytest.raises(ParameterError, match="img: expected a boolean or integer mask"):
        morphology.binary_opening(img)


def test_fill_holes_needs_3d():
    img = roidask.new_image(np.ones(SHAPE + (2,), bool), AFFINE)
    expected = r"img: expected a 3D image .* got \('i', 'j', 'k', 't'\)"
    with pytest.raises(ParameterError, match=expected):
        morphology.binary_fill_holes(img)
