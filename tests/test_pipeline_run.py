"""Running pipelines: shipped configs, parity of the ROI workflow, reruns, kills, batches."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from nilearn.image import smooth_img
from scipy import ndimage, stats

from roidask.cli import main
from roidask.datasets import make_haxby_like

CONFIGS = Path(__file__).parents[1] / "configs"
# batch configs run over subject folders, BIDS configs over a BIDS dataset
# (tests/test_bids_pipeline.py runs those on make_fmriprep_like trees)
SHIPPED = sorted(p.name for p in CONFIGS.glob("*.yaml")
                 if "batch" not in p.name and not p.name.startswith("bids_"))
# an in-process worker counts the whole test process against its limit (and pauses
# at 80 % of it): keep the limit well above what a long pytest session holds
ONE_WORKER = ["--n-workers", "1", "--memory-limit", "6GB"]


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def data_dir(tiny_dataset):
    return tiny_dataset.func.parent


@pytest.mark.parametrize("config", SHIPPED)
def test_shipped_config_runs(config, data_dir, tmp_path):
    out = tmp_path / "out"
    result = run_cli("run", CONFIGS / config, "--inputs-dir", data_dir, "--output", out,
                     *ONE_WORKER)
    assert result.exit_code == 0, result.stderr
    record = json.loads((out / "provenance.json").read_text())
    for path in record["outputs"].values():
        assert Path(path).exists() and Path(path).stat().st_size > 0, path
    assert record["versions"]["roidask"]
    assert set(record["timings"]) == {"build_s", "compute_s", "write_s"}


def nilearn_roi_labels(data_dir):
    """The ROI workflow as nilearn's example does it, in memory."""
    func = nib.load(data_dir / "func.nii.gz")
    smoothed = smooth_img(func, fwhm=6).get_fdata()
    conditions = np.loadtxt(data_dir / "labels.txt", dtype=str, skiprows=1)[:, 0]
    _, p = stats.ttest_ind(smoothed[..., conditions == "face"],
                           smoothed[..., conditions == "house"], axis=-1)
    log_p = -np.log10(p)
    log_p[np.isnan(log_p)] = 0
    log_p[log_p > 10] = 10
    vt = nib.load(data_dir / "vt_mask.nii.gz").get_fdata() > 0
    mask = ndimage.binary_dilation((log_p >= 5) & vt)
    return ndimage.label(mask)[0], smoothed, conditions


def test_roi_workflow_equals_nilearn(data_dir, tmp_path):
    out = tmp_path / "out"
    result = run_cli("run", CONFIGS / "roi_extraction.yaml", "--inputs-dir", data_dir,
                     "--output", out, *ONE_WORKER)
    assert result.exit_code == 0, result.stderr
    expected, _, conditions = nilearn_roi_labels(data_dir)
    found = np.asarray(nib.load(out / "roi_labels.nii.gz").dataobj)
    assert expected.max() > 0
    np.testing.assert_array_equal(found, expected)
    table = pd.read_csv(out / "roi_signals.csv")
    np.testing.assert_array_equal(table["condition"], conditions)
    assert len([c for c in table.columns if c not in ("t", "time", "condition", "run")]) == \
        expected.max()


def test_rerun_skips_and_force_recomputes(data_dir, tmp_path):
    out = tmp_path / "out"
    args = ("run", CONFIGS / "atlas_signals.yaml", "--inputs-dir", data_dir, "--output", out,
            *ONE_WORKER)
    assert run_cli(*args).exit_code == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = run_cli(*args)
    assert again.exit_code == 0
    assert "up to date, skipped" in again.output
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    forced = run_cli(*args, "--force")
    assert forced.exit_code == 0 and "done" in forced.output
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert all(after[name] > before[name] for name in before)


def test_changed_config_recomputes(data_dir, tmp_path):
    config = tmp_path / "atlas.yaml"
    text = (CONFIGS / "atlas_signals.yaml").read_text()
    config.write_text(text)
    args = ("run", config, "--inputs-dir", data_dir, "--output", tmp_path / "out", *ONE_WORKER)
    assert run_cli(*args).exit_code == 0
    config.write_text(text.replace("strategy: mean", "strategy: median"))
    assert "atlas_signals: done" in run_cli(*args).output


