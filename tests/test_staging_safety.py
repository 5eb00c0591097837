"""Staging trusts nothing it finds: a private per-user folder, locks opened without
following links, staged copies checked against their source, leftovers removed."""

import gzip
import json
import os
import stat
import subprocess
import sys
import tempfile
import zlib

import nibabel as nib
import numpy as np
import pytest

import roidask
from roidask.io import staging
from roidask.io.nifti_read import OPEN_FILES

OTHER_UID = 54321  # another user: we run as root, so os.chown can hand folders to it


def write_gz(path, values):
    nib.save(nib.Nifti1Image(values, np.eye(4)), path)
    return path


def values(seed, shape=(4, 5, 6, 7)):
    return np.random.default_rng(seed).integers(0, 1000, size=shape).astype("int16")


@pytest.fixture
def scratch(monkeypatch, tmp_path):
    """A shared temporary folder (as /tmp is), used through TMPDIR."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.delenv(staging.STAGING_DIR_ENV, raising=False)
    monkeypatch.setenv(staging.STAGING_ENV, "1")
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    OPEN_FILES.clear()
    yield shared
    OPEN_FILES.clear()


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    return write_gz(folder / "func.nii.gz", values(0))


def load(path):
    OPEN_FILES.clear()  # a new process as far as open files go
    return roidask.load_img(path).values


def staged_copies(folder):
    return sorted(p for p in folder.glob("*.nii"))


def snapshot(folder):
    return {p.relative_to(folder): (p.lstat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def test_the_staging_folder_is_private_and_per_user(scratch, source):
    np.testing.assert_array_equal(load(source), values(0))
    folder = staging.staging_dir()
    assert folder.parent == scratch and str(os.getuid()) in folder.name
    info = folder.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()
    assert len(staged_copies(folder)) == 1
    lock = folder / ".lock"
    assert stat.S_IMODE(lock.lstat().st_mode) & 0o077 == 0


def test_another_users_folders_in_a_shared_tmpdir_are_left_alone(scratch, source):
    # what another user's runs leave in the shared folder: their private staging folder,
    # and the one-for-all folder older versions made, with a lock only they can write
    theirs = scratch / f"roidask-staging-{OTHER_UID}"
    legacy = scratch / "roidask-staging"
    for folder in (theirs, legacy):
        folder.mkdir(mode=0o700)
        (folder / ".lock").write_text("")
        (folder / ".lock").chmod(0o644)
        write_gz(folder / "x.nii.gz", values(1))
        for path in (folder, *folder.iterdir()):
            os.chown(path, OTHER_UID, OTHER_UID)
    before = {folder: snapshot(folder) for folder in (theirs, legacy)}
    np.testing.assert_array_equal(load(source), values(0))
    assert {folder: snapshot(folder) for folder in (theirs, legacy)} == before
    assert staging.staging_dir() not in (theirs, legacy)


def test_a_folder_at_our_name_owned_by_someone_else_is_refused(scratch, source):
    folder = staging.staging_dir()
    folder.mkdir(mode=0o700)
    os.chown(folder, OTHER_UID, OTHER_UID)
    with pytest.raises(roidask.InputFileError) as caught:
        load(source)
    message = str(caught.value)
    assert str(folder) in message and f"uid {OTHER_UID}" in message
    assert "ROIDASK_STAGING_DIR" in message
    assert list(folder.iterdir()) == []  # nothing written into it


def test_a_world_writable_folder_of_ours_is_replaced(scratch, source):
    np.testing.assert_array_equal(load(source), values(0))
    folder = staging.staging_dir()
    [copy] = staged_copies(folder)
    folder.chmod(0o777)  # anyone could have planted anything in it
    planted = bytearray(copy.read_bytes())
    planted[-200:] = b"\x01" * 200
    copy.write_bytes(bytes(planted))
    np.testing.assert_array_equal(load(source), values(0))
    info = folder.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()


def test_a_symlinked_lock_does_not_truncate_its_target(scratch, source, tmp_path):
    np.testing.assert_array_equal(load(source), values(0))  # makes the folder
    folder = staging.staging_dir()
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    (folder / ".lock").unlink()
    (folder / ".lock").symlink_to(victim)
    other = write_gz(source.parent / "other.nii.gz", values(2))
    np.testing.assert_array_equal(load(other), values(2))  # stages: takes the lock
    assert victim.read_text() == "keep me"


def test_a_file_planted_at_the_staged_name_is_not_used(scratch, source):
    load(source)
    [copy] = staged_copies(staging.staging_dir())
    planted = copy.with_name(".planted")
    data = bytearray(copy.read_bytes())
    data[-200:] = b"\x01" * 200  # same size, other voxels
    planted.write_bytes(bytes(data))
    os.replace(planted, copy)
    np.testing.assert_array_equal(load(source), values(0))
    assert gzip.decompress(source.read_bytes()) == copy.read_bytes()  # redone


def test_a_stale_stage_of_a_rewritten_source_is_redone(scratch, source):
    def key():
        info = os.stat(source)
        return (str(source), info.st_mtime_ns, info.st_size)

    old_key = key()
    old = staging.stage(source, old_key, 10**6)
    write_gz(source, values(3))
    os.utime(source, ns=(old_key[1] + 10**9, old_key[1] + 10**9))  # rewritten later
    new_key = key()
    stale = staging.staged_path(source, new_key)  # the old copy, found at the new name
    for suffix in ("", staging.RECORD_SUFFIX):
        os.replace(f"{old}{suffix}", f"{stale}{suffix}")
    got = staging.stage(source, new_key, 10**6)
    assert got.read_bytes() == gzip.decompress(source.read_bytes())


def test_the_record_holds_the_sources_size_mtime_and_checksum(scratch, source):
    load(source)
    [copy] = staged_copies(staging.staging_dir())
    record = json.loads(copy.with_name(copy.name + staging.RECORD_SUFFIX).read_text())
    info = os.stat(source)
    assert record["source"]["size"] == info.st_size
    assert record["source"]["mtime_ns"] == info.st_mtime_ns
    assert record["source"]["crc32"] == zlib.crc32(source.read_bytes())


def test_leftovers_of_failed_runs_are_removed_by_a_later_run(scratch, source):
    load(source)
    folder = staging.staging_dir()
    leftovers = [folder / f".func.nii.tmp-{os.getpid() + 10**6}",  # older versions' name
                 folder / f".func.nii.tmp-{staging.HOST}-{os.getpid() + 10**6}"]
    for path in leftovers:
        path.write_bytes(b"\0" * 2**20)
    other = write_gz(source.parent / "other.nii.gz", values(4))
    np.testing.assert_array_equal(load(other), values(4))
    assert [p for p in leftovers if p.exists()] == []


@pytest.mark.parametrize("kind", ["file", "link to a folder of ours"])
def test_something_else_at_our_name_is_refused(scratch, source, tmp_path, kind):
    folder = staging.staging_dir()
    if kind == "file":
        folder.write_text("not a folder")
    else:
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        folder.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(roidask.InputFileError, match="is not a folder"):
        load(source)
    assert kind == "file" or list((tmp_path / "elsewhere").iterdir()) == []


def test_stale_copies_of_the_folder_older_versions_shared_are_removed(scratch, source):
    legacy = scratch / "roidask-staging"
    legacy.mkdir()
    old, fresh = legacy / "abc-func.nii", legacy / "def-func.nii"
    for path in (old, fresh, legacy / ".x.nii.tmp-123", legacy / ".lock"):
        path.write_bytes(b"\0" * 1024)
    for path in (old, legacy / ".x.nii.tmp-123"):
        os.utime(path, ns=(0, 0))  # unused since 1970
    np.testing.assert_array_equal(load(source), values(0))
    assert sorted(p.name for p in legacy.iterdir()) == [".lock", "def-func.nii"]
    os.utime(fresh, ns=(0, 0))
    np.testing.assert_array_equal(load(write_gz(source.parent / "b.nii.gz", values(5))), values(5))
    assert not legacy.exists()


def test_an_unusable_scratch_folder_means_reading_in_place(scratch, source, monkeypatch, tmp_path):
    not_a_folder = tmp_path / "scratch-file"
    not_a_folder.write_text("")
    monkeypatch.setenv(staging.STAGING_DIR_ENV, str(not_a_folder))
    np.testing.assert_array_equal(load(source), values(0))  # not "truncated or corrupt"


def test_run_names_a_refused_staging_folder_in_one_line(scratch, source, tmp_path):
    folder = staging.staging_dir()
    folder.mkdir(mode=0o700)
    os.chown(folder, OTHER_UID, OTHER_UID)
    config = tmp_path / "config.yaml"
    config.write_text(f"name: staged\ninputs:\n  func: {source}\n"
                      "steps:\n  - op: mean_img\n    img: $func\n"
                      "outputs:\n  mean: {from: $mean_img, path: mean.nii.gz}\n")
    result = subprocess.run([sys.executable, "-m", "roidask.cli", "run", str(config),
                             "--output", str(tmp_path / "out")], capture_output=True, text=True,
                            env=dict(os.environ, TMPDIR=str(scratch)))
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert str(folder) in line and f"uid {OTHER_UID}" in line and "ROIDASK_STAGING_DIR" in line
    assert not (tmp_path / "out" / "mean.nii.gz").exists()
