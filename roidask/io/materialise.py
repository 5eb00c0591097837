"""One place where lazy results become files and numbers: one dask computation.

A :class:`Materialisation` collects what a caller wants out of lazy
results -- images to write (``.nii``, ``.nii.gz``, ``.zarr``) and small
values to bring back (tables, 3D arrays, the numbers and pictures of a
report) -- and runs them all in **one** dask computation, so results that
several outputs share (a smoothed run, a percentile cut-off, a mean image)
are computed once and each input chunk is read once per pass it needs.

How each kind is written, chunk by chunk and in parallel on the workers:

- ``.nii``: the header is written and the file preallocated at its full
  size before the computation; each chunk of the image is then stored into
  its region of the file in place (:func:`store_chunks` into
  :class:`NiftiRegions`, a memory map opened per write). NIfTI stores
  voxels in Fortran order, so a chunk that spans whole volumes is one
  contiguous run of bytes.
- ``.nii.gz``: the same uncompressed file, then one compression task that
  depends on the stores, in the same computation.
- ``.zarr``: xarray writes the metadata and coordinates first
  (``to_zarr(compute=False)``); the image's chunks are stored by
  :func:`store_chunks`, one zarr chunk per dask chunk, each with its crc32c
  checksum; once all are stored, :func:`roidask.io.zarr_store.seal_store`
  records which chunks exist.
- values: gathered into the calling process.

Everything is written under hidden temporary names and renamed into place
when the computation has succeeded; on failure the temporary files are
removed. Image files are written by the workers, so on a cluster the output
folder must be on a file system the workers share (as it is for zarr).

Items belong to *groups* (a pipeline's subjects): a failure in one group's
results is reported for that group, and the others are still finished.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from roidask.grid import new_image
>>> img = new_image(np.arange(24.0).reshape(2, 3, 4), np.eye(4)).chunk({"k": 2})
>>> folder = tempfile.mkdtemp()
>>> plan = Materialisation()
>>> plan.add_image(img, os.path.join(folder, "img.nii.gz"))
>>> total = plan.add_value(img.sum())
>>> outcome = plan.run()
>>> float(outcome.value(total)), sorted(os.listdir(folder))
(276.0, ['img.nii.gz'])
"""

import contextlib
import dataclasses
import errno
import os
import shutil
import signal
import sys
import threading
import uuid
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import zarr

from roidask.errors import InputFileError
from roidask.grid import as_image
from roidask.io.atomic import remove_path
from roidask.io.nifti_format import (
    NIFTI_SUFFIXES,
    VOX_OFFSET,
    disk_dtype,
    is_nifti_path,
    nifti_header_for,
)
from roidask.io.zarr_store import is_zarr_path, seal_store, to_dataset

try:
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a core dependency
    import gzip as _gzip

COMPRESS_PIECE = 16 * 2**20  # bytes read per step when compressing a finished .nii


@dataclasses.dataclass(frozen=True)
class NiftiRegions:
    """A ``.nii`` file's voxels as a target of :func:`dask.array.store`.

    Each ``target[region] = values`` maps the file (opened anew, so the
    object pickles to any worker that sees the file) and writes the region
    in place.
    """

    path: str
    shape: tuple
    dtype: str

    def __setitem__(self, key, values):
        voxels = np.memmap(self.path, dtype=self.dtype, mode="r+", offset=VOX_OFFSET,
                           shape=self.shape, order="F")
        voxels[key] = values
        voxels.flush()
        del voxels


def _preallocate_nifti(img, path, dtype, target=None):
    """Write the header and size the file (for ``target``, named in errors); return the
    store target."""
    header = nifti_header_for(img, dtype)
    size = VOX_OFFSET + int(np.prod(img.shape)) * dtype.itemsize
    with open(path, "wb") as stream:
        header.write_to(stream)  # 348 header bytes + 4-byte extension flag
        stream.truncate(size)
        _reserve(stream.fileno(), size, target or path)
    return NiftiRegions(str(path), tuple(img.shape), dtype.str)


NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _reserve(fd, size, path):
    """Give the file its disk blocks now: a full disk is an error here, naming the file.

    A sparse file's blocks are only found when a task writes into the
    mapped file, and a full disk then kills the process (SIGBUS) with no
    message. A file system that cannot reserve (EOPNOTSUPP) is written as before.
    """
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as err:
        if err.errno not in NO_ROOM:
            return
        raise InputFileError(
            path, f"cannot be written: {os.strerror(err.errno)} ({size} bytes needed)",
            "free some space, or choose an output folder on another disk (--output)",
        ) from None


