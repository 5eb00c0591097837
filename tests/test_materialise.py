"""The materialisation layer: files and numbers from lazy results in one computation.

Writers must read their inputs no more often than ``.compute()`` of the same
result does, write the same voxels at any chunking, and leave nothing behind
when the computation fails.
"""

import os

import dask.array as da
import nibabel as nib
import numpy as np
import pytest
from distributed import Client, LocalCluster

from roidask.grid import new_image
from roidask.image import smooth_img, threshold_img
from roidask.io import open_zarr, to_nifti, to_zarr
from roidask.io.materialise import Materialisation
from roidask.testing import CountingArray, raise_if_dask_computes

AFFINE = np.diag([3.0, 3.5, 4.0, 1.0])
CHUNKINGS = [(8, 9, 7, 5), (3, 9, 2, 4), (8, 2, 7, 1)]  # the last splits i-j planes


def counted_image(values, chunks):
    source = CountingArray(values)
    meta = np.empty((0,) * values.ndim, values.dtype)
    data = da.from_array(source, chunks=chunks[:values.ndim], asarray=False, meta=meta)
    return new_image(data, AFFINE), source


@pytest.fixture(scope="module")
def values4d():
    return np.random.default_rng(3).standard_normal((8, 9, 7, 5)).astype("float32")


def reads_of(values, chunks, build, materialise):
    img, source = counted_image(values, chunks)
    materialise(build(img))
    return len(source.reads)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".zarr"])
def test_writers_read_inputs_as_often_as_compute(tmp_path, values4d, chunks, suffix):
    """A percentile threshold shares its cut-off: the writer must not redo it per slab."""
    def build(img):
        return threshold_img(img[..., 0], "90%")

    def write(img):
        path = tmp_path / f"out{suffix}"
        (to_zarr if suffix == ".zarr" else to_nifti)(img, path)

    computed = reads_of(values4d, chunks, build, lambda img: img.compute())
    written = reads_of(values4d, chunks, build, write)
    assert written <= computed


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_to_nifti_is_one_computation(tmp_path, values4d, chunks):
    img, _ = counted_image(values4d, chunks)
    with raise_if_dask_computes(max_computes=1):
        to_nifti(smooth_img(img, 5.0), tmp_path / "smoothed.nii.gz")


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("dtype", ["float32", "int16", "bool"])
def test_nifti_voxels_equal_nibabel_at_any_chunking(tmp_path, values4d, chunks, suffix, dtype):
    values = (values4d * 100).astype(dtype) if dtype != "bool" else values4d > 0
    img, _ = counted_image(values, chunks)
    path = tmp_path / f"img{suffix}"
    to_nifti(img, path)
    loaded = nib.load(path)
    expected_dtype = np.uint8 if dtype == "bool" else np.dtype(dtype)
    assert loaded.get_data_dtype() == expected_dtype
    np.testing.assert_array_equal(np.asarray(loaded.dataobj), values.astype(expected_dtype))
    np.testing.assert_allclose(loaded.affine, AFFINE)
    assert os.listdir(tmp_path) == [path.name]  # no temporary left


def test_zarr_round_trip_at_uneven_chunks(tmp_path, values4d):
    img, _ = counted_image(values4d, CHUNKINGS[1])
    to_zarr(img, tmp_path / "img.zarr")
    np.testing.assert_array_equal(open_zarr(tmp_path / "img.zarr").values, values4d)


def _fails(block):
    raise ValueError("this block cannot be computed")


def test_a_failed_computation_leaves_no_file_and_no_temporary(tmp_path, values4d):
    img, _ = counted_image(values4d, CHUNKINGS[0])
    broken = img.copy(data=img.data.map_blocks(_fails, dtype=img.dtype))
    (tmp_path / "old.nii.gz").write_bytes(b"the earlier output")
    for name in ("new.nii", "old.nii.gz", "new.zarr"):
        with pytest.raises(ValueError, match="cannot be computed"):
            (to_zarr if name.endswith(".zarr") else to_nifti)(broken, tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == ["old.nii.gz"]
    assert (tmp_path / "old.nii.gz").read_bytes() == b"the earlier output"


def test_overwrite_false_refuses_before_computing(tmp_path, values4d):
    img, source = counted_image(values4d, CHUNKINGS[0])
    (tmp_path / "x.nii").write_bytes(b"")
    with pytest.raises(Exception, match="already exists"):
        to_nifti(img, tmp_path / "x.nii", overwrite=False)
    assert source.reads == []


def test_outputs_and_values_share_one_pass(tmp_path, values4d):
    """Several outputs of one smoothed run read each input chunk once, together."""
    img, source = counted_image(values4d, CHUNKINGS[1])
    smoothed = smooth_img(img, 5.0)
    plan = Materialisation()
    plan.add_image(smoothed, tmp_path / "s.nii.gz")
    plan.add_image(smoothed, tmp_path / "s.zarr")
    total = plan.add_value(smoothed.sum())
    with raise_if_dask_computes(max_computes=1):
        outcome = plan.run()
    n_chunks = int(np.prod([len(c) for c in img.chunks]))
    assert len(source.reads) == n_chunks
    np.testing.assert_allclose(float(outcome.value(total)), float(smoothed.sum()), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(nib.load(tmp_path / "s.nii.gz").dataobj),
                                  open_zarr(tmp_path / "s.zarr").values)


def test_groups_fail_alone_on_a_process_cluster(tmp_path, values4d):
    """On a real multi-process cluster one group's failure spares the others."""
    img = new_image(da.from_array(values4d, chunks=CHUNKINGS[1]), AFFINE)
    good = img * 2
    broken = img.copy(data=img.data.map_blocks(_fails, dtype=img.dtype))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        plan = Materialisation()
        plan.add_image(good, tmp_path / "good.nii.gz", group="a")
        kept = plan.add_value(good.mean(), group="a")
        plan.add_image(broken, tmp_path / "broken.nii.gz", group="b")
        outcome = plan.run(client)
    assert outcome.failed("a") is None
    assert "cannot be computed" in str(outcome.failed("b"))
    assert sorted(os.listdir(tmp_path)) == ["good.nii.gz"]
    np.testing.assert_allclose(np.asarray(nib.load(tmp_path / "good.nii.gz").dataobj),
                               values4d * 2)
    np.testing.assert_allclose(float(outcome.value(kept)), values4d.mean() * 2, rtol=1e-5)
