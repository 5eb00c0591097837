"""Report pictures as a reader sees them: oriented as nilearn shows them, keyed, in a browser.

The reports the shipped configs write are opened in a real headless Chromium
(Debian's ``chromium``) and screenshotted; the screenshots must show the
pictures (not a blank or saturated page). ``.ci/run`` installs Chromium and
sets ``ROIDASK_TEST_BROWSER=required``; elsewhere, without a Chromium, those
tests are skipped.
"""

import base64
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib import image as mpimg

from roidask.cli import main
from roidask.grid import new_image
from roidask.maskers import LabelsMasker, Masker
from roidask.reporting.html_report import _as_canonical

CONFIGS = Path(__file__).parents[1] / "configs"
ONE_WORKER = ["--n-workers", "1", "--memory-limit", "6GB"]
REPORTS = {"roi_extraction.yaml": "report.html", "atlas_signals.yaml": "atlas_report.html",
           "mask_computation.yaml": "mask_report.html"}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
# a radiological (LAS) affine: voxel i grows towards the subject's left
LAS = np.array([[-3.0, 0, 0, 30], [0, 3.0, 0, -40], [0, 0, 3.5, -20], [0, 0, 0, 1]])


def embedded_pictures(page):
    return [mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png")
            for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


@pytest.mark.parametrize("affine", [LAS, np.diag([2.0, 2.5, 3.0, 1.0]),
                                    np.array([[0, 0, 2.0, 5], [-2.5, 0, 0, 3],
                                              [0, 3.0, 0, -7], [0, 0, 0, 1]])])
def test_pictures_are_oriented_as_nibabel_makes_them_canonical(affine):
    """Pictures show the volumes in RAS+ voxel order (left on the left, as nilearn)."""
    rng = np.random.default_rng(0)
    overlay = rng.integers(0, 4, (5, 6, 7))
    background = rng.standard_normal((5, 6, 7))
    sizes = tuple(np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))
    out_overlay, out_background, out_sizes, out_affine = _as_canonical(
        overlay, background, sizes, affine)
    expected = nib.as_closest_canonical(nib.Nifti1Image(overlay.astype("int16"), affine))
    np.testing.assert_array_equal(out_overlay, np.asarray(expected.dataobj))
    np.testing.assert_allclose(out_affine, expected.affine)
    np.testing.assert_allclose(out_sizes, expected.header.get_zooms())
    expected_background = nib.as_closest_canonical(nib.Nifti1Image(background, affine))
    np.testing.assert_array_equal(out_background, np.asarray(expected_background.dataobj))


def test_labels_report_keys_each_colour_with_the_region_name():
    labels = np.zeros((6, 6, 6), "int16")
    labels[:3], labels[3:, :3] = 1, 2
    masker = LabelsMasker(new_image(labels, LAS), labels=["Background", "face", "house"]).fit()
    page = masker.generate_report().html
    keys = re.findall(r'<span class="swatch" style="background:(rgb\([^)]*\))"></span>([^<]*)',
                      page)
    assert [name for _, name in keys] == ["face", "house"]
    assert len({colour for colour, _ in keys}) == 2
    assert "x = " in page or embedded_pictures(page)  # titles are drawn in the picture


def test_mask_report_has_no_colour_key():
    mask = np.zeros((6, 6, 6), "int8")
    mask[1:5, 1:5, 1:5] = 1
    page = Masker(new_image(mask, LAS)).fit().generate_report().html
    assert 'class="legend"' not in page


@pytest.fixture(scope="module")
def shipped_reports(tiny_dataset, tmp_path_factory):
    """The report of each shipped config that writes one, run on the tiny dataset."""
    out = tmp_path_factory.mktemp("reports")
    pages = {}
    for config, report in REPORTS.items():
        folder = out / config
        result = CliRunner().invoke(main, ["run", str(CONFIGS / config), "--inputs-dir",
                                           str(tiny_dataset.func.parent), "--output",
                                           str(folder), *ONE_WORKER])
        assert result.exit_code == 0, result.output
        pages[config] = folder / report
    return pages


def screenshot(page, png, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:  # .ci/run installs it and requires it
        message = "no headless Chromium: apt-get install chromium (Debian)"
        if os.environ.get("ROIDASK_TEST_BROWSER") == "required":
            pytest.fail(message)
        pytest.skip(message)
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    "--window-size=1200,900", f"--screenshot={png}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    return mpimg.imread(png)


@pytest.mark.parametrize("config", sorted(REPORTS))
def test_shipped_reports_show_their_pictures_in_a_browser(config, shipped_reports, tmp_path):
    page = shipped_reports[config]
    shot = screenshot(page, tmp_path / "shot.png", tmp_path)
    assert shot.shape[:2] == (900, 1200)
    rgb = (shot[..., :3] * 255).round().astype(np.uint8)
    not_white = np.any(rgb < 240, axis=-1)
    assert not_white.mean() > 0.10, "the page shows almost nothing"
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 30, "the pictures are missing or flat"
    # the picture's background is drawn in grey levels, not saturated to white
    (picture,) = embedded_pictures(page.read_text())
    grey = picture[..., :3]
    neutral = (np.ptp(grey, axis=-1) < 0.02) & (grey[..., 0] > 0.05) & (grey[..., 0] < 0.95)
    assert len(np.unique(grey[neutral][:, 0].round(2))) >= 3, "background saturated"
