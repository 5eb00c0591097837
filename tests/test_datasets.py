"""Synthetic data: shapes, design, planted ground truth."""

import nibabel as nib
import numpy as np

import roidask
from roidask.datasets import CATEGORIES, make_haxby_like


def test_tiny_dataset_files_and_design(tiny_dataset):
    img = roidask.load_img(tiny_dataset.func, labels=tiny_dataset.labels)
    assert img.shape == (12, 16, 16, 242) and img.dtype == np.int16
    assert img.nii.t_r == 2.5
    assert set(np.unique(img.condition.values)) == set(CATEGORIES) | {"rest"}
    assert sorted(np.unique(img.run.values)) == [0, 1]
    vt = nib.load(tiny_dataset.vt_mask).get_fdata() > 0
    for category, path in tiny_dataset.planted.items():
        region = nib.load(path).get_fdata() > 0
        assert region.any() and not (region & ~vt).any(), category


def test_planted_region_responds_to_its_category(tiny_dataset):
    img = roidask.load_img(tiny_dataset.func, labels=tiny_dataset.labels)
    face = nib.load(tiny_dataset.planted["face"]).get_fdata() > 0
    values = img.values[face].mean(0)
    on = values[img.condition.values == "face"].mean()
    off = values[img.condition.values == "house"].mean()
    assert on - off > 20  # 3 % of the 1000 baseline


def test_custom_shape_and_volume_count(tmp_path):
    data = make_haxby_like(tmp_path, size="tiny", shape=(9, 10, 11), n_volumes=30, subject=3)
    img = roidask.load_img(data.func, labels=data.labels)
    assert img.shape == (9, 10, 11, 30)
    assert img.nii.affine[0, 0] < 0  # flipped x like the Haxby data
