"""Stores roidask writes carry crc32c checksums and a record of their chunks; a read
of a corrupted or missing chunk fails naming the store and the chunk."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import zarr
from click.testing import CliRunner
from zarr.codecs import Crc32cCodec

import roidask
from roidask.cli import main
from roidask.grid import new_image

RNG = np.random.default_rng(15)


def random_image(shape=(6, 5, 4, 8), chunks=None):
    # incompressible values: blosc stores them as they are, so a flipped byte inside its
    # frame decodes without any complaint from blosc (only a checksum can tell)
    values = RNG.integers(-30000, 30000, size=shape).astype("int16")
    return new_image(values, np.diag([2.0, 2.0, 2.0, 1.0])).chunk(chunks or {"t": 2})


def image_array(store):
    group = zarr.open_group(store, mode="r")
    return group[group.attrs["roidask_image"]]


def chunk_file(store, coords):
    array = image_array(store)
    return store / array.path / array.metadata.encode_chunk_key(coords)


def flip_inside_frame(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10  # inside blosc's payload, before the 4 checksum bytes
    path.write_bytes(bytes(data))


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "img.zarr"
    roidask.io.to_zarr(random_image(), path)
    return path


def test_stores_carry_crc32c_as_the_last_bytes_codec(store):
    group = zarr.open_group(store, mode="r")
    for name in group.array_keys():  # the image and its coordinates
        codecs = group[name].metadata.codecs
        assert isinstance(codecs[-1], Crc32cCodec), (name, codecs)


def test_a_flipped_byte_inside_a_valid_frame_fails_naming_store_and_chunk(store):
    expected = roidask.load_img(store).values
    path = chunk_file(store, (0, 0, 0, 2))
    flip_inside_frame(path)
    with pytest.raises(roidask.InputFileError) as caught:
        roidask.load_img(store).compute()
    message = str(caught.value)
    assert str(store) in message and "image/c/0/0/0/2" in message and "checksum" in message
    # the other chunks still read as written
    np.testing.assert_array_equal(roidask.load_img(store)[..., :4].values, expected[..., :4])


def test_a_missing_chunk_fails_naming_store_and_chunk(store):
    chunk_file(store, (0, 0, 0, 3)).unlink()
    with pytest.raises(roidask.InputFileError) as caught:
        roidask.load_img(store).sum().compute()
    message = str(caught.value)
    assert str(store) in message and "image/c/0/0/0/3" in message and "missing" in message


@pytest.mark.parametrize("chunks", ["t=3", "i=2,j=2,k=2,t=8", "t=-1"])
def test_reads_at_another_chunking_name_the_damaged_chunk(store, chunks):
    expected = roidask.load_img(store).values
    np.testing.assert_array_equal(roidask.load_img(store, chunks=chunks).values, expected)
    flip_inside_frame(chunk_file(store, (0, 0, 0, 1)))
    with pytest.raises(roidask.InputFileError, match=r"image/c/0/0/0/1\b"):
        roidask.load_img(store, chunks=chunks).compute()


def test_chunks_holding_only_the_fill_value_are_no_false_alarm(tmp_path):
    values = np.zeros((4, 4, 4, 6), "float32")
    values[..., 4:] = 1.5  # chunks t=0..3 hold only zeros, zarr's fill value
    path = tmp_path / "sparse.zarr"
    roidask.io.to_zarr(new_image(values, np.eye(4)).chunk({"t": 2}), path)
    np.testing.assert_array_equal(roidask.load_img(path).values, values)
    chunk_file(path, (0, 0, 0, 2)).unlink()
    with pytest.raises(roidask.InputFileError, match="missing"):
        roidask.load_img(path).compute()


def test_the_record_lists_the_chunks_written(store):
    record = json.loads((store / "roidask-chunks.json").read_text())
    array = image_array(store)
    assert record["arrays"][array.path]["grid"] == list(array.cdata_shape)


def test_a_coordinate_chunk_damaged_fails_on_open(tmp_path):
    img = random_image().assign_coords(condition=("t", np.array(list("abcdefgh"))))
    path = tmp_path / "coords.zarr"
    roidask.io.to_zarr(img, path)
    (path / "condition" / "c" / "0").unlink()
    with pytest.raises(roidask.InputFileError, match=r"condition/c/0\b.*missing"):
        roidask.load_img(path)


def test_stores_written_by_others_keep_reading_as_before(tmp_path):
    values = RNG.standard_normal((4, 4, 4, 6)).astype("float32")
    path = tmp_path / "plain.zarr"
    img = new_image(values, np.eye(4)).chunk({"t": 2})
    img.to_dataset(name="image").to_zarr(path, zarr_format=3, consolidated=True)  # xarray's own
    assert not (path / "roidask-chunks.json").exists()
    np.testing.assert_array_equal(roidask.load_img(path).values, values)
    (path / "image" / "c" / "0" / "0" / "0" / "1").unlink()
    read = roidask.load_img(path).values  # no record: a missing chunk is zarr's fill value
    assert np.isnan(read[..., 2:4]).all() or (read[..., 2:4] == 0).all()


def test_converted_and_materialised_stores_carry_the_record(tiny_dataset, tmp_path):
    converted = tmp_path / "func.zarr"
    result = CliRunner().invoke(main, ["convert", str(tiny_dataset.func), str(converted),
                                       "--chunks", "t=50"])
    assert result.exit_code == 0, result.output
    assert (converted / "roidask-chunks.json").exists()
    chunk_file(converted, (0, 0, 0, 1)).unlink()
    with pytest.raises(roidask.InputFileError, match=r"image/c/0/0/0/1\b"):
        roidask.load_img(converted).compute()


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture
def damaged_func(tiny_dataset, tmp_path):
    store = tmp_path / "func.zarr"
    assert CliRunner().invoke(main, ["convert", str(tiny_dataset.func), str(store),
                                         "--chunks", "t=50"]).exit_code == 0
    flip_inside_frame(chunk_file(store, (0, 0, 0, 1)))
    return store


def test_convert_of_a_damaged_store_is_one_line_exit_1(damaged_func, tmp_path):
    out = tmp_path / "out.nii.gz"
    result = CliRunner().invoke(main, ["convert", str(damaged_func), str(out)])
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.stderr)
    assert line.startswith("error: ") and str(damaged_func) in line and "image/c/0/0/0/1" in line
    assert "Traceback" not in result.output
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["func.zarr"]


def test_run_on_a_damaged_store_is_one_line_exit_1(damaged_func, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"name: integrity\ninputs:\n  func: {damaged_func}\n"
                      "steps:\n  - op: mean_img\n    img: $func\n"
                      "outputs:\n  mean: {from: $mean_img, path: mean.nii.gz}\n")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "roidask.cli", "run", str(config),
                             "--output", str(out)], capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    # one line on stderr: the failed task's worker log ("Compute Failed" and its
    # traceback) is not shown for an expected data error
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert str(damaged_func) in line and "image/c/0/0/0/1" in line and "checksum" in line
    assert "Traceback (most recent call last)" not in result.stdout + result.stderr
    assert not (out / "mean.nii.gz").exists()


def test_metadata_changed_after_writing_is_refused(store):
    for name in ("zarr.json", "space/zarr.json"):  # the consolidated copy and the array's
        path = store / name
        text = path.read_text()
        assert '"affine"' in text
        path.write_text(text.replace("2.0", "3.0", 1))
    with pytest.raises(roidask.InputFileError, match=r"metadata zarr.json .*differs"):
        roidask.load_img(store)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_undecodable_chunks_are_named_also_in_stores_of_others(tmp_path, damage):
    path = tmp_path / "plain.zarr"
    random_image().to_dataset(name="image").to_zarr(path, zarr_format=3)  # xarray's codecs
    chunk = path / "image" / "c" / "0" / "0" / "0" / "1"
    data = chunk.read_bytes()
    chunk.write_bytes(data[:len(data) // 3] if damage == "truncate" else b"\x07" * len(data))
    with pytest.raises(roidask.InputFileError, match=r"image/c/0/0/0/1 cannot be decoded"):
        roidask.load_img(path).compute()
