"""Cleaning every voxel's time series of a 4D image, equal to nilearn's ``clean_img``.

Each voxel's series is cleaned by :func:`roidask.signal.clean` (detrend,
filter, confounds, standardize). The image is rechunked so that every chunk
holds whole time series (all of ``t``) of a box of voxels, at most
:data:`~roidask._dask.chunks.TARGET_CHUNK_BYTES` each, and each chunk is
cleaned on its own: the result is lazy, and a chunk's series are cleaned
with the same numbers as nilearn's whole-image call.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> rng = np.random.default_rng(0)
>>> img = new_image(rng.standard_normal((3, 3, 3, 20)) + 5, np.eye(4)).chunk({"i": 2})
>>> out = clean_img(img, detrend=True, standardize="zscore_sample")
>>> out.shape, round(float(out.std("t", ddof=1).mean()), 6)
((3, 3, 3, 20), 1.0)
"""

import dask.array as da
import numpy as np

from roidask._dask.chunks import TARGET_CHUNK_BYTES
from roidask._dask.data import dask_data
from roidask._utils.checks import mask_truth
from roidask._utils.dtypes import float_dtype
from roidask.errors import DimensionError, ParameterTypeError
from roidask.grid import TIME_DIM, as_image, with_data
from roidask.signal.cleaning import (
    _butterworth_options,
    _check_filter,
    _check_standardize,
    _clean_block,
    _plan,
)
from roidask.signal.confounds import _mask_on_grid_of

__all__ = ["clean_img"]

CLEAN_OPTIONS = ("sample_mask", "filter", "standardize_confounds")


def _clean_options(kwargs):
    """nilearn's ``clean__*`` keyword arguments: the options of ``signal.clean`` to pass on."""
    options, butterworth = {}, {}
    for key, value in kwargs.items():
        name = key[len("clean__"):] if key.startswith("clean__") else None
        if name in CLEAN_OPTIONS:
            options[name] = value
        elif name is not None and name.startswith("butterworth__"):
            butterworth[name] = value
        else:
            raise ParameterTypeError(
                key, "a parameter of clean_img, or clean__sample_mask, clean__filter, "
                "clean__standardize_confounds or clean__butterworth__order/padtype/padlen",
                "an unknown keyword argument",
            )
    return options, _butterworth_options(butterworth)


def _clean_voxels(block, mask, confounds, *, runs, ensure_finite, out_dtype, params,
                  sample_mask, n_out):
    """Clean the series of one (i, j, k, t) block (those in ``mask`` only; 0 elsewhere)."""
    series = np.moveaxis(block, -1, 0).reshape(block.shape[-1], -1)
    out = np.zeros((n_out, series.shape[1]), dtype=out_dtype)
    inside = slice(None) if mask is None else mask.ravel()
    if series[:, inside].size:
        out[:, inside] = _clean_block(series[:, inside], confounds, runs, ensure_finite,
                                      out_dtype, params, sample_mask)
    return np.moveaxis(out.reshape((n_out,) + block.shape[:-1]), 0, -1)


