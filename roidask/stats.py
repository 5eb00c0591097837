"""Voxelwise statistical tests on 4D images, lazily and in one pass.

Each test reduces the volumes to float64 per-voxel moments (count, mean,
M2; see :mod:`roidask._dask.moments`) in a single dask reduction over the time
chunks, then derives the statistic, its p-value (from ``scipy.stats``) and
``-log10 p`` voxel by voxel. The mean images come out of the same moments,
so asking for them reads the data no second time. Results equal
``scipy.stats.ttest_ind``, ``scipy.stats.ttest_1samp`` and
``sklearn.feature_selection.f_classif`` at any chunking.

Every test returns an :class:`xarray.Dataset` of 3D images on the input
grid (each carries the affine): ``statistic``, ``p_value``, ``neg_log10_p``
(``-log10 p`` with NaN set to 0 and clipped at ``neg_log10_p_max``, as in
nilearn's ROI-extraction example) and the mean images.

Examples
--------
>>> from roidask.testing import random_image
>>> img = random_image((3, 3, 3, 12), chunks={"t": 5})
>>> img = img.assign_coords(condition=("t", ["face", "house", "rest"] * 4))
>>> result = ttest_ind(img.sel(t=img.condition == "face"), img.sel(t=img.condition == "house"))
>>> result.neg_log10_p.dims
('i', 'j', 'k')
"""

import numbers

import dask.array as da
import numpy as np
import xarray as xr

from roidask._dask.data import dask_data
from roidask._dask.moments import (
    COUNT,
    M2,
    MEAN,
    N_FIELDS,
    merge_moments,
    moments,
    pool_groups,
)
from roidask._utils.checks import check_bool
from roidask.errors import ParameterError
from roidask.grid import SPATIAL_DIMS, TIME_DIM, as_image, check_same_grid, like_image

ALTERNATIVES = ("two-sided", "less", "greater")
NEG_LOG10_P_MAX = 10.0
# Order of the per-voxel outputs a test's block function stacks on its last axis.
_OUTPUTS = ("statistic", "df", "p_value", "neg_log10_p")
_N_OUTPUTS = len(_OUTPUTS)


# ---------------------------------------------------------------- validation
def _time_series(img, name, min_volumes=2):
    img = as_image(img, name)
    if TIME_DIM not in img.dims:
        raise ParameterError(name, f"a 4D image with dims {SPATIAL_DIMS + (TIME_DIM,)}", img.dims)
    if not (np.issubdtype(img.dtype, np.number) or img.dtype == bool):
        raise ParameterError(name, "numeric voxel values", str(img.dtype))
    if img.sizes[TIME_DIM] < min_volumes:
        raise ParameterError(
            name, f"at least {min_volumes} volumes along {TIME_DIM}", img.sizes[TIME_DIM]
        )
    return img


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(name, f"one of {choices}", value)


def _check_max(value):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ParameterError("neg_log10_p_max", "a positive number or None", value)


def _encode(values, labels):
    """Group code of each value: its index in ``labels``, or -1."""
    codes = np.full(np.shape(values), -1, dtype=np.intp)
    for code, label in enumerate(labels):
        codes[values == label] = code
    return codes


def _group_codes(img, groups, labels):
    """Group code of each volume (-1: left out; numpy or lazy) and the labels.

    A lazy (dask-backed) ``groups`` coordinate stays lazy: then ``labels``
    must name the groups, since finding them would compute.
    """
    n_volumes = img.sizes[TIME_DIM]
    if isinstance(groups, str):
        names = [n for n, c in img.coords.items() if c.dims == (TIME_DIM,) and n != TIME_DIM]
        if groups not in names:
            raise ParameterError("groups", f"the name of a coordinate on t, one of {names}", groups)
        name, groups = groups, img.coords[groups].data
    else:
        name = "groups"
        groups = groups.data if isinstance(groups, xr.DataArray) else groups
    if not isinstance(groups, da.Array):
        groups = np.asarray(groups)
    if groups.shape != (n_volumes,):
        raise ParameterError(
            "groups", f"a coordinate name or {n_volumes} labels (one per volume)", groups.shape
        )
    lazy = isinstance(groups, da.Array)
    if labels is None and lazy:
        load = "groups.compute()" if name == "groups" else (
            f"img.assign_coords({name}=img.{name}.compute())"
        )
        raise ParameterError(
            "labels", f"the group labels, because {name!r} is lazy (dask-backed) and finding "
            f"its values would compute; or load it first: {load}", None,
        )
    present = None if lazy else np.unique(groups)
    labels = present if labels is None else np.asarray(labels)
    if labels.ndim != 1 or np.unique(labels).size != labels.size or (
        present is not None and not np.isin(labels, present).all()
    ):
        known = "" if present is None else f" among {present.tolist()}"
        raise ParameterError("labels", f"distinct group labels{known}", labels.tolist())
    if labels.size < 2:
        raise ParameterError("groups", "at least 2 groups", labels.tolist())
    if lazy:
        return groups.map_blocks(_encode, labels=labels, dtype=np.intp), labels
    codes = _encode(groups, labels)
    n_used = int((codes >= 0).sum())
    if n_used <= labels.size:
        raise ParameterError(
            "groups", f"more volumes than groups ({labels.size})", f"{n_used} volumes"
        )
    return codes, labels


