"""A BIDS (fMRIPrep derivatives) study in, BIDS derivatives out, through the CLI.

Every tree is written by :func:`roidask.bids.synthetic.make_fmriprep_like`
(fMRIPrep 23 names, confounds with motion spikes so scrubbing removes
volumes, events in a raw dataset beside it); the signals are compared with
nilearn's ``NiftiLabelsMasker`` and ``load_confounds_strategy`` on the same files.
"""

import collections
import contextlib
import json
import shutil
from pathlib import Path

import distributed
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from roidask.bids.synthetic import make_fmriprep_like
from roidask.cli import main
from roidask.io.nifti_read import NiftiArray
from roidask.pipeline.config import load_config
from roidask.pipeline.runner import run_pipeline

CONFIGS = Path(__file__).parents[1] / "configs"
CONFIG = CONFIGS / "bids_atlas_signals.yaml"
ONE_WORKER = ["--n-workers", "1", "--memory-limit", "6GB"]
TAIL = "seg-synth_desc-denoised_timeseries"


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two subjects, two runs each, 120 volumes (more than the scrubbing confounds)."""
    top = tmp_path_factory.mktemp("study")
    return make_fmriprep_like(top, subjects=2, runs=2, n_volumes=120, shape=(10, 12, 8))


def bolds(deriv):
    return sorted(Path(deriv).rglob("*_desc-preproc_bold.nii.gz"))


def output_of(out, bold, tail=TAIL, ext=".tsv"):
    stem = bold.name.replace("_desc-preproc_bold.nii.gz", "")
    dataset = next(p for p in bold.parents if p.name.startswith("sub-")).parent
    return out / bold.parent.relative_to(dataset) / f"{stem}_{tail}{ext}"


def in_float64(bold):
    """The run as float64: nilearn's float32 path rounds region means near 900 with a
    temporal sd near 1 by ~3e-4 in the z-scores; its float64 result is the reference."""
    img = nib.load(bold)
    return nib.Nifti1Image(img.get_fdata(), img.affine, img.header)


# the criterion; the reference is nilearn on a float64 copy of the data (roidask
# cleans the float64 region means and rounds once; nilearn's own float32 arithmetic is
# 2.9e-4 away from its float64 result on these data)
ATOL = 1e-5


def nilearn_signals(bold, atlas=CONFIGS / "atlas-synth_dseg.nii.gz"):
    from nilearn.interfaces.fmriprep import load_confounds_strategy
    from nilearn.maskers import NiftiLabelsMasker

    mask = str(bold).replace("desc-preproc_bold", "desc-brain_mask")
    confounds, sample_mask = load_confounds_strategy(str(bold), denoise_strategy="scrubbing")
    masker = NiftiLabelsMasker(str(atlas), mask_img=mask, standardize="zscore_sample")
    return masker.fit_transform(in_float64(bold), confounds=confounds,
                                sample_mask=sample_mask), sample_mask


def test_shipped_bids_config_equals_nilearn_scrubbing(study, tmp_path):
    out = tmp_path / "out"
    result = run_cli("run", CONFIG, "--inputs-dir", study, "--output", out, *ONE_WORKER)
    assert result.exit_code == 0, result.output
    lut = pd.read_csv(CONFIGS / "atlas-synth_dseg.tsv", sep="\t")
    group = pd.read_parquet(out / "group" / f"{TAIL}.parquet")
    assert len(bolds(study)) == 4
    for bold in bolds(study):
        path = output_of(out, bold)
        table = pd.read_csv(path, sep="\t")
        expected, sample_mask = nilearn_signals(bold)
        assert 0 < len(sample_mask) < 120  # scrubbing removed volumes
        # one row per kept volume, one column per region, named by the look-up table
        assert table.shape == expected.shape
        assert list(table.columns) == lut["name"].tolist()
        np.testing.assert_allclose(table.to_numpy(), expected, atol=ATOL)
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert f"bids:source:{bold.relative_to(study).as_posix()}" in sidecar["Sources"]
        assert (CONFIGS / "atlas-synth_dseg.nii.gz").resolve().as_uri() in sidecar["Sources"]
        events = [s for s in sidecar["Sources"] if s.endswith("_events.tsv")]
        assert len(events) == 1 and events[0].startswith("bids:raw:sub-")
        assert sidecar["Parameters"]["confounds"] == {"denoise_strategy": "scrubbing"}
        assert sidecar["GeneratedBy"][0]["Name"] == "roidask"
        sub, run = path.name.split("_")[0][4:], int(path.name.split("_run-")[1][0])
        rows = group[(group["sub"] == sub) & (group["run"] == str(run))]
        np.testing.assert_array_equal(rows["t"], sample_mask)
        np.testing.assert_allclose(rows[lut["name"]].to_numpy(), table.to_numpy())
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Name"] == "roidask"
    assert description["DatasetLinks"]["source"] == study.resolve().as_uri()


def write_config(tmp_path, raw, name="config.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def shipped(**bids):
    raw = yaml.safe_load(CONFIG.read_text())
    raw["inputs"]["func"]["bids"].update(bids)
    for name in ("atlas", "atlas_labels"):
        raw["inputs"][name] = str(CONFIGS / raw["inputs"][name])
    return raw


@pytest.mark.parametrize("change, message", [
    ({"task": 5}, "inputs.func.bids.task: expected a BIDS label"),
    ({"task": "nback"}, "inputs.func.bids.task: expected values found in"),
    ({"run": 3}, "inputs.func.bids.run: expected values found in"),
    ({"subjects": "some"}, "inputs.func.bids.subjects: expected 'all' or a non-empty list"),
    ({"subjects": ["01", "07"]}, "inputs.func.bids.subjects: expected values found in"),
    ({"subjects": [1]}, "inputs.func.bids.subjects[0]: expected a subject label as a string"),
    ({"sesion": "1"}, "inputs.func.bids.sesion: expected one of root, raw"),
    ({"root": "nowhere"}, "inputs.func.bids.root: expected a BIDS dataset folder"),
    ({"confounds": "harsh"}, "confounds.denoise_strategy: expected one of simple"),
    ({"confounds": {"strategy": ["motion"], "motion": "all"}},
     "confounds.motion: expected one of basic"),
    ({"confounds": {"denoise_strategy": "simple", "fd_threshold": 0.2}},
     "confounds.fd_threshold: expected an option of the 'simple' preset"),
])
def test_validate_refuses_bad_filters_naming_the_key(study, tmp_path, change, message):
    change = dict(change)
    confounds = change.pop("confounds", None)
    raw = shipped(**change)
    if confounds is not None:
        raw["confounds"] = confounds
    result = run_cli("validate", write_config(tmp_path, raw), "--inputs-dir", study)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_validate_counts_the_matched_runs(study, tmp_path):
    config = write_config(tmp_path, shipped(subjects=["02"], run=[1]))
    result = run_cli("validate", config, "--inputs-dir", study)
    assert result.exit_code == 0, result.output
    assert "1 BIDS run(s)" in result.output


def test_info_lists_the_runs_a_config_matches(study, tmp_path):
    result = run_cli("info", study)
    assert result.exit_code == 0, result.output
    assert "4 run(s)" in result.output
    assert "sub-02 task-rest run-2 space-MNI152NLin2009cAsym  mask: yes, confounds: yes, " \
        "events: yes, sidecar: yes" in result.output
    config = write_config(tmp_path, shipped(subjects=["01"], run=2))
    result = run_cli("info", study, "--config", config)
    assert result.exit_code == 0, result.output
    assert "1 run(s)" in result.output and "sub-01_task-rest_run-2_space" in result.output


def ttest_config(raw_root):
    return {
        "name": "face_house",
        "inputs": {"func": {"bids": {"task": "rest", "raw": raw_root}}},
        "steps": [{"op": "ttest_ind", "name": "ttest", "img": "$func",
                   "condition_a": "face", "condition_b": "house"},
                  {"op": "binarize_img", "name": "significant", "img": "$ttest.neg_log10_p",
                   "threshold": 1, "two_sided": False}],
        "outputs": {"p": {"from": "$ttest.neg_log10_p", "path": "desc-facehouse_statmap.nii.gz"},
                    "mask": {"from": "$significant", "path": "desc-significant_mask.nii.gz"}},
    }


def test_events_give_the_conditions_of_a_ttest(study, tmp_path):
    out = tmp_path / "out"
    config = write_config(tmp_path, ttest_config("../../raw"))
    result = run_cli("run", config, "--inputs-dir", study, "--output", out, *ONE_WORKER)
    assert result.exit_code == 0, result.output
    for bold in bolds(study):
        events_file = Path(str(bold).replace("derivatives/fmriprep", "raw").replace(
            "_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz", "_events.tsv"))
        events = pd.read_csv(events_file, sep="\t")
        t_r = json.loads(Path(str(bold).replace(".nii.gz", ".json")).read_text())[
            "RepetitionTime"]
        data = nib.load(bold).get_fdata()
        times = np.arange(data.shape[-1]) * t_r
        condition = np.full(times.size, "n/a", dtype=object)
        for onset, duration, trial in events[["onset", "duration", "trial_type"]].to_numpy():
            condition[(times >= onset) & (times < onset + duration)] = trial
        _, p = stats.ttest_ind(data[..., condition == "face"], data[..., condition == "house"],
                               axis=-1)
        expected = np.clip(np.nan_to_num(-np.log10(p)), 0, 10)
        found = nib.load(output_of(out, bold, "desc-facehouse_statmap", ".nii.gz")).get_fdata()
        np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5)
        mask = output_of(out, bold, "desc-significant_mask", ".nii.gz")
        assert mask.exists() and mask.with_name(mask.name.replace(".nii.gz", ".json")).exists()


def test_group_table_grows_and_other_parameters_are_not_overwritten(tmp_path):
    top = tmp_path / "grow"
    deriv = make_fmriprep_like(top, subjects=2, n_volumes=60, shape=(6, 6, 5))
    out = tmp_path / "out"
    config = write_config(tmp_path, shipped())
    assert run_cli("run", config, "--inputs-dir", deriv, "--output", out,
                   *ONE_WORKER).exit_code == 0
    group = out / "group" / f"{TAIL}.parquet"
    assert sorted(pd.read_parquet(group)["sub"].unique()) == ["01", "02"]
    make_fmriprep_like(top, subjects=["03"], n_volumes=60, shape=(6, 6, 5), seed=3)
    result = run_cli("run", config, "--inputs-dir", deriv, "--output", out, *ONE_WORKER)
    assert result.exit_code == 0, result.output
    assert result.output.count("up to date, skipped") == 2
    assert "sub-03_task-rest_space-MNI152NLin2009cAsym: done" in result.output
    assert sorted(pd.read_parquet(group)["sub"].unique()) == ["01", "02", "03"]
    # the same outputs with other parameters: refused, nothing replaced
    before = {p: p.read_bytes() for p in out.rglob("*.tsv")}
    raw = shipped()
    raw["confounds"] = {"denoise_strategy": "simple"}
    other = write_config(tmp_path, raw, "other.yaml")
    result = run_cli("run", other, "--inputs-dir", deriv, "--output", out, *ONE_WORKER)
    assert result.exit_code == 1
    assert result.stderr.count("not replaced silently") == 3, result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*.tsv")} == before
    result = run_cli("run", other, "--inputs-dir", deriv, "--output", out, "--force",
                     *ONE_WORKER)
    assert result.exit_code == 0, result.output
    assert {p: p.read_bytes() for p in out.rglob("*.tsv")} != before


def test_explicit_load_confounds_arguments_equal_nilearn(study, tmp_path):
    from nilearn.interfaces.fmriprep import load_confounds
    from nilearn.maskers import NiftiLabelsMasker

    raw = shipped(subjects=["01"], run=1)
    raw["confounds"] = {"strategy": ["motion", "high_pass", "scrub"], "motion": "basic",
                        "fd_threshold": 0.3, "scrub": 0}
    out = tmp_path / "out"
    result = run_cli("run", write_config(tmp_path, raw), "--inputs-dir", study, "--output", out,
                     *ONE_WORKER)
    assert result.exit_code == 0, result.output
    (bold,) = [b for b in bolds(study) if b.name.startswith("sub-01_task-rest_run-1")]
    confounds, sample_mask = load_confounds(str(bold), strategy=("motion", "high_pass", "scrub"),
                                            motion="basic", fd_threshold=0.3, scrub=0)
    mask = str(bold).replace("desc-preproc_bold", "desc-brain_mask")
    expected = NiftiLabelsMasker(str(CONFIGS / "atlas-synth_dseg.nii.gz"), mask_img=mask,
                                 standardize="zscore_sample").fit_transform(
        in_float64(bold), confounds=confounds, sample_mask=sample_mask)
    table = pd.read_csv(output_of(out, bold), sep="\t")
    assert table.shape == expected.shape and len(sample_mask) < 120
    np.testing.assert_allclose(table.to_numpy(), expected, atol=ATOL)


@contextlib.contextmanager
def in_process_client():
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as client:
        yield client


def test_bids_batch_is_one_computation_reading_each_volume_once(study, tmp_path, monkeypatch):
    reads, calls = collections.Counter(), collections.Counter()
    read, compute = NiftiArray.__getitem__, distributed.Client.compute

    def counting_read(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if Path(self.path).name.endswith("desc-preproc_bold.nii.gz"):
            reads.update((Path(self.path).name, v) for v in
                         range(*key[-1].indices(self.shape[-1])))
        return read(self, key)

    def counting_compute(self, *args, **kwargs):
        calls["compute"] += 1
        return compute(self, *args, **kwargs)

    monkeypatch.setattr(NiftiArray, "__getitem__", counting_read)
    monkeypatch.setattr(distributed.Client, "compute", counting_compute)
    raw = shipped()
    raw["inputs"]["func"]["chunks"] = {"t": 50}  # several chunks per run
    config = load_config(write_config(tmp_path, raw), inputs_dir=study)
    summary = run_pipeline(config, tmp_path / "out", in_process_client, show_progress=False)
    assert summary.failed == {} and len(summary.done) == 4
    assert calls["compute"] == 1
    assert len(reads) == 4 * 120 and max(reads.values()) == 1


def test_a_run_with_bad_events_fails_alone(tmp_path):
    top = tmp_path / "bad"
    deriv = make_fmriprep_like(top, subjects=2, n_volumes=40, shape=(6, 6, 5))
    events = sorted((top / "raw").rglob("sub-02*_events.tsv"))[0]
    events.write_text("onset\tduration\n0\t10\n")
    out = tmp_path / "out"
    config = write_config(tmp_path, ttest_config("../../raw"))
    result = run_cli("run", config, "--inputs-dir", deriv, "--output", out, *ONE_WORKER)
    assert result.exit_code == 1
    assert "sub-01_task-rest_space-MNI152NLin2009cAsym: done" in result.output
    assert f"{events}: has no column trial_type" in result.stderr
    shutil.rmtree(out)


def test_readme_bids_commands(tmp_path):
    import re
    import subprocess

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Process a BIDS study", 1)[1]
    (script,) = re.findall(r"```bash\n(.*?)```", section.split("\n## ", 1)[0], flags=re.S)
    (tmp_path / "configs").symlink_to(CONFIGS)
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "4 run(s)" in proc.stdout and "events: yes" in proc.stdout
    out = tmp_path / "study" / "derivatives" / "roidask"
    assert len(list(out.rglob(f"sub-*_{TAIL}.tsv"))) == 4
    assert pd.read_parquet(out / "group" / f"{TAIL}.parquet")["sub"].nunique() == 4


def derivative_files(out):
    """The files of a BIDS derivatives output, without the run records (timings, paths)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.endswith("_provenance.json")
            and p.suffix != ".parquet"}


