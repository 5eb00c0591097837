"""Write an image to ``.nii`` or ``.nii.gz``: one dask computation, in place.

:func:`to_nifti` goes through :class:`roidask.io.materialise.Materialisation`:
the file is preallocated, every chunk is stored into its region by the
workers in parallel (peak memory: the chunks in flight, never the image),
and ``.nii.gz`` is compressed (with isal) by one task at the end of the same
computation. Values that several chunks share upstream (a percentile
cut-off, a mean) are computed once, as by ``.compute()``.
"""

from roidask.errors import InputFileError
from roidask.io.materialise import Materialisation
from roidask.io.nifti_format import NIFTI_SUFFIXES, is_nifti_path

__all__ = ["NIFTI_SUFFIXES", "is_nifti_path", "to_nifti"]


def to_nifti(img, path, *, dtype=None, overwrite=True):
    """Write an image to ``.nii`` or ``.nii.gz``, chunk by chunk and atomically.

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
    if not is_nifti_path(path):
        raise InputFileError(path, "is not a NIfTI file name", "end it with .nii or .nii.gz")
    plan = Materialisation()
    plan.add_image(img, path, dtype=dtype, overwrite=overwrite)
    plan.run()
