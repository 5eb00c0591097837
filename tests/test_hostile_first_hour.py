"""The first hour of a new user, and API edge cases that had no test of their own.

- README's batch command: ``roidask validate configs/roi_extraction_batch.yaml
  --inputs-dir batch`` finds ``batch/sub-*`` (the glob used to be resolved against the
  config's folder, and the message blamed the pattern).
- A 3D image through ``NiftiLabelsMasker`` has nilearn's shape (it was ``(1,)``).
"""

import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
from nilearn.maskers import NiftiLabelsMasker as NilearnLabelsMasker

from roidask.io import load_img
from roidask.maskers import NiftiLabelsMasker

CONFIGS = Path(__file__).parents[1] / "configs"


def roidask(*args, cwd=None):
    return subprocess.run(["roidask", *[str(a) for a in args]], capture_output=True, text=True,
                          cwd=cwd)


def test_the_batch_config_finds_the_subjects_under_inputs_dir(tmp_path):
    made = roidask("make-data", "batch", "--size", "tiny", "--subjects", "2", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    proc = roidask("validate", CONFIGS / "roi_extraction_batch.yaml", "--inputs-dir", "batch",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "valid (7 steps, 6 outputs, 2 subject(s))" in proc.stdout, proc.stdout


def test_a_3d_image_through_the_labels_masker_has_nilearns_shape(tmp_path):
    labels = np.zeros((4, 5, 6), "int16")
    labels[:2], labels[2:, :2] = 1, 2
    values = np.random.default_rng(0).standard_normal((4, 5, 6)).astype("float32")
    for name, data in (("labels", labels), ("img", values)):
        nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / f"{name}.nii.gz")
    ours = NiftiLabelsMasker(load_img(tmp_path / "labels.nii.gz")).fit_transform(
        load_img(tmp_path / "img.nii.gz"))
    theirs = NilearnLabelsMasker(str(tmp_path / "labels.nii.gz"), standardize=None).fit_transform(
        str(tmp_path / "img.nii.gz"))
    assert np.shape(ours) == theirs.shape
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-6)