def _store_block(block, target, block_info=None):
    """Write one block into its region of ``target``; a one-voxel token stands for it."""
    location = block_info[0]["array-location"]
    target[tuple(slice(start, stop) for start, stop in location)] = block
    return np.ones((1,) * block.ndim, bool)


def store_chunks(data, target):
    """A lazy token that is ``True`` once every chunk of ``data`` is in ``target``.

    One task per chunk, each writing its region (the chunks must not
    overlap in ``target``'s own chunks: zarr chunks equal the dask chunks,
    NIfTI regions are disjoint bytes). Unlike :func:`dask.array.store`,
    the tokens are plain dask arrays, so all items of a run are optimised
    together and share their upstream tasks.
    """
    tokens = data.map_blocks(_store_block, target=target, dtype=bool, meta=_token_meta(data),
                             chunks=tuple((1,) * len(axis) for axis in data.chunks))
    return tokens.all(keepdims=True)


def _token_meta(data):
    # given, so dask never calls a writing function on an empty array to infer it
    return np.ones((0,) * data.ndim, bool)


def _compress_block(done, src, dst):
    compress_file(src, dst)
    return done


def compress_file(src, dst):
    """Gzip ``src`` into ``dst`` piece by piece, then remove ``src``."""
    with open(src, "rb") as source, _gzip.open(dst, "wb") as target:
        shutil.copyfileobj(source, target, COMPRESS_PIECE)
    os.unlink(src)
    return dst


def _as_dask(img):
    data = img.data
    if isinstance(data, da.Array):
        return data
    return da.from_array(np.asarray(data), chunks=-1)


def _hidden_temporary(path, suffix=""):
    path = Path(path)
    return path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}{suffix}"


@dataclasses.dataclass
class _Item:
    group: object
    lazy: object          # what the computation computes (a collection)
    path: Path = None     # final path of a file output
    temporary: Path = None
    leftovers: tuple = ()  # other temporary files to remove on failure
    finish: object = None  # called with the complete temporary before it is moved into place


@dataclasses.dataclass
class Outcome:
    """What a :meth:`Materialisation.run` gave: values, and errors per group."""

    values: dict
    errors: dict

    def value(self, handle):
        """The computed value of ``handle`` (from :meth:`Materialisation.add_value`)."""
        return self.values[handle]

    def failed(self, group):
        """The error of ``group``'s results, or None when they all succeeded."""
        return self.errors.get(group)


