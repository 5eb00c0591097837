"""Writers for pipeline outputs: images, signal tables, figures and reports.

Every writer writes under a temporary name and renames on success.
:func:`needs_streaming` tells which outputs are too big to compute into
memory (4D images): those stream to disk through the image writers.
"""

import pandas as pd
import xarray as xr

from roidask.errors import ParameterError
from roidask.grid import TIME_DIM
from roidask.io.atomic import atomic_output
from roidask.io.nifti_write import to_nifti
from roidask.io.zarr_write import to_zarr


def needs_streaming(output, value):
    """Whether ``value`` must be streamed to disk rather than computed in memory."""
    return output.kind == "image" and isinstance(value, xr.DataArray) and TIME_DIM in value.dims


def to_table(value, where):
    """A pandas DataFrame from signals (t x region/voxel) or a Dataset."""
    if isinstance(value, xr.Dataset):
        return value.to_dataframe().reset_index()
    if not isinstance(value, xr.DataArray) or value.ndim != 2 or TIME_DIM not in value.dims:
        raise ParameterError(where, "signals (a t x region DataArray) or a table", type(value))
    other = next(d for d in value.dims if d != TIME_DIM)
    names = value.coords["name"].values if "name" in value.coords else value[other].values
    frame = pd.DataFrame(value.transpose(TIME_DIM, other).values,
                         columns=[str(n) for n in names])
    meta = {c: value.coords[c].values for c in value.coords
            if value.coords[c].dims == (TIME_DIM,)}
    meta[TIME_DIM] = value[TIME_DIM].values
    return pd.concat([pd.DataFrame(meta), frame], axis=1)


def write_table(value, path, where):
    frame = to_table(value, where)
    with atomic_output(path) as tmp:
        if str(path).endswith(".parquet"):
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, sep="\t" if str(path).endswith(".tsv") else ",", index=False)


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


def write_output(output, value, path):
    """Write a computed (or, for 4D images, lazy) value to ``path``."""
    where = f"outputs.{output.name}"
    if output.kind == "image":
        if not isinstance(value, xr.DataArray):
            raise ParameterError(f"{where}.from", "an image", type(value).__name__)
        if str(path).endswith(".zarr"):
            to_zarr(value, path)
        else:
            to_nifti(value, path)
    elif output.kind == "table":
        write_table(value, path, where)
    elif output.kind == "figure":
        write_boxplot(value, path, where, **output.options)
    elif output.kind == "report":
        masker = getattr(value, "masker", value)
        if not hasattr(masker, "generate_report"):
            raise ParameterError(f"{where}.from", "a masker step", type(value).__name__)
        with atomic_output(path) as tmp:
            masker.generate_report(tmp)

