"""connected_regions with a mask on another grid: resampled onto the maps (nearest), as nilearn."""

import warnings

import dask
import nibabel as nib
import numpy as np
import pytest
from nilearn.regions import connected_regions as nilearn_connected_regions
from scipy import ndimage as ndi

import roidask
from roidask.regions import connected_regions
from roidask.testing import raise_if_dask_computes

SHAPE = (12, 14, 10)
MAPS_AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])
MASK_AFFINE = np.diag([1.5, 1.5, 1.5, 1.0])  # twice as fine, same origin


@pytest.mark.parametrize("extract_type", ["connected_components", "local_regions"])
def test_mask_on_a_finer_grid_is_resampled_onto_the_maps(extract_type):
    rng = np.random.default_rng(3)
    maps = np.stack([ndi.gaussian_filter(rng.standard_normal(SHAPE), 1.2) for _ in range(2)],
                    axis=-1).astype("float32")
    maps[np.abs(maps) < 0.1] = 0
    mask = np.zeros((24, 28, 20), "uint8")
    mask[:, :, :12] = 1
    kwargs = dict(min_region_size=150, extract_type=extract_type, smoothing_fwhm=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected, expected_index = nilearn_connected_regions(
            nib.Nifti1Image(maps, MAPS_AFFINE), mask_img=nib.Nifti1Image(mask, MASK_AFFINE),
            **kwargs)
    img = roidask.new_image(maps, MAPS_AFFINE).chunk({"i": 5, "j": 4, "k": 3})
    mask_img = roidask.new_image(mask, MASK_AFFINE).chunk(7)
    with raise_if_dask_computes():
        regions, index = connected_regions(img, mask_img=mask_img, **kwargs)
    regions, index = dask.compute(regions, index)
    assert index == expected_index
    np.testing.assert_array_equal(regions.values, expected.get_fdata(dtype=np.float32))
