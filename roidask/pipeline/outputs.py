"""Pipeline outputs: images, signal tables, figures and reports, from one computation.

:func:`plan_output` hands what an output needs to the run's
:class:`roidask.io.materialise.Materialisation` -- an image to store
(written by the workers into the staging folder), or the lazy values a
table, figure or report is made of -- and returns the step that writes the
file from the computed values once the run is done (``None`` for images).
So every output of every subject, the reports' pictures included, comes
from the same single computation. Every writer writes under a temporary
name and renames on success.
"""

import pandas as pd
import xarray as xr

from roidask.errors import ParameterError
from roidask.grid import TIME_DIM
from roidask.io.atomic import atomic_output

META_ORDER = ("time", "condition", "run")  # columns after t, before the others on t


def _check_table_source(value, where):
    if isinstance(value, xr.Dataset):
        return
    if not isinstance(value, xr.DataArray) or value.ndim != 2 or TIME_DIM not in value.dims:
        raise ParameterError(where, "signals (a t x region DataArray) or a table", type(value))


def to_table(value, where):
    """A pandas DataFrame from signals (t x region/voxel) or a Dataset."""
    _check_table_source(value, where)
    if isinstance(value, xr.Dataset):
        return value.to_dataframe().reset_index()
    other = next(d for d in value.dims if d != TIME_DIM)
    names = value.coords["name"].values if "name" in value.coords else value[other].values
    frame = pd.DataFrame(value.transpose(TIME_DIM, other).values,
                         columns=[str(n) for n in names])
    names = [c for c in value.coords if value.coords[c].dims == (TIME_DIM,) and c != TIME_DIM]
    first = [c for c in META_ORDER if c in names]  # the same order from NIfTI and zarr
    meta = {TIME_DIM: value[TIME_DIM].values}
    meta.update({c: value.coords[c].values for c in first + [c for c in names
                                                             if c not in first]})
    return pd.concat([pd.DataFrame(meta), frame], axis=1)


def write_table(value, path, where, bids=False):
    """Write a table; ``bids``: a BIDS ``.tsv`` (region columns only, ``n/a`` for NaN)."""
    frame = to_table(value, where)
    if bids and str(path).endswith(".tsv") and isinstance(value, xr.DataArray):
        frame = frame[[c for c in frame.columns if c not in value.coords and c != TIME_DIM]]
    with atomic_output(path) as tmp:
        if str(path).endswith(".parquet"):
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, sep="\t" if str(path).endswith(".tsv") else ",", index=False,
                         **({"na_rep": "n/a"} if bids else {}))


def write_boxplot(value, path, where, by="condition"):
    """One panel per region: the distribution of its signal in each condition."""
    frame = to_table(value, where)
    if by not in frame:
        raise ParameterError(where, f"signals with a '{by}' coordinate on t", list(frame))
    regions = [c for c in frame.columns if c not in value.coords and c != TIME_DIM]
    conditions = sorted(frame[by].unique())
    columns = min(4, len(regions)) or 1
    rows = -(-len(regions) // columns) or 1
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(3.2 * columns, 2.8 * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, region in zip(axes.flat, regions):
        ax.boxplot([frame.loc[frame[by] == c, region] for c in conditions])
        ax.set_xticks(range(1, len(conditions) + 1), conditions, rotation=60, fontsize=7)
        ax.set_title(f"region {region}", fontsize=9)
    for ax in list(axes.flat)[len(regions):]:
        ax.axis("off")
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)


def _write_report(content, path):
    from roidask.reporting.html_report import render_report

    with atomic_output(path) as tmp:
        render_report(content).save_as_html(tmp)


def plan_output(materialisation, output, value, path, group=None, bids=False):
    """Add ``output`` of lazy ``value`` to a run; return its file writer or None.

    The writer takes the run's :class:`roidask.io.materialise.Outcome`;
    ``bids`` writes tables as BIDS derivatives (see :func:`write_table`).
    Wrong kinds of value are refused here, before anything is computed.
    """
    where = f"outputs.{output.name}"
    if output.kind == "image":
        if not isinstance(value, xr.DataArray):
            raise ParameterError(f"{where}.from", "an image", type(value).__name__)
        materialisation.add_image(value, path, group=group)
        return None
    if output.kind == "report":
        masker = getattr(value, "masker", value)
        if not hasattr(masker, "report_content"):
            raise ParameterError(f"{where}.from", "a masker step", type(value).__name__)
        content = masker.report_content()
        if content.background is None:
            return lambda outcome: _write_report(content, path)
        handle = materialisation.add_value(content.background.data, group=group)
        return lambda outcome: _write_report(content.computed(outcome.value(handle)), path)
    _check_table_source(value, where)
    handle = materialisation.add_value(value, group=group)
    if output.kind == "table":
        return lambda outcome: write_table(outcome.value(handle), path, where, bids)
    return lambda outcome: write_boxplot(outcome.value(handle), path, where, **output.options)
