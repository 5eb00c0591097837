"""Image operations (roidask.image) against nilearn, at three chunkings, and lazy.

Every parity test runs the operation on one chunk, on uneven chunks and on
spatial chunks thinner than the halo (3 voxels against a smoothing halo of
4 to 8), and compares with nilearn on a Nifti1Image of the same values and
affine. Smoothing, thresholding and nearest/linear/cubic resampling are
compared exactly (bit for bit): they run the same scipy arithmetic on each
voxel whatever the chunks.
"""

import warnings

import dask
import nibabel as nib
import numpy as np
import pytest
from dask.callbacks import Callback
from nilearn import datasets
from nilearn import image as nimage
from scipy.ndimage import gaussian_filter
from scipy.stats import scoreatpercentile

import roidask
from roidask import image
from roidask._dask.percentile import keys_to_values, score_at_percentile, sort_keys
from roidask.errors import GridMismatchError, ParameterError
from roidask.grid import image_affine, new_image
from roidask.image.smoothing import fwhm_to_sigma, kernel_radius
from roidask.image.thresholding import ThresholdRangeWarning
from roidask.testing import raise_if_dask_computes

SHAPE = (12, 14, 10, 6)
# Anisotropic voxels and a flipped x axis, as in radiological NIfTI files.
AFFINE = np.array([[-2.0, 0, 0, 20], [0, 2.5, 0, -10], [0, 0, 3.0, 5], [0, 0, 0, 1]])
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (5, 4, 3), "j": (4, 6, 4), "k": (7, 3), "t": (4, 2)},
    "thinner-than-halo": {"i": 3, "j": 3, "k": 3, "t": 3},
}
# nilearn's own warnings on the reference side (NaN in the synthetic data).
pytestmark = pytest.mark.filterwarnings("ignore:Non-finite values detected:UserWarning")
MOTOR_CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (20, 20, 13), "j": (30, 33), "k": (10, 36)},
    "thinner-than-halo": {"i": 4, "j": -1, "k": 4},
}


@pytest.fixture(autouse=True)
def _synchronous():
    """Small graphs: the synchronous scheduler is fastest and shares the machine."""
    with dask.config.set(scheduler="synchronous"):
        yield


def synthetic_values(ndim=4, dtype="float32"):
    rng = np.random.default_rng(3)
    values = rng.standard_normal(SHAPE).astype("float32")
    values[4, 5, 6, 1] = np.nan
    values[0, 0, 0, 2] = np.inf
    values = values[..., 0] if ndim == 3 else values
    if np.dtype(dtype).kind == "i":
        values = np.nan_to_num(values * 1000, posinf=0).astype(dtype)
    return values


def chunked(values, chunks, affine=AFFINE):
    img = new_image(values, affine)
    if chunks is None:
        return img.chunk()
    return img.chunk({dim: size for dim, size in chunks.items() if dim in img.dims})


def nifti(values, affine=AFFINE):
    return nib.Nifti1Image(np.asarray(values), affine)


@pytest.fixture(scope="module")
def motor():
    """nilearn's motor t-map (53x63x46, x voxel size -3 mm), read by roidask."""
    img = roidask.load_img(datasets.load_sample_motor_activation_image())
    return img, nifti(img.values, image_affine(img))


def motor_chunked(motor, name):
    img, _ = motor
    chunks = MOTOR_CHUNKINGS[name]
    return img if chunks is None else img.chunk(chunks)


def lazily(func, *args, **kwargs):
    with raise_if_dask_computes():
        return func(*args, **kwargs)


def exact(actual, expected):
    """Same values (NaNs equal) and dtype as a nilearn image."""
    expected_values = np.asarray(expected.dataobj)
    assert actual.shape == expected_values.shape
    assert actual.dtype == expected_values.dtype, (actual.dtype, expected_values.dtype)
    np.testing.assert_array_equal(actual.values, expected_values)
    np.testing.assert_allclose(image_affine(actual), expected.affine, atol=1e-6)


