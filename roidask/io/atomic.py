"""Write outputs under a temporary name and rename them into place on success.

A run that fails or is killed leaves, at most, a hidden ``.NAME.tmp-*``
entry beside the output, never a file that looks complete.

A set of outputs (one pipeline subject's) is written into a private
:func:`staging_folder` inside the output folder, then moved into place with
:func:`replace_path`, one rename each, once all of them are complete. A
staging folder left by a killed process (its host's process id no longer
runs) is removed by the next one that stages in the same folder.

:func:`fault_point` kills the process at a named point when the
``ROIDASK_FAULT`` environment variable names it: fault tests use it to stop
a real run at a fixed moment rather than racing a timer.

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "result.txt"
>>> with atomic_output(out) as tmp:
...     _ = tmp.write_text("done")
>>> out.read_text()
'done'
"""

import contextlib
import os
import shutil
import signal
import socket
import uuid
from pathlib import Path

from roidask.errors import InputFileError

FAULT_ENV = "ROIDASK_FAULT"
STAGING_PREFIX = ".roidask-staging-"


def fault_point(name):
    """Stop this process here when ``$ROIDASK_FAULT`` names this point.

    ``ROIDASK_FAULT=name`` kills it (SIGKILL, no clean-up);
    ``name:SIGTERM`` or ``name:SIGINT`` sends it that signal instead, as a
    batch scheduler or Ctrl-C would. Real code kept for fault tests: they stop
    a run at a fixed moment and check what it and the next run leave.
    """
    point, _, how = os.environ.get(FAULT_ENV, "").partition(":")
    if point == name:
        os.kill(os.getpid(), getattr(signal, how or "SIGKILL"))


def remove_path(path):
    """Remove a file, link or folder if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_output(path, overwrite=True):
    """Yield a temporary path beside ``path``; move it to ``path`` on success.

    Works for files and directories (zarr stores). An existing output is
    replaced only after the new one is complete.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputFileError(path, "already exists", "pass overwrite=True or choose another path")
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise InputFileError(parent, "is not writable", "choose an output folder you can write to")
    token = uuid.uuid4().hex[:8]
    tmp = parent / f".{path.name}.tmp-{token}"
    try:
        yield tmp
    except BaseException:
        remove_path(tmp)
        raise
    if path.exists():
        old = parent / f".{path.name}.old-{token}"
        os.replace(path, old)
        os.replace(tmp, path)
        remove_path(old)
    else:
        os.replace(tmp, path)


def replace_path(src, dst, trash):
    """Move ``src`` (file or folder) to ``dst``, replacing what is there.

    An existing ``dst`` is first moved into the folder ``trash`` (on the same
    file system), so ``dst`` is missing for the time of one rename at most.
    """
    src, dst, trash = Path(src), Path(dst), Path(trash)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if (dst.is_dir() and not dst.is_symlink()) or (src.is_dir() and os.path.lexists(dst)):
        trash.mkdir(parents=True, exist_ok=True)
        os.replace(dst, trash / f"{dst.name}-{uuid.uuid4().hex[:8]}")
    os.replace(src, dst)  # a file (or link) is replaced in one rename


def _process_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


def remove_stale_staging(folder):
    """Remove staging folders in ``folder`` left by dead processes of this host."""
    host = socket.gethostname()
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(STAGING_PREFIX):
            continue
        owner, _, _ = entry.name[len(STAGING_PREFIX):].rpartition("-")
        owner_host, _, pid = owner.rpartition("-")
        if owner_host == host and pid.isdigit() and _process_gone(int(pid)):
            remove_path(entry)


@contextlib.contextmanager
def staging_folder(folder):
    """Yield a new private folder inside ``folder`` to stage a set of outputs in.

    The folder (with anything still in it) is removed on exit, whether the
    block succeeded or not; stale ones of dead processes are removed first.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise InputFileError(folder, "is not writable", "choose an output folder you can write to")
    remove_stale_staging(folder)
    path = folder / f"{STAGING_PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        remove_path(path)
