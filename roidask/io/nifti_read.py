"""Lazy reading of NIfTI-1/2 files (``.nii`` and ``.nii.gz``) with nibabel.

A :class:`NiftiArray` stands for the voxel data of one file. It reports the
true dtype before anything is read (scaled integers read as float64, as
nibabel returns them), pickles as a few numbers so dask can send it to
distributed workers, and reads through the process's :class:`OpenFileCache`:
a bounded LRU cache of open files (``roidask.open-files`` in the dask
config), so reads of a ``.nii.gz`` share one ``indexed_gzip`` seek index
and a long batch never holds more than the bound of files open.
"""

import collections
import contextlib
import gzip
import logging
import os
import struct
import threading
import zlib
from pathlib import Path

import dask
import dask.array as da
import nibabel as nib
import numpy as np
from dask.base import tokenize
from indexed_gzip import IndexedGzipFile, ZranError
from isal.isal_zlib import error as IsalError

from roidask._dask.chunks import resolve_chunks
from roidask.errors import InputFileError, ParameterError, RoidaskError
from roidask.grid import new_image
from roidask.io.staging import (
    GZIP_READ_ERRORS,
    check_gzip,
    gzip_integrity_error,
    stage,
    staging_enabled,
)

READ_ERRORS = (EOFError, OSError, zlib.error, ValueError, IsalError, ZranError)
TIME_UNIT_SECONDS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}
OPEN_FILES_KEY = "roidask.open-files"
DEFAULT_OPEN_FILES = 64


def open_files_bound():
    """How many files a process keeps open for reading (dask config ``roidask.open-files``).

    Set it with ``dask.config.set({"roidask.open-files": 16})``, or on
    distributed workers with the environment variable
    ``DASK_ROIDASK__OPEN_FILES=16``; the default is :data:`DEFAULT_OPEN_FILES`.
    """
    bound = dask.config.get(OPEN_FILES_KEY, DEFAULT_OPEN_FILES)
    try:
        bound = int(bound)
    except (TypeError, ValueError):
        bound = 0
    if bound < 1:
        raise ParameterError(OPEN_FILES_KEY, "a positive integer (dask config)", bound)
    return bound


def _file_key(path):
    stat = os.stat(path)
    return (str(path), stat.st_mtime_ns, stat.st_size)


class _OpenFile:
    """One file opened for reading: its nibabel image and the stream it holds open."""

    def __init__(self, image, stream=None):
        self.image, self.stream = image, stream
        self.users, self.evicted = 0, False

    def close(self):
        if self.stream is not None:
            self.stream.close()
            self.stream = None


class OpenFileCache:
    """A bounded, thread-safe LRU cache of the files a process reads from.

    Each entry is a nibabel image: of the staged uncompressed copy of a
    ``.nii.gz``, of a ``.nii`` (both opened per read, holding no descriptor
    between reads), or of a ``.nii.gz`` read in place through one
    ``indexed_gzip`` stream kept open with its seek index. When more than
    :func:`open_files_bound` files are cached, the least recently used is
    closed; one still being read by another thread is closed when that read
    ends. A file changed on disk (size or mtime) gets a new entry. The cache
    belongs to its process: arrays pickle without it, and each worker keeps
    its own.

    Examples
    --------
    >>> import numpy as np, nibabel as nib, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.nii")
    >>> nib.save(nib.Nifti1Image(np.ones((2, 2, 2), "int16"), np.eye(4)), path)
    >>> cache = OpenFileCache()
    >>> with cache.use(path, 16) as image:
    ...     image.shape
    (2, 2, 2)
    >>> len(cache)
    1
    >>> cache.clear(); len(cache)
    0
    """

    def __init__(self):
        self._entries = collections.OrderedDict()
        self._opening = {}
        self._lock = threading.Lock()

    def __len__(self):
        with self._lock:
            return len(self._entries)

    @contextlib.contextmanager
    def use(self, path, nbytes):
        """The nibabel image of ``path``, kept open while the block runs."""
        entry = self._acquire(str(path), nbytes)
        try:
            yield entry.image
        finally:
            self._release(entry)

    def clear(self):
        """Close every cached file (files being read close when their reads end)."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            for entry in entries:
                entry.evicted = True
            idle = [entry for entry in entries if entry.users == 0]
        for entry in idle:
            entry.close()

    def _lookup(self, key):
        """The cached entry of ``key``, marked in use, or None (call under the lock)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            entry.users += 1
        return entry

    def _acquire(self, path, nbytes):
        key = _file_key(path)
        with self._lock:
            entry = self._lookup(key)
            if entry is not None:
                return entry
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:  # one thread opens (stages, verifies) a file; the others wait
            with self._lock:
                entry = self._lookup(key)
            if entry is not None:
                return entry
            entry = _open_file(path, key, nbytes)
            entry.users = 1
            with self._lock:
                self._entries[key] = entry
                self._opening.pop(key, None)
                evicted = []
                while len(self._entries) > open_files_bound():
                    _, old = self._entries.popitem(last=False)
                    old.evicted = True
                    if old.users == 0:
                        evicted.append(old)
        for old in evicted:
            old.close()
        return entry

    def _release(self, entry):
        with self._lock:
            entry.users -= 1
            close = entry.evicted and entry.users == 0
        if close:
            entry.close()


