"""Self-contained HTML reports: pictures and tables of what is reported on.

A report is one HTML page with no external files: slice pictures are PNGs
drawn with matplotlib (Agg backend) and embedded as base64 ``data:`` URIs.
Whoever is reported on (a masker's ``generate_report``) hands over a
:class:`ReportContent`: an overlay over a background, a summary, a table and
parameters; this module renders it and knows nothing of maskers.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> from roidask.maskers import LabelsMasker
>>> labels = new_image(np.repeat([0, 1, 2], 8).reshape(3, 2, 4), np.eye(4))
>>> report = LabelsMasker(labels, labels=["a", "b"]).fit().generate_report()
>>> "data:image/png;base64," in report.html, "<td>b</td>" in report.html
(True, True)
"""

import base64
import dataclasses
import html
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from roidask.errors import RoidaskError
from roidask.grid import voxel_size
from roidask.io.atomic import atomic_output

__all__ = ["Report", "ReportContent", "ReportUnavailableError", "grid_text", "render_report"]

REPORT_EXTRA = "report"


class ReportUnavailableError(RoidaskError, ImportError):
    """matplotlib, which draws the report pictures, is not installed."""

_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em;
       color: #222; max-width: 1100px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f0f0f0; }
td.num { text-align: right; }
img { max-width: 100%; }
p.note { color: #555; font-size: 0.9em; }
"""


class Report:
    """An HTML report: ``html`` text, shown inline in notebooks, saved with one call.

    Parameters
    ----------
    html : str
        The complete, self-contained page.
    title : str

    Examples
    --------
    >>> import tempfile, os
    >>> report = Report("<html><body>hi</body></html>", "demo")
    >>> path = report.save_as_html(os.path.join(tempfile.mkdtemp(), "r.html"))
    >>> open(path).read()
    '<html><body>hi</body></html>'
    """

    def __init__(self, html, title):
        self.html = html
        self.title = title

    def save_as_html(self, path):
        """Write the page to ``path`` (atomically) and return the path."""
        path = Path(path)
        with atomic_output(path) as tmp:
            tmp.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self):
        return self.html

    def __repr__(self):
        return f"<Report {self.title!r}: {len(self.html)} characters of HTML>"


def _figure_png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _slice_centre(volume):
    """Voxel indices to cut through: the centre of the largest region, else the middle.

    (The centre of all regions together can fall between them, e.g. between
    two hemispheres, and the cuts would then miss every region.)
    """
    values, counts = np.unique(volume[volume != 0], return_counts=True)
    if values.size == 0:
        return tuple(n // 2 for n in volume.shape)
    inside = np.argwhere(volume == values[np.argmax(counts)])
    return tuple(int(round(c)) for c in inside.mean(axis=0))


def _cuts(volume, centre):
    """(title, 2D slice, the two axes it spans) through ``centre``."""
    i, j, k = centre
    return [
        (f"i = {i}", volume[i, :, :], (1, 2)),
        (f"j = {j}", volume[:, j, :], (0, 2)),
        (f"k = {k}", volume[:, :, k], (0, 1)),
    ]


def _draw_slices(background, overlay, kind, sizes=(1.0, 1.0, 1.0)):
    """PNG (base64) of three orthogonal slices plus an axial row, overlay on background.

    Drawn on a bare matplotlib Figure with the Agg canvas: pyplot and the
    session's backend are left alone.
    """
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure
    except ImportError:
        raise ReportUnavailableError(
            "reports draw their pictures with matplotlib, which is not installed; "
            f'install it with: pip install "roidask[{REPORT_EXTRA}]"'
        ) from None

    centre = _slice_centre(overlay)
    n_axial = min(6, overlay.shape[2])
    axial = np.unique(np.linspace(0, overlay.shape[2] - 1, n_axial + 2)[1:-1].round().astype(int))
    panels = _cuts(overlay, centre) + [(f"k = {k}", overlay[:, :, k], (0, 1)) for k in axial]
    backgrounds = (
        [b for _, b, _ in _cuts(background, centre)] + [background[:, :, k] for k in axial]
        if background is not None else [None] * len(panels)
    )
    fig = Figure(figsize=(2.2 * max(3, len(axial)), 4.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, max(3, len(axial)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    positions = [(0, n) for n in range(3)] + [(1, n) for n in range(len(axial))]
    values = np.unique(overlay[overlay != 0])
    if kind == "labels":
        colours = matplotlib.colormaps["tab20"](np.arange(max(1, len(values))) % 20)
        colour_map = ListedColormap(colours)
    for (row, col), (name, layer, (across, up)), back in zip(positions, panels, backgrounds):
        ax = axes[row, col]
        aspect = sizes[up] / sizes[across]  # voxels drawn to scale
        if back is not None:
            finite = back[np.isfinite(back)]
            low, high = (np.percentile(finite, [2, 98]) if finite.size else (0, 1))
            ax.imshow(back.T, origin="lower", cmap="gray", vmin=low, vmax=high,
                      interpolation="nearest", aspect=aspect)
        if kind == "labels":
            codes = np.searchsorted(values, layer).astype(float)
            codes[layer == 0] = np.nan
            ax.imshow(codes.T, origin="lower", cmap=colour_map, vmin=0,
                      vmax=max(1, len(values)) - 1, alpha=0.6 if back is not None else 1.0,
                      interpolation="nearest", aspect=aspect)
        else:
            if back is None:
                ax.imshow(layer.T, origin="lower", cmap="Reds", interpolation="nearest",
                          aspect=aspect)
            if layer.any() and min(layer.shape) > 1:
                ax.contour(layer.T.astype(float), levels=[0.5], colors="red", linewidths=1.2)
        ax.set_title(name, fontsize=8)
    return _figure_png(fig)


def _parameter_text(value):
    if isinstance(value, xr.DataArray):
        source = value.attrs.get("source")
        return f"image {'x'.join(map(str, value.shape))}" + (f" from {source}" if source else "")
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, threshold=20)
    return repr(value)


def _parameters_html(parameters):
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(_parameter_text(value))}</td></tr>"
        for name, value in parameters.items()
    )
    return f"<table>{rows}</table>"


def grid_text(img):
    """The grid of ``img`` in words: "40 x 64 x 64 voxels of 3.5 x 3.75 x 3.75 mm"."""
    size = voxel_size(img)
    return (f"{' x '.join(map(str, img.shape[:3]))} voxels of "
            f"{' x '.join(f'{s:g}' for s in size)} mm")


@dataclasses.dataclass
class ReportContent:
    """What a report shows, handed over by whoever is reported on (e.g. a masker).

    Parameters
    ----------
    title : str
    summary : str
        One paragraph of plain text; ``**words**`` are shown in bold.
    overlay : numpy.ndarray, 3D
        Integer labels (``kind="labels"``) or a 0/1 mask (``kind="mask"``).
    kind : {"labels", "mask"}
    voxel_size : sequence of 3 floats
        Voxel edge lengths, so that pictures are drawn to scale.
    caption : str
    background : numpy.ndarray or lazy 3D image, optional
        Drawn in grey under the overlay (e.g. the mean image); a lazy image
        is computed by :meth:`computed`, which renderers are handed.
    table : pandas.DataFrame, optional
        With ``table_title`` and ``table_note`` (plain text).
    parameters : dict, optional
        Shown as a name/value table.
    """

    title: str
    summary: str
    overlay: np.ndarray
    kind: str
    voxel_size: tuple
    caption: str
    background: np.ndarray = None
    table: pd.DataFrame = None
    table_title: str = "Regions"
    table_note: str = ""
    parameters: dict = dataclasses.field(default_factory=dict)

    def computed(self, background=None):
        """This content with a numpy ``background``: the one given (computed by
        the caller with its other results), or this one's, computed now.
        """
        if background is None and self.background is not None:
            background = self.background.values if hasattr(self.background, "values") \
                else self.background
        if background is None:
            return self
        return dataclasses.replace(self, background=np.asarray(background, dtype=float))


def render_report(content):
    """The self-contained HTML page of a :class:`ReportContent`.

    Examples
    --------
    >>> import numpy as np
    >>> content = ReportContent(
    ...     title="Mask", summary="8 voxels.", overlay=np.pad(np.ones((2, 2, 2), "int8"), 1),
    ...     kind="mask", voxel_size=(1, 1, 1), caption="Mask outline")
    >>> "8 voxels." in render_report(content).html
    True
    """
    title = content.title
    summary = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(content.summary))
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>{summary}</p>"]
    picture = _draw_slices(content.background, content.overlay, content.kind,
                           content.voxel_size)
    caption = html.escape(content.caption)
    parts.append(f"<h2>{caption}</h2>")
    parts.append(f'<img alt="{caption}" src="data:image/png;base64,{picture}">')
    if content.table is not None:
        parts.append(f"<h2>{html.escape(content.table_title)}</h2>")
        parts.append(content.table.to_html(index=False, border=0, classes="regions"))
        if content.table_note:
            parts.append(f'<p class="note">{html.escape(content.table_note)}</p>')
    if content.parameters:
        parts.append("<h2>Parameters</h2>")
        parts.append(_parameters_html(content.parameters))
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )
    return Report(page, title)