# --------------------------------------------------------------------------- smoothing


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("fwhm", [6.0, [4.0, None, 9.0], "fast", None, 0.0])
@pytest.mark.parametrize("ndim", [3, 4])
def test_smooth_img_equals_nilearn(chunking, fwhm, ndim):
    values = synthetic_values(ndim)
    img = chunked(values, CHUNKINGS[chunking])
    out = lazily(image.smooth_img, img, fwhm)
    assert out.data.chunks == img.data.chunks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # nilearn: "fwhm=0, no smoothing"
        expected = nimage.smooth_img(nifti(values), fwhm)
    exact(out, expected)


def test_smooth_thin_chunks_really_need_a_wide_halo():
    """The thinner-than-halo case: a halo of 8 voxels over chunks of 3."""
    sigma = fwhm_to_sigma(9.42, np.abs(np.diag(AFFINE))[:3])
    assert kernel_radius(sigma[0]) == 8 > CHUNKINGS["thinner-than-halo"]["i"]
    values = np.random.default_rng(0).standard_normal((30, 14, 10)).astype("float32")
    img = chunked(values, {"i": 3, "j": 3, "k": 3})
    out = lazily(image.smooth_img, img, 9.42)
    assert out.data.chunks == img.data.chunks
    exact(out, nimage.smooth_img(nifti(values), 9.42))


@pytest.mark.parametrize("dtype", ["int16", "uint8"])
def test_smooth_integers_become_float32(dtype):
    values = np.abs(synthetic_values(4, "int16")).astype(dtype)
    img = chunked(values, CHUNKINGS["uneven"])
    out = lazily(image.smooth_img, img, 5.0)
    assert out.dtype == np.float32
    exact(out, nimage.smooth_img(nifti(values), 5.0))


@pytest.mark.parametrize("chunking", MOTOR_CHUNKINGS)
def test_smooth_motor_map_equals_nilearn(motor, chunking):
    img = motor_chunked(motor, chunking)
    out = lazily(image.smooth_img, img, 10.0)
    assert out.data.chunks == img.data.chunks
    exact(out, nimage.smooth_img(motor[1], 10.0))


def test_smooth_volume_layout_has_no_halo():
    img = chunked(synthetic_values(4), {"t": 2})
    out = image.smooth_img(img, 6.0)
    assert not any("overlap" in name for name in out.data.dask.layers)
    spatial = image.smooth_img(chunked(synthetic_values(4), {"i": 6}), 6.0)
    assert any("overlap" in name for name in spatial.data.dask.layers)


@pytest.mark.parametrize("fwhm", [-1.0, [2.0, -3.0, 2.0], "slow", [1.0, 2.0], float("nan"), True])
def test_smooth_bad_fwhm(fwhm):
    img = chunked(synthetic_values(3), None)
    with pytest.raises(ParameterError, match=r"fwhm: expected a number >= 0 \(mm\)"):
        image.smooth_img(img, fwhm)


# ------------------------------------------------------------------------- percentiles


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "uint8"])
def test_score_at_percentile_is_exact(dtype):
    rng = np.random.default_rng(5)
    values = (rng.standard_normal((13, 11, 7, 3)) * 50).astype(dtype)
    values.flat[::5] = 0  # many ties
    x = dask.array.from_array(values, chunks=(5, 6, 4, 2))
    keep = x > 3
    for per in [0.0, 2.5, 97.0, 100.0]:
        with raise_if_dask_computes():
            score = score_at_percentile(x, per)
            masked = score_at_percentile(x, per, where=keep)
        assert float(score.compute()) == scoreatpercentile(values, per)
        assert float(masked.compute()) == scoreatpercentile(values[values > 3], per)


def test_sort_keys_round_trip_and_order():
    values = np.array([-np.inf, -3.5, -0.0, 0.0, 1e-30, 2.0, np.inf], "float32")
    keys = sort_keys(values)
    assert np.all(np.diff(keys.astype(np.int64)) >= 0)
    np.testing.assert_array_equal(keys_to_values(keys, "float32"), values + 0.0)
    ints = np.array([-32768, -1, 0, 7, 32767], "int16")
    np.testing.assert_array_equal(keys_to_values(sort_keys(ints), "int16"), ints)


# ------------------------------------------------------------------------ thresholding


