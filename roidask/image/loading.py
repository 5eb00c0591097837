"""nilearn's ``load_img``: one file, a list of them or a glob pattern, as one lazy image.

:func:`roidask.io.load_img` opens one image (a file, a zarr store or a
nibabel image); this :func:`load_img` also takes what nilearn's does: a list
of images or paths, or a path with shell wildcards (``sub-*/func.nii.gz``,
sorted), whose images are concatenated along time as :func:`concat_imgs`
does (3D images count as one volume each; a pattern is always a list, so
one matching 3D file gives a 4D image of one volume, as in nilearn).

Examples
--------
>>> import glob, os, tempfile
>>> import nibabel as nib, numpy as np
>>> folder = tempfile.mkdtemp()
>>> for n in range(3):
...     nib.save(nib.Nifti1Image(np.full((2, 2, 2), n, "int16"), np.eye(4)),
...              os.path.join(folder, f"vol{n}.nii.gz"))
>>> img = load_img(os.path.join(folder, "vol*.nii.gz"))
>>> img.shape, img.dtype.name, img.values[0, 0, 0].tolist()
((2, 2, 2, 3), 'int16', [0, 1, 2])
"""

import glob
import os
from pathlib import Path

import numpy as np

from roidask.errors import InputFileError, ParameterTypeError
from roidask.image.concat import concat_imgs
from roidask.io import attach_volume_labels
from roidask.io import load_img as load_one

__all__ = ["load_img"]


def _matches(pattern):
    """Files matching a path with shell wildcards, sorted; the path itself without any."""
    text = os.path.expanduser(str(pattern))
    if not glob.has_magic(text):
        return None
    paths = sorted(glob.glob(text))
    if not paths:
        raise InputFileError(pattern, "matches no file", "check the pattern and the folder")
    return paths


def load_img(img, wildcards=True, dtype=None, *, chunks=None, labels=None):
    """Open an image, a list of images or a glob pattern as one lazy image.

    Parameters
    ----------
    img : path, xarray.DataArray, nibabel image, or a list of them
        A ``.nii``, ``.nii.gz`` or zarr store (or a pattern of them), an
        image, or several, concatenated along time.
    wildcards : bool
        Expand shell wildcards (``*``, ``?``, ``[...]``) in a path (nilearn's
        default); False takes the path literally.
    dtype : numpy dtype, optional
        Cast the result (lazily); None keeps the data's type.
    chunks, labels
        As in :func:`roidask.io.load_img`.

    Returns
    -------
    xarray.DataArray
        Lazy; nothing has been read.

    Raises
    ------
    InputFileError
        For a missing file or a pattern matching none.
    ParameterTypeError
        For an empty list.
    """
    if isinstance(img, (str, Path)) and wildcards:
        paths = _matches(img)
        if paths is not None:
            img = paths
    if isinstance(img, (list, tuple)):
        if not img:
            raise ParameterTypeError("img", "an image or a non-empty list of images",
                                     "an empty list")
        parts = [part if hasattr(part, "dims") else load_one(part, chunks=chunks)
                 for part in img]
        out = concat_imgs(parts, dtype=None)
        if labels is not None:
            out = attach_volume_labels(out, labels)
    elif hasattr(img, "dims"):
        out = img
    else:
        out = load_one(img, chunks=chunks, labels=labels)
    return out if dtype is None else out.astype(np.dtype(dtype))
