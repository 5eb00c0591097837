"""Config validation: every mistake names the step and the key; the CLI exits 2."""

import pytest
import yaml
from click.testing import CliRunner

from roidask.cli import main
from roidask.pipeline.config import validate_config
from roidask.pipeline.spec import ConfigError

BASE = {
    "inputs": {"func": {"path": "func.nii.gz", "labels": "labels.txt"}},
    "steps": [
        {"op": "smooth_img", "img": "$func", "fwhm": 6},
        {"op": "ttest_ind", "name": "ttest", "img": "$smooth_img",
         "condition_a": "face", "condition_b": "house"},
        {"op": "binarize_img", "img": "$ttest.neg_log10_p", "threshold": 5},
    ],
    "outputs": {"mask": {"from": "$binarize_img", "path": "mask.nii.gz"}},
}


def edited(**changes):
    config = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in changes.items():
        target = config
        keys = path.split("/")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[keys[-1] if not isinstance(target, list) else int(keys[-1])] = value
    return config


@pytest.mark.parametrize("changes, message", [
    ({"steps/0/op": "smooth"}, "steps[0].op: expected one of"),
    ({"steps/0/fwhm": "six"}, "steps[0].fwhm: expected a number >= 0 (mm), a sequence of 3"),
    ({"steps/0/fwhm": -2}, "steps[0].fwhm: expected"),
    ({"steps/2/threshold": "120%"}, "steps[2].threshold: expected a percentile between"),
    ({"steps/1/img": "$nothing"}, "steps[1].img: expected a reference to an input or an earlier"),
    ({"steps/1/equal_var": "yes"}, "steps[1].equal_var: expected True or False, got 'yes'"),
    ({"steps/0/sigma": 2}, "steps[0].sigma: expected a parameter of smooth_img"),
    ({"outputs/mask/path": "mask.txt"}, "outputs.mask.path: expected a path ending in"),
    ({"outputs/mask/from": "binarize_img"}, "outputs.mask.from: expected a reference"),
])
def test_mistakes_name_step_and_key(changes, message):
    with pytest.raises(ConfigError) as info:
        validate_config(edited(**changes), check_files=False)
    assert message in str(info.value)


def test_missing_required_parameter():
    config = edited()
    del config["steps"][1]["condition_b"]
    with pytest.raises(ConfigError, match=r"steps\[1\].condition_b: expected a value"):
        validate_config(config, check_files=False)


def test_reference_of_wrong_kind():
    config = edited(**{"steps/0/img": "$func"})
    config["steps"].append({"op": "mean_img", "name": "m", "img": "$ttest"})
    with pytest.raises(ConfigError, match=r"steps\[3\].img: expected a reference \(\$name\) "
                                          r"to an image, got '\$ttest \(a stats\)'"):
        validate_config(config, check_files=False)


def test_missing_input_file(tmp_path):
    with pytest.raises(ConfigError, match="inputs.func.path: expected an existing file"):
        validate_config(BASE, base_dir=tmp_path)


def test_unwritable_output(tmp_path):
    (tmp_path / "func.nii.gz").touch()
    (tmp_path / "labels.txt").touch()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for root in (blocker / "out",) + ((locked / "out",) if not _is_root() else ()):
        with pytest.raises(ConfigError, match="outputs.mask.path: expected an output folder"):
            validate_config(BASE, base_dir=tmp_path, output_root=root)


def _is_root():
    import os

    return os.geteuid() == 0


def write_config(tmp_path, config):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("changes", [{"steps/0/op": "smooth"}, {"steps/0/fwhm": "six"}])
def test_cli_exit_code_2(tmp_path, changes):
    (tmp_path / "func.nii.gz").touch()
    (tmp_path / "labels.txt").touch()
    path = write_config(tmp_path, edited(**changes))
    for command in (["validate", path], ["run", path, "--output", tmp_path / "out"]):
        result = CliRunner().invoke(main, [str(c) for c in command])
        assert result.exit_code == 2
        assert result.stderr.startswith("error: steps[0].")
        assert "Traceback" not in result.output


def test_cli_missing_input_exit_code_2(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(write_config(tmp_path, BASE))])
    assert result.exit_code == 2
    assert "inputs.func.path: expected an existing file" in result.stderr


def test_cli_unwritable_output_exit_code_2(tmp_path):
    (tmp_path / "func.nii.gz").touch()
    (tmp_path / "labels.txt").touch()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    path = write_config(tmp_path, BASE)
    result = CliRunner().invoke(main, ["run", str(path), "--output", str(blocker / "out")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: outputs.mask.path: expected an output folder")


def test_rules_tying_parameters_together_are_checked_at_validate():
    config = edited()
    config["steps"].append({"op": "threshold_img", "name": "thr", "img": "$ttest.t",
                            "threshold": -1})
    with pytest.raises(ConfigError, match=r"steps\[3\].threshold: expected a value >= 0 "
                                          r"when two_sided=True"):
        validate_config(config, check_files=False)