OPEN_FILES = OpenFileCache()


_VERIFIED = collections.OrderedDict()  # file keys whose gzip stream passed its check
_VERIFIED_LOCK = threading.Lock()
VERIFIED_MEMORY = 10000


def _is_verified(key):
    with _VERIFIED_LOCK:
        return key in _VERIFIED


def _mark_verified(key):
    with _VERIFIED_LOCK:
        _VERIFIED[key] = True
        _VERIFIED.move_to_end(key)
        while len(_VERIFIED) > VERIFIED_MEMORY:
            _VERIFIED.popitem(last=False)


def _open_file(path, key, nbytes):
    """Open ``path`` for reading: staged if it is a .nii.gz and staging is on.

    A ``.nii.gz`` is checked once per process before any voxel is read from
    it: staging inflates it to the end (checking CRC-32 and size), and a file
    read in place has its full ``indexed_gzip`` index built in one pass from
    the start, which checks them too (and makes every later seek fast).
    """
    if not path.endswith(".gz"):
        return _OpenFile(nib.load(path, keep_file_open=False, mmap=False))
    if staging_enabled():
        staged = stage(path, key, nbytes)  # raises for a damaged file, leaving no copy
        if staged is not None:
            _mark_verified(key)
            return _OpenFile(nib.load(staged, keep_file_open=False, mmap=False))
    try:
        stream = IndexedGzipFile(path, drop_handles=False)
    except GZIP_READ_ERRORS + (ZranError,) as err:
        raise gzip_integrity_error(path, err) from None
    try:
        if not _is_verified(key):
            stream.build_full_index()
            _mark_verified(key)
        stream.seek(0)
        image = nib.load(path, keep_file_open=False, mmap=False)  # reads only the header
        klass = type(image)
        image = klass.from_file_map(klass.make_file_map({"image": stream, "header": stream}),
                                    mmap=False)
    except GZIP_READ_ERRORS + (ZranError, nib.filebasedimages.ImageFileError) as err:
        stream.close()
        raise gzip_integrity_error(path, err) from None
    except BaseException:
        stream.close()
        raise
    return _OpenFile(image, stream)


def _slab_range(key, shape):
    """(start, stop) when ``key`` takes whole leading axes and a step-1 range of the last."""
    if len(key) != len(shape) or not all(isinstance(k, slice) for k in key):
        return None
    for item, size in zip(key[:-1], shape[:-1]):
        if item.indices(size) != (0, size, 1):
            return None
    start, stop, step = key[-1].indices(shape[-1])
    return (start, stop) if step == 1 and stop > start else None


def _read_slab(proxy, key):
    """Read a slab of whole leading axes from an uncompressed file with one read.

    NIfTI stores voxels in Fortran order, so such a slab (e.g. a block of
    whole volumes) is one contiguous byte range: read straight into the
    array, without nibabel's per-image lock, so threads read in parallel.
    Returns None when the key or file does not allow it.
    """
    path = proxy.file_like
    span = _slab_range(key, proxy.shape)
    if span is None or not isinstance(path, str) or path.endswith(".gz"):
        return None
    plane = int(np.prod(proxy.shape[:-1]))
    start, stop = span
    count = plane * (stop - start)
    values = np.fromfile(path, dtype=proxy.dtype, count=count,
                         offset=int(proxy.offset) + start * plane * proxy.dtype.itemsize)
    if values.size != count:
        raise EOFError(f"the file ends before volume {stop}")
    return apply_scaling(values.reshape(proxy.shape[:-1] + (stop - start,), order="F"), proxy)