# ------------------------------------------------------- per-block numerics
def _summary(statistic, df, dist, dist_args, alternative, neg_log10_p_max):
    """Stack statistic, df, p-value and -log10 p (NaN -> 0, clipped) per voxel."""
    if alternative == "two-sided":
        magnitude = np.abs(statistic)
        p_value = 2 * dist.sf(magnitude, *dist_args)
        log_p = np.log(2) + dist.logsf(magnitude, *dist_args)
    elif alternative == "greater":
        p_value, log_p = dist.sf(statistic, *dist_args), dist.logsf(statistic, *dist_args)
    else:
        p_value, log_p = dist.cdf(statistic, *dist_args), dist.logcdf(statistic, *dist_args)
    neg_log10_p = np.nan_to_num(-log_p / np.log(10), nan=0.0, posinf=np.inf)
    if neg_log10_p_max is not None:
        neg_log10_p = np.minimum(neg_log10_p, neg_log10_p_max)
    df = np.broadcast_to(df, np.shape(statistic))
    return np.stack([statistic, df, p_value, neg_log10_p], axis=-1)


def _ttest_ind_block(ma, mb, equal_var, alternative, neg_log10_p_max):
    na, nb = ma[..., COUNT], mb[..., COUNT]
    with np.errstate(divide="ignore", invalid="ignore"):
        if equal_var:
            df = na + nb - 2
            pooled = (ma[..., M2] + mb[..., M2]) / df
            denominator = np.sqrt(pooled * (1 / na + 1 / nb))
        else:
            va, vb = ma[..., M2] / (na - 1) / na, mb[..., M2] / (nb - 1) / nb
            df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
            df = np.where(np.isnan(df), 1.0, df)  # both variances 0: as scipy, any df will do
            denominator = np.sqrt(va + vb)
        statistic = (ma[..., MEAN] - mb[..., MEAN]) / denominator
        return _summary(statistic, df, _distribution("t"), (df,), alternative, neg_log10_p_max)


def _ttest_1samp_block(m, popmean, alternative, neg_log10_p_max):
    n = m[..., COUNT]  # popmean: a number or one per voxel
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = (m[..., MEAN] - popmean) / np.sqrt(m[..., M2] / (n - 1) / n)
        return _summary(statistic, n - 1, _distribution("t"), (n - 1,), alternative,
                        neg_log10_p_max)


def _distribution(name):
    """``scipy.stats.<name>``, imported when a task first needs it (a slow import)."""
    from scipy import stats

    return getattr(stats, name)


def _f_oneway_block(mg, neg_log10_p_max):
    count, mean = mg[..., COUNT], mg[..., MEAN]
    pooled = merge_moments(mg, axis=mg.ndim - 2)
    between = (count * (mean - pooled[..., None, MEAN]) ** 2).sum(axis=-1)
    within = mg[..., M2].sum(axis=-1)
    df_between, df_within = mg.shape[-2] - 1, pooled[..., COUNT] - mg.shape[-2]
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = (between / df_between) / (within / df_within)
        return _summary(
            statistic, df_within, _distribution("f"), (df_between, df_within), "greater",
            neg_log10_p_max
        )


def _pool_two(ma, mb):
    return merge_moments(np.stack([ma, mb], axis=-2), axis=-2)


