"""Hostile NIfTI headers through ``roidask info`` and ``roidask run``: one line naming the file.

Each damaged file is the tiny ``make-data`` func with one header field changed (bytes
patched in the decompressed stream, then compressed again, so the gzip stream is sound):
a size of 0 or less along an axis (a ``ZeroDivisionError`` or xarray's
``CoordinateValidationError`` before, or a grid mismatch blamed on ``mask_and``), and
affines that map no volume (voxel size 0, two axes along one direction: an
``OverflowError`` from smoothing, or a grid mismatch). Exit 1, nothing written.
"""

import gzip
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

CONFIGS = Path(__file__).parents[1] / "configs"

# NIfTI-1 header fields: dim[1..3] at 42/44/46, pixdim[1] at 80, qform_code 252,
# sform_code 254, srow_x/y/z at 280/296/312
DAMAGE = {
    "size 0 along i": ([("<h", 42, (0,))], "size of 0 or less along an axis"),
    "size -3 along j": ([("<h", 44, (-3,))], "size of 0 or less along an axis"),
    "voxel size 0": ([("<f", 80, (0.0,)), ("<h", 252, (0,)), ("<h", 254, (1,)),
                      ("<4f", 280, (0.0, 0.0, 0.0, 38.5))], "affine that maps no volume"),
    "two axes along one direction": ([("<h", 252, (0,)), ("<h", 254, (1,)),
                                      ("<4f", 280, (7.5, 7.5, 0.0, 0.0)),
                                      ("<4f", 296, (0.0, 0.0, 7.5, 0.0))],
                                     "affine that maps no volume"),
    "a NaN in the affine": ([("<h", 252, (0,)), ("<h", 254, (1,)),
                             ("<4f", 280, (float("nan"), 0.0, 0.0, 0.0))],
                            "affine that maps no volume"),
}


def roidask(*args):
    return subprocess.run(["roidask", *[str(a) for a in args]], capture_output=True, text=True)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-inputs") / "data"
    proc = roidask("make-data", folder, "--size", "tiny")
    assert proc.returncode == 0, proc.stderr
    return folder


@pytest.fixture(params=sorted(DAMAGE))
def damaged(request, data_dir, tmp_path):
    edits, fragment = DAMAGE[request.param]
    folder = tmp_path / "damaged"
    shutil.copytree(data_dir, folder)
    func = folder / "func.nii.gz"
    raw = bytearray(gzip.decompress(func.read_bytes()))
    for fmt, offset, values in edits:
        struct.pack_into(fmt, raw, offset, *values)
    func.write_bytes(gzip.compress(bytes(raw)))
    return folder, fragment


def assert_one_line_naming(proc, path, fragment):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    assert str(path) in lines[0] and fragment in lines[0], lines[0]


def test_info_names_the_damaged_header(damaged):
    folder, fragment = damaged
    assert_one_line_naming(roidask("info", folder / "func.nii.gz"), folder / "func.nii.gz",
                           fragment)


def test_run_names_the_damaged_header_and_writes_nothing(damaged, tmp_path):
    folder, fragment = damaged
    out = tmp_path / "out"
    proc = roidask("run", CONFIGS / "roi_extraction.yaml", "--inputs-dir", folder,
                   "--output", out, "--n-workers", "1")
    assert_one_line_naming(proc, folder / "func.nii.gz", fragment)
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))
