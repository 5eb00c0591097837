"""Reading and writing images: NIfTI and zarr round trips, metadata, laziness."""

import nibabel as nib
import numpy as np
import pytest
import xarray as xr
from nilearn.datasets import load_sample_motor_activation_image

import roidask
from roidask._dask import chunks
from roidask.io.convert import convert
from roidask.testing import raise_if_dask_computes

RNG = np.random.default_rng(0)


def reference(path):
    image = nib.load(path)
    return np.asarray(image.dataobj), image.affine


def round_trip(src, tmp_path, suffix, chunks=None):
    store = tmp_path / "store.zarr"
    out = tmp_path / f"back{suffix}"
    convert(src, store, chunks=chunks)
    convert(store, out)
    return store, out


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("dtype", ["int16", "uint8", "int32", "float32", "float64"])
def test_round_trip_keeps_values_dtype_affine(make_nifti, tmp_path, suffix, dtype):
    values = (RNG.standard_normal((6, 7, 5, 9)) * 50).astype(dtype)
    affine = np.array([[-2.0, 0.1, 0, 30], [0.05, 2.5, 0, -20], [0, 0, 3, -10], [0, 0, 0, 1]])
    src = make_nifti(values, affine, name=f"src{suffix}")
    store, out = round_trip(src, tmp_path, suffix, chunks="t=4")
    for path in (store, out):
        img = roidask.load_img(path)
        assert img.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(img.values, values)
        np.testing.assert_allclose(img.nii.affine, affine, atol=1e-6)
    back_values, back_affine = reference(out)
    assert back_values.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back_values, values)
    np.testing.assert_allclose(back_affine, affine, atol=1e-6)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_scaled_nifti_reads_as_float_with_dtype_known_before_reading(make_nifti, tmp_path,
                                                                      suffix):
    values = RNG.integers(-500, 500, (5, 6, 7, 4)).astype("int16")
    src = make_nifti(values, name=f"scaled{suffix}", slope=0.25, inter=3.0)
    expected = nib.load(src).get_fdata()
    with raise_if_dask_computes():
        img = roidask.load_img(src)
    assert img.dtype == np.float64
    np.testing.assert_array_equal(img.values, expected)
    store, out = round_trip(src, tmp_path, suffix)
    np.testing.assert_array_equal(roidask.load_img(store).values, expected)
    np.testing.assert_array_equal(nib.load(out).get_fdata(), expected)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_las_motor_map_round_trip(tmp_path, suffix):
    src = load_sample_motor_activation_image()
    values, affine = reference(src)
    assert affine[0, 0] < 0  # the real map has a negative x voxel size
    store, out = round_trip(src, tmp_path, suffix)
    back_values, back_affine = reference(out)
    np.testing.assert_array_equal(back_values, values)
    np.testing.assert_array_equal(back_affine, affine)
    img = roidask.load_img(store)
    np.testing.assert_array_equal(img.values, values)
    np.testing.assert_array_equal(img.nii.voxel_size, [3.0, 3.0, 3.0])


def test_slicing_keeps_world_coordinates(make_nifti, tmp_path):
    values = RNG.standard_normal((10, 12, 8)).astype("float32")
    affine = np.array([[-3.0, 0, 0, 78], [0, 3, 0, -112], [0, 0, 3, -50], [0, 0, 0, 1]])
    img = roidask.load_img(make_nifti(values, affine))
    part = img[2:9:3, 5:, 1:4]
    world_in_part = part.nii.affine @ [1, 2, 0, 1]
    world_in_full = affine @ [2 + 3, 5 + 2, 1, 1]
    np.testing.assert_allclose(world_in_part, world_in_full)
    out = tmp_path / "part.nii.gz"
    roidask.to_nifti(part, out)
    written = nib.load(out)
    np.testing.assert_allclose(written.affine, part.nii.affine)
    np.testing.assert_array_equal(written.get_fdata(), values[2:9:3, 5:, 1:4])


def test_non_contiguous_selection_has_no_affine(make_nifti):
    img = roidask.load_img(make_nifti(np.zeros((6, 6, 6), "float32")))
    with pytest.raises(roidask.NotAnImageError, match="not evenly spaced"):
        roidask.image_affine(img.isel(i=[0, 1, 4]))


def test_open_slice_and_arithmetic_compute_nothing(tiny_dataset, tmp_path):
    store = tmp_path / "tiny.zarr"
    convert(tiny_dataset.func, store, labels=tiny_dataset.labels)
    for path in (tiny_dataset.func, store):
        with raise_if_dask_computes():
            img = roidask.load_img(path, labels=tiny_dataset.labels)
            face = img.sel(t=img.condition == "face")[2:10]
            result = ((face * 2.0 + 1) / 3).mean("t").where(face.isel(t=0) > 0)
            assert result.dims == ("i", "j", "k")


def test_affine_survives_arithmetic_reductions_where_and_zarr(tmp_path):
    affine = np.array([[-3.5, 0, 0, 68], [0, 3.75, 0, -118], [0, 0, 3.75, -118], [0, 0, 0, 1]])
    img = roidask.new_image(RNG.standard_normal((4, 5, 6, 7)), affine).chunk({"t": 3})
    results = [img + 1, img * img, img.mean("t"), img.std("t"), img.where(img > 0, 0),
               xr.where(img > 0, img, 0), abs(img).max("t") > 1]
    for result in results:
        np.testing.assert_array_equal(result.nii.affine, affine)
    roidask.to_zarr(results[2], tmp_path / "mean.zarr")
    back = roidask.load_img(tmp_path / "mean.zarr")
    np.testing.assert_array_equal(back.nii.affine, affine)
    np.testing.assert_allclose(back.values, img.mean("t").values)


