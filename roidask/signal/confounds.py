"""High-variance confounds, as :func:`nilearn.image.high_variance_confounds`, lazily.

nilearn's recipe (related to CompCor): detrend every voxel's time series,
keep the voxels whose mean of squares is above the ``100 - percentile``
percentile, and return the ``n_confounds`` leading left singular vectors of
their ``(t x voxel)`` series. Here no step needs the 4D image in one
process:

1. the mean of squares of each detrended series is a streaming reduction
   over the time chunks: from the float64 moments of
   :mod:`roidask._dask.moments` and the projection on the linear trend,
   ``(M2 - (r . x) ** 2) / n``;
2. the percentile is taken on that 3D array, in one small task;
3. once the first pass has finished, the data are read a second time
   rather than held in memory (:func:`dask.graph_manipulation.bind`), each
   chunk reduced at once to its few selected rows; the ``t x t`` Gram
   matrix of those rows is formed per spatial block and summed;
4. detrending is applied to the Gram matrix (``P G P`` with ``P`` the
   projection removing mean and linear trend) and its eigenvectors are
   nilearn's singular vectors (``scipy.linalg.eigh``, as nilearn).

Arithmetic is float64 (nilearn keeps float32 data in float32), and
singular vectors have an arbitrary sign, so they equal nilearn's up to
sign; the subspace they span -- all that confound regression uses -- is
the same.

Examples
--------
>>> from roidask.testing import random_image
>>> img = random_image((6, 6, 5, 20), chunks={"t": 7})
>>> confounds = high_variance_confounds(img, n_confounds=3, percentile=10.0)
>>> confounds.dims, confounds.shape
(('t', 'confound'), (20, 3))
"""

import numbers

import dask.array as da
import numpy as np
import xarray as xr
from dask import delayed
from scipy import linalg

from roidask._dask.data import dask_data
from roidask._dask.moments import COUNT, M2, MEAN, moments
from roidask._utils.checks import mask_truth
from roidask.errors import DimensionError, ParameterError
from roidask.grid import TIME_DIM, as_image, check_same_grid, time_coords
from roidask.signal.cleaning import _linear_trend

__all__ = ["high_variance_confounds"]


def _check(n_confounds, percentile, detrend):
    if isinstance(n_confounds, bool) or not isinstance(n_confounds, numbers.Integral) or (
            n_confounds < 1):
        raise ParameterError("n_confounds", "a positive integer", n_confounds)
    if isinstance(percentile, bool) or not isinstance(percentile, numbers.Real) or not (
            0 <= percentile <= 100):
        raise ParameterError("percentile", "a number from 0 to 100", percentile)
    if not isinstance(detrend, (bool, np.bool_)):
        raise ParameterError("detrend", "True or False", detrend)


def _mean_of_squares(data, regressor):
    """Per voxel mean of squares of the (detrended) series, float64, streaming over t."""
    m = moments(data)[..., 0, :]
    count, mean, m2 = m[..., COUNT], m[..., MEAN], m[..., M2]
    if regressor is None:
        return (m2 + count * mean**2) / count
    along_trend = (data.astype(np.float64) * regressor).sum(axis=-1)
    return (m2 - along_trend**2) / count


def _threshold(variance, mask, percentile):
    values = variance if mask is None else variance[mask_truth(mask)]
    return np.asarray(np.nanpercentile(values, 100.0 - percentile), dtype=np.float64)


def _selected_rows(block, selected):
    """One chunk's selected series, float64 (n_selected, t_chunk), in a 1-element object block."""
    out = np.empty((1, 1, 1, 1), dtype=object)
    out[0, 0, 0, 0] = np.asarray(block[selected], dtype=np.float64)
    return out


def _gram(row_blocks):
    """The (t x t) products of one spatial block's selected series."""
    series = np.hstack([block[0, 0, 0, 0] for block in row_blocks])
    return series.T @ series


def _leading_vectors(gram, regressor, n_confounds, detrend):
    """nilearn's eigh of the (detrended) series' Gram matrix / n, largest first."""
    n_times = gram.shape[0]
    if detrend and regressor is not None:  # nilearn leaves a single volume as it is
        projection = np.eye(n_times) - 1.0 / n_times - np.outer(regressor, regressor)
        gram = projection @ gram @ projection
    s, u = linalg.eigh(gram / n_times)
    order = np.argsort(s)[::-1]
    return u[:, order[:n_confounds]].copy()


