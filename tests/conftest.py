"""Shared fixtures: small NIfTI files and a tiny synthetic dataset."""

import nibabel as nib
import numpy as np
import pytest

from roidask.datasets import make_haxby_like


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A tiny Haxby-shaped dataset (12x16x16 voxels, 242 volumes)."""
    return make_haxby_like(tmp_path_factory.mktemp("tiny"), size="tiny")


@pytest.fixture
def make_nifti(tmp_path):
    """Write a NIfTI file from an array; returns its path."""

    def make(values, affine=None, name="img.nii.gz", slope=None, inter=None, zooms=None):
        affine = np.diag([2.0, 2.5, 3.0, 1.0]) if affine is None else affine
        image = nib.Nifti1Image(values, affine)
        if slope is not None:
            image.header.set_slope_inter(slope, inter or 0.0)
        if zooms is not None:
            image.header.set_zooms(zooms)
        path = tmp_path / name
        nib.save(image, path)
        return path

    return make
