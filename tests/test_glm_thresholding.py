"""threshold_stats_img and fdr_threshold against nilearn.glm, at three chunkings, lazily."""

import warnings

import dask
import dask.array as da
import nibabel as nib
import numpy as np
import pytest
from nilearn import datasets
from nilearn import glm as nglm

from roidask import glm
from roidask.errors import ParameterError
from roidask.glm.thresholding import DefaultThresholdWarning, ThresholdWarning
from roidask.grid import new_image
from roidask.testing import raise_if_dask_computes

AFFINE = np.array([[-2.0, 0, 0, 20], [0, 2.5, 0, -10], [0, 0, 3.0, 5], [0, 0, 0, 1]])
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (5, 4, 3), "j": (4, 6, 4), "k": (7, 3)},
    "thin": {"i": 2, "j": 3, "k": 2},
}
HEIGHT = ["fpr", "fdr", "bonferroni", None]


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def synthetic_map(seed=0):
    """A z-like map: zero border (background), noise inside, two strong blobs of each sign."""
    rng = np.random.default_rng(seed)
    data = np.zeros((12, 14, 10), "float32")
    data[2:-2, 2:-2, 2:-2] = rng.standard_normal((8, 10, 6))
    data[3:6, 3:6, 3:5] += 5.0
    data[7:9, 9:11, 5:7] -= 4.5
    data[8, 4, 6] = 6.0  # one-voxel cluster
    data[3, 11, 3] = -5.5
    return data


def synthetic_mask():
    mask = np.zeros((12, 14, 10), "int8")
    mask[1:10, 2:13, 1:9] = 1
    return mask


def chunked(data, chunks, affine=AFFINE):
    img = new_image(data, affine)
    return img.chunk() if chunks is None else img.chunk(chunks)