def test_combining_images_on_different_grids_raises():
    a = roidask.new_image(np.ones((4, 4, 4)), np.diag([2.0, 2.0, 2.0, 1.0]))
    b = roidask.new_image(np.ones((4, 4, 4)), np.diag([-2.0, 2.0, 2.0, 1.0]))
    for combine in (lambda: a + b, lambda: (a > 0) & (b > 0), lambda: a.where(b > 0)):
        with pytest.raises(roidask.GridMismatchError, match="resample"):
            combine()
    with pytest.raises(roidask.GridMismatchError, match="different grid"):
        roidask.check_same_grid(a, b)


def test_labels_attach_as_time_coordinates(tiny_dataset):
    img = roidask.load_img(tiny_dataset.func, labels=tiny_dataset.labels)
    table = np.loadtxt(tiny_dataset.labels, dtype=str, skiprows=1)
    np.testing.assert_array_equal(img.condition.values, table[:, 0])
    np.testing.assert_array_equal(img.run.values, table[:, 1].astype(int))
    face = img.sel(t=img.condition == "face")
    assert face.sizes["t"] == (table[:, 0] == "face").sum()
    np.testing.assert_allclose(img.time.values, np.arange(img.sizes["t"]) * 2.5)


def test_labels_with_wrong_row_count_raise(tiny_dataset, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("labels chunks\nface 0\nrest 0\n")
    with pytest.raises(roidask.InputFileError, match="has 2 rows but the image has 242 volumes"):
        roidask.load_img(tiny_dataset.func, labels=labels)


@pytest.mark.parametrize("chunks", ["i=5,j=7,k=4,t=1", {"i": 3, "t": 50}, (12, 8, 16, 100)])
def test_spatial_chunking(tiny_dataset, tmp_path, chunks):
    img = roidask.load_img(tiny_dataset.func, chunks=chunks)
    whole = roidask.load_img(tiny_dataset.func)
    assert img.data.npartitions > whole.data.npartitions
    np.testing.assert_array_equal(img[..., :60].values, whole[..., :60].values)
    store = tmp_path / "spatial.zarr"
    convert(tiny_dataset.func, store, chunks=chunks)
    stored = roidask.load_img(store)
    assert stored.chunks[:3] == img.chunks[:3]
    np.testing.assert_array_equal(stored.values, whole.values)


def test_default_chunks_follow_volume_layout(tiny_dataset):
    img = roidask.load_img(tiny_dataset.func)
    assert img.chunks[:3] == ((12,), (16,), (16,))
    huge = chunks.volume_layout((512, 512, 512, 10), "float32")
    assert max(huge[3]) == 1 and len(huge[0]) > 1


def test_bad_chunks_raise():
    with pytest.raises(roidask.ParameterError, match="chunks: expected"):
        chunks.parse_chunks("i=big", 4)
    with pytest.raises(roidask.ParameterError, match="chunks: expected"):
        chunks.parse_chunks({"x": 3}, 4)


def test_gzip_is_staged_once_and_reads_equal(tiny_dataset, tmp_path, monkeypatch):
    from roidask.io import nifti_read, staging

    monkeypatch.setenv("ROIDASK_STAGING_DIR", str(tmp_path))
    nifti_read.OPEN_FILES.clear()
    expected = nib.load(tiny_dataset.func).get_fdata()
    img = roidask.load_img(tiny_dataset.func, chunks="t=50")
    np.testing.assert_array_equal(img.values, expected)
    staged = list(staging.staging_dir().glob("*.nii"))
    assert len(staged) == 1 and staged[0].stat().st_size > 0
    monkeypatch.setenv("ROIDASK_STAGING", "0")
    nifti_read.OPEN_FILES.clear()
    np.testing.assert_array_equal(roidask.load_img(tiny_dataset.func).values, expected)


def test_runs_concatenate_along_t_and_different_grids_do_not():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    run = roidask.new_image(RNG.standard_normal((3, 4, 5, 6)), affine).chunk({"t": 3})
    both = xr.concat([run, run + 1], dim="t")
    assert both.sizes["t"] == 12
    np.testing.assert_array_equal(both.nii.affine, affine)
    flipped = roidask.new_image(RNG.standard_normal((3, 4, 5, 6)), affine * [[-1], [1], [1], [1]])
    with pytest.raises(roidask.GridMismatchError):
        xr.concat([run, flipped], dim="t", join="outer")


def test_stale_staged_copies_make_room(tmp_path):
    import os

    from roidask.io.staging import evict_stale

    old, fresh = tmp_path / "old.nii", tmp_path / "fresh.nii"
    old.write_bytes(b"x" * 10)
    fresh.write_bytes(b"x" * 10)
    os.utime(old, (0, 0))
    evict_stale(tmp_path, needed=float("inf"))  # never enough room: evict all stale
    assert not old.exists() and fresh.exists()
