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

__all__ = ["Report", "ReportContent", "ReportUnavailableError", "grid_text", "label_colours",
           "render_report"]

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
p.legend { font-size: 0.9em; line-height: 1.8; }
span.key { margin-right: 1.2em; white-space: nowrap; }
span.swatch { display: inline-block; width: 1.6em; height: 0.8em; margin-right: 0.4em;
              vertical-align: middle; border: 1px solid #888; }
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


_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "S": "I", "I": "S"}
_WORLD_AXIS = {"L": "x", "R": "x", "P": "y", "A": "y", "I": "z", "S": "z"}


def _cut_title(axis, centre, affine, codes):
    """A panel's title: the world coordinate of its plane (mm), or its voxel index."""
    if affine is None:
        return f"{'ijk'[axis]} = {centre[axis]}"
    world = np.asarray(affine)[:3, :3] @ np.asarray(centre, float) + np.asarray(affine)[:3, 3]
    name = _WORLD_AXIS[codes[axis]]
    return f"{name} = {world['xyz'.index(name)]:.0f} mm"


def _panels(volume, centre, axial):
    """(axis cut, 2D slice, the two axes it spans, the voxel it goes through) per panel."""
    i, j, k = centre
    panels = [(0, volume[i, :, :], (1, 2), centre), (1, volume[:, j, :], (0, 2), centre),
              (2, volume[:, :, k], (0, 1), centre)]
    return panels + [(2, volume[:, :, z], (0, 1), (i, j, z)) for z in axial]


def _window(background):
    """Grey levels of a background: percentiles 2-98 of its non-zero voxels, dimmed.

    (Percentiles of all voxels put most of the head at the top of the scale
    when a zero field of view surrounds it, and the picture saturates.)
    """
    finite = background[np.isfinite(background)]
    inside = finite[finite != 0] if np.any(finite != 0) else finite
    low, high = np.percentile(inside, [2, 98]) if inside.size else (0.0, 1.0)
    high = high if high > low else low + 1.0
    return low, high + 0.4 * (high - low)


def _orientation_letters(ax, codes, across, up):
    """Anatomical directions at a panel's edges (nilearn's L/R, P/A, I/S letters)."""
    style = dict(transform=ax.transAxes, fontsize=7, color="#555")
    ax.text(-0.02, 0.5, _OPPOSITE[codes[across]], ha="right", va="center", **style)
    ax.text(1.02, 0.5, codes[across], ha="left", va="center", **style)
    ax.text(0.5, 1.01, codes[up], ha="center", va="bottom", **style)
    ax.text(0.5, -0.01, _OPPOSITE[codes[up]], ha="center", va="top", **style)


def _as_canonical(overlay, background, sizes, affine):
    """The volumes in RAS+ voxel order, as nilearn shows them (left on the left).

    Returns the overlay, background, voxel sizes and affine reoriented.
    """
    from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation

    affine = np.asarray(affine, dtype=float)
    orientation = io_orientation(affine)
    shape = overlay.shape
    overlay = apply_orientation(overlay, orientation)
    if background is not None:
        background = apply_orientation(background, orientation)
    order = orientation[:, 0].astype(int)  # the new axis of each original axis
    canonical_sizes = [0.0] * 3
    for axis, new_axis in enumerate(order):
        canonical_sizes[new_axis] = sizes[axis]
    return overlay, background, tuple(canonical_sizes), affine @ inv_ornt_aff(orientation, shape)


def label_colours(n_labels):
    """The RGBA colour of each of ``n_labels`` labels in pictures (tab20, repeating).

    Examples
    --------
    >>> label_colours(21)[20].tolist() == label_colours(1)[0].tolist()
    True
    """
    import matplotlib

    return matplotlib.colormaps["tab20"](np.arange(n_labels) % 20)


