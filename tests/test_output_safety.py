"""Outputs stay inside the output folder, never collide, and commit as a set.

Every test runs the real command line in a subprocess, as a user would.
"""

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pandas as pd
import pytest

CONFIGS = Path(__file__).parents[1] / "configs"
# an in-process worker counts the whole test process against its limit (and pauses
# at 80 % of it): keep the limit well above what a long pytest session holds
ONE_WORKER = ["--n-workers", "1", "--memory-limit", "6GB"]


def roidask(*args, env=None, cwd=None):
    return subprocess.run(["roidask", *[str(a) for a in args]], capture_output=True,
                          text=True, env=env, cwd=cwd)


def assert_config_error(proc, *fragments):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


@pytest.fixture(scope="module")
def data_dir(tiny_dataset):
    return tiny_dataset.func.parent


@pytest.fixture
def study(tmp_path, data_dir):
    """A folder three levels deep holding the tiny data, so '..' paths have room to escape."""
    root = tmp_path / "a" / "b" / "study"
    shutil.copytree(data_dir, root)
    return root


def atlas_config(study, **changes):
    """The shipped atlas_signals config with some outputs or the name changed."""
    text = (CONFIGS / "atlas_signals.yaml").read_text()
    for old, new in changes.items():
        text = text.replace(old, new)
    path = study / "config.yaml"
    path.write_text(text)
    return path