THRESHOLDS = [(1.2, True), ("90%", True), ("97%", False), (-0.8, False), ("100%", True)]


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("ndim", [3, 4])
@pytest.mark.parametrize("with_mask", [False, True])
def test_threshold_img_equals_nilearn(chunking, ndim, with_mask):
    values = synthetic_values(ndim)
    img = chunked(values, CHUNKINGS[chunking])
    mask = (np.random.default_rng(1).random(SHAPE[:3]) > 0.3).astype("int8")
    mask_img = chunked(mask, {"i": 4}) if with_mask else None
    for threshold, two_sided in THRESHOLDS:
        out = lazily(image.threshold_img, img, threshold, two_sided=two_sided, mask_img=mask_img)
        expected = nimage.threshold_img(
            nifti(values), threshold, two_sided=two_sided,
            mask_img=nifti(mask) if with_mask else None,
        )
        exact(out, expected)


def test_threshold_integer_image():
    values = synthetic_values(3, "int16")
    img = chunked(values, CHUNKINGS["thinner-than-halo"])
    for threshold, two_sided in [(500, True), ("80%", False)]:
        out = lazily(image.threshold_img, img, threshold, two_sided=two_sided)
        exact(out, nimage.threshold_img(nifti(values), threshold, two_sided=two_sided))


@pytest.mark.parametrize("chunking", MOTOR_CHUNKINGS)
def test_threshold_motor_map_equals_nilearn(motor, chunking):
    img = motor_chunked(motor, chunking)
    for threshold in ["97%", "99.5%", 3.0]:
        out = lazily(image.threshold_img, img, threshold)
        exact(out, nimage.threshold_img(motor[1], threshold))
    out = lazily(image.binarize_img, img, "95%", two_sided=True)
    exact(out, nimage.binarize_img(motor[1], "95%", two_sided=True))


def test_threshold_mask_on_another_grid_is_resampled_like_nilearn():
    values = synthetic_values(3)
    img = chunked(values, CHUNKINGS["uneven"])
    coarse = np.diag([4.0, 5.0, 6.0, 1.0])
    coarse[:3, 3] = AFFINE[:3, 3]
    coarse[0, 0] = -4.0
    mask = np.zeros((6, 7, 5), "int8")
    mask[1:5, 2:6, 1:4] = 1
    out = lazily(image.threshold_img, img, "50%", mask_img=chunked(mask, None, coarse))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = nimage.threshold_img(nifti(values), "50%", mask_img=nifti(mask, coarse))
    exact(out, expected)


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_binarize_img_equals_nilearn(chunking):
    values = synthetic_values(4)
    img = chunked(values, CHUNKINGS[chunking])
    for kwargs in [{}, {"threshold": "80%"}, {"threshold": 0.3, "two_sided": True}]:
        out = lazily(image.binarize_img, img, **kwargs)
        exact(out, nimage.binarize_img(nifti(values), **kwargs))


@pytest.mark.parametrize(
    "threshold, two_sided, match",
    [
        ("120%", True, "percentile between '0%' and '100%'"),
        ("-5%", False, "percentile between '0%' and '100%'"),
        ("97", True, "percentile string such as '97%'"),
        ("high", True, "percentile string such as '97%'"),
        (-1.0, True, "a value >= 0 when two_sided=True"),
        (None, True, "a number or a percentile string"),
    ],
)
def test_threshold_bad_values_raise_at_once(threshold, two_sided, match):
    img = chunked(synthetic_values(3), CHUNKINGS["uneven"])
    with pytest.raises(ParameterError, match=match):
        image.threshold_img(img, threshold, two_sided=two_sided)


def test_threshold_outside_data_range_warns_on_compute_and_gives_zeros():
    values = synthetic_values(3)
    finite = np.where(np.isfinite(values), values, 0)
    img = chunked(values, CHUNKINGS["thinner-than-halo"])
    too_high = float(np.abs(finite).max()) + 0.5
    out = lazily(image.threshold_img, img, too_high)  # building the graph is fine
    with pytest.warns(ThresholdRangeWarning, match="above the maximum of the absolute values"):
        assert not out.values.any()
    too_low = float(finite.min()) - 0.5
    out = lazily(image.threshold_img, img, too_low, two_sided=False)
    with pytest.warns(ThresholdRangeWarning, match="below the minimum of the values <= 0"):
        assert not out.values.any()
    # The largest value itself is inside the range.
    assert int((image.threshold_img(img, float(np.abs(finite).max())) != 0).sum()) == 1


