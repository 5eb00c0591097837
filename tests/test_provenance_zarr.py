"""A zarr input rewritten in place is redone on rerun: its fingerprint covers the chunks."""

import shutil
import subprocess

import nibabel as nib
import numpy as np
import pytest
import zarr

# an in-process worker counts the whole test process against its limit (and pauses
# at 80 % of it): keep the limit well above what a long pytest session holds
ONE_WORKER = ["--n-workers", "1", "--memory-limit", "6GB"]
CONFIG = """\
name: zarr_mean
inputs:
  func: func.zarr
steps:
  - {op: mean_img, img: $func}
outputs:
  mean: {from: $mean_img, path: mean.nii.gz}
"""


def roidask(*args):
    proc = subprocess.run(["roidask", *[str(a) for a in args]], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def study(tiny_dataset, tmp_path):
    root = tmp_path / "study"
    root.mkdir()
    shutil.copy(tiny_dataset.func, root / "func.nii.gz")
    roidask("convert", root / "func.nii.gz", root / "func.zarr")
    (root / "config.yaml").write_text(CONFIG)
    return root


def image_array(store):
    group = zarr.open_group(store, mode="r+")
    return group[group.attrs["roidask_image"]]


def run(study):
    return roidask("run", study / "config.yaml", "--output", study / "out", *ONE_WORKER)


def stored_mean(study):
    return np.asarray(nib.load(study / "out" / "mean.nii.gz").dataobj)


def test_store_rewritten_with_other_values_is_recomputed(study):
    assert "zarr_mean: done" in run(study)
    before = stored_mean(study)
    array = image_array(study / "func.zarr")
    values = array[...]
    array[...] = values // 2  # same store, same metadata, other voxels
    output = run(study)
    assert "zarr_mean: done" in output and "skipped" not in output
    after = stored_mean(study)
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, (values // 2).mean(axis=-1), rtol=1e-5)


def test_one_chunk_rewritten_is_recomputed(study):
    run(study)
    array = image_array(study / "func.zarr")
    block = tuple(slice(0, c) for c in array.chunks)
    array[block] = array[block] + 100  # one chunk of one corner
    output = run(study)
    assert "zarr_mean: done" in output, output


def test_untouched_store_is_still_skipped(study):
    run(study)
    assert "zarr_mean: up to date, skipped" in run(study)
