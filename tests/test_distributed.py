"""Conversion and reductions on a real multi-process LocalCluster."""

import nibabel as nib
import numpy as np
import pytest

import roidask
from roidask._dask.cluster import get_client
from roidask.errors import ParameterError
from roidask.io.convert import convert


@pytest.fixture(scope="module")
def client():
    with get_client(n_workers=2, threads_per_worker=1, memory_limit="1GB",
                    processes=True) as client:
        yield client


def test_cluster_is_multi_process(client):
    pids = client.run(lambda: __import__("os").getpid())
    assert len(set(pids.values())) == 2


def test_convert_and_reduce_on_cluster(client, tiny_dataset, tmp_path):
    store = tmp_path / "func.zarr"
    convert(tiny_dataset.func, store, chunks="t=40", labels=tiny_dataset.labels)
    img = roidask.load_img(store)
    face_mean = img.sel(t=img.condition == "face").astype("float64").mean("t")
    future = client.compute(face_mean)
    result = future.result()
    expected = nib.load(tiny_dataset.func).get_fdata()[..., img.condition.values == "face"]
    np.testing.assert_allclose(result.values, expected.mean(-1))


def test_nifti_read_and_write_on_cluster(client, tiny_dataset, tmp_path):
    img = roidask.load_img(tiny_dataset.func, chunks="t=30")
    out = tmp_path / "copy.nii.gz"
    roidask.to_nifti(img * 2, out)
    np.testing.assert_array_equal(
        nib.load(out).get_fdata(), nib.load(tiny_dataset.func).get_fdata() * 2
    )


def test_bad_scheduler_address():
    with pytest.raises(ParameterError, match="scheduler: expected the address"):
        with get_client("tcp://127.0.0.1:9"):
            pass