def test_threshold_outside_range_of_in_memory_image_warns_on_compute():
    img = new_image(synthetic_values(3), AFFINE)
    out = lazily(image.threshold_img, img, 100.0)
    with pytest.warns(ThresholdRangeWarning, match="maximum of the absolute values"):
        out.compute()


class _StartCounter(Callback):
    """Counts the computes of dask's local schedulers, whichever one is named."""

    def __init__(self):
        super().__init__()
        self.starts = 0

    def _start(self, dsk):
        self.starts += 1


@pytest.mark.parametrize("ndim", [3, 4])
def test_threshold_of_in_memory_image_never_computes_at_call_time(ndim):
    """numpy-backed images used to have their range checked with scheduler="sync"."""
    values = synthetic_values(ndim)
    img = new_image(values, AFFINE)
    mask = new_image((np.random.default_rng(1).random(SHAPE[:3]) > 0.3).astype("int8"), AFFINE)
    calls = [
        ((1.2,), {}), (("90%",), {}), ((-0.8,), {"two_sided": False}),
        ((0.5,), {"mask_img": mask}), ((0.5,), {"cluster_threshold": 5}),
    ]
    with _StartCounter() as counter:
        outs = [lazily(image.threshold_img, img, *args, **kwargs) for args, kwargs in calls]
        binarized = lazily(image.binarize_img, img, 0.3)
    assert counter.starts == 0
    for out, (args, kwargs) in zip(outs, calls):
        if "mask_img" in kwargs:
            kwargs = {**kwargs, "mask_img": nifti(mask.values)}
        exact(out, nimage.threshold_img(nifti(values), *args, **kwargs))
    exact(binarized, nimage.binarize_img(nifti(values), 0.3))


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("ndim", [3, 4])
def test_cluster_threshold_equals_nilearn(chunking, ndim):
    rng = np.random.default_rng(6)
    values = gaussian_filter(rng.standard_normal(SHAPE), (1, 1, 1, 0)).astype("float32") * 3
    values = values[..., :2] if ndim == 4 else values[..., 0]
    img = chunked(values, {**(CHUNKINGS[chunking] or {}), "t": 1})
    for cluster_threshold in [3, 25]:
        out = lazily(image.threshold_img, img, 0.5, cluster_threshold=cluster_threshold)
        expected = nimage.threshold_img(nifti(values), 0.5, cluster_threshold=cluster_threshold)
        assert 0 < np.count_nonzero(expected.dataobj) < np.count_nonzero(np.abs(values) >= 0.5)
        exact(out, expected)


def _cluster_threshold_graph_size(n_volumes):
    values = np.random.default_rng(0).standard_normal((16, 16, 16, n_volumes)).astype("float32")
    img = new_image(values, np.eye(4)).chunk({"i": 8, "j": 8, "k": 8, "t": 1})
    out = lazily(image.threshold_img, img, 1.0, cluster_threshold=5)
    return len(out.data.__dask_graph__())


def test_cluster_threshold_graph_grows_linearly_with_volumes():
    """8 spatial blocks of 16^3 volumes, one volume per chunk: 1.9k, 14k, 161k tasks before."""
    tasks = {n: _cluster_threshold_graph_size(n) for n in (4, 16, 64)}
    assert tasks[64] < 5000, tasks
    assert tasks[64] / 64 <= tasks[16] / 16 <= tasks[4] / 4, tasks  # no task per pair


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_cluster_threshold_of_many_volumes_equals_nilearn(chunking):
    rng = np.random.default_rng(7)
    values = gaussian_filter(rng.standard_normal(SHAPE), (1, 1, 1, 0)).astype("float32") * 3
    values = np.concatenate([values, -values[..., ::-1]], axis=3)  # 12 volumes
    chunks = {**(CHUNKINGS[chunking] or {}), "t": (5, 4, 3)}
    img = chunked(values, chunks)
    out = lazily(image.threshold_img, img, 0.5, cluster_threshold=10)
    assert out.data.chunks == img.data.chunks
    exact(out, nimage.threshold_img(nifti(values), 0.5, cluster_threshold=10))


