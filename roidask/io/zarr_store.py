"""roidask images in zarr stores.

A store is a zarr v3 group written by xarray: one data variable (the image,
named ``image`` unless it has a name), the ``i, j, k[, t]`` index
coordinates, the per-volume coordinates on ``t`` and the 0-d ``space``
coordinate whose attrs hold the affine and header facts. Any xarray user can
open it with ``xarray.open_zarr``; :func:`open_zarr` also restores the grid
checks. Zarr chunks follow the image's dask chunks (made regular first);
:func:`roidask.io.zarr_write.to_zarr` writes stores.
"""

import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from zarr.codecs import BloscCodec

from roidask._dask.chunks import resolve_chunks
from roidask.errors import InputFileError
from roidask.grid import as_image, chunk_data

DEFAULT_NAME = "image"


def is_zarr_path(path):
    """Whether ``path`` names a zarr store (by suffix or by its metadata file)."""
    path = Path(path)
    return path.suffix == ".zarr" or (path / "zarr.json").exists()


def regular_chunks(data_chunks):
    """Chunks zarr can store: equal sizes per axis (the last may be smaller)."""
    return tuple(max(axis) for axis in data_chunks)


def image_codec(dtype):
    """Blosc-LZ4 with bit shuffle for integers, byte shuffle for floats.

    On BOLD-like int16 data it compresses as well as zarr's default zstd
    and writes twice / reads several times as fast (measured on a 67 MB chunk).
    """
    shuffle = "bitshuffle" if np.dtype(dtype).kind in "iub" else "shuffle"
    return BloscCodec(cname="lz4", clevel=5, shuffle=shuffle)


def to_dataset(img):
    """The image as an xarray Dataset ready for zarr, with regular chunks."""
    img = as_image(img)
    name = img.name or DEFAULT_NAME
    if img.chunks is not None:
        img = chunk_data(img, regular_chunks(img.chunks))
    ds = img.to_dataset(name=name)
    for coord in ds.coords:  # coords are small: keep them in memory, strings variable-length
        values = np.asarray(ds[coord].values)
        if values.dtype.kind in "OU":
            values = values.astype(str).astype(object)
        ds[coord] = ds[coord].copy(data=values)
    ds.attrs["roidask_image"] = name
    ds[name].encoding["compressors"] = (image_codec(ds[name].dtype),)
    return ds


def open_zarr(path, chunks=None):
    """Open a roidask zarr store as a lazy image.

    ``chunks=None`` keeps the store's chunks; any spec accepted by
    :func:`roidask._dask.chunks.parse_chunks` rechunks lazily.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such zarr store", "check the path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            ds = xr.open_zarr(path, consolidated=None, chunks=None)
    except Exception as err:  # zarr raises many types for a broken store
        raise InputFileError(
            path, f"is not a readable zarr store ({type(err).__name__}: {err})",
            "write it with roidask.to_zarr or `roidask convert`",
        ) from None
    name = ds.attrs.get("roidask_image")
    if name not in ds.data_vars:
        names = list(ds.data_vars)
        if len(names) != 1:
            raise InputFileError(path, f"holds {len(names)} arrays {names}; expected one image")
        name = names[0]
    coords = {}
    for coord, variable in ds[name].coords.items():  # small: read now, without dask
        values = variable.values
        if values.dtype.kind in "OT":  # variable-length strings -> fixed-width numpy strings
            values = np.array(values.tolist())
        coords[coord] = variable.copy(data=values)
    encoding = ds[name].encoding
    stored = encoding.get("preferred_chunks") or dict(zip(ds[name].dims, encoding["chunks"]))
    shape, dtype = ds[name].shape, ds[name].dtype
    layout = stored if chunks is None else dict(
        zip(ds[name].dims, resolve_chunks(chunks, shape, dtype))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        lazy = xr.open_zarr(path, consolidated=None, chunks=layout)[name]
    img = as_image(lazy.assign_coords(coords), argument=str(path))
    img.attrs["source"] = str(path)
    if img.name == DEFAULT_NAME:
        img.name = None
    return img

