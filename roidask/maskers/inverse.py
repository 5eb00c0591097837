"""Images a masker builds on its grid: fitted atlas or mask headers, signals scattered back."""

import dask.array as da
import numpy as np
import xarray as xr

from roidask._dask.chunks import volume_layout
from roidask._dask.extraction import unmask
from roidask.errors import ParameterError
from roidask.grid import TIME_DIM, header_facts, image_affine, new_image, time_coords


def _spatial_facts(img):
    return {k: v for k, v in header_facts(img).items() if k != "t_r"}


def _inverse(signals, index, grid_img, n_columns, column_dim):
    """Scatter (t x n) or (n,) signals onto ``grid_img``'s grid through ``index``."""
    coords = {}
    if isinstance(signals, xr.DataArray):
        if signals.dims[-1] != column_dim or signals.ndim not in (1, 2) or (
                signals.ndim == 2 and signals.dims[0] != TIME_DIM):
            raise ParameterError(
                "signals", f"a DataArray with dims ('t', '{column_dim}') or ('{column_dim}',)",
                signals.dims,
            )
        coords = time_coords(signals, with_index=True) if signals.ndim == 2 else {}
        values = signals.data
    else:
        values = np.asarray(signals)
    if values.ndim not in (1, 2) or values.shape[-1] != n_columns:
        raise ParameterError(
            "signals", f"an array of shape (t, {n_columns}) or ({n_columns},)",
            f"shape {values.shape}",
        )
    values = values if isinstance(values, da.Array) else da.from_array(values, chunks=-1)
    shape = grid_img.shape[:3]
    if values.ndim == 2:
        layout = volume_layout(shape + (values.shape[0],), values.dtype)
        values = values.rechunk({0: layout[3]})
    else:
        layout = volume_layout(shape, values.dtype)
    data = unmask(values, index, chunks=layout[:3])
    img = new_image(data, image_affine(grid_img), header=_spatial_facts(grid_img))
    if coords:
        img = img.assign_coords(coords)
    return img