class Materialisation:
    """Collect image outputs and values; compute and store them all at once.

    See the module docstring. Add items with :meth:`add_image` and
    :meth:`add_value`, then call :meth:`run` once.
    """

    def __init__(self):
        self._items = []

    def add_image(self, img, path, *, dtype=None, overwrite=True, group=None):
        """Write ``img`` to ``path`` (``.nii``, ``.nii.gz`` or ``.zarr``) in the run.

        The file or store appears at ``path`` only once complete; an
        existing one is replaced then (``overwrite=True``) or refused now.
        """
        img = as_image(img)
        path = Path(path)
        _check_target(path, overwrite)
        if is_nifti_path(path):
            self._items.append(self._nifti_item(img, path, dtype, group))
        elif path.suffix == ".zarr" or is_zarr_path(path):
            self._items.append(self._zarr_item(img, path, group))
        else:
            raise InputFileError(path, "is not an image file name",
                                 f"end it with {', '.join(NIFTI_SUFFIXES)} or .zarr")

    def _nifti_item(self, img, path, dtype, group):
        dtype = disk_dtype(dtype or img.dtype)
        raw = _hidden_temporary(path, ".nii")
        target = _preallocate_nifti(img, raw, dtype, path)
        stored = store_chunks(_as_dask(img).astype(dtype), target)
        if not path.name.endswith(".gz"):
            return _Item(group, stored, path, raw)
        packed = _hidden_temporary(path)
        compressed = stored.map_blocks(_compress_block, src=str(raw), dst=str(packed),
                                       dtype=bool, meta=_token_meta(stored),
                                       name=f"compress-{packed.name}")
        return _Item(group, compressed, path, packed, leftovers=(raw,))

    def _zarr_item(self, img, path, group):
        dataset = to_dataset(img)
        name = dataset.attrs["roidask_image"]
        temporary = _hidden_temporary(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            # metadata and the small coordinates now; the image's chunks in the run
            dataset.to_zarr(temporary, mode="w", consolidated=True, zarr_format=3,
                            compute=False)
        target = zarr.open_array(temporary, path=name, mode="r+")
        stored = store_chunks(_as_dask(dataset[name]), target)
        return _Item(group, stored, path, temporary, finish=seal_store)

    def add_value(self, value, *, group=None):
        """Bring ``value`` (any dask collection, or a structure of them) back.

        Returns a handle for :meth:`Outcome.value`.
        """
        self._items.append(_Item(group, value))
        return len(self._items) - 1

    def run(self, client=None, *, show_progress=False):
        """Compute everything in one dask computation; finish the files.

        With a ``distributed.Client``, each item is a future of one
        ``client.compute`` call, so a failure is reported for its group
        only; without one, the active dask scheduler runs one
        ``dask.compute`` and any failure is raised.
        """
        with _SignalsKept() as signals:
            try:
                if client is None:
                    results = dask.compute(*[item.lazy for item in self._items])
                    errors = {}
                else:
                    results, errors = _compute_on(client, self._items, show_progress, signals)
                signals.deliver()
            except BaseException:
                self._discard(lambda item: True)
                raise
            self._discard(lambda item: item.group in errors)
            done = [(index, item, result) for index, (item, result)
                    in enumerate(zip(self._items, results)) if item.group not in errors]
            try:
                for _, item, _ in done:  # complete every store (its chunk record) before moves
                    if item.path is not None and item.finish is not None:
                        item.finish(item.temporary)
                signals.deliver()
            except BaseException:
                self._discard(lambda item: True)
                raise
        values = {}
        for index, item, result in done:
            if item.path is None:
                values[index] = result
            else:
                _move_into_place(item.temporary, item.path)
        return Outcome(values, errors)

    def _discard(self, which):
        for item in self._items:
            if item.path is not None and which(item):
                for leftover in (item.temporary, *item.leftovers):
                    remove_path(Path(leftover))


def _check_target(path, overwrite):
    if os.path.lexists(path) and not overwrite:
        raise InputFileError(path, "already exists", "pass overwrite=True or choose another path")
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise InputFileError(parent, "is not writable", "choose an output folder you can write to")


def _compute_on(client, items, show_progress, signals):
    from distributed import progress

    # unoptimised, as the runner persists what it builds: an optimised graph fuses
    # tasks under the keys of their last step, so a key already on the cluster (a
    # persisted result's inputs) would come with another task and other
    # dependencies, which distributed warns "can cause failures and deadlocks"
    futures = client.compute([item.lazy for item in items], optimize_graph=False)
    if show_progress:
        with contextlib.redirect_stdout(sys.stderr):
            progress(futures, notebook=False)
            print(file=sys.stderr)
    results, errors = [], {}
    for item, future in zip(items, futures):
        try:
            results.append(_result(future, signals))
        except Exception as err:  # a failed task: this group only
            results.append(None)
            errors.setdefault(item.group, err)
    return results, errors


def _result(future, signals):
    """``future.result()``, looking every :data:`SIGNAL_CHECK` seconds for a signal that
    arrived while the waiting thread ran code that swallows exceptions."""
    while True:
        try:
            return future.result(timeout=SIGNAL_CHECK)
        except TimeoutError:
            if future.done():
                return future.result()
            signals.deliver()


SIGNAL_CHECK = 0.25
KEPT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _SignalsKept:
    """While inside (in the main thread), remember each SIGINT / SIGTERM as well as handing
    it to the handler in place (Ctrl-C's KeyboardInterrupt, the CLI's SIGTERM one).

    Python runs a handler in the main thread between two bytecodes, and the exception it
    raises is lost when that moment falls inside code that swallows exceptions: distributed's
    gc callback (``Exception ignored in ...``), a weakref finaliser. The run then went on to
    write every output, exit 0, after Ctrl-C. :meth:`deliver`, called where the run waits
    and before any output is moved into place, calls the handler again for a signal whose
    exception never arrived.
    """

    def __init__(self):
        self.pending = []
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in KEPT_SIGNALS:
                handler = signal.getsignal(signum)
                if callable(handler):
                    self.previous[signum] = handler
                    signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame):
        self.pending.append(signum)
        self.previous[signum](signum, frame)
        self.pending.remove(signum)  # the handler returned: nothing to deliver

    def deliver(self):
        if self.pending:
            signum = self.pending.pop()
            self.pending.clear()
            self.previous[signum](signum, None)

    def __exit__(self, kind, value, traceback):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        if kind is None:
            self.deliver()
        return False


def _move_into_place(temporary, path):
    """Rename a finished output to ``path``, replacing what is there only now."""
    path = Path(path)
    if os.path.lexists(path):
        old = _hidden_temporary(path, ".old")
        os.replace(path, old)
        os.replace(temporary, path)
        remove_path(old)
    else:
        os.replace(temporary, path)
