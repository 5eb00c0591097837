"""The ``.nii`` accessor: NIfTI facts and writers on any roidask image.

Examples
--------
>>> import numpy as np
>>> import roidask
>>> img = roidask.new_image(np.zeros((4, 4, 4)), np.diag([-3.0, 3.0, 3.0, 1.0]))
>>> img.nii.voxel_size.tolist()
[3.0, 3.0, 3.0]
"""

import xarray as xr

from roidask import grid


@xr.register_dataarray_accessor("nii")
class NiftiAccessor:
    """NIfTI view of an image: affine, voxel size, TR and writers."""

    def __init__(self, obj):
        self._obj = obj

    @property
    def affine(self):
        """The 4x4 affine of this image (accounts for slicing)."""
        return grid.image_affine(self._obj)

    @property
    def voxel_size(self):
        """Voxel edge lengths in world units."""
        return grid.voxel_size(self._obj)

    @property
    def voxel_volume(self):
        """Volume of one voxel, mm^3."""
        return grid.voxel_volume(self._obj)

    @property
    def t_r(self):
        """Repetition time in seconds, or None."""
        return grid.header_facts(self._obj).get("t_r")

    @property
    def header(self):
        """Header facts besides the affine (units, TR, sform/qform codes)."""
        return grid.header_facts(self._obj)

    def to_nifti(self, path, **kwargs):
        """Write to ``.nii``/``.nii.gz``; see :func:`roidask.to_nifti`."""
        from roidask.io.nifti_write import to_nifti

        return to_nifti(self._obj, path, **kwargs)

    def to_nibabel(self):
        """This image as an in-memory :class:`nibabel.Nifti1Image` (computes it).

        For nibabel and ``nilearn.plotting`` (``plot_stat_map(img.nii.to_nibabel())``):
        the voxels are computed into memory, as ``.values`` would, so use it on
        3D maps or a few volumes; write large images with :meth:`to_nifti`.
        The header carries the affine, units, TR and sform/qform codes.

        Examples
        --------
        >>> import numpy as np
        >>> import roidask
        >>> img = roidask.new_image(np.ones((2, 3, 4), "float32"), np.diag([2.0, 2, 2, 1]))
        >>> nifti = img.nii.to_nibabel()
        >>> nifti.shape, nifti.header.get_zooms()[0].item(), nifti.get_fdata().sum().item()
        ((2, 3, 4), 2.0, 24.0)
        """
        import nibabel as nib
        import numpy as np

        from roidask.io.nifti_format import disk_dtype, nifti_header_for

        dtype = disk_dtype(self._obj.dtype)
        header = nifti_header_for(self._obj, dtype)
        header["vox_offset"] = 0
        values = np.asarray(self._obj.values).astype(dtype, copy=False)
        return nib.Nifti1Image(values, self.affine, header=header)

    def to_zarr(self, path, **kwargs):
        """Write to a zarr store; see :func:`roidask.to_zarr`."""
        from roidask.io.zarr_write import to_zarr

        return to_zarr(self._obj, path, **kwargs)
