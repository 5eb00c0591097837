"""A config refuses exactly what the op's function refuses, with the same message.

Every parameter of every registered op (images aside) gets the same list of
boundary values, once through the function on small images and once
through config validation. Where they may differ, the reason is written
down below: the data decide (a condition no volume has), a rule between
two parameters (checked by ``ops.check_step``, see its test), or a library
function that breaks on a value instead of refusing it (validate refuses it).
"""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import roidask
from roidask.errors import ParameterError
from roidask.pipeline import ops
from roidask.pipeline.config import validate_config
from roidask.pipeline.registry import OPS
from roidask.pipeline.spec import ConfigError
from roidask.testing import random_image

VALUES = [None, True, False, 0, 1, 2, 3, -1, 0.5, 1.5, 1e6, math.inf, -math.inf, math.nan,
          "", "yes", "abc", "fast", "face", "97%", "101%", "-5%", [], [1, 2, 3], [4, None, 6],
          [1, 2], ["face", "house"], {"a": 1}]

# the images each op is called on, and the other parameters it needs
BASE = {
    "select_volumes": {"img": "func", "condition": "face"},
    "ttest_ind": {"img": "func", "condition_a": "face", "condition_b": "house"},
    "ttest_1samp": {"img": "func", "popmean": 0},
    "f_oneway": {"img": "func"},
    "smooth_img": {"img": "map", "fwhm": 6},
    "mean_img": {"img": "func"},
    "std_img": {"img": "func"},
    "threshold_img": {"img": "map", "threshold": 0.5, "two_sided": False},
    "binarize_img": {"img": "map", "threshold": 0.5, "two_sided": False},
    "resample_to_img": {"source_img": "map", "target_img": "map"},
    "mask_and": {"masks": ["mask", "mask"]},
    "mask_or": {"masks": ["mask", "mask"]},
    "mask_not": {"mask_img": "mask"},
    **{name: {"img": "mask"} for name in ("binary_dilation", "binary_erosion", "binary_opening",
                                          "binary_closing", "binary_fill_holes", "label")},
    "connected_regions": {"maps_img": "map"},
    "compute_epi_mask": {"epi_img": "func"},
    "compute_background_mask": {"data_imgs": "func"},
    "compute_brain_mask": {"target_img": "map"},
    "labels_masker": {"img": "func", "labels_img": "atlas", "t_r": 2.0},
    "masker": {"img": "func", "mask_img": "mask", "t_r": 2.0},
    "region_sizes": {"labels_img": "atlas", "labels": 2},
}
# parameters whose valid values depend on the input data (coordinates on t)
DATA_DEPENDENT = {("select_volumes", "by"), ("select_volumes", "condition"),
                  ("ttest_ind", "by"), ("ttest_ind", "condition_a"),
                  ("ttest_ind", "condition_b"), ("f_oneway", "by"),
                  ("f_oneway", "conditions")}
# values that a rule between two parameters refuses (ops.check_step has the rule)
STEP_RULES = {("compute_epi_mask", "lower_cutoff", "1"), ("compute_epi_mask", "upper_cutoff", "0")}
# values on which the library function raises something other than ParameterError;
# validate refuses them (or the function's check lets them through: then both accept)
LIBRARY_BREAKS = {
    # resample_img looks the interpolation up in a dict: TypeError for a list or dict
    **{("resample_to_img", "interpolation", repr(v)): "TypeError"
       for v in ([], [1, 2, 3], [4, None, 6], [1, 2], ["face", "house"], {"a": 1})},
    # signal.clean hands a cutoff of 0 or NaN to scipy, which raises ValueError
    **{(masker, key, repr(v)): "ValueError" for masker in ("labels_masker", "masker")
       for key in ("low_pass", "high_pass") for v in (0, math.nan)},
}
SKIPPED = {("masker", "mask_args")}  # a mapping of another function's options


@pytest.fixture(scope="module")
def images():
    func = random_image((6, 6, 6, 40), chunks={"t": 15}) + 5
    func = func.assign_coords(condition=("t", np.array(["face", "house", "rest", "cat"] * 10)))
    mask = np.zeros((6, 6, 6), "int8")
    mask[1:5, 1:5, 1:5] = 1
    atlas = np.zeros((6, 6, 6), "int32")
    atlas[1:3, 1:5, 1:5], atlas[3:5, 1:5, 1:5] = 1, 2
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    return {"func": func, "map": random_image((6, 6, 6), chunks=3),
            "mask": roidask.new_image(mask, affine).chunk(3),
            "atlas": roidask.new_image(atlas, affine).chunk(3)}