class NiftiArray:
    """Array-like view of a NIfTI file's voxels, for ``dask.array.from_array``.

    Examples
    --------
    >>> import numpy as np, nibabel as nib, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.nii")
    >>> nib.save(nib.Nifti1Image(np.ones((2, 2, 2), "int16"), np.eye(4)), path)
    >>> arr = NiftiArray(path, (2, 2, 2), "int16")
    >>> arr[:, :, 0].sum()
    np.int64(4)
    """

    def __init__(self, path, shape, dtype):
        self.path = str(path)
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        try:
            with OPEN_FILES.use(self.path, self.nbytes) as image:
                block = _read_slab(image.dataobj, key) if len(image.shape) == self.ndim else None
                if block is None:
                    # files stored with extra trailing singleton dims are read through them
                    block = image.dataobj[key + (0,) * (len(image.shape) - self.ndim)]
        except RoidaskError:
            raise
        except READ_ERRORS as err:
            raise InputFileError(
                self.path, f"could not read voxel data ({err})", "the file is truncated or corrupt"
            ) from None
        return np.asarray(block, dtype=self.dtype)

    def __reduce__(self):
        return (NiftiArray, (self.path, self.shape, self.dtype.str))


def _gzip_size_ok(path, expected):
    """Check that a gzip file holds at least ``expected`` bytes.

    The trailer stores the uncompressed size mod 2**32; when it disagrees
    (truncated files, or multi-member archives), decompress once to be sure.
    """
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        (trailer,) = struct.unpack("<I", f.read(4))
    if trailer == expected % 2**32:
        return True
    total = 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(2**24):
                total += len(chunk)
    except (EOFError, OSError, zlib.error):
        return False
    return total >= expected


