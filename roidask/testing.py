"""Tools for testing code built on roidask images.

Examples
--------
>>> import numpy as np
>>> img = random_image((4, 5, 6), chunks=2)
>>> with raise_if_dask_computes():
...     doubled = img * 2
>>> assert_image_close(doubled, img + img)
"""

import contextlib
import threading

import dask
import numpy as np
from dask.callbacks import Callback

from roidask.grid import as_image, chunk_data, image_affine, new_image


class ComputeCounter:
    """A dask scheduler that counts computes and raises past ``max_computes``.

    Installed by :func:`raise_if_dask_computes` both as the default
    scheduler and as a :class:`dask.callbacks.Callback`, so it also counts
    computes that name a local scheduler (``scheduler="sync"``,
    ``"threads"``, ``"processes"``); each compute is counted once.
    """

    def __init__(self, max_computes=0):
        self.max_computes = max_computes
        self.total_computes = 0
        self._lock = threading.Lock()
        self._scheduled = threading.local()  # a compute this scheduler runs: counted here
        self.callback = _StartCallback(self)

    def count(self):
        """Count one compute; raise RuntimeError past ``max_computes``."""
        with self._lock:
            self.total_computes += 1
            total = self.total_computes
        if total > self.max_computes:
            raise RuntimeError(f"too many dask computes: {total} > {self.max_computes}")

    def __call__(self, dsk, keys, **kwargs):
        self.count()
        self._scheduled.pending = True  # dask.get's start callback is this same compute
        try:
            return dask.get(dsk, keys, **kwargs)
        finally:
            self._scheduled.pending = False

    def _started(self):
        if getattr(self._scheduled, "pending", False):
            self._scheduled.pending = False
            return
        self.count()


class _StartCallback(Callback):
    """Counts every compute run by one of dask's local schedulers, named or not."""

    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def _start(self, dsk):
        self.counter._started()


class CountingArray:
    """An array-like data source that records every read, to check passes over data.

    Examples
    --------
    >>> import dask.array as da
    >>> source = CountingArray(np.zeros((2, 2, 2, 4)))
    >>> lazy = da.from_array(source, chunks=(2, 2, 2, 2), asarray=False, meta=np.array(()))
    >>> _ = lazy.sum().compute()
    >>> len(source.reads)
    2
    """

    def __init__(self, values):
        self.values, self.shape, self.dtype, self.ndim = (
            values, values.shape, values.dtype, values.ndim)
        self.reads, self._lock = [], threading.Lock()

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        with self._lock:
            self.reads.append(tuple((s.start, s.stop) if isinstance(s, slice) else s
                                    for s in key))
        return self.values[key]


@contextlib.contextmanager
def raise_if_dask_computes(max_computes=0):
    """Within the block, computing any dask graph raises RuntimeError.

    Computes with the default scheduler and those that name one of dask's
    local schedulers (``.compute(scheduler="sync")``) are both counted; up to
    ``max_computes`` are allowed. Yields the :class:`ComputeCounter`.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.ones(4, chunks=2)
    >>> with raise_if_dask_computes():
    ...     x.sum().compute(scheduler="sync")
    Traceback (most recent call last):
    ...
    RuntimeError: too many dask computes: 1 > 0
    >>> with raise_if_dask_computes(max_computes=2) as counter:
    ...     _ = x.sum().compute(), x.max().compute(scheduler="threads")
    >>> counter.total_computes
    2
    """
    counter = ComputeCounter(max_computes)
    with dask.config.set(scheduler=counter), counter.callback:
        yield counter


def random_image(shape, *, affine=None, chunks=None, dtype="float32", seed=0, header=None):
    """A random image (dask-backed when ``chunks`` is given) for tests."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(dtype)
    if affine is None:
        affine = np.diag([3.0, 3.0, 3.0, 1.0])
    img = new_image(values, affine, header=header)
    return chunk_data(img, chunks) if chunks is not None else img


def assert_image_close(actual, desired, rtol=1e-5, atol=1e-6, equal_dtype=False):
    """Assert two images share the grid and have close values (NaNs equal)."""
    actual, desired = as_image(actual, "actual"), as_image(desired, "desired")
    assert actual.shape == desired.shape, f"shapes differ: {actual.shape} vs {desired.shape}"
    np.testing.assert_allclose(image_affine(actual), image_affine(desired), atol=1e-5)
    if equal_dtype:
        assert actual.dtype == desired.dtype, f"dtypes differ: {actual.dtype} vs {desired.dtype}"
    np.testing.assert_allclose(
        np.asarray(actual.values, dtype=float), np.asarray(desired.values, dtype=float),
        rtol=rtol, atol=atol, equal_nan=True,
    )
