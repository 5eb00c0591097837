"""The README's quickstarts work exactly as written."""

import re
import subprocess
from pathlib import Path

README = (Path(__file__).parents[1] / "README.md").read_text()
ROOT = Path(__file__).parents[1]


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_setup_commands_are_the_documented_ones():
    setup = blocks("bash")[:2]
    assert setup == ['pip install -e . && roidask demo\n',
                     'pip install -e ".[test]" && pytest\n']
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install --quiet --disable-pip-version-check -e ".[test]"' in ci
    assert "pytest" in ci


def test_python_quickstart(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (code,) = blocks("python")
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "quickstart-data" / "roi_labels.nii.gz").exists()


def test_cli_quickstart(tmp_path):
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    script = blocks("bash")[2]
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "valid (7 steps" in proc.stdout
    assert (tmp_path / "results" / "roi_labels.nii.gz").exists()