def open_nifti_header(path):
    """Open a NIfTI file's header, checking that the data it promises is there.

    Returns the nibabel image (data not read). Raises :class:`InputFileError`
    for a missing file, a non-NIfTI file, a 5D image or a truncated file.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such file", "check the path")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not a NIfTI file")
    try:
        with _quiet_header_fixes():
            image = nib.load(path, mmap=False)
    except (nib.filebasedimages.ImageFileError, EOFError, OSError, zlib.error, ValueError) as err:
        if str(path).endswith(".gz"):
            check_gzip(path)  # a damaged gzip stream is named as such
        raise InputFileError(
            path, f"is not a readable NIfTI image ({type(err).__name__}: {err})",
            "give a .nii or .nii.gz file, or a roidask .zarr store",
        ) from None
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        raise InputFileError(path, f"is a {type(image).__name__}, not NIfTI", "convert it to NIfTI")
    shape = image.shape
    if len(shape) > 4 and any(n != 1 for n in shape[4:]):
        raise InputFileError(
            path, f"has {len(shape)} dimensions {shape}; roidask reads 3D and 4D images",
            "split it into 4D images, one per 5th-axis index",
        )
    if len(shape) < 3:
        raise InputFileError(path, f"has {len(shape)} dimensions {shape}; expected 3D or 4D")
    if any(int(n) < 1 for n in shape):
        raise InputFileError(path, f"is corrupt: its header gives a size of 0 or less along an "
                             f"axis, shape {tuple(int(n) for n in shape)}",
                             "re-copy or re-create the file")
    _check_affine(path, image.affine)
    offset = int(image.dataobj.offset)
    expected = offset + int(np.prod(shape)) * image.get_data_dtype().itemsize
    if str(path).endswith(".gz"):
        complete = _gzip_size_ok(path, expected)
    else:
        complete = path.stat().st_size >= expected
    if not complete:
        raise InputFileError(
            path, f"is truncated or corrupt: the header promises {expected} bytes of data",
            "re-copy or re-create the file",
        )
    return image


_HEADER_LOG_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_header_fixes():
    """Keep nibabel's notes about header fields it fixes (``pixdim[1,2,3] should be non-zero``)
    off the terminal: what matters of them is checked after loading, and named as one error."""
    logger = nib.imageglobals.logger
    with _HEADER_LOG_LOCK:  # threads opening headers restore the level in order
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


def _check_affine(path, affine):
    """Refuse an affine that maps no volume: non-finite, or singular (a voxel size of 0, or
    two voxel axes along one direction), which no smoothing, resampling or mm size survives."""
    affine = np.asarray(affine, dtype=float)
    if np.all(np.isfinite(affine)) and np.linalg.matrix_rank(affine[:3, :3]) == 3:
        return
    rows = "; ".join(" ".join(f"{v:g}" for v in row) for row in affine[:3])
    raise InputFileError(
        path, f"has an affine that maps no volume (a voxel size of 0, two voxel axes along "
        f"one direction, or a non-finite entry): [{rows}]",
        "fix its sform/qform (nibabel's set_sform) or re-create the file")


def _scaling(proxy):
    """(slope, intercept) when the header scales raw voxel values, else None."""
    slope, inter = proxy.slope, proxy.inter
    if (slope is None or slope == 1.0) and (inter is None or inter == 0.0):
        return None
    return (1.0 if slope is None else slope), (inter or 0.0)


def apply_scaling(values, proxy):
    """Raw voxel values with scl_slope / scl_inter applied (float64, as nibabel does)."""
    scaling = _scaling(proxy)
    return values if scaling is None else values * scaling[0] + scaling[1]


def scaled_dtype(image):
    """The dtype voxel values have once scl_slope / scl_inter are applied."""
    return np.dtype(np.float64) if _scaling(image.dataobj) else np.dtype(image.get_data_dtype())


def nifti_header_facts(image):
    """Units, TR and sform/qform codes of a NIfTI header, as plain values."""
    header = image.header
    xyz_units, t_units = header.get_xyzt_units()
    facts = {
        "xyz_units": xyz_units,
        "t_units": t_units,
        "sform_code": int(header["sform_code"]),
        "qform_code": int(header["qform_code"]),
    }
    if len(image.shape) >= 4:
        t_r = float(header.get_zooms()[3]) * TIME_UNIT_SECONDS.get(t_units, 1.0)
        if t_r > 0:
            facts["t_r"] = t_r
    return facts


def load_nifti(path, chunks=None):
    """Open a NIfTI file as a lazy roidask image (nothing is read)."""
    image = open_nifti_header(path)
    shape = image.shape[:4]
    dtype = scaled_dtype(image)
    array = NiftiArray(Path(path).resolve(), shape, dtype)
    chunks = resolve_chunks(chunks, shape, dtype)
    name = "nifti-" + tokenize(_file_key(array.path), chunks)
    data = da.from_array(array, chunks=chunks, name=name, asarray=False, meta=np.array((), dtype))
    facts = nifti_header_facts(image)
    time_coords = None
    if len(shape) == 4 and "t_r" in facts:
        time_coords = {"time": np.arange(shape[3]) * facts["t_r"]}
    img = new_image(data, image.affine, header=facts, time_coords=time_coords)
    img.attrs["source"] = str(path)
    return img


def load_nibabel(image, chunks=None):
    """Wrap a nibabel image as a lazy roidask image (its ``dataobj``, read per chunk).

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> img = load_nibabel(nib.Nifti1Image(np.ones((2, 3, 4, 5), "int16"), np.eye(4)))
    >>> img.dims, img.dtype.name, int(img.sum())
    (('i', 'j', 'k', 't'), 'int16', 120)
    """
    if len(image.shape) not in (3, 4):
        raise ParameterError("img", "a 3D or 4D image", f"shape {image.shape}")
    proxy = nib.is_proxy(image.dataobj)
    dtype = scaled_dtype(image) if proxy else np.asarray(image.dataobj).dtype
    chunks = resolve_chunks(chunks, image.shape, dtype)
    source = (_file_key(image.get_filename()), image.header.binaryblock) if proxy else \
        np.asarray(image.dataobj)
    name = "nibabel-" + tokenize(source, image.affine, chunks)
    data = da.from_array(image.dataobj, chunks=chunks, name=name, meta=np.array((), dtype))
    facts = nifti_header_facts(image) if isinstance(image, nib.Nifti1Image) else {}
    time_coords = None
    if image.ndim == 4 and "t_r" in facts:
        time_coords = {"time": np.arange(image.shape[3]) * facts["t_r"]}
    return new_image(data.astype(dtype, copy=False), image.affine, header=facts,
                     time_coords=time_coords)