def test_interrupted_bids_run_rerun_equals_an_uninterrupted_one(tmp_path):
    import os
    import signal
    import subprocess

    deriv = make_fmriprep_like(tmp_path / "s", subjects=2, n_volumes=60, shape=(6, 6, 5))
    config = write_config(tmp_path, shipped())

    def roidask(out, **env):
        return subprocess.run(["roidask", "run", str(config), "--inputs-dir", str(deriv),
                               "--output", str(out), *ONE_WORKER], capture_output=True,
                              text=True, env=dict(os.environ, **env))

    assert roidask(tmp_path / "whole").returncode == 0
    killed = roidask(tmp_path / "out", ROIDASK_FAULT="output-replaced")
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "out" / "dataset_description.json").exists()
    again = roidask(tmp_path / "out")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count(": done") == 2, again.stdout
    whole, out = derivative_files(tmp_path / "whole"), derivative_files(tmp_path / "out")
    assert sorted(out) == sorted(whole) and out == whole
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "out" / "group" / f"{TAIL}.parquet"),
        pd.read_parquet(tmp_path / "whole" / "group" / f"{TAIL}.parquet"))


def test_a_run_without_its_brain_mask_fails_alone(tmp_path):
    deriv = make_fmriprep_like(tmp_path / "s", subjects=2, n_volumes=60, shape=(6, 6, 5))
    (mask,) = deriv.rglob("sub-02*_desc-brain_mask.nii.gz")
    mask.unlink()
    out = tmp_path / "out"
    result = run_cli("run", write_config(tmp_path, shipped()), "--inputs-dir", deriv,
                     "--output", out, *ONE_WORKER)
    assert result.exit_code == 1
    assert "sub-01_task-rest_space-MNI152NLin2009cAsym: done" in result.output
    assert "has no brain mask (..._desc-brain_mask.nii.gz) beside it" in result.stderr
    assert pd.read_parquet(out / "group" / f"{TAIL}.parquet")["sub"].unique().tolist() == ["01"]