@pytest.fixture(scope="module")
def motor():
    img = nib.load(datasets.load_sample_motor_activation_image())
    data = np.asarray(img.get_fdata(), dtype=img.get_data_dtype())
    mask = np.zeros(data.shape, "int8")
    mask[: data.shape[0] // 2 + 5, 5:-5] = 1
    return data, img.affine, mask


def reference(data, affine, mask, **kwargs):
    mask_img = None if mask is None else nib.Nifti1Image(mask, affine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, threshold = nglm.threshold_stats_img(
            nib.Nifti1Image(data, affine), mask_img=mask_img, **kwargs
        )
    return np.asarray(out.get_fdata(), dtype=out.get_data_dtype()), float(threshold)


def check(data, affine, mask, chunks, **kwargs):
    expected, expected_threshold = reference(data, affine, mask, **kwargs)
    img = chunked(data, chunks, affine)
    mask_img = None if mask is None else chunked(mask, chunks, affine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with raise_if_dask_computes():
            out, threshold = glm.threshold_stats_img(img, mask_img=mask_img, **kwargs)
    assert isinstance(out.data, da.Array)
    actual, actual_threshold = dask.compute(out.data, threshold)
    np.testing.assert_allclose(float(actual_threshold), expected_threshold, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(actual, expected)
    assert actual.dtype == expected.dtype
    return actual


def kwargs_for(height_control):
    if height_control is None:
        return {"height_control": None, "threshold": 2.5}
    return {"height_control": height_control, "alpha": 0.05}


@pytest.mark.parametrize("with_mask", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("cluster_threshold", [0, 3])
@pytest.mark.parametrize("two_sided", [True, False])
@pytest.mark.parametrize("height_control", HEIGHT, ids=str)
@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_synthetic_equals_nilearn(chunks, height_control, two_sided, cluster_threshold, with_mask):
    out = check(
        synthetic_map(), AFFINE, synthetic_mask() if with_mask else None, chunks,
        two_sided=two_sided, cluster_threshold=cluster_threshold, **kwargs_for(height_control),
    )
    assert (out != 0).any()  # the blobs survive every correction: the comparison is not vacuous


MOTOR_CHUNKINGS = {"one-chunk": None, "uneven": {"i": (20, 13, 20), "j": (30, 33), "k": (7, 39)}}


@pytest.mark.parametrize("with_mask", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("cluster_threshold", [0, 10])
@pytest.mark.parametrize("two_sided", [True, False])
@pytest.mark.parametrize("height_control", HEIGHT, ids=str)
@pytest.mark.parametrize("chunks", MOTOR_CHUNKINGS.values(), ids=MOTOR_CHUNKINGS)
def test_motor_map_equals_nilearn(motor, chunks, height_control, two_sided, cluster_threshold,
                                  with_mask):
    data, affine, mask = motor
    check(data, affine, mask if with_mask else None, chunks, two_sided=two_sided,
          cluster_threshold=cluster_threshold, alpha=0.001 if height_control else 0.05,
          height_control=height_control, **({"threshold": 3.1} if height_control is None else {}))


@pytest.mark.parametrize("height_control", ["fdr", "bonferroni"])
def test_motor_map_thin_chunks(motor, height_control):
    data, affine, mask = motor
    # 810 chunks of at most 6x7x5 voxels: clusters cross many chunk faces (the synthetic
    # map above also runs on 2x3x2 chunks); 3x3x2 chunks took 3 minutes per test
    check(data, affine, mask, {"i": 6, "j": 7, "k": 5}, height_control=height_control,
          alpha=0.001, cluster_threshold=10, two_sided=True)


def test_fdr_threshold_equals_nilearn():
    z = np.random.default_rng(1).standard_normal(500) * 2
    for alpha in (0.0, 0.01, 0.05, 0.2, 1.0):
        expected = nglm.fdr_threshold(z, alpha)
        assert glm.fdr_threshold(z, alpha) == expected
        with raise_if_dask_computes():
            lazy = glm.fdr_threshold(da.from_array(z, chunks=37), alpha)
        assert lazy.compute() == expected


def test_fdr_threshold_none_passes_is_inf():
    assert glm.fdr_threshold(np.array([0.1, 0.2]), 0.05) == np.inf == nglm.fdr_threshold(
        np.array([0.1, 0.2]), 0.05)


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_fdr_threshold_bad_alpha(alpha):
    with pytest.raises(ValueError):
        nglm.fdr_threshold(np.ones(3), alpha)
    with pytest.raises(ParameterError, match="alpha"):
        glm.fdr_threshold(np.ones(3), alpha)


def test_no_image_fpr_and_none():
    for kwargs in ({"height_control": "fpr", "alpha": 0.01, "two_sided": False},
                   {"height_control": None, "threshold": 2.0}):
        assert glm.threshold_stats_img(None, **kwargs) == nglm.threshold_stats_img(None, **kwargs)


@pytest.mark.parametrize("height_control", ["fdr", "bonferroni"])
def test_no_image_data_dependent_raises(height_control):
    with pytest.raises(ValueError):
        nglm.threshold_stats_img(None, height_control=height_control)
    with pytest.raises(ParameterError, match="stat_img"):
        glm.threshold_stats_img(None, height_control=height_control)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"height_control": "holm"}, "height_control"),
     ({"cluster_threshold": -1}, "cluster_threshold"),
     ({"height_control": None, "threshold": -2.0, "two_sided": True}, "threshold")],
)
def test_bad_parameters(kwargs, name):
    img = chunked(synthetic_map(), None)
    nib_img = nib.Nifti1Image(synthetic_map(), AFFINE)
    with pytest.raises(ValueError):
        nglm.threshold_stats_img(nib_img, **kwargs)
    with pytest.raises(ParameterError, match=name):
        glm.threshold_stats_img(img, **kwargs)


def test_negative_one_sided_threshold_equals_nilearn():
    out = check(synthetic_map(), AFFINE, None, CHUNKINGS["uneven"], height_control=None,
                threshold=-3.0, two_sided=False)
    assert (out < 0).any() and not (out > 0).any()


def test_warnings_as_nilearn():
    img = chunked(synthetic_map(), None)
    with pytest.warns(FutureWarning, match="0.15"):
        nglm.threshold_stats_img(nib.Nifti1Image(synthetic_map(), AFFINE), height_control=None)
    with pytest.warns(DefaultThresholdWarning, match="0.15"):
        glm.threshold_stats_img(img, height_control=None)
    with pytest.warns(UserWarning, match="not used"):
        nglm.threshold_stats_img(nib.Nifti1Image(synthetic_map(), AFFINE), threshold=2.0)
    with pytest.warns(ThresholdWarning, match="not used"):
        glm.threshold_stats_img(img, threshold=2.0)
    assert issubclass(DefaultThresholdWarning, FutureWarning)
    assert issubclass(ThresholdWarning, UserWarning)


def test_threshold_lazy_for_data_dependent_controls():
    img = chunked(synthetic_map(), CHUNKINGS["uneven"])
    with raise_if_dask_computes():
        _, fdr = glm.threshold_stats_img(img, height_control="fdr", alpha=0.05)
        _, bonf = glm.threshold_stats_img(img, height_control="bonferroni", alpha=0.05)
    assert isinstance(fdr, da.Array) and fdr.ndim == 0
    assert isinstance(bonf, da.Array) and bonf.ndim == 0
