"""`roidask demo` at its default (Haxby) size finds the planted regions."""

import re

from click.testing import CliRunner

from roidask.cli import main


def test_demo_finds_planted_regions(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--output", str(out)])
    assert result.exit_code == 0, result.stderr
    scores = dict(re.findall(r"Dice (\S+): ([0-9.]+)", result.output))
    assert set(scores) == {"face+house", "face", "house"}
    assert all(float(value) >= 0.8 for value in scores.values()), scores
    for name in ("roi_labels.nii.gz", "roi_signals.csv", "report.html",
                 "roi_signals_by_condition.png", "provenance.json"):
        assert (out / "roi_extraction" / name).exists()
    again = CliRunner().invoke(main, ["demo", "--output", str(out)])
    assert "up to date, skipped" in again.output
