"""Write outputs under a temporary name and rename them into place on success.

A run that fails or is killed leaves, at most, a hidden ``.NAME.tmp-*``
entry beside the output, never a file that looks complete.

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
import uuid
from pathlib import Path

from roidask.errors import InputFileError


def _remove(path):
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
        _remove(tmp)
        raise
    if path.exists():
        old = parent / f".{path.name}.old-{token}"
        os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)
    else:
        os.replace(tmp, path)
