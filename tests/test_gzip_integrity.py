"""A .nii.gz whose gzip checksum fails is refused on every read path, naming the file."""

import gzip
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

import roidask
from roidask.io.nifti_read import OPEN_FILES
from roidask.io.staging import staging_dir

SHAPE = (32, 32, 32, 96)  # 6 MiB of int16: past the first reads of the header
MESSAGE = "is corrupt: its gzip stream fails the integrity check"


def flip_deep_bit(data, fraction=0.8):
    """A copy of ``data`` with one bit flipped ``fraction`` of the way in."""
    data = bytearray(data)
    data[int(len(data) * fraction)] ^= 0x01
    return bytes(data)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good .nii.gz, the same with one voxel bit flipped (a stored-block gzip, so the
    stream still inflates to the full size: only the CRC-32 can tell), and the same
    for a deflate-compressed file whose flip happens to inflate to the full size."""
    folder = tmp_path_factory.mktemp("gz")
    values = np.random.default_rng(0).integers(0, 1000, SHAPE).astype("int16")
    nib.save(nib.Nifti1Image(values, np.eye(4)), folder / "plain.nii")
    plain = (folder / "plain.nii").read_bytes()
    stored = gzip.compress(plain, compresslevel=0)
    (folder / "good.nii.gz").write_bytes(stored)
    (folder / "bad.nii.gz").write_bytes(flip_deep_bit(stored))
    nib.save(nib.Nifti1Image(values, np.eye(4)), folder / "deflate.nii.gz")
    (folder / "bad_deflate.nii.gz").write_bytes(_flip_that_inflates(
        (folder / "deflate.nii.gz").read_bytes(), plain))
    return folder, values


def _flip_that_inflates(data, plain):
    import zlib

    for position in range(int(len(data) * 0.8), len(data) - 64, 101):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            inflater = zlib.decompressobj(-15)  # raw deflate: no checksum
            try:
                out = inflater.decompress(bytes(damaged[10:]))
            except zlib.error:
                continue
            if inflater.eof and len(out) == len(plain) and out != plain:
                return bytes(damaged)
    raise AssertionError("no bit flip inflates to the full size")  # pragma: no cover


@pytest.fixture
def staging(monkeypatch, tmp_path):
    def set_staging(on):
        monkeypatch.setenv("ROIDASK_STAGING", "1" if on else "0")
        monkeypatch.setenv("ROIDASK_STAGING_DIR", str(tmp_path))
        OPEN_FILES.clear()
        return staging_dir()

    yield set_staging
    OPEN_FILES.clear()


@pytest.mark.parametrize("name", ["bad.nii.gz", "bad_deflate.nii.gz"])
@pytest.mark.parametrize("staged", [False, True])
def test_load_img_compute_refuses_a_flipped_bit(files, staging, name, staged):
    folder, _ = files
    staging_dir = staging(staged)
    img = roidask.load_img(folder / name)  # the header is fine: opening reads nothing
    with pytest.raises(roidask.InputFileError, match=MESSAGE) as info:
        img.compute()
    assert name in str(info.value) and "re-copy or re-create" in str(info.value)
    assert not list(staging_dir.glob("*.nii*"))  # no staged copy of a damaged file


@pytest.mark.parametrize("staged", [False, True])
def test_good_file_reads_equal_on_both_paths(files, staging, staged):
    folder, values = files
    staging(staged)
    for name in ("good.nii.gz", "deflate.nii.gz"):
        img = roidask.load_img(folder / name, chunks="t=10")
        np.testing.assert_array_equal(img[..., 40:60].values, values[..., 40:60])


def test_a_file_damaged_after_it_was_read_is_checked_again(files, staging, tmp_path):
    folder, values = files
    staging(False)
    path = tmp_path / "changing.nii.gz"
    path.write_bytes((folder / "good.nii.gz").read_bytes())
    assert int(roidask.load_img(path)[1, 2, 3, 4].values) == values[1, 2, 3, 4]
    path.write_bytes((folder / "bad.nii.gz").read_bytes())
    os.utime(path, ns=(1, 1))  # a new modification time: another file to the reader
    with pytest.raises(roidask.InputFileError, match=MESSAGE):
        roidask.load_img(path)[1, 2, 3, 4].values.item()


def cli(*args, staging="0", cwd=None):
    env = dict(os.environ, ROIDASK_STAGING=staging)
    return subprocess.run([sys.executable, "-m", "roidask.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd)


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize("staging_flag", ["0", "1"])
def test_run_fails_on_a_flipped_bit_and_writes_nothing(files, tmp_path, staging_flag):
    folder, _ = files
    config = tmp_path / "config.yaml"
    config.write_text(f"name: integrity\ninputs:\n  func: {folder / 'bad.nii.gz'}\n"
                      "steps:\n  - op: mean_img\n    img: $func\n"
                      "outputs:\n  mean: {from: $mean_img, path: mean.nii.gz}\n")
    out = tmp_path / "out"
    env_dir = tmp_path / "staging"
    result = subprocess.run(
        [sys.executable, "-m", "roidask.cli", "run", str(config), "--output", str(out)],
        capture_output=True, text=True,
        env=dict(os.environ, ROIDASK_STAGING=staging_flag, ROIDASK_STAGING_DIR=str(env_dir)))
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = error_lines(result)
    assert "bad.nii.gz" in line and MESSAGE in line
    assert not (out / "mean.nii.gz").exists()


def test_convert_fails_on_a_flipped_bit(files, tmp_path):
    folder, _ = files
    result = cli("convert", folder / "bad_deflate.nii.gz", tmp_path / "out.zarr")
    assert result.returncode == 1
    [line] = error_lines(result)
    assert "bad_deflate.nii.gz" in line and "corrupt" in line
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.zarr").exists()


def test_info_names_a_damaged_header_stream_as_corrupt(tmp_path):
    """A flip early in a small file breaks reading the header: say corrupt, not 'file type'."""
    path = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(np.arange(2400, dtype="int16").reshape(10, 12, 20), np.eye(4)),
             path)
    path.write_bytes(flip_deep_bit(path.read_bytes(), 0.5))
    result = cli("info", path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == error_lines(result)
    [line] = error_lines(result)
    assert "small.nii.gz" in line and MESSAGE in line
    assert "Cannot work out file type" not in line
