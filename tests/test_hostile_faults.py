"""Faults during a run: a full disk, and a Ctrl-C that lands in code swallowing exceptions.

The disk is a real 48 kB tmpfs, mounted in a private mount namespace by ``unshare``
(no root needed); the run is the real ``roidask`` in a subprocess.
"""

import gc
import os
import shutil
import signal
import subprocess
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest

from roidask._dask.cluster import get_client
from roidask.grid import new_image
from roidask.io.materialise import Materialisation

CONFIGS = Path(__file__).parents[1] / "configs"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-faults") / "data"
    proc = subprocess.run(["roidask", "make-data", folder, "--size", "tiny"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return folder


def run_on_a_small_disk(size, disk, *roidask_args):
    """``roidask *roidask_args`` with a tmpfs of ``size`` mounted at ``disk``; returns the
    process and the files left on that disk."""
    script = (f'mount -t tmpfs -o size={size} tmpfs "$1" && shift && "$@"; '
              f'code=$?; find "{disk}" -mindepth 1 > "{disk}.left"; exit $code')
    proc = subprocess.run([shutil.which("unshare"), "--user", "--map-root-user", "--mount",
                           "sh", "-c", script, "sh", str(disk), "roidask", *map(str, roidask_args)],
                          capture_output=True, text=True,
                          env=dict(os.environ, ROIDASK_STAGING="0"))
    left = Path(f"{disk}.left").read_text().split()
    return proc, left


def test_a_full_disk_is_one_line_naming_the_output_and_leaves_nothing(data_dir, tmp_path):
    """The NIfTI outputs are memory-mapped: a sparse file on a full disk used to kill the run
    with SIGBUS (exit -7, no message) and leave its temporaries in the output folder."""
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "out"
    proc, left = run_on_a_small_disk("48k", disk, "run", CONFIGS / "roi_extraction.yaml",
                                     "--inputs-dir", data_dir, "--output", out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: roi_extraction: ") and "Traceback" not in proc.stderr
    assert "No space left on device" in lines[0] and ".nii" in lines[0], lines[0]
    assert "free some space" in lines[0], lines[0]
    assert left == [str(out)], left  # the output folder, empty: no temporaries, no outputs


def _swallow_an_interrupt(block):
    """A task that receives Ctrl-C inside code that swallows it, as distributed's gc
    callback and weakref finalisers do (``Exception ignored in ...``)."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
    except KeyboardInterrupt:
        pass
    return block


def test_ctrl_c_swallowed_during_the_computation_still_stops_the_run(tmp_path):
    """A Ctrl-C lost in such code used to let the run go on and write every output."""
    # Python's own Ctrl-C handler (another test's import of dask_jobqueue's runner
    # replaces it process-wide with one that exits)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        data = da.ones((4, 4, 4), chunks=2, dtype="float32").map_blocks(_swallow_an_interrupt)
        materialisation = Materialisation()
        materialisation.add_image(new_image(data, np.eye(4)), tmp_path / "out.nii.gz")
        with dask.config.set(scheduler="synchronous"), pytest.raises(KeyboardInterrupt):
            materialisation.run()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sorted(tmp_path.iterdir()) == []


def test_ctrl_c_handled_where_it_lands_is_not_raised_twice(tmp_path):
    """A handler that returns (the signal dealt with) leaves nothing to deliver later."""
    seen = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        data = da.ones((4, 4, 4), chunks=2, dtype="float32").map_blocks(
            _swallow_an_interrupt, meta=np.empty((0, 0, 0), "float32"))  # one call per chunk
        materialisation = Materialisation()
        materialisation.add_image(new_image(data, np.eye(4)), tmp_path / "out.nii")
        with dask.config.set(scheduler="synchronous"):
            materialisation.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.SIGINT] * 8
    assert (tmp_path / "out.nii").is_file()


def test_the_embedded_cluster_leaves_no_gc_callback_in_this_process():
    """distributed's GC timer ran in the main thread and swallowed Ctrl-C: a run interrupted
    while a collection ran printed ``Exception ignored in ... _gc_callback`` and wrote all."""
    with get_client(n_workers=1, threads_per_worker=1, processes=False) as client:
        assert client.submit(sum, [1, 2]).result() == 3
        assert [callback for callback in gc.callbacks
                if getattr(callback, "__module__", "").startswith("distributed")] == []