# ------------------------------------------------------------ lazy assembly
def _per_voxel(block_function, *arrays, n_out=_N_OUTPUTS, **kwargs):
    """Apply a block function to moments arrays (or 3D images) voxel block by voxel block.

    Every array's axes after ``i, j, k`` are passed whole; spatial chunks
    follow the first array's. The result has shape ``(i, j, k, n_out)``.
    """
    spatial = arrays[0].chunks[:3]
    args = []
    for number, array in enumerate(arrays):
        array = array.rechunk(spatial + tuple((size,) for size in array.shape[3:]))
        trailing = tuple(f"a{number}_{axis}" for axis in range(3, array.ndim))
        args += [array, ("i", "j", "k") + trailing]
    return da.blockwise(
        block_function, ("i", "j", "k", "out"), *args, **kwargs,
        new_axes={"out": n_out}, concatenate=True, dtype=np.float64,
        meta=np.empty((0, 0, 0, 0), dtype=np.float64),
    )


def _result(img, stacked, means, attrs):
    images = {name: stacked[..., index] for index, name in enumerate(_OUTPUTS)}
    images.update(means)
    return xr.Dataset(
        {name: like_image(img, data, name=name, drop_time=True) for name, data in images.items()},
        attrs=attrs,
    )


# ------------------------------------------------------------- public tests
def ttest_ind(img_a, img_b, *, equal_var=True, alternative="two-sided",
              neg_log10_p_max=NEG_LOG10_P_MAX):
    """Voxelwise two-sample t-test between two sets of volumes.

    Student's test (``equal_var=True``) or Welch's, as
    :func:`scipy.stats.ttest_ind` along the time axis. The two images are
    usually two selections of one run, e.g.
    ``img.sel(t=img.condition == "face")``; their ``t`` coordinates may
    differ, only their grids must match.

    Parameters
    ----------
    img_a, img_b : image, 4D
        The two samples of volumes, on one grid; at least 2 volumes each.
    equal_var : bool, default True
        Assume equal variances (Student); False gives Welch's test.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        Alternative hypothesis about ``mean_a - mean_b``, as in scipy.
    neg_log10_p_max : float or None, default 10.0
        Clip ``neg_log10_p`` at this value (None: no clipping).

    Returns
    -------
    xarray.Dataset
        3D float64 images on the grid of ``img_a``: ``statistic`` (t),
        ``df`` (degrees of freedom), ``p_value``, ``neg_log10_p`` (NaN -> 0,
        clipped), and ``mean_a``, ``mean_b``, ``mean_img`` (mean over the volumes
        of both), all from one pass over the data.

    Raises
    ------
    ParameterError
        Bad option, an image that is not 4D, or fewer than 2 volumes.
    GridMismatchError
        The two images are on different grids.

    Examples
    --------
    >>> from roidask.testing import random_image
    >>> img = random_image((4, 4, 4, 20), chunks={"t": 6})
    >>> result = ttest_ind(img[..., :10] + 1, img[..., 10:], equal_var=False)
    >>> sorted(result.data_vars)
    ['df', 'mean_a', 'mean_b', 'mean_img', 'neg_log10_p', 'p_value', 'statistic']
    >>> bool((result.statistic > 0).mean() > 0.9)
    True
    """
    img_a, img_b = _time_series(img_a, "img_a"), _time_series(img_b, "img_b")
    check_same_grid(img_a, img_b, ("img_a", "img_b"))
    check_bool(equal_var, "equal_var")
    _check_choice(alternative, "alternative", ALTERNATIVES)
    _check_max(neg_log10_p_max)
    ma = moments(dask_data(img_a))[..., 0, :]
    mb = moments(dask_data(img_b))[..., 0, :]
    stacked = _per_voxel(
        _ttest_ind_block, ma, mb, equal_var=bool(equal_var), alternative=alternative,
        neg_log10_p_max=neg_log10_p_max,
    )
    both = _per_voxel(_pool_two, ma, mb, n_out=N_FIELDS)
    means = {"mean_a": ma[..., MEAN], "mean_b": mb[..., MEAN], "mean_img": both[..., MEAN]}
    attrs = {
        "test": "ttest_ind", "equal_var": int(bool(equal_var)), "alternative": alternative,
        "n_a": img_a.sizes[TIME_DIM], "n_b": img_b.sizes[TIME_DIM],
    }
    return _result(img_a, stacked, means, attrs)