def test_cluster_threshold_motor_map_equals_nilearn(motor):
    img = motor_chunked(motor, "uneven")
    out = lazily(image.threshold_img, img, "95%", cluster_threshold=20)
    exact(out, nimage.threshold_img(motor[1], "95%", cluster_threshold=20))


def test_threshold_header_and_mask_dimensions():
    img = new_image(synthetic_values(4), AFFINE, header={"t_r": 2.0}).chunk({"t": 2})
    assert image.threshold_img(img, 1.0).nii.t_r == 2.0
    bare = image.threshold_img(img, 1.0, copy_header=False)
    assert bare.nii.t_r is None
    np.testing.assert_allclose(image_affine(bare), AFFINE)
    with pytest.raises(ParameterError, match="mask_img: expected a 3D mask image"):
        image.threshold_img(img, 1.0, mask_img=img)


def test_threshold_bad_cluster_threshold():
    img = chunked(synthetic_values(3), None)
    with pytest.raises(ParameterError, match="cluster_threshold: expected a number of voxels"):
        image.threshold_img(img, 1.0, cluster_threshold=-2)


# -------------------------------------------------------------------------- resampling


def _targets():
    down = np.diag([3.0, 3.0, 3.0, 1.0])
    flipped = np.diag([-1.5, 2.0, 2.5, 1.0])
    flipped[:3, 3] = [8.0, -2.0, 1.0]
    angle = 0.3
    rotation = np.eye(4)
    rotation[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    return {
        "coarser": (down, (9, 12, 11)),
        "finer-flipped": (flipped, (15, 16, 12)),
        "rotated": (rotation @ np.diag([2.0, 2.0, 2.0, 1.0]), (13, 12, 11)),
        "3x3-bounding-box": (np.diag([3.0, 3.0, 3.0]), None),
    }


TARGETS = _targets()


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("target", TARGETS)
def test_resample_img_equals_nilearn(chunking, target):
    target_affine, target_shape = TARGETS[target]
    cases = [
        ("continuous", synthetic_values(4)), ("linear", synthetic_values(3)),
        ("nearest", synthetic_values(4, "int16")), ("continuous", synthetic_values(3, "int16")),
    ]
    for interpolation, values in cases:
        img = chunked(values, CHUNKINGS[chunking])
        out = lazily(
            image.resample_img, img, target_affine, target_shape, interpolation=interpolation
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NaN and int->float casting warnings
            expected = nimage.resample_img(
                nifti(values), target_affine=target_affine, target_shape=target_shape,
                interpolation=interpolation, force_resample=True, copy_header=True,
            )
        exact(out, expected)


@pytest.mark.parametrize("chunking", MOTOR_CHUNKINGS)
def test_resample_motor_map_to_img_equals_nilearn(motor, chunking):
    img = motor_chunked(motor, chunking)
    target_affine = np.diag([4.0, 4.0, 4.0, 1.0])
    target_affine[:3, 3] = [-80.0, -115.0, -55.0]
    target = new_image(np.zeros((41, 50, 36), "int8"), target_affine).chunk({"i": 10})
    for interpolation in ["continuous", "nearest"]:
        out = lazily(image.resample_to_img, img, target, interpolation=interpolation)
        expected = nimage.resample_to_img(
            motor[1], nifti(np.zeros((41, 50, 36), "int8"), target_affine),
            interpolation=interpolation, force_resample=True, copy_header=True,
        )
        exact(out, expected)
        np.testing.assert_allclose(image_affine(out), target_affine)


def test_resample_onto_own_grid_is_the_image():
    img = chunked(synthetic_values(4), CHUNKINGS["uneven"])
    assert image.resample_img(img, image_affine(img), SHAPE[:3]) is img
    assert image.resample_img(img) is img


def test_resample_keeps_time_coordinates_and_header():
    img = new_image(
        synthetic_values(4), AFFINE, header={"t_r": 2.0},
        time_coords={"condition": list("abcabc")},
    ).chunk({"t": 4})
    out = image.resample_img(img.isel(t=[1, 3, 5]), np.diag([3.0, 3.0, 3.0, 1.0]), (9, 12, 11))
    assert out.t.values.tolist() == [1, 3, 5]
    assert out.condition.values.tolist() == ["b", "a", "c"]
    assert out.nii.t_r == 2.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"interpolation": "cubic"}, "interpolation: expected one of"),
        ({"target_affine": None, "target_shape": (4, 4, 4)},
         "target_affine: expected a \\(4, 4\\) affine"),
        ({"target_affine": np.eye(3), "target_shape": (4, 4, 4)}, "has no origin"),
        ({"target_affine": np.eye(4), "target_shape": (4, 4)}, "target_shape: expected 3"),
        ({"target_affine": np.diag([1.0, 1, 1, 1]) + np.eye(4, k=3) * 1e4},
         "field of view contains some of the data"),
    ],
)
def test_resample_bad_parameters(kwargs, match):
    img = chunked(synthetic_values(3), None)
    kwargs = {"target_affine": np.diag([2.0, 2, 2, 1]), **kwargs}
    with pytest.raises(ParameterError, match=match):
        image.resample_img(img, **kwargs)


