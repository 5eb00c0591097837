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
deleted first, oldest first), or when ``ROIDASK_STAGING=0``.

Inflating the whole file checks its gzip CRC-32 and size at the end of the
stream, so a staged copy exists only of a file that passed that check; a
damaged file raises :func:`gzip_integrity_error` naming it.
``ROIDASK_STAGING_DIR`` chooses the folder (default: the system's temporary
folder); on a multi-machine cluster each machine stages its own copy.
"""

import fcntl
import os
import shutil
import tempfile
import threading
import time
import zlib
from pathlib import Path

from dask.base import tokenize
from isal.isal_zlib import error as IsalError

from roidask.errors import InputFileError

try:
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a core dependency
    import gzip as _gzip

STAGING_ENV = "ROIDASK_STAGING"
STAGING_DIR_ENV = "ROIDASK_STAGING_DIR"
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
    """The scratch folder for staged files."""
    return Path(os.environ.get(STAGING_DIR_ENV) or tempfile.gettempdir()) / "roidask-staging"


def staged_path(path, file_key):
    """Where the uncompressed copy of ``path`` (as of ``file_key``) lives."""
    return staging_dir() / f"{tokenize(file_key)}-{Path(path).name.removesuffix('.gz')}"


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


def stage(path, file_key, nbytes):
    """The uncompressed copy of ``path``, made now if needed; None if there is no room.

    Raises :class:`~roidask.errors.InputFileError` (see
    :func:`gzip_integrity_error`) if ``path`` fails to inflate or its CRC-32
    or size do not match; no copy is left then.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> src = os.path.join(tempfile.mkdtemp(), "x.nii.gz")
    >>> with gzip.open(src, "wb") as f:
    ...     _ = f.write(b"voxels")
    >>> stage(src, ("x", 1), 6).read_bytes()
    b'voxels'
    """
    target = staged_path(path, file_key)
    if target.exists():
        target.touch()  # marks it in use for eviction
        return target
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one stager per machine; the others wait
        if target.exists():
            return target
        evict_stale(folder, 1.2 * nbytes)
        if shutil.disk_usage(folder).free < 1.2 * nbytes:
            return None
        tmp = folder / f".{target.name}.tmp-{os.getpid()}"
        try:
            with _gzip.open(path, "rb") as src, open(tmp, "wb") as dst:
                _copy_inflated(path, src, dst)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target
