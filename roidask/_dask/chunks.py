"""Chunk layouts for images.

The default is the *volume layout*: whole volumes times a block of time
points, about :data:`TARGET_CHUNK_BYTES` each. It reads NIfTI sequentially,
and smoothing needs no halo in it. Volumes too large for one chunk are split
spatially, one time point per chunk.

Examples
--------
>>> volume_layout((40, 64, 64, 1452), "int16")[3][:3]
(25, 25, 25)
>>> parse_chunks("t=100", 4)
{'t': 100}
"""

import dask.array as da
import numpy as np

from roidask.errors import ParameterError
from roidask.grid import SPATIAL_DIMS, TIME_DIM

# Small enough that a chunk and its float32 result stay below glibc's largest
# mmap threshold (32 MiB): their memory is then reused from the heap, not
# freshly mapped (and page-faulted) for every task. Measured on the
# Haxby-shaped run, 2 cores: smoothing every volume 5.6 s at 64 MiB chunks,
# 2.7-4.4 s at 8 MiB.
TARGET_CHUNK_BYTES = 8 * 2**20


def whole_volume_chunks(shape, dtype, target_bytes=TARGET_CHUNK_BYTES):
    """Chunks of whole volumes: as many per chunk as fit in ``target_bytes``, at least one.

    For steps that need each volume at once (one chunk holds a whole volume
    even when it is larger than ``target_bytes``).

    Examples
    --------
    >>> whole_volume_chunks((16, 16, 16, 10), "float32", target_bytes=40_000)
    ((16,), (16,), (16,), (2, 2, 2, 2, 2))
    """
    spatial = tuple((n,) for n in shape[:3])
    if len(shape) == 3:
        return spatial
    volume_bytes = max(1, int(np.prod(shape[:3])) * np.dtype(dtype).itemsize)
    per_chunk = max(1, min(shape[3], target_bytes // volume_bytes))
    return spatial + da.core.normalize_chunks((per_chunk,), (shape[3],))


def gather_chunks(array, axes, target_bytes=TARGET_CHUNK_BYTES):
    """Chunks that make ``axes`` of ``array`` whole, splitting the last axis to stay bounded.

    For steps that need whole volumes (or all voxels) at once: the gathered
    chunks hold as many time points as fit in ``target_bytes`` (at least one),
    so a time-series chunking (``t=-1``) never becomes one task holding the
    whole image. Time chunks already small enough are kept.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.zeros((16, 16, 16, 600), dtype="float32", chunks=(8, 8, 8, -1))
    >>> [len(c) for c in gather_chunks(x, (0, 1, 2))]
    [1, 1, 1, 2]
    """
    chunks = list(array.chunks)
    for axis in axes:
        chunks[axis] = (array.shape[axis],)
    per_time = int(np.prod([max(c) for c in chunks[:-1]])) * array.dtype.itemsize
    limit = max(1, target_bytes // max(1, per_time))
    chunks[-1] = tuple(part for size in chunks[-1] for part in _even_split(size, limit))
    return tuple(chunks)


def _even_split(size, limit):
    """``size`` in as few near-equal parts of at most ``limit`` as possible."""
    n_parts = -(-size // limit)
    return da.core.normalize_chunks(-(-size // n_parts), (size,))[0]


def volume_layout(shape, dtype, target_bytes=TARGET_CHUNK_BYTES):
    """Default chunks for an image of ``shape`` and ``dtype``."""
    volume_bytes = int(np.prod(shape[:3])) * np.dtype(dtype).itemsize
    if volume_bytes <= target_bytes:
        return whole_volume_chunks(shape, dtype, target_bytes)
    spec = ("auto", "auto", "auto") + ((1,) if len(shape) == 4 else ())
    return da.core.normalize_chunks(spec, shape, limit=target_bytes, dtype=np.dtype(dtype))


def parse_chunks(spec, ndim):
    """Turn a user chunk spec into what dask accepts.

    Accepts ``None`` or ``"auto"`` (volume layout, returned as ``None``), a
    dict keyed by dim name, a tuple, or a string: ``"t=100"``,
    ``"i=32,j=32,k=32,t=1"`` or ``"40,64,64,100"``.
    """
    if spec is None or spec == "auto":
        return None
    dims = SPATIAL_DIMS + ((TIME_DIM,) if ndim == 4 else ())
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        try:
            if all("=" in p for p in parts):
                spec = {k.strip(): int(v) for k, v in (p.split("=", 1) for p in parts)}
            else:
                spec = tuple(int(p) for p in parts)
        except ValueError:
            raise ParameterError(
                "chunks", "sizes like '40,64,64,100' or 't=100' or 'i=32,j=32,k=32,t=1'", spec
            ) from None
    if isinstance(spec, dict):
        unknown = set(spec) - set(dims)
        if unknown:
            raise ParameterError("chunks", f"keys among {dims}", sorted(unknown))
        return spec
    if isinstance(spec, (tuple, list)) and len(spec) == len(dims):
        return dict(zip(dims, spec))
    raise ParameterError("chunks", f"{len(dims)} sizes for dims {dims}", spec)


def check_chunk_spec(spec, where="chunks"):
    """Check a chunk spec without the image: what :func:`resolve_chunks` would refuse.

    For a config's ``inputs.NAME.chunks``, checked before any file is opened.
    Each size must be an integer >= 1, or -1 / None / ``"auto"``. Raises
    :class:`ParameterError` naming ``where``; returns the spec as a dict.

    Examples
    --------
    >>> check_chunk_spec("t=100")
    {'t': 100}
    >>> check_chunk_spec({"t": -5}, "inputs.func.chunks")
    Traceback (most recent call last):
    ...
    roidask.errors.ParameterError: inputs.func.chunks: expected sizes >= 1 (or -1 for the \
whole axis) for ('i', 'j', 'k', 't'), got {'t': -5}
    """
    try:
        parsed = parse_chunks(spec, 4)
    except ParameterError as err:
        raise ParameterError(where, err.expected, spec) from None
    for size in (parsed or {}).values():
        if size is None or size == -1 or size == "auto":
            continue
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ParameterError(where, "sizes >= 1 (or -1 for the whole axis) for "
                                 f"{SPATIAL_DIMS + (TIME_DIM,)}", spec)
    return parsed


def resolve_chunks(spec, shape, dtype):
    """Full chunk tuple for ``shape`` from a user spec (volume layout by default)."""
    default = volume_layout(shape, dtype)
    parsed = parse_chunks(spec, len(shape))
    if parsed is None:
        return default
    dims = SPATIAL_DIMS + ((TIME_DIM,) if len(shape) == 4 else ())
    merged = tuple(parsed.get(dim, default[axis]) for axis, dim in enumerate(dims))
    merged = tuple(-1 if c is None else c for c in merged)
    try:
        return da.core.normalize_chunks(merged, shape, dtype=np.dtype(dtype))
    except ValueError as err:
        raise ParameterError("chunks", f"positive sizes for {dims}", spec) from err


def spatial_single_chunk(array):
    """Whether each spatial axis of a dask array is one chunk."""
    return all(len(array.chunks[axis]) == 1 for axis in range(len(SPATIAL_DIMS)))
