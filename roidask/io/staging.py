"""Decompress a ``.nii.gz`` once to a scratch ``.nii``, so reads can seek.

A gzip stream cannot seek: every read of a late time block would inflate
the file from the start (or from an ``indexed_gzip`` seek point, under one
lock). The first read of a ``.nii.gz`` in a process therefore inflates the
whole file once with isal (several times faster than zlib) into a scratch
folder, and every read after that, in any thread or process on the
machine, slices the uncompressed copy. The copy is written under a
temporary name and renamed, so a half-written copy is never read.

Staging happens inside a computation (never when an image is opened) and
is skipped when the scratch disk lacks room (copies unused for an hour are
deleted first, oldest first) or cannot be written, or when
``ROIDASK_STAGING=0``: the file is then read in place.

Inflating the whole file checks its gzip CRC-32 and size at the end of the
stream, so a staged copy exists only of a file that passed that check; a
damaged file raises :func:`gzip_integrity_error` naming it.

Staging trusts nothing it finds. Copies live in a folder of the current
user only, ``roidask-staging-<uid>`` (mode 0700; :func:`private_folder`
refuses one owned by someone else and replaces one others can write to),
in ``ROIDASK_STAGING_DIR`` (default: the system's temporary folder), so
users sharing a ``TMPDIR`` never meet. The lock is opened without
following links. Each copy has a record beside it (the source's path,
size, mtime_ns and CRC-32, the copy's inode and size), and a copy is used
again only while the record matches the source and the copy
(:func:`trusted_copy`); anything else found at its name is redone. The
``.tmp-`` files of a stager that died are removed by the next stager, and
so are the stale copies in the ``roidask-staging`` folder older versions
shared (:func:`retire_legacy_folder`). On a
multi-machine cluster each machine stages its own copy.
"""

import errno
import fcntl
import io
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
import uuid
import zlib
from pathlib import Path

from dask.base import tokenize
from isal.isal_zlib import crc32
from isal.isal_zlib import error as IsalError

from roidask.errors import InputFileError

try:
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a core dependency
    import gzip as _gzip

STAGING_ENV = "ROIDASK_STAGING"
STAGING_DIR_ENV = "ROIDASK_STAGING_DIR"
FOLDER_PREFIX = "roidask-staging-"
LEGACY_FOLDER = "roidask-staging"  # one folder for all users, as older versions made it
RECORD_SUFFIX = ".json"  # the record of a staged copy, beside it
RECORD_FORMAT = 1
HOST = socket.gethostname()
_LOCK = threading.Lock()
STALE_SECONDS = 3600  # a staged copy unused this long may be deleted to make room
BLOCK = 2**24
GZIP_READ_ERRORS = (EOFError, OSError, zlib.error, IsalError)


def gzip_integrity_error(path, err):
    """The :class:`InputFileError` for a ``.gz`` file whose stream fails to inflate or check.

    Examples
    --------
    >>> print(gzip_integrity_error("func.nii.gz", OSError("CRC check failed 1 != 2")))
    func.nii.gz: is corrupt: its gzip stream fails the integrity check (CRC-32 checksum \
does not match the data); re-copy or re-create the file (gzip -t reports the same damage)
    """
    text = str(err)
    if "CRC" in text.upper():
        detail = "CRC-32 checksum does not match the data"
    elif isinstance(err, EOFError):
        detail = "the compressed stream ends early"
    else:
        detail = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return InputFileError(path, f"is corrupt: its gzip stream fails the integrity check "
                                f"({detail})",
                          "re-copy or re-create the file (gzip -t reports the same damage)")


def check_gzip(path):
    """Inflate ``path`` to the end; raise :func:`gzip_integrity_error` if it is damaged.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> src = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> with gzip.open(src, "wb") as f:
    ...     _ = f.write(b"voxels" * 1000)
    >>> check_gzip(src)
    >>> data = bytearray(open(src, "rb").read()); data[-8] ^= 1
    >>> _ = open(src, "wb").write(bytes(data))
    >>> check_gzip(src)
    Traceback (most recent call last):
    ...
    roidask.errors.InputFileError: ...CRC-32 checksum does not match the data...
    """
    with _gzip.open(path, "rb") as src:
        _copy_inflated(path, src, None)


def _copy_inflated(path, src, dst):
    """Copy (or, with ``dst`` None, just read) the inflated stream, checking it at its end."""
    while True:
        try:
            block = src.read(BLOCK)
        except GZIP_READ_ERRORS as err:
            raise gzip_integrity_error(path, err) from None
        if not block:
            return
        if dst is not None:
            dst.write(block)


