"""load_img of lists and glob patterns, as nilearn's: concatenated along time, lazily."""

import nibabel as nib
import numpy as np
import pytest
from nilearn import image as nimage

import roidask
from roidask.errors import InputFileError
from roidask.testing import raise_if_dask_computes

AFFINE = np.diag([2.0, 2.5, 3.0, 1.0])


@pytest.fixture
def volumes(tmp_path):
    """Three 3D files and two 4D files of one grid."""
    rng = np.random.default_rng(0)
    paths = {}
    for n in range(3):
        paths[f"vol{n}"] = tmp_path / f"vol{n}.nii.gz"
        nib.save(nib.Nifti1Image(rng.integers(0, 100, (4, 5, 6)).astype("int16"), AFFINE),
                 paths[f"vol{n}"])
    for n, length in enumerate((3, 2)):
        paths[f"run{n}"] = tmp_path / f"run{n}.nii"
        nib.save(nib.Nifti1Image(rng.standard_normal((4, 5, 6, length)).astype("float32"),
                                 AFFINE), paths[f"run{n}"])
    return paths


def same_as_nilearn(ours, theirs):
    np.testing.assert_array_equal(ours.values, theirs.get_fdata())
    assert ours.dtype == theirs.get_data_dtype()
    np.testing.assert_allclose(ours.nii.affine, theirs.affine)


@pytest.mark.parametrize("pattern", ["vol*.nii.gz", "run*.nii", "vol[01].nii.gz"])
def test_a_glob_pattern_is_the_sorted_files_concatenated(volumes, pattern):
    folder = volumes["vol0"].parent
    with raise_if_dask_computes():
        img = roidask.load_img(str(folder / pattern))
    same_as_nilearn(img, nimage.load_img(str(folder / pattern)))


def test_a_list_of_paths_or_images_is_concatenated(volumes):
    paths = [volumes["run0"], volumes["run1"]]
    same_as_nilearn(roidask.load_img(paths), nimage.load_img([str(p) for p in paths]))
    images = [roidask.load_img(p) for p in paths]
    same_as_nilearn(roidask.load_img(images), nimage.load_img([str(p) for p in paths]))


def test_one_match_is_a_list_of_one_and_dtype_casts(volumes):
    folder = volumes["vol0"].parent
    img = roidask.load_img(str(folder / "vol0.nii*"), dtype="float32")
    reference = nimage.load_img(str(folder / "vol0.nii*"), dtype="float32")
    assert img.shape == reference.shape == (4, 5, 6, 1)
    assert img.dtype == np.asarray(reference.dataobj).dtype == np.float32
    np.testing.assert_array_equal(img.values, reference.get_fdata())


def test_no_match_and_literal_paths(volumes):
    folder = volumes["vol0"].parent
    with pytest.raises(InputFileError, match="matches no file"):
        roidask.load_img(str(folder / "nothing*.nii.gz"))
    with pytest.raises(InputFileError, match="no such file"):
        roidask.load_img(str(folder / "vol*.nii.gz"), wildcards=False)
    with pytest.raises(TypeError):
        roidask.load_img([])