@pytest.fixture
def subjects(tmp_path):
    root = tmp_path / "study"
    for subject in range(3):
        make_haxby_like(root / f"sub-0{subject + 1}", size="tiny", subject=subject)
    shutil.copy(CONFIGS / "roi_extraction_batch.yaml", root / "batch.yaml")
    return root


def test_batch_reports_failed_subject_and_writes_the_others(subjects, tmp_path):
    func = subjects / "sub-02" / "func.nii.gz"
    data = bytearray(func.read_bytes())
    data[len(data) // 2: len(data) // 2 + 8192] = b"\x17" * 8192  # corrupt inside the stream
    func.write_bytes(bytes(data))
    out = tmp_path / "out"
    result = run_cli("run", subjects / "batch.yaml", "--output", out, *ONE_WORKER)
    assert result.exit_code == 1
    assert "sub-02" in result.stderr and "Traceback" not in result.stderr
    for good in ("sub-01", "sub-03"):
        assert (out / good / "roi_labels.nii.gz").exists()
        assert (out / good / "provenance.json").exists()
    assert not (out / "sub-02" / "provenance.json").exists()
    assert not list((out / "sub-02").glob("*.nii.gz")) if (out / "sub-02").exists() else True


def test_killed_run_completes_on_rerun_with_clean_outputs(subjects, tmp_path):
    config = subjects / "batch.yaml"
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    command = ["roidask", "run", str(config), "--output", str(killed), *ONE_WORKER]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if list(killed.glob("sub-01/*.nii.gz")):  # outputs being written: kill now
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = [p for p in killed.glob("*/provenance.json")]
    assert len(finished) < 3, "the run finished before it could be killed"
    assert run_cli("run", config, "--output", killed, *ONE_WORKER).exit_code == 0
    assert run_cli("run", config, "--output", clean, *ONE_WORKER).exit_code == 0
    for path in clean.rglob("*"):
        if path.is_file() and path.name != "provenance.json":
            twin = killed / path.relative_to(clean)
            if path.suffix == ".gz":
                np.testing.assert_array_equal(np.asarray(nib.load(twin).dataobj),
                                              np.asarray(nib.load(path).dataobj))
            elif path.suffix == ".csv":
                pd.testing.assert_frame_equal(pd.read_csv(twin), pd.read_csv(path))
    leftovers = [p for p in killed.rglob(".*tmp-*")]
    for path in leftovers:  # an interrupted write leaves only hidden temporaries
        assert path.name.startswith(".")


def test_4d_outputs_stream_to_zarr_and_nifti(data_dir, tmp_path):
    config = tmp_path / "smooth.yaml"
    config.write_text(
        "inputs:\n  func: {path: func.nii.gz, labels: labels.txt}\n"
        "steps:\n  - {op: smooth_img, img: $func, fwhm: 6}\n"
        "  - {op: select_volumes, name: faces, img: $smooth_img, condition: face}\n"
        "outputs:\n  smoothed: {from: $smooth_img, path: smoothed.zarr}\n"
        "  faces: {from: $faces, path: faces.nii.gz}\n")
    out = tmp_path / "out"
    result = run_cli("run", config, "--inputs-dir", data_dir, "--output", out, *ONE_WORKER)
    assert result.exit_code == 0, result.stderr
    expected = smooth_img(nib.load(data_dir / "func.nii.gz"), fwhm=6).get_fdata()
    from roidask import load_img

    np.testing.assert_allclose(load_img(out / "smoothed.zarr").values, expected, rtol=1e-5,
                               atol=1e-3)
    faces = load_img(data_dir / "func.nii.gz", labels=data_dir / "labels.txt").condition == "face"
    np.testing.assert_allclose(nib.load(out / "faces.nii.gz").get_fdata(),
                               expected[..., faces.values], rtol=1e-5, atol=1e-3)