def test_rerun_says_what_is_new_changed_and_up_to_date_and_dry_run_computes_nothing(tmp_path):
    top = tmp_path / "s"
    deriv = make_fmriprep_like(top, subjects=3, n_volumes=60, shape=(6, 6, 5))
    config, out = write_config(tmp_path, shipped()), tmp_path / "out"
    first = run_cli("run", config, "--inputs-dir", deriv, "--output", out, *ONE_WORKER)
    assert first.exit_code == 0 and "3 new, 0 changed, 0 up to date" in first.output
    make_fmriprep_like(top, subjects=["04"], n_volumes=60, shape=(6, 6, 5), seed=4)
    (confounds,) = deriv.rglob("sub-02_*_desc-confounds_timeseries.tsv")
    table = pd.read_csv(confounds, sep="\t")
    table["framewise_displacement"] = table["framewise_displacement"] * 1.5  # more scrubbed
    table.to_csv(confounds, sep="\t", index=False, na_rep="n/a")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    dry = run_cli("run", config, "--inputs-dir", deriv, "--output", out, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "sub-02_task-rest_space-MNI152NLin2009cAsym: would be redone" in dry.output
    assert "sub-04_task-rest_space-MNI152NLin2009cAsym: would be done" in dry.output
    assert "dry run: 1 new, 1 changed, 2 up to date; nothing computed" in dry.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    again = run_cli("run", config, "--inputs-dir", deriv, "--output", out, *ONE_WORKER)
    assert again.exit_code == 0 and "1 new, 1 changed, 2 up to date" in again.output
    (bold,) = [b for b in bolds(deriv) if b.name.startswith("sub-02")]
    expected, sample_mask = nilearn_signals(bold)
    np.testing.assert_allclose(pd.read_csv(output_of(out, bold), sep="\t"), expected,
                               atol=ATOL)
    assert pd.read_parquet(out / "group" / f"{TAIL}.parquet")["sub"].nunique() == 4


def test_input_option_replaces_the_atlas_and_the_dataset(study, tmp_path, monkeypatch):
    # a two-region atlas on the runs' own grid, named by its own look-up table
    reference = nib.load(bolds(study)[0])
    labels = np.zeros(reference.shape[:3], np.int16)
    labels[:5], labels[5:] = 3, 9
    nib.save(nib.Nifti1Image(labels, reference.affine), tmp_path / "mine_dseg.nii.gz")
    pd.DataFrame({"index": [3, 9], "name": ["front", "back"]}).to_csv(
        tmp_path / "mine_dseg.tsv", sep="\t", index=False)
    monkeypatch.chdir(tmp_path)  # --input paths are relative to where the command runs
    out = tmp_path / "out"
    result = run_cli("run", CONFIG, "--input", f"func={study}", "--input",
                     "atlas=mine_dseg.nii.gz", "--input", "atlas_labels=mine_dseg.tsv",
                     "--output", out, *ONE_WORKER)
    assert result.exit_code == 0, result.output
    assert "0 new" not in result.output and "4 new, 0 changed" in result.output
    for bold in bolds(study):
        table = pd.read_csv(output_of(out, bold), sep="\t")
        assert list(table.columns) == ["front", "back"]
        expected, _ = nilearn_signals(bold, atlas=tmp_path / "mine_dseg.nii.gz")
        np.testing.assert_allclose(table.to_numpy(), expected, atol=ATOL)
    bad = run_cli("validate", CONFIG, "--input", "atlas")
    assert bad.exit_code == 2
    assert bad.stderr == "error: --input: expected NAME=PATH (e.g. atlas=atlas.nii.gz), got " \
        "'atlas'\n"


def test_input_option_runs_a_config_on_a_converted_zarr_store(tiny_dataset, tmp_path):
    data = tiny_dataset.func.parent
    store = tmp_path / "func.zarr"
    assert run_cli("convert", data / "func.nii.gz", store, "--labels",
                   data / "labels.txt").exit_code == 0
    config = CONFIGS / "atlas_signals.yaml"
    nifti = run_cli("run", config, "--inputs-dir", data, "--output", tmp_path / "nifti",
                    *ONE_WORKER)
    zarr = run_cli("run", config, "--inputs-dir", data, "--input", f"func={store}",
                   "--output", tmp_path / "zarr", *ONE_WORKER)
    assert nifti.exit_code == 0 and zarr.exit_code == 0, zarr.output
    record = json.loads((tmp_path / "zarr" / "provenance.json").read_text())
    assert record["resolved"]["inputs"]["func"] == {"path": str(store)}
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "zarr" / "atlas_signals.tsv", sep="\t"),
                                  pd.read_csv(tmp_path / "nifti" / "atlas_signals.tsv",
                                              sep="\t"))