def ttest_1samp(img, popmean=0.0, *, alternative="two-sided", neg_log10_p_max=NEG_LOG10_P_MAX):
    """Voxelwise one-sample t-test of the volumes' mean against ``popmean``.

    As :func:`scipy.stats.ttest_1samp` along the time axis.

    Parameters
    ----------
    img : image, 4D
        The sample of volumes; at least 2.
    popmean : float or 3D image, default 0.0
        Mean under the null hypothesis: one number, or one per voxel as a 3D
        image on the grid of ``img``.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        Alternative hypothesis about ``mean - popmean``, as in scipy.
    neg_log10_p_max : float or None, default 10.0
        Clip ``neg_log10_p`` at this value (None: no clipping).

    Returns
    -------
    xarray.Dataset
        3D float64 images on the grid of ``img``: ``statistic`` (t), ``df``,
        ``p_value``, ``neg_log10_p`` (NaN -> 0, clipped) and ``mean_img``, all
        from one pass over the data.

    Examples
    --------
    >>> from roidask.testing import random_image
    >>> img = random_image((4, 4, 4, 12), chunks={"t": 5})
    >>> result = ttest_1samp(img + 3, 0.0)
    >>> bool(result.p_value.max() < 0.001), float(result.neg_log10_p.min()) > 3
    (True, True)
    """
    img = _time_series(img, "img")
    _check_choice(alternative, "alternative", ALTERNATIVES)
    _check_max(neg_log10_p_max)
    m = moments(dask_data(img))[..., 0, :]
    if isinstance(popmean, xr.DataArray):
        popmean_img = as_image(popmean, "popmean")
        if TIME_DIM in popmean_img.dims:
            raise ParameterError("popmean", "a number or a 3D image", popmean_img.dims)
        check_same_grid(img, popmean_img, ("img", "popmean"))
        arrays, options = (m, dask_data(popmean_img)), {}  # popmean: one per voxel
    elif isinstance(popmean, numbers.Real) and not isinstance(popmean, bool):
        arrays, options = (m,), {"popmean": float(popmean)}
    else:
        raise ParameterError("popmean", "a number or a 3D image", popmean)
    stacked = _per_voxel(
        _ttest_1samp_block, *arrays, alternative=alternative, neg_log10_p_max=neg_log10_p_max,
        **options,
    )
    attrs = {"test": "ttest_1samp", "alternative": alternative, "n": img.sizes[TIME_DIM]}
    return _result(img, stacked, {"mean_img": m[..., MEAN]}, attrs)


def f_oneway(img, groups, *, labels=None, neg_log10_p_max=NEG_LOG10_P_MAX):
    """Voxelwise one-way ANOVA F-test across groups of volumes.

    As :func:`sklearn.feature_selection.f_classif` (and
    :func:`scipy.stats.f_oneway`) with volumes as samples and voxels as
    features. Per-group moments of every voxel come from one pass.

    Parameters
    ----------
    img : image, 4D
        The volumes.
    groups : str or array-like
        Name of a coordinate on ``t`` (e.g. ``"condition"``) or one label per
        volume (numpy, or dask when ``labels`` is given).
    labels : sequence, optional
        Group labels to compare; volumes of other groups are left out (e.g.
        ``["face", "house", "cat"]`` to leave out ``"rest"``). Default: all
        labels in ``groups``, which must then be in memory (a dask-backed
        coordinate, as ``.chunk()`` or a zarr store makes, needs ``labels``:
        finding its values would compute).
    neg_log10_p_max : float or None, default 10.0
        Clip ``neg_log10_p`` at this value (None: no clipping).

    Returns
    -------
    xarray.Dataset
        3D float64 images on the grid of ``img``: ``statistic`` (F), ``df``
        (within-group degrees of freedom), ``p_value``, ``neg_log10_p``
        (NaN -> 0, clipped) and ``mean_img`` (over the compared volumes); attrs
        ``df_between`` (number of labels - 1) and ``labels``.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.testing import random_image
    >>> img = random_image((4, 4, 4, 18), chunks={"t": 7})
    >>> img = img.assign_coords(condition=("t", np.repeat(["a", "b", "rest"], 6)))
    >>> result = f_oneway(img, "condition", labels=["a", "b"])
    >>> result.attrs["df_between"], float(result.df.max())
    (1, 10.0)
    """
    img = _time_series(img, "img")
    _check_max(neg_log10_p_max)
    codes, labels = _group_codes(img, groups, labels)
    mg = moments(dask_data(img), codes, n_groups=labels.size)
    stacked = _per_voxel(_f_oneway_block, mg, neg_log10_p_max=neg_log10_p_max)
    attrs = {"test": "f_oneway", "df_between": labels.size - 1, "labels": labels.tolist()}
    return _result(img, stacked, {"mean_img": pool_groups(mg)[..., MEAN]}, attrs)


__all__ = ["f_oneway", "ttest_1samp", "ttest_ind"]
