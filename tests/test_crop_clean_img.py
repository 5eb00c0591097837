"""crop_img, clean_img and resample_img(force_resample=False) against nilearn.

- ``crop_img`` computes its box (one compute, reading each chunk once) and
  returns a lazy selection equal to nilearn's crop (shape, affine, values,
  offsets), for rtol, pad, 4D images, NaN and an image of zeros.
- ``clean_img`` is nilearn's ``clean_img`` voxel by voxel, lazily, chunked
  over voxels, with a mask, confounds, runs and nilearn's ``clean__`` options.
- ``force_resample=False`` with a whole-voxel shift selects and pads instead
  of interpolating, with nilearn's interpolated values.
"""

import warnings

import dask
import dask.array as da
import nibabel as nib
import numpy as np
import pytest
from dask.callbacks import Callback
from nilearn import image as nimage

from roidask import image
from roidask.errors import DimensionError, GridMismatchError, ParameterError
from roidask.grid import image_affine, new_image
from roidask.image.cropping import CropWarning, crop_box
from roidask.testing import raise_if_dask_computes

AFFINE = np.array([[-2.0, 0, 0, 20], [0, 2.5, 0, -10], [0, 0, 3.0, 5], [0, 0, 0, 1]])
SHAPE = (9, 8, 7, 40)
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (4, 3, 2), "j": (5, 3), "k": (2, 5), "t": (13, 27)},
    "thin": {"i": 2, "j": 2, "k": 2, "t": 4},
}


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def chunked(values, chunking, affine=AFFINE):
    img = new_image(values, affine)
    if CHUNKINGS[chunking] is None:
        return img
    return img.chunk({d: c for d, c in CHUNKINGS[chunking].items() if d in img.dims})


def nifti(values, affine=AFFINE):
    return nib.Nifti1Image(values, affine)


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


class Computes(Callback):
    """Counts the computations started (dask's local schedulers) and the tasks run."""

    def __init__(self):
        super().__init__()
        self.starts, self.tasks = 0, []

    def _start(self, dsk):
        self.starts += 1

    def _posttask(self, key, result, dsk, state, id):
        self.tasks.append(key)


# -- crop_img ----------------------------------------------------------------
@pytest.fixture(scope="module")
def sparse():
    values = np.zeros(SHAPE[:3], dtype=np.float32)
    values[2:5, 1:6, 3:6] = np.random.default_rng(0).standard_normal((3, 5, 3)) + 3
    values[1, 3, 4] = 1e-9  # negligible (below rtol=1e-8 of the maximum), outside the box
    values[6, 3, 4] = -1e-5  # kept with the default rtol, dropped with rtol=1e-4
    return values


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("options", [
    dict(), dict(pad=False), dict(rtol=1e-4), dict(rtol=1e-4, pad=False), dict(rtol=0.5),
])
def test_crop_img_equals_nilearn(sparse, chunking, options):
    expected, expected_offset = nimage.crop_img(nifti(sparse), return_offset=True,
                                                copy_header=True, **options)
    img = chunked(sparse, chunking)
    with Computes() as computes:
        out, offset = image.crop_img(img, return_offset=True, **options)
    assert computes.starts == 1  # the box: one computation
    assert offset == expected_offset
    np.testing.assert_array_equal(image_affine(out), expected.affine)
    assert isinstance(out.data, da.Array) and out.shape == expected.shape  # a lazy selection
    np.testing.assert_array_equal(out.values, expected.get_fdata())
    assert out.dtype == sparse.dtype


class CountingArray:
    """An in-memory array that counts the reads dask makes of it."""

    def __init__(self, values):
        self.values, self.reads = values, []
        self.shape, self.dtype, self.ndim = values.shape, values.dtype, values.ndim

    def __getitem__(self, index):
        self.reads.append(index)
        return self.values[index]