def test_eight_subject_study_with_sessions_and_runs_equals_nilearn_per_run(tmp_path):
    """The issue's acceptance run: 8 subjects, two of them with two sessions, two with
    two runs, through the shipped config, each run's signals against nilearn's."""
    top = tmp_path / "study"
    kwargs = dict(n_volumes=100, shape=(8, 10, 6))
    make_fmriprep_like(top, subjects=["01", "02", "03", "04"], seed=1, **kwargs)
    make_fmriprep_like(top, subjects=["05", "06"], sessions=["1", "2"], seed=2, **kwargs)
    deriv = make_fmriprep_like(top, subjects=["07", "08"], runs=2, seed=3, **kwargs)
    out = tmp_path / "out"
    result = run_cli("run", CONFIG, "--inputs-dir", deriv, "--output", out, *ONE_WORKER)
    assert result.exit_code == 0, result.output
    assert "12 new, 0 changed, 0 up to date" in result.output
    for bold in bolds(deriv):
        expected, _ = nilearn_signals(bold)
        table = pd.read_csv(output_of(out, bold), sep="\t")
        np.testing.assert_allclose(table.to_numpy(), expected, atol=ATOL)
    assert (out / "sub-05" / "ses-2" / "func").is_dir()
    group = pd.read_parquet(out / "group" / f"{TAIL}.parquet")
    runs = group[["sub", "ses", "run"]].drop_duplicates()
    assert len(runs) == 12 and sorted(group["sub"].unique()) == [f"0{i}" for i in range(1, 9)]


