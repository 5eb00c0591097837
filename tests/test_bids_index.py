"""roidask.bids.find_runs on fMRIPrep-shaped derivatives, cross-checked with pybids."""

import shutil
from pathlib import Path

import pytest

from roidask.bids import find_runs
from roidask.bids.synthetic import make_fmriprep_like
from roidask.errors import RoidaskError
from roidask.interfaces.fmriprep import load_confounds

SPACE = "MNI152NLin2009cAsym"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    top = tmp_path_factory.mktemp("study")
    deriv = make_fmriprep_like(top, subjects=3, runs=2, sessions=["pre", "post"], n_volumes=12,
                               shape=(3, 3, 2))
    # a second output space for one run: its own bold and mask, the same confounds
    for path in sorted(deriv.glob(f"sub-01/ses-pre/func/*run-1_space-{SPACE}_desc-*.nii.gz")):
        shutil.copy(path, str(path).replace(SPACE, "T1w"))
    return top, deriv


def test_all_runs_with_their_files(study):
    top, deriv = study
    runs = find_runs(deriv, space=SPACE, raw_root=top / "raw")
    assert len(runs) == 3 * 2 * 2
    for r in runs:
        e = r["entities"]
        stem = f"sub-{e['sub']}_ses-{e['ses']}_task-rest_run-{e['run']}"
        assert Path(r["bold"]).name == f"{stem}_space-{SPACE}_desc-preproc_bold.nii.gz"
        assert Path(r["mask"]).name == f"{stem}_space-{SPACE}_desc-brain_mask.nii.gz"
        assert Path(r["confounds"]).name == f"{stem}_desc-confounds_timeseries.tsv"
        assert Path(r["confounds_json"]).name == f"{stem}_desc-confounds_timeseries.json"
        assert Path(r["events"]) == top / "raw" / f"sub-{e['sub']}" / f"ses-{e['ses']}" / "func" \
            / f"{stem}_events.tsv"
        assert e["space"] == SPACE and e["task"] == "rest"
        # the confounds it pairs are those nilearn's naming rules find
        conf, _ = load_confounds(r["bold"], strategy=("motion",), motion="basic")
        assert conf.shape == (12, 6)


def test_filters(study):
    top, deriv = study
    assert len(find_runs(deriv)) == 13  # both spaces
    t1w = find_runs(deriv, space="T1w")
    assert [Path(r["mask"]).name for r in t1w] == [
        "sub-01_ses-pre_task-rest_run-1_space-T1w_desc-brain_mask.nii.gz"]
    assert t1w[0]["confounds"] is not None and t1w[0]["events"] is None  # no raw_root
    assert {r["entities"]["sub"] for r in find_runs(deriv, subjects=["02", "sub-03"])} == {
        "02", "03"}
    picked = find_runs(deriv, space=SPACE, session="post", run=2, subjects=["01"])
    assert [r["entities"] for r in picked] == [
        {"sub": "01", "ses": "post", "task": "rest", "run": 2, "space": SPACE}]
    assert find_runs(deriv, task="nback") == []
    assert find_runs(deriv, desc="smoothAROMAnonaggr") == []
    with pytest.raises(RoidaskError, match="subjects"):
        find_runs(deriv, subjects="01")
    with pytest.raises(RoidaskError, match="no such BIDS dataset"):
        find_runs(top / "missing")


def test_same_runs_as_pybids(study):
    bids = pytest.importorskip("bids")
    top, deriv = study
    layout = bids.BIDSLayout(deriv, validate=False, is_derivative=True)
    expected = sorted(layout.get(suffix="bold", desc="preproc", extension=".nii.gz",
                                 space=SPACE, session="pre", return_type="filename"))
    assert [r["bold"] for r in find_runs(deriv, space=SPACE, session="pre")] == expected
    for r in find_runs(deriv, space=SPACE, session="pre"):
        e = r["entities"]
        [mask] = layout.get(subject=e["sub"], session=e["ses"], run=e["run"], space=SPACE,
                            desc="brain", suffix="mask", extension=".nii.gz",
                            return_type="filename")
        assert r["mask"] == mask
