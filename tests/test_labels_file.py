"""A per-volume labels file without its header line is named and refused, at the CLI."""

import shutil
import subprocess
from pathlib import Path

import pytest

CONFIGS = Path(__file__).parents[1] / "configs"
# an in-process worker counts the whole test process against its limit (and pauses
# at 80 % of it): keep the limit well above what a long pytest session holds
ONE_WORKER = ["--n-workers", "1", "--memory-limit", "6GB"]


def roidask(*args):
    return subprocess.run(["roidask", *[str(a) for a in args]], capture_output=True, text=True)


def assert_headerless_error(proc, labels):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    line = lines[0]
    assert str(labels) in line and "no header line" in line, line
    assert "'labels chunks'" in line  # the header expected
    assert "'rest 0'" in line  # what was found instead


@pytest.fixture
def study(tiny_dataset, tmp_path):
    root = tmp_path / "study"
    shutil.copytree(tiny_dataset.func.parent, root)
    return root


def drop_header(labels, extra_rows=0):
    """Remove the header line; ``extra_rows`` more volume rows make the row count match."""
    lines = labels.read_text().splitlines()[1:]
    lines += lines[-1:] * extra_rows
    labels.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("extra_rows", [0, 1], ids=["one_row_short", "row_count_matching"])
def test_run_names_a_labels_file_without_header(study, tmp_path, extra_rows):
    labels = study / "labels.txt"
    drop_header(labels, extra_rows)
    out = tmp_path / "out"
    proc = roidask("run", CONFIGS / "roi_extraction.yaml", "--inputs-dir", study,
                   "--output", out, *ONE_WORKER)
    assert_headerless_error(proc, labels)
    assert not list(out.rglob("*.nii.gz")) and not list(out.rglob("provenance.json"))


def test_convert_names_a_labels_file_without_header(study, tmp_path):
    labels = study / "labels.txt"
    drop_header(labels, extra_rows=1)
    proc = roidask("convert", study / "func.nii.gz", tmp_path / "func.zarr", "--labels", labels)
    assert_headerless_error(proc, labels)
    assert not (tmp_path / "func.zarr").exists()


def test_single_column_labels_without_header(study, tmp_path):
    labels = study / "labels.txt"
    conditions = [line.split()[0] for line in labels.read_text().splitlines()[1:]]
    labels.write_text("\n".join(conditions + conditions[-1:]) + "\n")
    proc = roidask("convert", study / "func.nii.gz", tmp_path / "func.zarr", "--labels", labels)
    assert proc.returncode == 1 and "no header line" in proc.stderr, proc.stderr
    assert str(labels) in proc.stderr and "'rest'" in proc.stderr


def test_labels_file_with_header_still_reads(study, tmp_path):
    proc = roidask("convert", study / "func.nii.gz", tmp_path / "func.zarr", "--labels",
                   study / "labels.txt")
    assert proc.returncode == 0, proc.stderr
    info = roidask("info", tmp_path / "func.zarr")
    assert "condition" in info.stdout and "run" in info.stdout
