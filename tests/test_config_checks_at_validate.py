"""Config mistakes that need no data are refused by `roidask validate` (exit 2, one line)."""

import subprocess
from pathlib import Path

import pytest

CONFIGS = Path(__file__).parents[1] / "configs"


def roidask(*args):
    return subprocess.run(["roidask", *[str(a) for a in args]], capture_output=True, text=True)


def assert_one_line(proc, *fragments, code=2):
    assert proc.returncode == code, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def data_dir(tiny_dataset):
    return tiny_dataset.func.parent


def config_with(tmp_path, old, new, name="atlas_signals.yaml"):
    text = (CONFIGS / name).read_text()
    assert old in text
    path = tmp_path / "config.yaml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("chunks", ["{t: -5}", "banana", "{t: banana}", "{q: 3}"])
def test_bad_input_chunks_are_refused_at_validate(tmp_path, data_dir, chunks):
    config = config_with(tmp_path, "func: {path: func.nii.gz, labels: labels.txt}",
                         f"func: {{path: func.nii.gz, labels: labels.txt, chunks: {chunks}}}")
    assert_one_line(roidask("validate", config, "--inputs-dir", data_dir),
                    "inputs.func.chunks")


@pytest.mark.parametrize("limit", ["lots", "-3GB"])
def test_a_memory_limit_that_is_no_size_is_refused_at_validate(tmp_path, data_dir, limit):
    config = tmp_path / "config.yaml"
    config.write_text((CONFIGS / "atlas_signals.yaml").read_text()
                      + f"cluster: {{memory_limit: '{limit}'}}\n")
    assert_one_line(roidask("validate", config, "--inputs-dir", data_dir),
                    "cluster.memory_limit")


def test_a_config_that_is_not_utf8_or_is_a_folder(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_bytes((CONFIGS / "atlas_signals.yaml").read_bytes() + b"# caf\xe9\n")
    assert_one_line(roidask("validate", config), "a UTF-8 text file", str(config))
    assert_one_line(roidask("validate", tmp_path), "not a folder")
