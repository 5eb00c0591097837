"""HTML reports of maskers: region table, mask coverage, embedded pictures, parameters."""

import base64
import re
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from roidask.grid import new_image
from roidask.maskers import LabelsMasker, Masker, NotFittedError
from roidask.reporting.html_report import ReportUnavailableError

VOXEL = np.diag([2.0, 3.0, 4.0, 1.0])  # 24 mm^3 voxels


class PageParser(HTMLParser):
    """Collects table rows and image sources of a page."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self._row, self._cell = [], [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None


def parse(path):
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def assert_png_pictures(parser):
    assert parser.images, "no picture in the report"
    for src in parser.images:
        assert src.startswith("data:image/png;base64,"), src[:40]
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


@pytest.fixture(scope="module")
def atlas_and_data():
    labels = np.zeros((8, 9, 10), "int16")
    labels[1:4, 1:8, 1:9] = 2  # 3*7*8 = 168 voxels
    labels[4:7, 1:8, 1:5] = 5  # 84 voxels
    labels[4:7, 1:8, 5:9] = 11  # 84 voxels
    rng = np.random.default_rng(0)
    data = (rng.standard_normal(labels.shape + (6,)) + 50 * (labels > 0)[..., None])
    return new_image(labels, VOXEL), new_image(data.astype("float32"), VOXEL).chunk({"t": 4})


def test_labels_report_table_and_pictures(atlas_and_data, tmp_path):
    atlas, data = atlas_and_data
    masker = LabelsMasker(atlas, labels=["Background", "frontal", "parietal", "occipital"],
                          strategy="median", standardize="psc").fit(data)
    path = tmp_path / "labels_report.html"
    report = masker.generate_report(path)
    assert path.read_text(encoding="utf-8") == report.html
    page = parse(path)
    rows = [row for row in page.rows if len(row) == 4]
    assert rows[0] == ["label value", "name", "size (mm^3)", "relative size (%)"]
    assert rows[1:] == [
        ["2", "frontal", str(168 * 24), "50.0"],
        ["5", "parietal", str(84 * 24), "25.0"],
        ["11", "occipital", str(84 * 24), "25.0"],
    ]
    assert_png_pictures(page)
    parameters = {row[0]: row[1] for row in page.rows if len(row) == 2}
    assert parameters["strategy"] == "'median'" and parameters["standardize"] == "'psc'"
    assert parameters["labels_img"] == "image 8x9x10"
    assert "over the mean image" in report.html and "3 regions" in report.html


def test_mask_report_counts_and_coverage(atlas_and_data, tmp_path):
    atlas, data = atlas_and_data
    mask = new_image((atlas.values > 0).astype("int8"), VOXEL)
    masker = Masker(mask, smoothing_fwhm=4.0).fit(data)
    page_text = masker.generate_report().html
    n_voxels = 168 + 84 + 84
    coverage = 100 * n_voxels / (8 * 9 * 10)
    assert re.search(rf"<b>{n_voxels} voxels</b>, {coverage:.2f} % of the image", page_text)
    path = tmp_path / "mask_report.html"
    masker.generate_report(path, title="My mask")
    page = parse(path)
    assert_png_pictures(page)
    assert "<title>My mask</title>" in path.read_text(encoding="utf-8")
    assert {row[0]: row[1] for row in page.rows if len(row) == 2}["smoothing_fwhm"] == "4.0"


def test_report_of_computed_mask_without_fit_data_picture(atlas_and_data):
    atlas, _ = atlas_and_data
    report = LabelsMasker(atlas).fit().generate_report()
    assert "Atlas regions</h2>" in report.html  # no mean image to draw under it
    assert report._repr_html_() == report.html


def test_report_needs_a_fitted_masker(atlas_and_data):
    atlas, _ = atlas_and_data
    with pytest.raises(NotFittedError, match="not fitted yet"):
        LabelsMasker(atlas).generate_report()
    with pytest.raises(NotFittedError):
        Masker().generate_report()


def test_missing_matplotlib_names_the_extra_to_install(atlas_and_data, monkeypatch):
    atlas, _ = atlas_and_data
    masker = LabelsMasker(atlas).fit()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ReportUnavailableError, match=r'pip install "roidask\[report\]"'):
        masker.generate_report()