ESCAPES = {
    "dotdot_output": {"path: atlas_signals.tsv": "path: ../../x.tsv"},
    "dotdot_inside_then_out": {"path: atlas_signals.tsv": "path: sub/../../x.tsv"},
    "absolute_output": {"path: atlas_signals.tsv": "path: {tmp}/abs.tsv"},
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_output_path_leaving_the_output_folder_is_refused(case, study, tmp_path):
    changes = {old: new.format(tmp=tmp_path) for old, new in ESCAPES[case].items()}
    config = atlas_config(study, **changes)
    before = files_under(tmp_path)
    assert_config_error(roidask("validate", config), "outputs.signals_tsv.path",
                        "stays inside", "'..'")
    out = study / "out"
    assert_config_error(roidask("run", config, "--output", out, *ONE_WORKER),
                        "outputs.signals_tsv.path")
    assert files_under(tmp_path) == before  # nothing written, inside or outside


@pytest.mark.parametrize("name", ["../../../x", "/tmp/x", "..", "a/b"])
def test_config_name_that_is_not_a_plain_folder_name_is_refused(name, study, tmp_path):
    config = atlas_config(study, **{"\nname: atlas_signals": f"\nname: '{name}'"})
    before = files_under(tmp_path)
    assert_config_error(roidask("validate", config), "name:", "plain folder name")
    # without --output the run would write to roidask-output/<name>
    assert_config_error(roidask("run", config, *ONE_WORKER, cwd=study), "name:")
    assert files_under(tmp_path) == before


def test_subject_folder_named_dotdot_is_refused(study, tmp_path):
    config = atlas_config(study, **{"\nname: atlas_signals":
                                    "\nname: atlas\nsubjects: {list: [..]}"})
    assert_config_error(roidask("validate", config), "subjects.list[0]", "plain name")


def test_two_subjects_with_one_folder_name_are_refused(study, tmp_path):
    for group in ("x", "y"):
        shutil.copytree(study, tmp_path / group / "sub-01",
                        ignore=shutil.ignore_patterns("*.yaml"))
    config = atlas_config(study, **{
        "\nname: atlas_signals": f"\nname: atlas\nsubjects: {{list: [{tmp_path}/x/sub-01, "
                               f"{tmp_path}/y/sub-01]}}"})
    assert_config_error(roidask("validate", config), "subjects.list[1]", "same output sub-folder")


def test_duplicate_output_paths_are_refused(study, tmp_path):
    config = atlas_config(study, **{"path: atlas_signals.tsv": "path: atlas_signals.parquet"})
    assert_config_error(roidask("validate", config), "outputs.signals_tsv.path",
                        "outputs.signals.path is the same file")
    config = atlas_config(study, **{"path: atlas_signals.tsv": "path: ./atlas_signals.parquet"})
    assert_config_error(roidask("validate", config), "outputs.signals_tsv.path")


def test_output_inside_another_output_is_refused(data_dir, tmp_path):
    config = tmp_path / "smooth.yaml"
    config.write_text(
        "inputs:\n  func: {path: func.nii.gz, labels: labels.txt}\n"
        "steps:\n  - {op: mean_img, img: $func}\n"
        "outputs:\n  mean: {from: $mean_img, path: mean.zarr}\n"
        "  inner: {from: $mean_img, path: mean.zarr/x.nii.gz}\n")
    proc = roidask("validate", config, "--inputs-dir", data_dir)
    assert_config_error(proc, "outputs.inner.path", "outputs.mean.path")


def test_outputs_under_a_subfolder_stay_allowed(study):
    config = atlas_config(study, **{"path: atlas_signals.tsv": "path: tables/../tables/a.tsv"})
    proc = roidask("validate", config)
    assert proc.returncode == 0, proc.stderr


def test_output_through_a_link_leading_out_is_refused_at_run(study, tmp_path):
    config = atlas_config(study, **{"path: atlas_signals.tsv": "path: tables/a.tsv"})
    outside = tmp_path / "outside"
    outside.mkdir()
    out = study / "out"
    out.mkdir()
    (out / "tables").symlink_to(outside, target_is_directory=True)
    proc = roidask("run", config, "--output", out, *ONE_WORKER)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "resolves outside the output folder" in proc.stderr and "Traceback" not in proc.stderr
    assert list(outside.iterdir()) == []
    assert not (out / "provenance.json").exists()


# ---- outputs committed as a set ---------------------------------------------------------

TABLES = ("atlas_signals.tsv", "atlas_signals.parquet")


def tables(folder):
    return {name: (pd.read_csv(folder / name, sep="\t") if name.endswith(".tsv")
                   else pd.read_parquet(folder / name)) for name in TABLES}


def assert_same_tables(found, expected):
    for name in TABLES:
        pd.testing.assert_frame_equal(found[name], expected[name])


def leftovers(folder):
    return [p for p in Path(folder).rglob(".*") if "staging" in p.name or ".tmp-" in p.name]


@pytest.fixture
def two_configs(study):
    """The atlas config and a variant with other parameters (median instead of mean)."""
    original = atlas_config(study)
    other = study / "other.yaml"
    other.write_text(original.read_text().replace("strategy: mean", "strategy: median"))
    clean = study / "clean"
    assert roidask("run", original, "--output", clean, *ONE_WORKER).returncode == 0
    return original, other, tables(clean)


@pytest.mark.parametrize("change", ["rewritten", "removed", "truncated"])
def test_output_changed_after_the_run_is_redone(two_configs, study, change):
    original, _, expected = two_configs
    out = study / "out"
    assert roidask("run", original, "--output", out, *ONE_WORKER).returncode == 0
    tsv = out / "atlas_signals.tsv"
    if change == "rewritten":  # same columns, other numbers, as another run would write
        frame = pd.read_csv(tsv, sep="\t")
        frame.iloc[:, -1] = 0.0
        frame.to_csv(tsv, sep="\t", index=False)
    elif change == "removed":
        tsv.unlink()
    else:
        tsv.write_bytes(tsv.read_bytes()[:100])
    proc = roidask("run", original, "--output", out, *ONE_WORKER)
    assert proc.returncode == 0 and "atlas_signals: done" in proc.stdout, proc.stdout
    assert_same_tables(tables(out), expected)


FAULTS = ["outputs-staged", "output-replaced", "before-provenance"]


@pytest.mark.parametrize("fault", FAULTS)
def test_run_killed_while_replacing_outputs_leaves_no_stale_provenance(two_configs, study,
                                                                        fault):
    original, other, expected = two_configs
    out = study / "out"
    assert roidask("run", original, "--output", out, *ONE_WORKER).returncode == 0
    env = dict(os.environ, ROIDASK_FAULT=fault)
    killed = roidask("run", other, "--output", out, *ONE_WORKER, env=env)
    assert killed.returncode == -signal.SIGKILL, "the run was not stopped at " + fault
    if fault != "outputs-staged":  # the old outputs were being replaced: no provenance left
        assert not (out / "provenance.json").exists()
    proc = roidask("run", original, "--output", out, *ONE_WORKER)
    assert proc.returncode == 0, proc.stderr
    if fault == "outputs-staged":  # nothing was replaced yet: the earlier set is intact
        assert "atlas_signals: up to date, skipped" in proc.stdout
    else:
        assert "atlas_signals: done" in proc.stdout, proc.stdout
    assert_same_tables(tables(out), expected)
    again = roidask("run", original, "--output", out, *ONE_WORKER)
    assert "atlas_signals: up to date, skipped" in again.stdout
    assert leftovers(out) == []  # the killed run's staging folder is gone


def test_staging_left_by_a_killed_run_is_removed_by_the_next_run(two_configs, study):
    original, other, expected = two_configs
    out = study / "out"
    env = dict(os.environ, ROIDASK_FAULT="outputs-staged")
    assert roidask("run", original, "--output", out, *ONE_WORKER, env=env).returncode != 0
    assert leftovers(out), "the killed run staged nothing"
    assert not (out / "atlas_signals.tsv").exists()  # nothing staged is visible
    assert roidask("run", original, "--output", out, *ONE_WORKER).returncode == 0
    assert leftovers(out) == []
    assert_same_tables(tables(out), expected)
    record = json.loads((out / "provenance.json").read_text())
    assert sorted(record["output_files"]) == sorted([*TABLES, "atlas_report.html"])


@pytest.mark.parametrize("fault, how, code", [
    *[(fault, "SIGTERM", 128 + signal.SIGTERM) for fault in FAULTS],
    ("output-replaced", "SIGINT", 130),
])
def test_run_stopped_by_a_signal_cleans_up_and_says_so(two_configs, study, fault, how, code):
    """SIGTERM (a batch scheduler stopping the job) is handled like Ctrl-C: one line, the
    staging removed, no stale provenance, and the next run redoes what was not finished."""
    original, other, expected = two_configs
    out = study / "out"
    assert roidask("run", original, "--output", out, *ONE_WORKER).returncode == 0
    env = dict(os.environ, ROIDASK_FAULT=f"{fault}:{how}")
    stopped = roidask("run", other, "--output", out, *ONE_WORKER, env=env)
    assert stopped.returncode == code, stopped.stderr
    lines = stopped.stderr.strip().splitlines()
    assert lines == [f"error: {'terminated (SIGTERM)' if how == 'SIGTERM' else 'interrupted'};"
                     " no output was left half-written"], stopped.stderr
    assert leftovers(out) == []
    if fault != "outputs-staged":
        assert not (out / "provenance.json").exists()
    proc = roidask("run", original, "--output", out, *ONE_WORKER)
    assert proc.returncode == 0, proc.stderr
    assert_same_tables(tables(out), expected)
