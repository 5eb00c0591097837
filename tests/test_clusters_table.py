"""get_clusters_table against nilearn.reporting, at three chunkings and on the motor t-map."""

import warnings

import dask
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn import datasets
from nilearn import reporting as nreporting

from roidask.errors import ParameterError
from roidask.grid import new_image
from roidask.reporting import get_clusters_table
from roidask.reporting.clusters_table import ClustersWarning
from roidask.testing import raise_if_dask_computes

AFFINE = np.array([[-2.0, 0, 0, 20], [0, 2.5, 0, -10], [0, 0, 3.0, 5], [0, 0, 0, 1]])
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (5, 4, 3), "j": (4, 6, 4), "k": (7, 3)},
    "thin": {"i": 2, "j": 3, "k": 2},
}


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def synthetic_map(seed=0):
    rng = np.random.default_rng(seed)
    data = np.zeros((12, 14, 10), "float32")
    data[2:-2, 2:-2, 2:-2] = rng.standard_normal((8, 10, 6))
    data[2:7, 3:7, 3:6] += 4.0
    data[3, 4, 4] += 2.0  # a second peak far enough to be a subpeak
    data[6, 6, 5] += 1.5
    data[7:9, 9:12, 5:7] -= 4.5
    data[8, 4, 6] = 6.0
    data[3, 11, 3] = -5.5
    return data


def chunked(data, chunks, affine=AFFINE):
    img = new_image(data, affine)
    return img.chunk() if chunks is None else img.chunk(chunks)


@pytest.fixture(scope="module")
def motor():
    img = nib.load(datasets.load_sample_motor_activation_image())
    return np.asarray(img.get_fdata(), dtype=img.get_data_dtype()), img.affine


def check(data, affine, chunks, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = nreporting.get_clusters_table(nib.Nifti1Image(data, affine), **kwargs)
        with raise_if_dask_computes(max_computes=1):
            actual = get_clusters_table(chunked(data, chunks, affine), **kwargs)
    if kwargs.get("return_label_maps"):
        expected, expected_maps = expected
        actual, actual_maps = actual
        assert len(actual_maps) == len(expected_maps)
        for a, e in zip(actual_maps, expected_maps, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(e.get_fdata()))
    pd.testing.assert_frame_equal(actual, expected)
    return actual


@pytest.mark.parametrize("cluster_threshold", [0, 5])
@pytest.mark.parametrize("two_sided", [False, True])
@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_synthetic_equals_nilearn(chunks, two_sided, cluster_threshold):
    table = check(synthetic_map(), AFFINE, chunks, stat_threshold=2.5,
                  cluster_threshold=cluster_threshold, two_sided=two_sided)
    assert len(table) >= 2
    if not cluster_threshold:
        assert table["Cluster ID"].astype(str).str.contains("a").any()  # subpeaks tabled


@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_negative_one_sided_and_label_maps(chunks):
    table = check(synthetic_map(), AFFINE, chunks, stat_threshold=-3.0, two_sided=False,
                  return_label_maps=True)
    assert len(table) >= 2  # the negative clusters (nilearn tables their |peak|, as here)
    check(synthetic_map(), AFFINE, chunks, stat_threshold=2.0, two_sided=True,
          min_distance=3.0, return_label_maps=True)


MOTOR_CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (20, 13, 20), "j": (30, 33), "k": (7, 39)},
    "thin": {"i": 6, "j": 7, "k": 5},  # 810 chunks; 3x3x2 took 100 s per test
}


@pytest.mark.parametrize("kwargs", [
    {"stat_threshold": 3.1, "cluster_threshold": 10, "two_sided": True},
    {"stat_threshold": 3.1, "cluster_threshold": 0, "two_sided": False},
], ids=["two-sided-clusters", "one-sided"])
@pytest.mark.parametrize("chunks", MOTOR_CHUNKINGS.values(), ids=MOTOR_CHUNKINGS)
def test_motor_map_equals_nilearn(motor, chunks, kwargs):
    data, affine = motor
    table = check(data, affine, chunks, **kwargs)
    assert len(table) > 5


def test_no_cluster_warns_and_is_empty():
    data = synthetic_map()
    with pytest.warns(UserWarning, match="No clusters"):
        expected = nreporting.get_clusters_table(nib.Nifti1Image(data, AFFINE), 50.0)
    with pytest.warns(ClustersWarning, match="No clusters"):
        actual = get_clusters_table(chunked(data, CHUNKINGS["uneven"]), 50.0)
    assert actual.empty
    pd.testing.assert_frame_equal(actual, expected)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"stat_threshold": 2.0, "min_distance": 0.0}, "min_distance"),
    ({"stat_threshold": 2.0, "min_distance": -1.0}, "min_distance"),
    ({"stat_threshold": -2.0, "two_sided": True}, "stat_threshold"),
])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError):
        nreporting.get_clusters_table(nib.Nifti1Image(synthetic_map(), AFFINE), **kwargs)
    with pytest.raises(ParameterError, match=name):
        get_clusters_table(chunked(synthetic_map(), None), **kwargs)