def test_crop_reads_each_chunk_once(sparse):
    source = CountingArray(sparse)
    img = new_image(da.from_array(source, chunks=2, asarray=True), AFFINE)
    source.reads.clear()  # dask's look at an empty slice, building the array
    image.crop_img(img)
    n_chunks = img.data.npartitions
    assert len(source.reads) == n_chunks
    assert len({str(index) for index in source.reads}) == n_chunks


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_crop_4d_and_integer_images_equal_nilearn(chunking):
    values = np.zeros(SHAPE, dtype=np.int8)
    values[3, 2:4, 1, 0] = -128  # abs() of an int8 wraps: roidask works in float
    values[5, 6, 2:6, 29] = 7
    expected, expected_offset = quiet(nimage.crop_img, nifti(values.astype(np.int16)),
                                      return_offset=True, copy_header=True)
    out, offset = image.crop_img(chunked(values, chunking), return_offset=True)
    assert offset == expected_offset
    np.testing.assert_array_equal(out.values, expected.get_fdata())
    assert out.dtype == np.int8 and out.sizes["t"] == SHAPE[3]


@pytest.mark.parametrize("bad", ["zeros", "nan"])
def test_crop_of_nothing_returns_the_image_with_a_warning(sparse, bad):
    values = np.zeros_like(sparse) if bad == "zeros" else sparse.copy()
    if bad == "nan":
        values[0, 0, 0] = np.nan  # nilearn's maximum is then NaN: no value passes
    with pytest.warns(UserWarning, match="No values above"):
        expected, expected_offset = nimage.crop_img(nifti(values), return_offset=True,
                                                    copy_header=True)
    with pytest.warns(CropWarning, match="nothing cropped"):
        out, offset = image.crop_img(chunked(values, "uneven"), return_offset=True)
    assert offset == expected_offset and out.shape == values.shape
    np.testing.assert_array_equal(out.values, expected.get_fdata())


def test_crop_checks_its_arguments(sparse):
    img = new_image(sparse, AFFINE)
    with pytest.raises(ParameterError, match="rtol"):
        crop_box(img, -1.0)
    with pytest.raises(ParameterError, match="pad"):
        image.crop_img(img, pad="yes")


# -- clean_img ---------------------------------------------------------------
@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(1)
    trend = np.linspace(0, 3, SHAPE[3])
    return (rng.standard_normal(SHAPE) * 3 + trend + 100).astype(np.float32)


@pytest.fixture(scope="module")
def mask():
    values = np.zeros(SHAPE[:3], dtype=np.int8)
    values[1:7, 2:7, 1:6] = 1
    return values


