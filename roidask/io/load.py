"""One entry point to open any image roidask reads."""

from pathlib import Path

import nibabel as nib

from roidask.errors import InputFileError
from roidask.io.nifti_format import is_nifti_path
from roidask.io.nifti_read import load_nibabel, load_nifti
from roidask.io.volume_labels import attach_volume_labels
from roidask.io.zarr_store import is_zarr_path, open_zarr


def load_img(path, chunks=None, labels=None):
    """Open a ``.nii``, ``.nii.gz`` or roidask zarr store as a lazy image.

    Parameters
    ----------
    path : str, Path or nibabel image
        The image file or store, or a nibabel (NIfTI) image, which is
        wrapped lazily (its ``dataobj`` is read chunk by chunk).
    chunks : None, "auto", dict, tuple or str
        Dask chunks. The default is the volume layout for NIfTI (whole
        volumes x a block of time points, ~64 MiB) and the stored chunks for
        zarr; e.g. ``{"t": 100}`` or ``"i=32,j=32,k=32,t=1"`` for spatial
        chunks.
    labels : str, Path or pandas.DataFrame, optional
        Per-volume table (Haxby ``labels.txt``) attached as ``t`` coordinates
        (``condition``, ``run``, ...).

    Returns
    -------
    xarray.DataArray
        Dims ``(i, j, k[, t])``; nothing has been read.

    Examples
    --------
    >>> import numpy as np, nibabel as nib, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.nii.gz")
    >>> nib.save(nib.Nifti1Image(np.zeros((4, 5, 6, 3), "int16"), np.eye(4)), path)
    >>> img = load_img(path)
    >>> img.dims, img.dtype.name
    (('i', 'j', 'k', 't'), 'int16')
    """
    if isinstance(path, nib.spatialimages.SpatialImage):
        img = load_nibabel(path, chunks=chunks)
        return img if labels is None else attach_volume_labels(img, labels)
    path = Path(path)
    if is_zarr_path(path):
        img = open_zarr(path, chunks=chunks)
    elif is_nifti_path(path):
        img = load_nifti(path, chunks=chunks)
    elif not path.exists():
        raise InputFileError(path, "no such file", "check the path")
    else:
        raise InputFileError(
            path, "has an unknown file type", "roidask reads .nii, .nii.gz and .zarr"
        )
    if labels is not None:
        img = attach_volume_labels(img, labels)
    return img