# ------------------------------------------------------------------ means and selection


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_mean_img_equals_nilearn(chunking, dtype):
    values = synthetic_values(4, dtype)
    if dtype == "float32":
        values = np.nan_to_num(values, posinf=0.0)  # nilearn's float32 sum is pairwise
    img = chunked(values, CHUNKINGS[chunking])
    out = lazily(image.mean_img, img)
    expected = nimage.mean_img(nifti(values), copy_header=True)
    assert out.dtype == np.asarray(expected.dataobj).dtype
    np.testing.assert_allclose(out.values, expected.get_fdata(), rtol=1e-6, atol=1e-6)


def test_mean_img_keeps_nan_and_resamples_like_nilearn():
    values = synthetic_values(4)
    img = chunked(values, CHUNKINGS["uneven"])
    assert np.isnan(lazily(image.mean_img, img).values[4, 5, 6])
    finite = np.nan_to_num(values, posinf=0.0)
    target = np.diag([3.0, 3.0, 3.0, 1.0])
    out = lazily(image.mean_img, chunked(finite, CHUNKINGS["uneven"]), target_affine=target,
                 target_shape=(9, 12, 11))
    expected = nimage.mean_img(nifti(finite), target_affine=target, target_shape=(9, 12, 11))
    np.testing.assert_allclose(out.values, expected.get_fdata(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("ddof", [0, 1])
def test_std_img_equals_numpy(chunking, ddof):
    rng = np.random.default_rng(2)
    values = (3000 + rng.standard_normal(SHAPE) * 2).astype("float32")  # BOLD-like
    img = chunked(values, CHUNKINGS[chunking])
    out = lazily(image.std_img, img, ddof=ddof)
    assert out.dtype == np.float32
    expected = values.astype(np.float64).std(axis=-1, ddof=ddof)
    np.testing.assert_allclose(out.values, expected, rtol=1e-5)


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_index_img_equals_nilearn(chunking):
    values = synthetic_values(4)
    img = chunked(values, CHUNKINGS[chunking]).assign_coords(
        condition=("t", np.array(list("abcabc")))
    )
    for index in [2, -1, slice(1, 5, 2), [0, 5, 3], np.array([True, False] * 3), [-2]]:
        out = lazily(image.index_img, img, index)
        exact(out, nimage.index_img(nifti(values), index))
    out = image.index_img(img, img.condition.values == "b")
    assert out.t.values.tolist() == [1, 4] and out.condition.values.tolist() == ["b", "b"]
    by_coordinate = image.index_img(img, img.condition == "b")  # an xarray boolean, as sel takes
    assert by_coordinate.t.values.tolist() == [1, 4]


def test_index_img_bad_index_message_stays_short():
    img = chunked(synthetic_values(4), None)
    with pytest.raises(ParameterError) as error:
        image.index_img(img, np.ones(1000, dtype=bool))
    assert len(str(error.value)) < 200 and "shape (1000,)" in str(error.value)


@pytest.mark.parametrize("index", [6, -7, [0, 9], np.array([True, False]), "x", 1.5])
def test_index_img_bad_index(index):
    img = chunked(synthetic_values(4), None)
    with pytest.raises(ParameterError, match="index: expected"):
        image.index_img(img, index)
    with pytest.raises(ParameterError, match="img: expected a 4D image"):
        image.index_img(chunked(synthetic_values(3), None), 0)


def test_new_img_like():
    ref = new_image(synthetic_values(4), AFFINE, header={"t_r": 2.0},
                    time_coords={"run": [0, 0, 0, 1, 1, 1]}).chunk({"i": 5, "t": 2})
    values = np.ones(SHAPE, bool)
    with raise_if_dask_computes():
        out = image.new_img_like(ref, values)
        volume = image.new_img_like(ref, values[..., 0], copy_header=False)
        moved = image.new_img_like(ref, values[..., 0], np.diag([1.0, 1.0, 1.0, 1.0]))
    assert out.dtype == np.uint8 and out.data.chunks == ref.data.chunks
    assert out.run.values.tolist() == [0, 0, 0, 1, 1, 1] and out.nii.t_r == 2.0
    assert volume.shape == SHAPE[:3] and volume.nii.t_r is None
    np.testing.assert_allclose(image_affine(volume), AFFINE)
    np.testing.assert_allclose(image_affine(moved), np.eye(4))
    expected = nimage.new_img_like(nifti(synthetic_values(4)), values)
    exact(out, expected)


# ------------------------------------------------------------------------- mask logic


def test_mask_logic():
    rng = np.random.default_rng(4)
    a, b = rng.random(SHAPE[:3]) > 0.5, rng.random(SHAPE[:3]) > 0.4
    b_values = b.astype("float32")
    b_values[0, 0, 0] = np.nan
    img_a = chunked(a.astype("int16"), CHUNKINGS["uneven"])
    img_b = chunked(b_values, CHUNKINGS["thinner-than-halo"])
    b[0, 0, 0] = False
    with raise_if_dask_computes():
        both, either, neither = image.mask_and(img_a, img_b), image.mask_or(img_a, img_b), \
            image.mask_not(image.mask_or(img_a, img_b))
    assert both.dtype == np.int8
    np.testing.assert_array_equal(both.values, a & b)
    np.testing.assert_array_equal(either.values, a | b)
    np.testing.assert_array_equal(neither.values, ~(a | b))


def test_mask_on_another_grid_raises_with_fix():
    img_a = chunked(np.ones(SHAPE[:3], "int8"), None)
    shifted = AFFINE.copy()
    shifted[0, 3] += 2.0
    with pytest.raises(GridMismatchError, match="resample_to_img.*nearest"):
        image.mask_and(img_a, chunked(np.ones(SHAPE[:3], "int8"), None, shifted))
    with pytest.raises(GridMismatchError, match=r"other_masks\[0\] is on a different grid"):
        image.mask_or(img_a, chunked(np.ones((5, 5, 5), "int8"), None))


# --------------------------------------------------------------------------- laziness


def test_every_operation_is_lazy(motor):
    img = chunked(synthetic_values(4), CHUNKINGS["thinner-than-halo"])
    volume = motor_chunked(motor, "uneven")
    mask = chunked(np.ones(SHAPE[:3], "int8"), CHUNKINGS["uneven"])
    with raise_if_dask_computes():
        results = [
            image.smooth_img(img, 6.0), image.smooth_img(img, "fast"),
            image.mean_img(img), image.std_img(img), image.index_img(img, [1, 2]),
            image.new_img_like(img, np.zeros(SHAPE)),
            image.threshold_img(img, "95%", mask_img=mask), image.threshold_img(volume, 2.0),
            image.threshold_img(img, 1.0, cluster_threshold=5),
            image.binarize_img(volume, "90%"),
            image.resample_img(img, np.diag([3.0, 3.0, 3.0, 1.0])),
            image.resample_to_img(volume, mask), image.mask_and(mask, mask),
            image.mask_not(mask),
        ]
    for result in results:
        assert isinstance(result.data, dask.array.Array)