def _mask_on_grid_of(mask_img, img, img_name):
    """``mask_img`` checked as a 3D image on ``img``'s grid (nilearn's maskers refuse others)."""
    mask_img = as_image(mask_img, "mask_img")
    if mask_img.ndim != 3:
        raise DimensionError("mask_img", "a 3D mask", f"a {mask_img.ndim}D image",
                             mask_img.ndim, 3)
    check_same_grid(img, mask_img, (img_name, "mask_img"))
    return mask_img


def high_variance_confounds(img, n_confounds=5, percentile=2.0, detrend=True, mask_img=None):
    """Time series of the highest-variance voxels' leading components, lazily.

    Same algorithm and parameters as
    :func:`nilearn.image.high_variance_confounds`; see the module
    docstring for how it stays out of core. Computing the result reads the
    data twice.

    Parameters
    ----------
    img : xarray.DataArray
        4D image.
    n_confounds : int
        Number of confounds (singular vectors) to return.
    percentile : float
        Keep the voxels above this top percentile of variance (0 to 100).
    detrend : bool
        Remove each voxel's mean and linear trend first.
    mask_img : xarray.DataArray, optional
        3D image on ``img``'s grid; only its voxels (finite and non-zero)
        are considered. All voxels when None.

    Returns
    -------
    xarray.DataArray
        Lazy float64 array of dims ``("t", "confound")``, shape
        ``(n_volumes, min(n_confounds, n_volumes))``, with ``img``'s ``t``
        coordinates.

    Raises
    ------
    ParameterError
        A 3D ``img``, or parameters out of range.
    GridMismatchError
        ``mask_img`` on another grid.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> rng = np.random.default_rng(0)
    >>> values = rng.standard_normal((4, 4, 4, 12))
    >>> values[0, 0, 0] += 50 * np.sin(np.arange(12))  # one very noisy voxel
    >>> confounds = high_variance_confounds(new_image(values, np.eye(4)), n_confounds=1,
    ...                                     percentile=1.0, detrend=False)
    >>> series = values[0, 0, 0] / np.linalg.norm(values[0, 0, 0])
    >>> bool(np.allclose(np.abs(confounds.values[:, 0]), np.abs(series)))
    True
    """
    img = as_image(img, "img")
    if TIME_DIM not in img.dims:
        raise DimensionError("img", "a 4D image", f"a {img.ndim}D image", img.ndim, 4)
    _check(n_confounds, percentile, detrend)
    mask = None
    if mask_img is not None:
        mask_img = _mask_on_grid_of(mask_img, img, "img")
    data = dask_data(img)
    n_times = data.shape[-1]
    regressor = _linear_trend(n_times) if detrend else None
    variance = _mean_of_squares(data, regressor)
    mask_args = ()
    if mask_img is not None:
        mask = dask_data(mask_img)
        mask_args = (mask.rechunk(-1), "ijk")
    threshold = da.blockwise(
        _threshold, "", variance.rechunk(-1), "ijk", *(mask_args or (None, None)),
        percentile=float(percentile), dtype=np.float64, concatenate=True,
        meta=np.array(0.0),
    )
    selected = variance > threshold
    if mask is not None:
        selected &= da.map_blocks(mask_truth, mask.rechunk(variance.chunks), dtype=bool)
    # a second pass over the data, once the selection is known: not held in memory
    from dask.graph_manipulation import bind

    rows = da.blockwise(  # each chunk read once more, reduced to its few selected rows
        _selected_rows, "ijkt", bind(data, threshold), "ijkt", selected, "ijk",
        adjust_chunks={"i": 1, "j": 1, "k": 1, "t": 1}, dtype=object,
        meta=np.empty((0,) * 4, dtype=object),
    )
    # one task per spatial block: as delayed tasks, so that dask does not fuse (and so
    # repeat) the reading of a chunk into every product that uses it
    blocks = rows.to_delayed(optimize_graph=False)
    gram = da.stack([
        da.from_delayed(delayed(_gram)(list(blocks[index])), (n_times, n_times),
                        dtype=np.float64, meta=np.empty((0, 0), dtype=np.float64))
        for index in np.ndindex(blocks.shape[:3])
    ]).sum(axis=0)
    n_out = min(int(n_confounds), n_times)
    vectors = da.map_blocks(
        _leading_vectors, gram.rechunk(-1), regressor, int(n_confounds), bool(detrend),
        chunks=((n_times,), (n_out,)), dtype=np.float64,
        meta=np.empty((0, 0), dtype=np.float64),
    )
    coords = {name: (TIME_DIM, coord.values) for name, coord in time_coords(img).items()}
    if TIME_DIM in img.coords:
        coords[TIME_DIM] = img[TIME_DIM].values
    return xr.DataArray(vectors, dims=(TIME_DIM, "confound"), coords=coords,
                        name="high_variance_confounds")