def staging_enabled():
    """Whether ``.nii.gz`` files are staged (``ROIDASK_STAGING`` is not ``0``)."""
    return os.environ.get(STAGING_ENV, "1") != "0"


def staging_dir():
    """This user's scratch folder for staged files: ``roidask-staging-<uid>`` in
    ``$ROIDASK_STAGING_DIR`` or the system's temporary folder."""
    base = os.environ.get(STAGING_DIR_ENV) or tempfile.gettempdir()
    return Path(base) / f"{FOLDER_PREFIX}{os.getuid()}"


def _refuse(folder, problem):
    return InputFileError(folder, f"{problem}; roidask stages .nii.gz copies only into a "
                                  "private folder of the current user",
                          f"remove it, or set {STAGING_DIR_ENV} to a folder of your own "
                          f"({STAGING_ENV}=0 reads .nii.gz in place)")


def private_folder():
    """:func:`staging_dir`, made (mode 0700) or checked: owned by this user, private.

    A folder others can write to is replaced (what is in it cannot be
    trusted), one only others can read is made private; one owned by another
    user, or not a folder, is refused with :class:`~roidask.errors.InputFileError`.
    """
    folder = staging_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode):
            raise _refuse(folder, "is not a folder")
        if info.st_uid != os.getuid():
            raise _refuse(folder, f"is owned by uid {info.st_uid}, not by you "
                                  f"(uid {os.getuid()})")
        mode = stat.S_IMODE(info.st_mode)
        if not mode & 0o022:
            if mode & 0o077:
                os.chmod(folder, 0o700)  # only readable by others: its files are ours
            return folder
        aside = folder.with_name(f".{folder.name}.untrusted-{uuid.uuid4().hex[:8]}")
        os.replace(folder, aside)  # writable by others: start afresh
        shutil.rmtree(aside, ignore_errors=True)
    raise _refuse(folder, "keeps being replaced by another process")  # pragma: no cover


def staged_path(path, file_key):
    """Where the uncompressed copy of ``path`` (as of ``file_key``) lives."""
    return staging_dir() / f"{tokenize(file_key)}-{Path(path).name.removesuffix('.gz')}"


def _record_path(target):
    return Path(f"{target}{RECORD_SUFFIX}")


def evict_stale(folder, needed):
    """Delete staged copies unused for :data:`STALE_SECONDS`, oldest first, until
    ``needed`` bytes are free."""
    now = time.time()
    staged = sorted((p for p in folder.glob("*.nii") if now - p.stat().st_mtime > STALE_SECONDS),
                    key=lambda p: p.stat().st_mtime)
    for old in staged:
        if shutil.disk_usage(folder).free >= needed:
            break
        old.unlink(missing_ok=True)
        _record_path(old).unlink(missing_ok=True)


def remove_leftovers(folder):
    """Remove the ``.tmp-`` files of stagers that died (call holding the lock).

    Stagers write temporaries only while holding the folder's lock, so those
    of this host are all dead; another host's (a shared scratch folder) only
    once unchanged for :data:`STALE_SECONDS`.
    """
    now = time.time()
    for entry in os.scandir(folder):
        name = entry.name
        if not name.startswith(".") or ".tmp-" not in name:
            continue
        owner = name.rpartition(".tmp-")[2]
        host = owner.rpartition("-")[0]
        try:
            if host in ("", HOST) or now - entry.stat(follow_symlinks=False).st_mtime > \
                    STALE_SECONDS:
                os.unlink(entry.path)
        except OSError:
            pass


def retire_legacy_folder(base):
    """Empty the one-for-all ``roidask-staging`` folder older versions used, if it is ours.

    Its copies and temporaries unchanged for :data:`STALE_SECONDS` are
    deleted (an older version still running touches the copies it uses),
    and the folder once nothing else is left in it.
    """
    legacy = Path(base) / LEGACY_FOLDER
    try:
        info = os.lstat(legacy)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return
        now = time.time()
        for entry in os.scandir(legacy):
            stale = now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
            if entry.is_file(follow_symlinks=False) and stale and (
                    entry.name.endswith(".nii") or ".tmp-" in entry.name):
                os.unlink(entry.path)
        if {entry.name for entry in os.scandir(legacy)} <= {".lock"}:
            shutil.rmtree(legacy, ignore_errors=True)
    except OSError:
        return


