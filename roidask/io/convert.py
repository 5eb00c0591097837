"""Streaming conversion of NIfTI files to zarr stores, and back.

NIfTI to zarr reads the file once, front to back: a reader thread
decompresses ``.nii.gz`` with isal (several times faster than zlib) into
slabs of whole volumes while the main thread writes the previous slab's
chunks to zarr (zstd compression releases the GIL). Peak memory is a few
slabs, whatever the file size.
"""

import queue
import threading
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import zarr

from roidask._dask.chunks import TARGET_CHUNK_BYTES, resolve_chunks
from roidask.errors import InputFileError
from roidask.grid import new_image
from roidask.io.atomic import atomic_output
from roidask.io.nifti_read import (
    apply_scaling,
    nifti_header_facts,
    open_nifti_header,
    scaled_dtype,
)
from roidask.io.nifti_write import is_nifti_path, to_nifti
from roidask.io.volume_labels import attach_volume_labels
from roidask.io.zarr_store import DEFAULT_NAME, is_zarr_path, open_zarr, seal_store, to_dataset

try:
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a core dependency
    import gzip as _gzip

_DONE = object()


def _slab_length(chunks, volume_bytes):
    """Volumes per slab: whole last-axis chunks, at least ~TARGET_CHUNK_BYTES."""
    step = chunks[-1][0]
    per_target = max(1, TARGET_CHUNK_BYTES // max(1, volume_bytes * step))
    return step * per_target


def _read_slabs(path, image, slab, out_queue):
    """Put (start, array) slabs of the file's voxels on ``out_queue``."""
    shape = image.shape[:4]
    raw_dtype = image.get_data_dtype()
    last = shape[-1]
    plane = int(np.prod(shape[:-1]))
    opener = _gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            stream.seek(int(image.dataobj.offset))
            for start in range(0, last, slab):
                count = min(slab, last - start)
                nbytes = plane * count * raw_dtype.itemsize
                buffer = bytearray(nbytes)
                view = memoryview(buffer)
                filled = 0
                while filled < nbytes:
                    got = stream.readinto(view[filled:])
                    if not got:
                        raise EOFError(f"file ends after {filled} of {nbytes} bytes")
                    filled += got
                values = np.frombuffer(buffer, raw_dtype).reshape(
                    shape[:-1] + (count,), order="F"
                )
                out_queue.put((start, apply_scaling(values, image.dataobj)))
    except Exception as err:  # handed to the writer thread, which raises it
        out_queue.put(InputFileError(path, f"could not read voxel data ({err})",
                                     "the file is truncated or corrupt"))
    out_queue.put(_DONE)


def nifti_to_zarr(src, dst, *, chunks=None, labels=None, overwrite=True):
    """Convert a NIfTI file to a roidask zarr store in one streaming pass.

    Parameters
    ----------
    src : str or Path
        ``.nii`` or ``.nii.gz`` file.
    dst : str or Path
        Zarr store to create (written atomically).
    chunks : optional
        Chunk spec (see :func:`roidask._dask.chunks.parse_chunks`); volume layout
        by default.
    labels : optional
        Per-volume labels file stored as ``t`` coordinates.

    Examples
    --------
    >>> import numpy as np, nibabel as nib, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> nib.save(nib.Nifti1Image(np.ones((3, 4, 5, 6), "int16"), np.eye(4)), d + "/a.nii.gz")
    >>> nifti_to_zarr(d + "/a.nii.gz", d + "/a.zarr", chunks="t=2")
    >>> open_zarr(d + "/a.zarr").chunks[-1]
    (2, 2, 2)
    """
    image = open_nifti_header(src)
    shape = image.shape[:4]  # trailing singleton dims do not change the byte layout
    dtype = scaled_dtype(image)
    chunk_spec = resolve_chunks(chunks, shape, dtype)
    facts = nifti_header_facts(image)
    time_coords = None
    if len(shape) == 4 and "t_r" in facts:
        time_coords = {"time": np.arange(shape[3]) * facts["t_r"]}
    template = new_image(
        da.zeros(shape, dtype=dtype, chunks=chunk_spec), image.affine,
        header=facts, time_coords=time_coords,
    )
    if labels is not None:
        template = attach_volume_labels(template, labels)
    ds = to_dataset(template)
    volume_bytes = int(np.prod(shape[:-1])) * dtype.itemsize
    slab = _slab_length(chunk_spec, volume_bytes)
    slabs = queue.Queue(maxsize=2)
    with atomic_output(dst, overwrite=overwrite) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        ds.to_zarr(tmp, mode="w", compute=False, consolidated=True, zarr_format=3)
        target = zarr.open_array(tmp, path=DEFAULT_NAME, mode="r+")
        reader = threading.Thread(
            target=_read_slabs, args=(Path(src), image, slab, slabs), daemon=True
        )
        reader.start()
        try:
            while (item := slabs.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise item
                start, values = item
                target[..., start:start + values.shape[-1]] = values
            seal_store(tmp)  # every slab is written: record the chunks
        finally:
            while reader.is_alive():  # unblock the reader if we stopped early
                try:
                    slabs.get(timeout=0.1)
                except queue.Empty:
                    pass
            reader.join()


def convert(src, dst, *, chunks=None, labels=None, overwrite=True):
    """Convert between NIfTI and zarr, choosing the direction from the names.

    NIfTI -> zarr streams the file once (:func:`nifti_to_zarr`); zarr ->
    NIfTI stores chunks in place, in one computation (:func:`roidask.to_nifti`).
    """
    if is_nifti_path(src) and is_zarr_path(dst):
        return nifti_to_zarr(src, dst, chunks=chunks, labels=labels, overwrite=overwrite)
    if is_zarr_path(src) and is_nifti_path(dst):
        img = open_zarr(src, chunks=chunks)
        return to_nifti(img, dst, overwrite=overwrite)
    raise InputFileError(
        f"{src} -> {dst}", "cannot tell the conversion",
        "convert .nii/.nii.gz to .zarr, or .zarr to .nii/.nii.gz",
    )
