"""roidask images to nibabel and nilearn.plotting and back, in one call each."""

import matplotlib
import nibabel as nib
import numpy as np
import pytest
from nilearn import datasets, plotting

import roidask
from roidask.testing import raise_if_dask_computes

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def motor_map():
    return nib.load(datasets.load_sample_motor_activation_image())


def test_load_img_wraps_a_nibabel_image_lazily_and_round_trips(motor_map):
    with raise_if_dask_computes():
        img = roidask.load_img(motor_map, chunks={"i": 20, "j": 25, "k": 16})
        thresholded = roidask.threshold_img(img, 3.0)
    np.testing.assert_array_equal(img.values, motor_map.get_fdata(dtype="float32"))
    np.testing.assert_allclose(img.nii.affine, motor_map.affine)
    back = thresholded.nii.to_nibabel()
    assert isinstance(back, nib.Nifti1Image)
    np.testing.assert_allclose(back.affine, motor_map.affine)
    data = motor_map.get_fdata(dtype="float32")
    np.testing.assert_array_equal(back.get_fdata(dtype="float32"),
                                  np.where(np.abs(data) >= 3.0, data, 0))


def test_in_memory_4d_image_keeps_its_values_and_tr():
    data = np.random.default_rng(0).standard_normal((4, 5, 6, 7)).astype("float32")
    source = nib.Nifti1Image(data, np.diag([2.0, 2, 2, 1]))
    source.header.set_zooms((2.0, 2.0, 2.0, 1.5))
    img = roidask.load_img(source, chunks={"t": 3})
    assert img.nii.t_r == 1.5 and img.data.chunks[3] == (3, 3, 1)
    np.testing.assert_array_equal(img.values, data)
    assert img.nii.to_nibabel().header.get_zooms()[3] == 1.5


def test_a_five_dimensional_image_is_refused_by_name():
    with pytest.raises(roidask.ParameterError, match="3D or 4D"):
        roidask.load_img(nib.Nifti1Image(np.zeros((2, 2, 2, 2, 2), "float32"), np.eye(4)))


def test_nilearn_plotting_draws_roidask_results(motor_map, tmp_path):
    img = roidask.load_img(motor_map)
    stat = roidask.threshold_img(img, 3.0).nii.to_nibabel()
    rois = roidask.binarize_img(img, 3.0).nii.to_nibabel()
    plotting.plot_stat_map(stat, output_file=tmp_path / "stat.png")
    plotting.plot_roi(rois, output_file=tmp_path / "roi.png")
    view = plotting.view_img(stat, threshold=3.0)
    assert (tmp_path / "stat.png").stat().st_size > 1000
    assert (tmp_path / "roi.png").stat().st_size > 1000
    assert "<html" in view.get_standalone().lower()
