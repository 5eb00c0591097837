"""Hostile configs that need no data to refuse: ``validate`` and ``run`` both exit 2 with one
line naming the step and the key, and ``run`` writes nothing.

Each config is the shipped ``roi_extraction.yaml`` with one value changed (YAML's
``.inf`` / ``.nan`` included); ``validate`` used to call several of them valid and
``run`` then failed with exit 1 after writing some outputs.
"""

import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from roidask.cli import main

CONFIGS = Path(__file__).parents[1] / "configs"
BASE = yaml.safe_load((CONFIGS / "roi_extraction.yaml").read_text())
STEP = {step["name"]: index for index, step in enumerate(BASE["steps"])}


def changed_step(name, **params):
    def change(raw):
        raw["steps"][STEP[name]].update(params)
    return change


def changed_output(name, **fields):
    def change(raw):
        raw["outputs"][name].update(fields)
    return change


CASES = {
    "fwhm .inf": (changed_step("smoothed", fwhm=math.inf), "steps[0].fwhm: expected a number"),
    "fwhm -.inf": (changed_step("smoothed", fwhm=-math.inf), "steps[0].fwhm: expected a number"),
    "fwhm .nan": (changed_step("smoothed", fwhm=math.nan), "steps[0].fwhm: expected a number"),
    "threshold .nan": (changed_step("significant", threshold=math.nan),
                       "steps[2].threshold: expected a number"),
    "neg_log10_p_max -1": (changed_step("ttest", neg_log10_p_max=-1),
                           "steps[1].neg_log10_p_max: expected a positive number"),
    "two outputs on one file": (changed_output("mean", path="roi_labels.nii.gz"),
                                "outputs.rois.path: expected a path no other output writes "
                                "(outputs.mean.path is the same file)"),
    "output leaving the folder": (changed_output("signals", path="../../x.csv"),
                                  "outputs.signals.path: expected a path relative to the output"),
    "absolute output path": (changed_output("signals", path="/tmp/x.csv"),
                             "outputs.signals.path: expected a path relative to the output"),
    "name leaving the folder": (lambda raw: raw.update(name="../../../x"),
                                "name: expected a plain folder name"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Empty stand-ins for the input files: every case is refused before any is opened."""
    folder = tmp_path_factory.mktemp("hostile-configs-inputs")
    for name in ("func.nii.gz", "labels.txt", "vt_mask.nii.gz"):
        (folder / name).write_bytes(b"")
    return folder


@pytest.fixture(params=sorted(CASES))
def case(request, tmp_path):
    change, message = CASES[request.param]
    raw = yaml.safe_load((CONFIGS / "roi_extraction.yaml").read_text())
    change(raw)
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, message


def assert_config_error(result, message):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {message}"), lines[0]
    assert "Traceback" not in result.output


def test_validate_refuses_with_one_line_naming_step_and_key(case, inputs):
    config, message = case
    result = CliRunner().invoke(main, ["validate", str(config), "--inputs-dir", str(inputs)])
    assert_config_error(result, message)


def test_run_refuses_before_writing_anything(case, inputs, tmp_path):
    config, message = case
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(config), "--inputs-dir", str(inputs),
                                       "--output", str(out)])
    assert_config_error(result, message)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.yaml"]
