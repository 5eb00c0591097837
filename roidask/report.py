"""Self-contained HTML reports of fitted maskers.

A report is one HTML page with no external files: slice pictures are PNGs
drawn with matplotlib (Agg backend) and embedded as base64 ``data:`` URIs.
For a :class:`~roidask.maskers.LabelsMasker` it shows the atlas over the
mean image and a table of regions (label value, name, size in mm^3,
relative size in %); for a :class:`~roidask.maskers.Masker` the mask
outline over the mean image with its voxel count and the % of the image it
covers; for both, the masker's parameters.

Building a report computes: the 3D mean of the image the masker was fitted
on (one streaming pass over it), when there is one.

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
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from roidask.errors import RoidaskError
from roidask.grid import same_grid, voxel_size, voxel_volume
from roidask.image import mean_img, resample_to_img
from roidask.io.atomic import atomic_output

__all__ = ["Report", "ReportUnavailableError", "masker_report", "region_table"]

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


def _mean_background(masker, grid_img):
    """The mean of the image the masker was fitted on, on ``grid_img``'s grid."""
    img = getattr(masker, "_report_img", None)
    if img is None:
        return None
    mean = mean_img(img)
    if not same_grid(mean, grid_img):
        mean = resample_to_img(mean, grid_img, interpolation="continuous")
    return np.asarray(mean.values, dtype=float)


def region_table(masker):
    """The regions of a fitted LabelsMasker: value, name, size in mm^3 and in %.

    Sizes count the voxels signals are averaged over (after the mask); the
    relative size is a share of all labelled voxels, as nilearn reports it.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> from roidask.maskers import LabelsMasker
    >>> labels = new_image(np.repeat([0, 1, 2, 2], 2).reshape(2, 2, 2), np.diag([2, 2, 2, 1]))
    >>> region_table(LabelsMasker(labels).fit()).to_dict("list")["size (mm^3)"]
    [16, 32]
    """
    sizes = np.asarray(masker.region_sizes_)
    total = sizes.sum()
    volume = voxel_volume(masker.labels_img_)
    return pd.DataFrame({
        "label value": [_plain(v) for v in masker.region_ids_],
        "name": list(masker.region_names_),
        "size (mm^3)": [int(round(s * volume)) for s in sizes],
        "relative size (%)": [round(100.0 * s / total, 2) if total else 0.0 for s in sizes],
    })


def _plain(value):
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _parameter_text(value):
    if isinstance(value, xr.DataArray):
        source = value.attrs.get("source")
        return f"image {'x'.join(map(str, value.shape))}" + (f" from {source}" if source else "")
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, threshold=20)
    return repr(value)


def _parameters_html(masker):
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(_parameter_text(value))}</td></tr>"
        for name, value in masker.get_params().items()
    )
    return f"<table>{rows}</table>"


def _grid_text(img):
    size = voxel_size(img)
    return (f"{' x '.join(map(str, img.shape[:3]))} voxels of "
            f"{' x '.join(f'{s:g}' for s in size)} mm")


def masker_report(masker, *, title=None):
    """Build the HTML report of a fitted masker (see :meth:`generate_report`).

    Parameters
    ----------
    masker : LabelsMasker or Masker
        Fitted.
    title : str, optional

    Returns
    -------
    Report

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> from roidask.maskers import Masker
    >>> mask = new_image(np.pad(np.ones((2, 2, 2), "int8"), 1), np.eye(4))
    >>> "8 voxels" in masker_report(Masker(mask).fit()).html
    True
    """
    from roidask.maskers import LabelsMasker

    name = type(masker).__name__
    title = title or f"{name} report"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    labels = isinstance(masker, LabelsMasker)
    grid_img = masker.labels_img_ if labels else masker.mask_img_
    background = _mean_background(masker, grid_img)
    over_mean = " over the mean image" if background is not None else ""
    if labels:
        overlay = np.where(masker._codes < masker.n_elements_, masker.labels_img_.values, 0)
        parts.append(
            f"<p>{masker.n_elements_} regions, signals by <b>{html.escape(masker.strategy)}"
            f"</b> on a grid of {_grid_text(grid_img)}.</p>"
        )
        caption = "Atlas regions" + over_mean
    else:
        overlay = masker._mask.astype(np.int8)
        coverage = 100.0 * masker.n_elements_ / overlay.size
        parts.append(
            f"<p>The mask holds <b>{masker.n_elements_} voxels</b>, "
            f"{coverage:.2f} % of the image ({_grid_text(grid_img)}).</p>"
        )
        caption = "Mask outline" + over_mean
    picture = _draw_slices(background, overlay, "labels" if labels else "mask",
                           voxel_size(grid_img))
    parts.append(f"<h2>{caption}</h2>")
    parts.append(f'<img alt="{caption}" src="data:image/png;base64,{picture}">')
    if labels:
        parts.append("<h2>Regions</h2>")
        parts.append(region_table(masker).to_html(index=False, border=0, classes="regions"))
        parts.append('<p class="note">Sizes count the voxels each signal is computed over '
                     "(after the mask); relative sizes are shares of all labelled voxels.</p>")
    parts.append("<h2>Parameters</h2>")
    parts.append(_parameters_html(masker))
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )
    return Report(page, title)
