"""Streaming NIfTI writer for ``.nii`` and ``.nii.gz``.

NIfTI stores voxels in Fortran order, so the last axis (``t``, or ``k`` for
3D images) is the slowest: the writer computes slabs along it, a few at a
time, and appends their bytes. Peak memory is a few slabs, never the whole
image. ``.nii.gz`` is compressed with isal when available.
"""

import os
from pathlib import Path

import dask
import dask.array as da
import nibabel as nib
import numpy as np

from roidask.errors import InputFileError
from roidask.grid import as_image, header_facts, image_affine
from roidask.io.atomic import atomic_output

try:
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a core dependency
    import gzip as _gzip

NIFTI_SUFFIXES = (".nii", ".nii.gz")
VOX_OFFSET = 352


def is_nifti_path(path):
    """Whether ``path`` names a NIfTI file by its suffix."""
    return str(path).endswith(NIFTI_SUFFIXES)


def _disk_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.dtype(np.uint8)
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


def nifti_header_for(img, dtype):
    """A NIfTI-1 header describing ``img`` with voxels stored as ``dtype``."""
    facts = header_facts(img)
    header = nib.Nifti1Header()
    header.set_data_dtype(dtype)
    header.set_data_shape(img.shape)
    affine = image_affine(img)
    header.set_sform(affine, code=int(facts.get("sform_code") or 2))
    header.set_qform(affine, code=int(facts.get("qform_code") or 2))
    zooms = list(header.get_zooms()[:3])
    if img.ndim == 4:
        zooms.append(float(facts.get("t_r", 1.0)))
    header.set_zooms(zooms)
    header.set_xyzt_units(facts.get("xyz_units", "mm"), "sec" if img.ndim == 4 else "unknown")
    header["vox_offset"] = VOX_OFFSET
    header.set_slope_inter(1.0, 0.0)
    return header


def _worker_threads():
    try:
        from distributed import default_client

        return max(1, sum(default_client().nthreads().values()))
    except ValueError:
        return os.cpu_count() or 1


def _slabs(data):
    """Index ranges along the last axis, one per chunk there."""
    start = 0
    for size in data.chunks[-1]:
        yield start, start + size
        start += size


def write_voxels(stream, data, dtype):
    """Compute ``data`` slab by slab along its last axis and write F-order bytes."""
    slabs = list(_slabs(data))
    batch = _worker_threads()
    for first in range(0, len(slabs), batch):
        parts = [data[..., a:b].astype(dtype) for a, b in slabs[first:first + batch]]
        for values in dask.compute(*parts):
            stream.write(np.asarray(values).tobytes(order="F"))


def to_nifti(img, path, *, dtype=None, overwrite=True):
    """Write an image to ``.nii`` or ``.nii.gz``, streaming and atomically.

    Parameters
    ----------
    img : xarray.DataArray
        A roidask image (3D or 4D, numpy- or dask-backed).
    path : str or Path
        Output file; ``.nii.gz`` is gzip-compressed.
    dtype : dtype, optional
        On-disk dtype; defaults to the image's (bool is stored as uint8).
    overwrite : bool
        Replace an existing file (only once the new one is complete).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from roidask.grid import new_image
    >>> path = os.path.join(tempfile.mkdtemp(), "x.nii.gz")
    >>> to_nifti(new_image(np.ones((2, 3, 4), "int16"), np.eye(4)), path)
    >>> import nibabel as nib; nib.load(path).shape
    (2, 3, 4)
    """
    img = as_image(img)
    path = Path(path)
    if not is_nifti_path(path):
        raise InputFileError(path, "is not a NIfTI file name", "end it with .nii or .nii.gz")
    dtype = _disk_dtype(dtype or img.dtype)
    header = nifti_header_for(img, dtype)
    data = img.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=-1)
    with atomic_output(path, overwrite=overwrite) as tmp:
        opener = _gzip.open if path.name.endswith(".gz") else open
        with opener(tmp, "wb") as stream:
            header.write_to(stream)  # 348 header bytes + 4-byte extension flag
            write_voxels(stream, data, dtype)