def call_function(op_name, params, images):
    """("ok",), ("refused", name, message) or ("broke", exception type name)."""
    kwargs = {key: ([images[v] for v in value] if key == "masks" else
                    images[value] if ops._takes_image(OPS[op_name], key) else value)
              for key, value in params.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            OPS[op_name].function(**kwargs)
        except ParameterError as err:
            return ("refused", err.name, str(err))
        except Exception as err:  # a library function that breaks on the value
            return ("broke", type(err).__name__)
    return ("ok",)


def validate(op_name, params):
    """("ok",) or ("refused", message without the "steps[0]." prefix)."""
    step = {"op": op_name}
    for key, value in params.items():
        if key == "masks":
            value = [f"${v}" for v in value]
        elif ops._takes_image(OPS[op_name], key):
            value = f"${value}"
        step[key] = value
    config = {"inputs": {name: f"{name}.nii.gz" for name in ("func", "map", "mask", "atlas")},
              "steps": [step], "outputs": {}}
    try:
        validate_config(config, check_files=False)
    except ConfigError as err:
        message = str(err)
        assert message.startswith("steps[0].")
        return ("refused", message.removeprefix("steps[0]."))
    return ("ok",)


def cases():
    for op_name, op in OPS.items():
        for key in op.params:
            if not ops._takes_image(op, key) and (op_name, key) not in SKIPPED:
                yield op_name, key


@pytest.mark.parametrize("op_name, key", list(cases()))
def test_validate_refuses_what_the_function_refuses(images, op_name, key):
    mismatches = []
    for value in VALUES:
        params = {**BASE[op_name], key: value}
        function, config = call_function(op_name, params, images), validate(op_name, params)
        if (op_name, key, repr(value)) in LIBRARY_BREAKS:
            assert function == ("broke", LIBRARY_BREAKS[op_name, key, repr(value)]), value
            continue
        if config[0] == "refused":
            # a rule tying two parameters names the one its message is about
            named = function[1:2] if (op_name, key, repr(value)) in STEP_RULES else (key,)
            if function != ("refused", *named, config[1]):
                mismatches.append((value, function, config))
            continue
        if function == ("ok",):
            continue
        if (op_name, key) in DATA_DEPENDENT and function[0] == "refused":
            continue  # e.g. a condition that no volume of these data has
        mismatches.append((value, function, config))
    assert mismatches == []


def test_every_op_has_a_base_call():
    assert set(BASE) == set(OPS)


@pytest.mark.parametrize("op_name, params", [
    ("threshold_img", {"img": "map", "threshold": -1}),
    ("threshold_img", {"img": "map", "threshold": "-5%", "two_sided": False}),
    ("binarize_img", {"img": "map", "threshold": -0.5, "two_sided": True}),
    ("compute_epi_mask", {"epi_img": "func", "lower_cutoff": 0.9}),
    ("compute_epi_mask", {"epi_img": "func", "lower_cutoff": 0.5, "upper_cutoff": 0.5}),
    ("labels_masker", {"img": "func", "labels_img": "atlas", "low_pass": 0.1}),
    ("masker", {"img": "func", "mask_img": "mask", "high_pass": 0.01}),
])
def test_step_rules_refuse_what_the_function_refuses(images, op_name, params):
    """Rules between parameters: check_step says what the function says, before any data."""
    function = call_function(op_name, params, images)
    assert function[0] == "refused"
    with pytest.raises(ParameterError) as info:
        ops.check_step(op_name, {k: f"${v}" if ops._takes_image(OPS[op_name], k) else v
                                 for k, v in params.items()})
    assert str(info.value) == function[2]


@pytest.mark.parametrize("op_name, params", [
    ("threshold_img", {"img": "map", "threshold": -1, "two_sided": False}),
    ("compute_epi_mask", {"epi_img": "func", "lower_cutoff": 0.1, "upper_cutoff": 0.2}),
    ("labels_masker", {"img": "func", "labels_img": "atlas", "low_pass": 0.1, "t_r": 2}),
])
def test_step_rules_accept_what_the_function_accepts(images, op_name, params):
    assert call_function(op_name, params, images) == ("ok",)
    ops.check_step(op_name, {k: f"${v}" if ops._takes_image(OPS[op_name], k) else v
                             for k, v in params.items()})


def write_config(tmp_path, step):
    (tmp_path / "func.nii.gz").write_bytes(b"")  # validate checks that inputs exist
    lines = ["inputs:", "  func: func.nii.gz", "steps:", "  - op: " + step.pop("op")]
    lines += [f"    {key}: {value}" for key, value in step.items()]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines + ["outputs: {}", ""]))
    return path


@pytest.mark.parametrize("step, message", [
    ({"op": "compute_background_mask", "data_imgs": "$func", "border_size": 0},
     "error: steps[0].border_size: expected a number of voxels >= 1, got 0"),
    ({"op": "smooth_img", "img": "$func", "fwhm": "[4, .nan, 6]"},
     "error: steps[0].fwhm: expected a number >= 0 (mm), a sequence of 3, None or 'fast', "
     "got [4, nan, 6]"),
    ({"op": "binary_dilation", "img": "$func", "connectivity": 4},
     "error: steps[0].connectivity: expected 1, 2 or 3, got 4"),
])
def test_cli_validate_refuses_with_the_functions_message(tmp_path, step, message):
    config = write_config(tmp_path, dict(step))
    result = subprocess.run([sys.executable, "-m", "roidask.cli", "validate", str(config)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == message


@pytest.mark.parametrize("step", [
    {"op": "smooth_img", "img": "$func", "fwhm": "[4, null, 6]"},
    {"op": "threshold_img", "img": "$func", "threshold": 3, "cluster_threshold": 2.5},
    {"op": "compute_background_mask", "data_imgs": "$func", "border_size": 1},
])
def test_cli_validate_accepts_what_the_function_accepts(tmp_path, step):
    config = write_config(tmp_path, dict(step))
    result = subprocess.run([sys.executable, "-m", "roidask.cli", "validate", str(config)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