@pytest.mark.parametrize("edit, message", [
    (lambda raw: raw.update(subjects={"glob": "sub-*"}),
     "subjects: expected no subjects key with a BIDS input"),
    (lambda raw: raw["inputs"].update(other={"bids": {}}),
     "inputs.other.bids: expected one BIDS input per config"),
    (lambda raw: raw["inputs"].update(func_mask="mask.nii.gz"),
     "inputs.func_mask: expected a name other than func_mask"),
    (lambda raw: raw["outputs"]["timeseries"].update(path="func/x_timeseries.tsv"),
     "outputs.timeseries.path: expected a BIDS file name tail"),
    (lambda raw: raw["outputs"]["timeseries"].update(path="desc_timeseries.tsv"),
     "outputs.timeseries.path: expected entities as key-label pairs"),
    (lambda raw: raw["steps"][0].update(confounds="$atlas"),
     "steps[0].confounds: expected null or a reference ($name) to a confounds"),
    (lambda raw: raw["steps"][0].update(lut="$func"),
     "steps[0].lut: expected null or a reference ($name) to a lut"),
    (lambda raw: raw["inputs"]["func"].update(path="x.nii.gz"),
     "inputs.func.path: expected bids or chunks"),
])
def test_validate_refuses_bids_config_mistakes(study, tmp_path, edit, message):
    raw = shipped()
    edit(raw)
    result = run_cli("validate", write_config(tmp_path, raw), "--inputs-dir", study)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_confounds_need_a_bids_input(tmp_path):
    raw = {"inputs": {"func": "func.nii.gz"}, "confounds": "simple",
           "steps": [{"op": "mean_img", "img": "$func"}],
           "outputs": {"m": {"from": "$mean_img", "path": "m.nii.gz"}}}
    result = run_cli("validate", write_config(tmp_path, raw))
    assert result.exit_code == 2
    assert "confounds: expected an input with bids:" in result.stderr


