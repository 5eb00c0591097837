"""Bad input at the command line: one line naming the file, non-zero exit, nothing left."""

import subprocess

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from roidask.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output + result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def five_d(tmp_path):
    path = tmp_path / "five.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3, 2, 2), "int16"), np.eye(4)), path)
    return path


def test_missing_file(tmp_path):
    result = run("convert", tmp_path / "missing.nii.gz", tmp_path / "out.zarr")
    assert_one_line_error(result, "missing.nii.gz", "no such file")
    assert leftovers(tmp_path) == []


def test_truncated_gzip(tiny_dataset, tmp_path):
    data = tiny_dataset.func.read_bytes()
    bad = tmp_path / "truncated.nii.gz"
    bad.write_bytes(data[: len(data) // 2])
    result = run("convert", bad, tmp_path / "out.zarr")
    assert_one_line_error(result, "truncated.nii.gz", "truncated or corrupt")
    assert leftovers(tmp_path) == ["truncated.nii.gz"]


def test_corrupt_gzip_body_found_while_converting(tiny_dataset, tmp_path):
    data = bytearray(tiny_dataset.func.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = b"\x00" * 4096
    bad = tmp_path / "corrupt.nii.gz"
    bad.write_bytes(bytes(data))
    result = run("convert", bad, tmp_path / "out.zarr")
    assert_one_line_error(result, "corrupt.nii.gz")
    assert leftovers(tmp_path) == ["corrupt.nii.gz"]


def test_not_nifti(tmp_path):
    bad = tmp_path / "notes.nii"
    bad.write_text("these are not voxels\n" * 50)
    result = run("convert", bad, tmp_path / "out.zarr")
    assert_one_line_error(result, "notes.nii", "not a readable NIfTI")
    assert leftovers(tmp_path) == ["notes.nii"]


def test_five_d_image(five_d, tmp_path):
    result = run("convert", five_d, tmp_path / "out.zarr")
    assert_one_line_error(result, "five.nii.gz", "5 dimensions")
    assert leftovers(tmp_path) == ["five.nii.gz"]


def test_labels_row_count_mismatch(tiny_dataset, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("labels chunks\n" + "face 0\n" * 10)
    result = run("convert", tiny_dataset.func, tmp_path / "out.zarr", "--labels", labels)
    assert_one_line_error(result, "labels.txt", "10 rows", "242 volumes")
    assert leftovers(tmp_path) == ["labels.txt"]


def test_info_of_missing_store(tmp_path):
    assert_one_line_error(run("info", tmp_path / "none.zarr"), "none.zarr")


def test_real_process_prints_no_traceback(tmp_path):
    missing = tmp_path / "missing.nii"
    proc = subprocess.run(["roidask", "info", str(missing)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: {missing}: no such file; check the path"
