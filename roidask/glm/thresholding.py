"""Voxel- and cluster-level thresholds of statistical maps, equal to ``nilearn.glm``.

:func:`threshold_stats_img` returns ``(thresholded_map, threshold)`` as
nilearn 0.14.1 does, without computing:

- ``height_control="fpr"`` or ``None``: the threshold needs no data and is a
  :class:`numpy.float64` / the given number, as in nilearn.
- ``"bonferroni"`` and ``"fdr"``: the threshold depends on the in-mask
  values, so it is returned as a lazy 0-d :class:`dask.array.Array`
  (``float(threshold)`` or ``threshold.compute()`` gives nilearn's float).
  Bonferroni only needs the in-mask voxel count (a tree sum). FDR needs the
  sorted in-mask values: they are gathered into one task — one 3D volume,
  small next to the 4D data roidask is built for.

The in-mask values are those of ``mask_img`` when given (resampled, nearest,
onto the map's grid — nilearn's masker resamples the map onto the mask
instead), else of nilearn's background mask
(:func:`roidask.masking.compute_background_mask`). As in nilearn, the
background mask only selects the values the threshold is computed from; the
map itself is masked only by ``mask_img``.

nilearn's :func:`~nilearn.image.threshold_img` warns when the threshold is
above the data (the map is then all zeros); here the threshold may be lazy, so
no such warning is emitted and the all-zero map is returned.
"""

import functools
import numbers

import dask.array as da
import numpy as np
from scipy.stats import norm

from roidask._dask.data import dask_data
from roidask._utils.warnings import warn_user
from roidask.errors import ParameterError, RoidaskWarning
from roidask.grid import as_image, with_data
from roidask.image.thresholding import _mask_on_grid, apply_threshold, cluster_size_filter
from roidask.masking import compute_background_mask

HEIGHT_CONTROLS = ("fpr", "fdr", "bonferroni", None)
DEFAULT_Z_THRESHOLD = norm.isf(0.001)


class ThresholdWarning(RoidaskWarning):
    """A parameter of :func:`threshold_stats_img` is ignored (nilearn's UserWarning)."""


class DefaultThresholdWarning(RoidaskWarning, FutureWarning):
    """nilearn's FutureWarning: the default threshold of 3.0 changes in nilearn 0.15."""


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ParameterError("alpha", "a number between 0 and 1", alpha)
    return float(alpha)


def _fdr(z_vals, alpha):
    z_vals_ = -np.sort(-np.ravel(z_vals))
    p_vals = norm.sf(z_vals_)
    n_samples = len(p_vals)
    pos = p_vals < alpha * np.linspace(1 / n_samples, 1, n_samples)
    return z_vals_[pos][-1] - 1.0e-12 if pos.any() else np.inf


def _fdr_scalar(z_vals, alpha):
    return np.float64(_fdr(z_vals, alpha))


def _fdr_masked(data, mask, alpha):
    return np.float64(_fdr(data[mask], alpha))


def fdr_threshold(z_vals, alpha):
    """Benjamini-Hochberg FDR threshold of ``z_vals``, as :func:`nilearn.glm.fdr_threshold`.

    Parameters
    ----------
    z_vals : array-like or dask.array.Array
        z-variates. A dask array is gathered into one task (its values are
        sorted) and the threshold is returned as a lazy 0-d dask array.
    alpha : float
        Desired FDR control, between 0 and 1.

    Returns
    -------
    float or dask.array.Array
        The threshold (``inf`` when no value passes); lazy for dask input.

    Raises
    ------
    ParameterError
        (a ``ValueError``, as nilearn raises) when ``alpha`` is outside [0, 1].

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> z = np.array([4.0, 3.5, 2.8, 2.5, 1.9, 1.2])
    >>> round(float(fdr_threshold(z, alpha=0.05)), 2)
    1.9
    >>> lazy = fdr_threshold(da.from_array(z, chunks=2), alpha=0.05)
    >>> lazy.ndim, round(float(lazy.compute()), 2)
    (0, 1.9)
    """
    alpha = _check_alpha(alpha)
    if isinstance(z_vals, da.Array):
        z = z_vals.ravel()
        return da.blockwise(
            _fdr_scalar, "", z, "i", alpha, None,
            concatenate=True, dtype=np.float64, meta=np.array(0.0),
        )
    return _fdr(np.asarray(z_vals), alpha)


def _bonferroni(count, alpha):
    return np.float64(norm.isf(alpha / int(count)))


def _check_threshold(threshold, height_control):
    if height_control is None:
        if threshold is None:
            threshold = 3.0
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise ParameterError("threshold", "a number", threshold)
        if threshold == 3.0:
            warn_user(
                "\nFrom nilearn version>=0.15, the default 'threshold' will be set to "
                f"{DEFAULT_Z_THRESHOLD}.", DefaultThresholdWarning,
            )
        return threshold
    if threshold is not None:
        threshold = float(threshold)
        warn_user(
            f"\n'{threshold=}' is not used with '{height_control=}'."
            "\n'threshold' is only used when 'height_control=None'. "
            "\n'threshold' was set to 'None'. ", ThresholdWarning,
        )
    return None