def test_pipelines_share_a_derivatives_folder_but_never_overwrite_each_other(tmp_path):
    deriv = make_fmriprep_like(tmp_path / "s", subjects=2, n_volumes=60, shape=(6, 6, 5))
    out = tmp_path / "out"
    scrubbed = write_config(tmp_path, shipped(), "scrubbed.yaml")
    simple = shipped()
    simple.update(name="simple_signals", confounds="simple")
    simple["outputs"]["timeseries"]["path"] = "seg-synth_desc-simple_timeseries.tsv"
    simple = write_config(tmp_path, simple, "simple.yaml")
    for config in (scrubbed, simple, scrubbed, simple):  # the second round: all up to date
        result = run_cli("run", config, "--inputs-dir", deriv, "--output", out, *ONE_WORKER)
        assert result.exit_code == 0, result.output
    assert "0 new, 0 changed, 2 up to date" in result.output
    assert len(list(out.rglob("*_desc-simple_timeseries.tsv"))) == 2
    assert len(list(out.rglob(f"*_{TAIL}.tsv"))) == 2
    # another pipeline (another name, other confounds) on the same files: refused
    clash = shipped()
    clash.update(name="clash", confounds="simple")
    before = {p: p.read_bytes() for p in out.rglob("*.tsv")}
    result = run_cli("run", write_config(tmp_path, clash, "clash.yaml"), "--inputs-dir", deriv,
                     "--output", out, *ONE_WORKER)
    assert result.exit_code == 1
    assert result.stderr.count(f"_{TAIL}.tsv: was made by other parameters; outputs are not "
                               "replaced silently") == 2, result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*.tsv")} == before
