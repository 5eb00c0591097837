"""Reading and writing images: NIfTI, zarr stores, and conversion between them."""

from roidask.io.load import load_img
from roidask.io.nifti_write import to_nifti
from roidask.io.volume_labels import attach_volume_labels, read_volume_labels
from roidask.io.zarr_store import open_zarr
from roidask.io.zarr_write import to_zarr

__all__ = [
    "attach_volume_labels",
    "load_img",
    "open_zarr",
    "read_volume_labels",
    "to_nifti",
    "to_zarr",
]