def clean_img(imgs, runs=None, detrend=True, standardize=True, confounds=None, low_pass=None,
              high_pass=None, t_r=None, ensure_finite=False, mask_img=None, **kwargs):
    """Clean the time series of every voxel of a 4D image, lazily.

    Equal to :func:`nilearn.image.clean_img` (:func:`nilearn.signal.clean`
    on each voxel's series, with nilearn's defaults ``detrend=True`` and
    ``standardize=True``, i.e. ``'zscore_sample'``) at any chunking.

    Parameters
    ----------
    imgs : xarray.DataArray
        4D image.
    runs : array-like or str, optional
        Run of each volume (or the name of a ``t`` coordinate, e.g. ``"run"``);
        runs are cleaned independently.
    detrend : bool
        Remove each series' mean and linear trend.
    standardize : {'zscore_sample', 'zscore', 'psc', None} or bool
        As in :func:`roidask.signal.clean`; True is 'zscore_sample'.
    confounds : array-like, DataFrame, path, or list of them, optional
        One row per volume; regressed out of every series.
    low_pass, high_pass : float, optional
        Butterworth cutoffs in Hz; need ``t_r``.
    t_r : float, optional
        Repetition time in seconds (as nilearn, the header's TR is not used).
    ensure_finite : bool
        Replace NaN and inf by 0 first.
    mask_img : xarray.DataArray, optional
        3D mask on the grid of ``imgs``: only its voxels are cleaned, the
        others are 0 (nilearn's ``apply_mask``/``unmask``).
    **kwargs
        nilearn's ``clean__`` options passed on to :func:`roidask.signal.clean`:
        ``clean__sample_mask``, ``clean__filter``,
        ``clean__standardize_confounds`` and
        ``clean__butterworth__order/padtype/padlen``.

    Returns
    -------
    xarray.DataArray
        The cleaned 4D image (only the volumes ``clean__sample_mask`` keeps,
        with their ``t`` coordinates); float32 for float32 or small integer
        data, else float64.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> t = np.linspace(1, 30, 100)
    >>> signal = np.sin(t) * 2 + t - 10
    >>> img = new_image(np.broadcast_to(signal, (2, 2, 2, 100)).copy(), np.eye(4))
    >>> out = clean_img(img, detrend=True, low_pass=0.2, t_r=1.0, standardize=None)
    >>> from roidask.signal import clean
    >>> one = clean(signal[:, None], detrend=True, low_pass=0.2, t_r=1.0, standardize=None)
    >>> out.shape, bool(np.allclose(out.values[1, 0, 1], one[:, 0]))
    ((2, 2, 2, 100), True)
    """
    img = as_image(imgs, "imgs")
    if TIME_DIM not in img.dims:
        raise DimensionError("imgs", "a 4D image", f"a {img.ndim}D image", img.ndim, 4)
    options, butterworth_options = _clean_options(kwargs)
    standardize = _check_standardize(standardize)
    filter_type = _check_filter(options.get("filter", "butterworth"), low_pass, high_pass, t_r)
    n_times = img.sizes[TIME_DIM]
    confounds, runs, sample_mask, kept, params = _plan(
        img, n_times, runs=runs, detrend=detrend, standardize=standardize,
        sample_mask=options.get("sample_mask"), confounds=confounds,
        standardize_confounds=options.get("standardize_confounds", True),
        filter_type=filter_type, low_pass=low_pass, high_pass=high_pass, t_r=t_r,
        butterworth_options=butterworth_options,
    )
    data = dask_data(img)
    out_dtype = float_dtype(data.dtype)
    # whole series per chunk, the voxels split to keep chunks bounded
    data = data.rechunk({0: "auto", 1: "auto", 2: "auto", 3: -1},
                        block_size_limit=TARGET_CHUNK_BYTES)
    mask = None
    if mask_img is not None:
        mask_img = _mask_on_grid_of(mask_img, img, "imgs")
        mask = dask_data(mask_img).map_blocks(mask_truth, dtype=bool).rechunk(data.chunks[:3])
    lazy_confounds = isinstance(confounds, da.Array)  # one chunk, read when computed
    n_out = n_times if kept is None else kept.size
    cleaned = da.blockwise(
        _clean_voxels, "ijkt", data, "ijkt", mask, None if mask is None else "ijk",
        confounds, "tc" if lazy_confounds else None, runs=runs,
        ensure_finite=bool(ensure_finite), out_dtype=out_dtype, params=params,
        sample_mask=sample_mask, n_out=n_out,
        adjust_chunks={"t": (n_out,)}, concatenate=True, dtype=out_dtype,
        meta=np.empty((0, 0, 0, 0), dtype=out_dtype),
    )
    if kept is not None:
        img = img.isel({TIME_DIM: kept})
    return with_data(img, cleaned)