def _draw_slices(background, overlay, kind, sizes=(1.0, 1.0, 1.0), affine=None):
    """PNG (base64) of three orthogonal slices plus an axial row, overlay on background.

    With ``affine``, the volumes are shown in RAS+ order (left on the left,
    as nilearn does), panels are titled by their world coordinate in mm and
    lettered with the anatomical directions. Drawn on a bare matplotlib
    Figure with the Agg canvas: pyplot and the session's backend are left alone.
    """
    try:
        import matplotlib  # noqa: F401  (first: the message below names the extra)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure
    except ImportError:
        raise ReportUnavailableError(
            "reports draw their pictures with matplotlib, which is not installed; "
            f'install it with: pip install "roidask[{REPORT_EXTRA}]"'
        ) from None

    codes = None
    if affine is not None:
        overlay, background, sizes, affine = _as_canonical(overlay, background, sizes, affine)
        codes = ("R", "A", "S")
    centre = _slice_centre(overlay)
    n_axial = min(6, overlay.shape[2])
    axial = np.unique(np.linspace(0, overlay.shape[2] - 1, n_axial + 2)[1:-1].round().astype(int))
    panels = _panels(overlay, centre, axial)
    backgrounds = ([b for _, b, _, _ in _panels(background, centre, axial)]
                   if background is not None else [None] * len(panels))
    window = _window(background) if background is not None else None
    values = np.unique(overlay[overlay != 0])
    fig = Figure(figsize=(2.2 * max(3, len(axial)), 4.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, max(3, len(axial)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    positions = [(0, n) for n in range(3)] + [(1, n) for n in range(len(axial))]
    if kind == "labels":
        colour_map = ListedColormap(label_colours(max(1, len(values))))
    for (row, col), (axis, layer, (across, up), through), back in zip(positions, panels,
                                                                        backgrounds):
        ax = axes[row, col]
        aspect = sizes[up] / sizes[across]  # voxels drawn to scale
        if back is not None:
            ax.imshow(back.T, origin="lower", cmap="gray", vmin=window[0], vmax=window[1],
                      interpolation="nearest", aspect=aspect)
        if kind == "labels":
            codes_in_layer = np.searchsorted(values, layer).astype(float)
            codes_in_layer[layer == 0] = np.nan
            ax.imshow(codes_in_layer.T, origin="lower", cmap=colour_map, vmin=0,
                      vmax=max(1, len(values)) - 1, alpha=0.7 if back is not None else 1.0,
                      interpolation="nearest", aspect=aspect)
        else:
            if back is None:
                ax.imshow(layer.T, origin="lower", cmap="Reds", interpolation="nearest",
                          aspect=aspect)
            if layer.any() and min(layer.shape) > 1:
                ax.contour(layer.T.astype(float), levels=[0.5], colors="red", linewidths=1.2)
        ax.set_title(_cut_title(axis, through, affine, codes), fontsize=8, pad=9)
        if codes is not None:
            _orientation_letters(ax, codes, across, up)
    return _figure_png(fig)


def _plain_number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def _legend_html(overlay, names):
    """A colour key of a labels picture: one swatch and name per label value."""
    values = np.unique(overlay[overlay != 0]).tolist()
    colours = label_colours(max(1, len(values)))
    items = "".join(
        f'<span class="key"><span class="swatch" style="background:'
        f'rgb({int(r * 255)},{int(g * 255)},{int(b * 255)})"></span>'
        f"{html.escape(str((names or {}).get(v, _plain_number(v))))}</span>"
        for v, (r, g, b, _) in zip(values, colours)
    )
    return f'<p class="legend">{items}</p>'


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
    affine : (4, 4) array, optional
        The overlay's affine: panels are then titled by their world
        coordinate (mm) and lettered with anatomical directions.
    legend : dict, optional
        Name of each label value, for the colour key under a labels picture
        (the values themselves by default).
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
    affine: np.ndarray = None
    legend: dict = None

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
                           content.voxel_size, content.affine)
    caption = html.escape(content.caption)
    parts.append(f"<h2>{caption}</h2>")
    parts.append(f'<img alt="{caption}" src="data:image/png;base64,{picture}">')
    if content.kind == "labels":
        parts.append(_legend_html(content.overlay, content.legend))
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
