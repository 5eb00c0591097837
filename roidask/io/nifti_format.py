"""The NIfTI-1 file format as roidask writes it: names, header and on-disk dtype.

Voxels start at byte :data:`VOX_OFFSET` (348 header bytes and the 4-byte
extension flag), in Fortran order. :mod:`roidask.io.nifti_write` writes
files with these pieces.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> header = nifti_header_for(new_image(np.zeros((2, 3, 4)), np.eye(4)), np.dtype("uint8"))
>>> header.get_data_shape(), is_nifti_path("x.nii.gz"), disk_dtype(bool)
((2, 3, 4), True, dtype('uint8'))
"""

import nibabel as nib
import numpy as np

from roidask.grid import header_facts, image_affine

NIFTI_SUFFIXES = (".nii", ".nii.gz")
VOX_OFFSET = 352


def is_nifti_path(path):
    """Whether ``path`` names a NIfTI file by its suffix."""
    return str(path).endswith(NIFTI_SUFFIXES)


def disk_dtype(dtype):
    """The dtype a NIfTI file stores ``dtype`` as (bool as uint8, float16 as float32)."""
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
