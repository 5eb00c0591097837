"""Reading many files one after another keeps a bounded number of them open."""

import os
import pickle
import subprocess
import sys
import textwrap
import threading

import nibabel as nib
import numpy as np
import pytest

import roidask
from roidask.io.nifti_read import OPEN_FILES, NiftiArray

N_FILES = 300
BOUND = 16

SCRIPT = textwrap.dedent("""
    import os, sys
    import dask
    import numpy as np
    import roidask

    folder, suffix, n, bound = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    paths = [os.path.join(folder, f"img{i:03d}{suffix}") for i in range(n)]

    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    def first_voxel(path):
        return int(roidask.load_img(path)[1, 2, 3, 4].values)

    with dask.config.set({"roidask.open-files": bound, "scheduler": "threads"}):
        before = open_fds()
        values = [first_voxel(path) for path in paths]
        after = open_fds()
        again = first_voxel(paths[0])  # evicted long ago: opened again
    print(before, after, again == values[0], " ".join(map(str, values)))
""")


@pytest.fixture(scope="module")
def many_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    for i in range(N_FILES):
        values = np.full((4, 5, 6, 8), i, dtype="int16")
        nib.save(nib.Nifti1Image(values, np.eye(4)), folder / f"img{i:03d}.nii.gz")
        nib.save(nib.Nifti1Image(values, np.eye(4)), folder / f"img{i:03d}.nii")
    return folder


@pytest.mark.parametrize("suffix, staging", [(".nii.gz", "0"), (".nii.gz", "1"), (".nii", "0")])
def test_reading_many_files_keeps_at_most_the_bound_open(many_files, tmp_path, suffix, staging):
    env = dict(os.environ, ROIDASK_STAGING=staging, ROIDASK_STAGING_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(many_files), suffix, str(N_FILES), str(BOUND)],
        capture_output=True, text=True, env=env, check=True,
    )
    before, after, reread_equal, *values = result.stdout.split()
    assert int(after) - int(before) <= BOUND, (before, after)
    assert values == [str(i) for i in range(N_FILES)]
    assert reread_equal == "True"


def test_default_bound_also_holds(many_files, monkeypatch):
    """In this process too, with the default bound, descriptors stop growing."""
    monkeypatch.setenv("ROIDASK_STAGING", "0")
    OPEN_FILES.clear()
    before = len(os.listdir("/proc/self/fd"))
    for i in range(N_FILES):
        img = roidask.load_img(many_files / f"img{i:03d}.nii.gz")
        assert int(img[0, 0, 0, 0].values) == i
    grown = len(os.listdir("/proc/self/fd")) - before
    assert grown <= roidask.io.nifti_read.DEFAULT_OPEN_FILES
    assert len(OPEN_FILES) <= roidask.io.nifti_read.DEFAULT_OPEN_FILES
    OPEN_FILES.clear()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_reads_from_threads_while_files_are_evicted(many_files, monkeypatch):
    """Threads reading while others evict their files still read the right values."""
    import dask

    monkeypatch.setenv("ROIDASK_STAGING", "0")
    OPEN_FILES.clear()
    errors = []

    def read(offset):
        try:
            for i in range(offset, N_FILES, 4):
                array = NiftiArray(many_files / f"img{i:03d}.nii.gz", (4, 5, 6, 8), "int16")
                block = array[:, :, :, 2:5]
                assert block.shape == (4, 5, 6, 3) and np.all(block == i)
        except Exception as err:  # reported to the main thread
            errors.append(err)

    with dask.config.set({"roidask.open-files": 2}):
        threads = [threading.Thread(target=read, args=(offset,)) for offset in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert len(OPEN_FILES) <= 2
    OPEN_FILES.clear()


def test_array_pickles_without_its_open_file(many_files, monkeypatch):
    monkeypatch.setenv("ROIDASK_STAGING", "0")
    array = NiftiArray(many_files / "img007.nii.gz", (4, 5, 6, 8), "int16")
    assert np.all(array[:, :, :, :1] == 7)  # opened here
    copy = pickle.loads(pickle.dumps(array))
    assert len(pickle.dumps(array)) < 500
    assert np.all(copy[:, :, :, 1:3] == 7)


def test_bad_bound_is_refused(many_files):
    import dask

    OPEN_FILES.clear()
    with dask.config.set({"roidask.open-files": 0}), pytest.raises(
            roidask.ParameterError, match="roidask.open-files: expected a positive integer"):
        roidask.load_img(many_files / "img000.nii").compute()