def _open_lock(folder):
    """The folder's lock file, opened without following a link (a planted one is removed)."""
    path = folder / ".lock"
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    for _ in range(3):
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as err:
            if err.errno != errno.ELOOP:
                raise
            os.unlink(path)  # a symbolic link: removed, never followed
            continue
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        os.close(fd)
        os.unlink(path)
    raise _refuse(folder, "has a .lock that keeps being replaced")  # pragma: no cover


class _Crc32Reader(io.RawIOBase):
    """A binary file's reader that keeps the CRC-32 of the bytes read through it."""

    def __init__(self, raw):
        self.raw, self.crc32 = raw, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        count = self.raw.readinto(buffer)
        if count:
            self.crc32 = crc32(memoryview(buffer)[:count], self.crc32)
        return count


def _source_facts(path):
    info = os.stat(path)
    return {"path": str(Path(path).resolve()), "size": info.st_size,
            "mtime_ns": info.st_mtime_ns}


def trusted_copy(target, path):
    """Whether ``target`` is the copy this user staged of ``path`` as it is now.

    Its record must name ``path`` with its current size and mtime_ns, and
    ``target`` must be the regular file (inode and size) the record was
    written for: a file planted at the name, or the copy of an earlier
    version of the source, is not.
    """
    try:
        record = json.loads(_record_path(target).read_text())
        info = os.lstat(target)
        source = _source_facts(path)
        return (record.get("format") == RECORD_FORMAT and stat.S_ISREG(info.st_mode)
                and all(record["source"][key] == value for key, value in source.items())
                and record["copy"] == {"size": info.st_size, "inode": info.st_ino})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _write_exclusive(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    return open(fd, "wb")


def _inflate(path, target):
    """Inflate ``path`` into ``target`` with its record beside it (call holding the lock)."""
    folder = target.parent
    tmp = folder / f".{target.name}.tmp-{HOST}-{os.getpid()}"
    record_tmp = folder / f".{target.name}{RECORD_SUFFIX}.tmp-{HOST}-{os.getpid()}"
    try:
        source = _source_facts(path)
        with open(path, "rb") as raw, _write_exclusive(tmp) as dst:
            hashed = _Crc32Reader(raw)
            with _gzip.open(hashed, "rb") as src:
                _copy_inflated(path, src, dst)
            while hashed.readinto(bytearray(2**16)):  # bytes after the stream, if any
                pass
        info = os.stat(tmp)
        record = {"format": RECORD_FORMAT, "source": {**source, "crc32": hashed.crc32},
                  "copy": {"size": info.st_size, "inode": info.st_ino}}
        with _write_exclusive(record_tmp) as stream:
            stream.write(json.dumps(record).encode())
        os.replace(tmp, target)
        os.replace(record_tmp, _record_path(target))
    finally:
        tmp.unlink(missing_ok=True)
        record_tmp.unlink(missing_ok=True)


def stage(path, file_key, nbytes):
    """The uncompressed copy of ``path``, made now if needed; None if there is no room.

    The copy lives in this user's private :func:`private_folder`, with a
    record of the source (path, size, mtime_ns, CRC-32 of its bytes) and of
    the copy; a copy is used again only while :func:`trusted_copy` says so,
    and is made anew otherwise. Raises :class:`~roidask.errors.InputFileError`
    (see :func:`gzip_integrity_error`) if ``path`` fails to inflate or its
    CRC-32 or size do not match; no copy is left then.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> src = os.path.join(tempfile.mkdtemp(), "x.nii.gz")
    >>> with gzip.open(src, "wb") as f:
    ...     _ = f.write(b"voxels")
    >>> stage(src, ("x", 1), 6).read_bytes()
    b'voxels'
    """
    try:
        folder = private_folder()
    except OSError:  # no scratch folder can be made here: read in place
        return None
    target = staged_path(path, file_key)
    if trusted_copy(target, path):
        target.touch()  # marks it in use for eviction
        return target
    with _LOCK:
        try:
            lock = _open_lock(folder)
        except OSError:
            return None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one stager per machine; the others wait
            remove_leftovers(folder)
            retire_legacy_folder(folder.parent)
            if trusted_copy(target, path):
                return target
            target.unlink(missing_ok=True)
            _record_path(target).unlink(missing_ok=True)
            evict_stale(folder, 1.2 * nbytes)
            if shutil.disk_usage(folder).free < 1.2 * nbytes:
                return None
            _inflate(path, target)  # a damaged source raises InputFileError
        except OSError:  # the scratch disk refused the copy (full, read-only): read in place
            return None
        finally:
            os.close(lock)  # releases the lock
    return target