def threshold_stats_img(
    stat_img=None, mask_img=None, alpha=0.001, threshold=None, height_control="fpr",
    cluster_threshold=0, two_sided=True,
):
    """Threshold a statistical map at a corrected level, as :func:`nilearn.glm.threshold_stats_img`.

    Parameters
    ----------
    stat_img : xarray.DataArray or None
        3D statistical map (z scale). May be None for ``"fpr"`` and None.
    mask_img : xarray.DataArray, optional
        3D mask: the threshold is computed from its voxels and the map is
        zeroed outside it. Without it, the threshold is computed from the
        voxels of the background mask and the map is not masked.
    alpha : float
        p-value (``"fpr"``, ``"bonferroni"``) or q-value (``"fdr"``);
        halved when ``two_sided``.
    threshold : float, optional
        z threshold, used only with ``height_control=None`` (default 3.0).
    height_control : {"fpr", "fdr", "bonferroni", None}
        Meaning of ``alpha``.
    cluster_threshold : int
        Drop positive and negative clusters (6-connected) smaller than this
        many voxels.
    two_sided : bool
        Threshold ``|x|`` (keep both tails) instead of ``x``.

    Returns
    -------
    thresholded_map : xarray.DataArray or None
        Lazy thresholded map (None when ``stat_img`` is None).
    threshold : float or dask.array.Array
        The voxel-level threshold: a number for ``"fpr"`` and None, a lazy
        0-d dask array for ``"fdr"`` and ``"bonferroni"`` (see the module
        notes).

    Raises
    ------
    ParameterError
        (a ``ValueError``, as in nilearn) for an unknown ``height_control``,
        a negative ``cluster_threshold``, ``stat_img=None`` with ``"fdr"`` or
        ``"bonferroni"``, a negative two-sided threshold or a bad ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> data = np.array([[[0., 0.2, 0.8], [1.5, 3.0, 0.1], [0.4, 2.2, 0.0]]])
    >>> img = new_image(data, np.eye(4)).chunk(2)
    >>> out, t = threshold_stats_img(img, threshold=1, height_control=None)
    >>> out.values
    array([[[0. , 0. , 0. ],
            [1.5, 3. , 0. ],
            [0. , 2.2, 0. ]]])
    >>> out, t = threshold_stats_img(img, alpha=0.05, height_control="bonferroni")
    >>> round(float(t.compute()), 4)
    2.7344
    """
    threshold = _check_threshold(threshold, height_control)
    if height_control not in HEIGHT_CONTROLS:
        raise ParameterError("height_control", f"one of {list(HEIGHT_CONTROLS)}", height_control)
    if (
        isinstance(cluster_threshold, bool)
        or not isinstance(cluster_threshold, numbers.Real)
        or cluster_threshold < 0
    ):
        raise ParameterError("cluster_threshold", "a number of voxels >= 0", cluster_threshold)
    if not isinstance(two_sided, (bool, np.bool_)):
        raise ParameterError("two_sided", "True or False", two_sided)
    if height_control is not None:
        alpha = _check_alpha(alpha)
    alpha_ = alpha / 2 if two_sided else alpha
    if height_control == "fpr":
        threshold = norm.isf(alpha_)
    if height_control is None and two_sided and threshold < 0:
        raise ParameterError(
            "threshold", "a value >= 0 when two_sided=True (use two_sided=False for a "
            "negative one-sided threshold)", threshold,
        )
    if stat_img is None:
        if height_control in ("fpr", None):
            return None, threshold
        raise ParameterError("stat_img", f"an image for height_control={height_control!r}", None)

    stat_img = as_image(stat_img, "stat_img")
    if stat_img.ndim != 3:
        raise ParameterError("stat_img", "a 3D statistical map", f"a {stat_img.ndim}D image")
    data = dask_data(stat_img)
    map_mask = _mask_on_grid(mask_img, stat_img) if mask_img is not None else None
    if height_control in ("fdr", "bonferroni"):
        if map_mask is None:
            value_mask = _mask_on_grid(compute_background_mask(stat_img), stat_img)
        else:
            value_mask = map_mask
        if height_control == "bonferroni":
            count = value_mask.sum()
            threshold = da.map_blocks(
                _bonferroni, count, alpha_, dtype=np.float64, meta=np.array(0.0)
            )
        else:
            values = da.absolute(data) if two_sided else data
            threshold = da.blockwise(
                _fdr_masked, "", values, "ijk", value_mask, "ijk", alpha_, None,
                concatenate=True, dtype=np.float64, meta=np.array(0.0),
            )
    cutoff = threshold if isinstance(threshold, da.Array) else np.float64(threshold)
    func = functools.partial(apply_threshold, two_sided=bool(two_sided))
    args = [data, "ijk", cutoff, "" if isinstance(cutoff, da.Array) else None]
    if map_mask is not None:
        args += [map_mask, "ijk"]
    out = da.blockwise(
        func, "ijk", *args, dtype=data.dtype, concatenate=True,
        meta=np.empty((0, 0, 0), dtype=data.dtype),
    )
    if cluster_threshold > 0:
        out = cluster_size_filter(out, cluster_threshold)
    return with_data(stat_img, out), threshold