CONFOUNDS = np.random.default_rng(2).standard_normal((SHAPE[3], 3))
CLEAN_OPTIONS = {
    "defaults": dict(),
    "filter": dict(detrend=False, standardize=None, low_pass=0.1, high_pass=0.01, t_r=2.0),
    "confounds": dict(confounds=CONFOUNDS, standardize="zscore_sample"),
    "scrubbing": dict(confounds=CONFOUNDS, clean__sample_mask=np.arange(2, SHAPE[3])),
    "runs-psc": dict(runs=np.repeat([0, 1], SHAPE[3] // 2), standardize="psc"),
    "butterworth": dict(low_pass=0.2, t_r=2.0, clean__butterworth__order=3,
                        clean__standardize_confounds=False, confounds=CONFOUNDS),
}


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("case", CLEAN_OPTIONS)
def test_clean_img_equals_nilearn(series, mask, chunking, with_mask, case):
    options = CLEAN_OPTIONS[case]
    # nilearn on float64 copies: the exact values (its float32 arithmetic drifts by ~3e-5
    # on psc of values ~100, see test_signal_parity.py); roidask's float32 result is them
    # rounded
    expected = quiet(nimage.clean_img, nifti(series.astype(np.float64)),
                     mask_img=nifti(mask) if with_mask else None, **options).get_fdata()
    img = chunked(series, chunking)
    mask_img = chunked(mask, chunking) if with_mask else None
    with raise_if_dask_computes():
        out = image.clean_img(img, mask_img=mask_img, **options)
    assert out.shape == expected.shape and out.dtype == np.float32
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(out.values, expected, rtol=0, atol=1e-6 * scale)


def test_clean_img_keeps_the_t_coordinates_sample_mask_keeps(series):
    img = new_image(series, AFFINE, time_coords={"condition": ["a", "b"] * (SHAPE[3] // 2)})
    kept = np.arange(3, SHAPE[3], 2)
    out = image.clean_img(img, clean__sample_mask=kept)
    assert out["t"].values.tolist() == kept.tolist()
    assert out.condition.values.tolist() == ["b"] * kept.size


def test_clean_img_refuses_what_nilearn_refuses(series, mask):
    img = new_image(series, AFFINE)
    with pytest.raises(DimensionError) as caught:
        image.clean_img(img.isel(t=0))
    assert isinstance(caught.value, TypeError)
    with pytest.raises(ParameterError, match="t_r"):
        image.clean_img(img, low_pass=0.1)
    with pytest.raises(TypeError, match="clean__sample_mask"):
        image.clean_img(img, sample_mask=np.arange(5))  # nilearn's name is clean__sample_mask
    with pytest.raises(GridMismatchError):
        image.clean_img(img, mask_img=new_image(mask, np.eye(4)))


# -- resample_img(force_resample=False) ----------------------------------------
def shifted_affine(shift):
    target = AFFINE.copy()
    target[:3, 3] += AFFINE[:3, :3] @ np.asarray(shift, dtype=float)
    return target


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("interpolation", ["continuous", "linear", "nearest"])
@pytest.mark.parametrize("shift, shape", [
    ((1, 2, -1), SHAPE[:3]), ((3, 2, 1), (5, 12, 6)), ((-3, 0, 2), SHAPE[:3]),
    ((0, -2, 3), (5, 12, 6)), ((7, 0, 0), SHAPE[:3]),
])
def test_integer_shift_without_force_resample_equals_nilearn(series, chunking, interpolation,
                                                             shift, shape):
    values = series.copy()
    values[4, 4, 4, 1] = np.nan
    target = shifted_affine(shift)
    expected = quiet(nimage.resample_img, nifti(values), target, shape,
                     interpolation=interpolation, force_resample=True,
                     copy_header=True).get_fdata(dtype=np.float32)
    img = chunked(values, chunking)
    with raise_if_dask_computes():
        out = image.resample_img(img, target, shape, interpolation=interpolation,
                                 force_resample=False)
    np.testing.assert_array_equal(out.values, expected)
    np.testing.assert_array_equal(image_affine(out), target)
    # no interpolation in the graph: a selection and a pad of the data
    assert not any("resample" in str(name) for name in out.data.dask.layers)
    moved = image.resample_to_img(img, new_image(np.zeros(shape), target),
                                  interpolation=interpolation, force_resample=False)
    np.testing.assert_array_equal(moved.values, expected)


def test_force_resample_false_uses_fill_value_and_resamples_other_transforms(series):
    values = series[..., 0]
    target = shifted_affine((2, 0, 0))
    out = image.resample_img(new_image(values, AFFINE), target, SHAPE[:3], fill_value=-3.0,
                             clip=False, force_resample=False)
    assert (out.values[-2:] == -3.0).all()  # nilearn's padding path writes 0 here
    zoomed = np.diag([4.0, 5.0, 6.0, 1.0])
    zoomed[:3, 3] = AFFINE[:3, 3]
    expected = nimage.resample_img(nifti(values), zoomed, (5, 4, 4), force_resample=False,
                                   copy_header=True).get_fdata(dtype=np.float32)
    out = image.resample_img(chunked(values, "uneven"), zoomed, (5, 4, 4), force_resample=False)
    np.testing.assert_allclose(out.values, expected, rtol=1e-6, atol=1e-5)
    with pytest.raises(ParameterError, match="misses the image"):  # nilearn: BoundingBoxError
        image.resample_img(new_image(values, AFFINE), shifted_affine((30, 0, 0)), SHAPE[:3],
                           force_resample=False)
    with pytest.raises(ParameterError, match="force_resample"):
        image.resample_img(new_image(values, AFFINE), target, force_resample="no")
