"""Thresholding and binarizing images, equal to nilearn's ``threshold_img``.

The cutoff follows nilearn's ``check_threshold``: a number is used as is; a
string ``"97%"`` is the exact 97th percentile (scipy's
``scoreatpercentile``) of ``|x|`` (two-sided) or of the values >= 0
(one-sided), over the voxels of ``mask_img`` when given, plus 1e-5. The
percentile is computed lazily and exactly by :mod:`roidask._dask.percentile`.

Range checks. As nilearn 0.14, a numeric threshold outside the data (above
the largest value that counts, or below the smallest for a negative
one-sided threshold) gives an all-zero map and a
:class:`ThresholdRangeWarning` ("threshold 9.0 is above the maximum of the
absolute values (7.94): the result is all zeros"). The data range is not
known without a compute, and :func:`threshold_img` never computes
(numpy-backed images included), so the check is part of the result's graph:
it warns when the result is computed (from the computing thread; a
``distributed`` worker logs it). An image with no value that counts (no
value >= 0 for a one-sided threshold) raises then, as nilearn does. Errors
that need no data ("120%", a negative threshold with ``two_sided=True``, a
threshold of None: a :class:`~roidask.errors.ParameterTypeError`, also a
``TypeError`` as nilearn's) raise at once.

Clusters (``cluster_threshold``): a 3D map is labelled across its chunks;
a 4D image is filtered in chunks of whole volumes (see
:func:`cluster_size_filter`), so its graph grows linearly with the volumes.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> img = new_image(np.arange(-4.0, 4.0).reshape(2, 2, 2), np.eye(4)).chunk(1)
>>> threshold_img(img, 2.5).values.ravel().tolist()
[-4.0, -3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0]
"""

import functools
import numbers

import dask
import dask.array as da
import numpy as np
from scipy import ndimage as ndi

from roidask._dask.chunks import whole_volume_chunks
from roidask._dask.data import dask_data
from roidask._dask.label_counts import counts_per_label
from roidask._dask.labels import label_array
from roidask._dask.percentile import score_at_percentile
from roidask._utils.checks import mask_truth
from roidask._utils.dtypes import finite_copy
from roidask._utils.warnings import warn_user
from roidask.errors import DimensionError, ParameterError, ParameterTypeError, RoidaskWarning
from roidask.grid import as_image, same_grid, with_data

PERCENTILE_EPSILON = 1e-5
THRESHOLD_EXPECTED = "a number or a percentile string such as '97%'"


def parse_threshold(threshold, two_sided):
    """Validate ``threshold``; return (value, is_percentile) without the data.

    Examples
    --------
    >>> parse_threshold("97.5%", True)
    (97.5, True)
    """
    percentile = False
    if isinstance(threshold, str):
        text = threshold.strip()
        if not text.endswith("%"):
            raise ParameterError("threshold", THRESHOLD_EXPECTED, threshold)
        try:
            value = float(text[:-1])
        except ValueError:
            raise ParameterError("threshold", THRESHOLD_EXPECTED, threshold) from None
        percentile = True
        if not 0.0 <= value <= 100.0:
            raise ParameterError("threshold", "a percentile between '0%' and '100%'", threshold)
    elif isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        value = float(threshold)
    else:  # None, a list...: nilearn's TypeError
        raise ParameterTypeError("threshold", THRESHOLD_EXPECTED, threshold)
    if not np.isfinite(value):
        raise ParameterError("threshold", THRESHOLD_EXPECTED, threshold)
    if value < 0 and two_sided:
        raise ParameterError(
            "threshold", "a value >= 0 when two_sided=True (use two_sided=False for a "
            "negative one-sided threshold)", threshold,
        )
    return value, percentile


class ThresholdRangeWarning(RoidaskWarning):
    """A threshold lies outside the data: the thresholded map is all zeros (nilearn warns too)."""


def _check_range(value, count, extreme, *, lower, values):
    """Return ``value``; warn when it is outside the data range (the map is then all zeros)."""
    count, extreme = int(count), float(extreme)
    if count == 0:
        raise ParameterError("threshold", f"an image with some {values}", "none in the image")
    if lower and value < extreme:
        warn_user(
            f"threshold {value:g} is below the minimum of the {values} ({extreme:g}): "
            "the result is all zeros", ThresholdRangeWarning,
        )
    if not lower and value > extreme:
        warn_user(
            f"threshold {value:g} is above the maximum of the {values} ({extreme:g}): "
            "the result is all zeros", ThresholdRangeWarning,
        )
    return np.float64(value)


def _percentile_cutoff(score):
    return np.float64(float(score) + PERCENTILE_EPSILON)


def cutoff_threshold(data, threshold, *, two_sided=True, where=None):
    """nilearn's ``check_threshold`` on a dask array, as a lazy 0-d float64.

    ``data`` must be finite (nilearn zeroes non-finite values first);
    ``where`` selects the voxels that count. Nothing is computed: a
    percentile and the range check of a value are tasks of the result.
    """
    value, percentile = parse_threshold(threshold, two_sided)
    lower = value < 0
    if lower:
        values, selected, described = data, data <= 0, "values <= 0"
    elif two_sided:
        values, selected, described = _magnitude(data), None, "absolute values"
    else:
        values, selected, described = data, data >= 0, "values >= 0"
    if where is not None:
        described += " in the mask"
        selected = where if selected is None else selected & where
    if percentile:
        score = score_at_percentile(values, value, where=selected)
        return score.map_blocks(_percentile_cutoff, dtype=np.float64)
    if selected is None:
        count, masked = values.size, values
    else:
        count = selected.sum()
        masked = da.where(selected, values, np.inf if lower else -np.inf)
    extreme = masked.min() if lower else masked.max()
    check = functools.partial(_check_range, value, lower=lower, values=described)
    # a delayed task, not a blockwise map: blockwise fusion would copy the check (and its
    # warning) into every block of the result
    return da.from_delayed(dask.delayed(check, pure=True)(count, extreme), shape=(),
                           dtype=np.float64, meta=np.array(0.0))


WIDER_SIGNED = {1: np.int16, 2: np.int32, 4: np.int64, 8: np.float64}


def _magnitude(data):
    """``|data|`` without wrapping: abs(-128) of an int8 is -128, so signed ints widen first.

    (nilearn's ``abs`` wraps: it then misses the largest magnitude, warns that a
    valid threshold exceeds the data, and takes percentiles of wrapped values.)
    """
    if data.dtype.kind == "i":
        data = data.astype(WIDER_SIGNED[data.dtype.itemsize])
    return da.absolute(data)


def apply_threshold(block, cutoff, mask=None, *, two_sided):
    """nilearn's ``_apply_threshold`` on one block (after zeroing non-finite values).

    ``mask`` (3D, optional) zeroes the voxels outside it in every volume.
    """
    data = finite_copy(block, block.dtype)
    if mask is not None:
        mask = np.reshape(mask, mask.shape + (1,) * (data.ndim - mask.ndim))
        data[np.broadcast_to(~mask, data.shape)] = 0
    cutoff = float(cutoff)
    if two_sided:
        drop = (-cutoff < data) & (data < cutoff)
    elif cutoff >= 0:
        drop = data < cutoff
    else:
        drop = data > cutoff
    data[drop] = 0.0
    return data


def _mask_on_grid(mask_img, img):
    """``mask_img`` as a lazy boolean array on the grid of ``img`` (nilearn resamples)."""
    from roidask.image.resampling import resample_to_img

    mask_img = as_image(mask_img, "mask_img")
    if mask_img.ndim != 3:
        raise DimensionError("mask_img", "a 3D mask image", f"a {mask_img.ndim}D image",
                             mask_img.ndim, 3)
    if not same_grid(img, mask_img):
        mask_img = resample_to_img(mask_img, img, interpolation="nearest")
    mask = dask_data(mask_img).map_blocks(mask_truth, dtype=bool)
    return mask.rechunk(dask_data(img).chunks[:3])


FACES = ndi.generate_binary_structure(3, 1)  # nilearn's 6-connectivity for clusters


def _small_labels(counts, min_size):
    small = counts < min_size
    small[:1] = False  # background
    return small


def _zero_small(block, labels, small):
    out = block.copy()
    out[small[labels]] = 0
    return out


def _zero_small_clusters(volumes, min_size):
    """nilearn's ``_apply_cluster_size_threshold`` on each whole volume of a 4D block."""
    out = volumes.copy()
    for t in range(volumes.shape[3]):
        for sign in (-1, 1):
            labels, _ = ndi.label(volumes[..., t] * sign > 0, FACES)
            small = _small_labels(np.bincount(labels.ravel()), min_size)
            out[..., t] = _zero_small(out[..., t], labels, small)
    return out


def cluster_size_filter(data, min_size):
    """Zero the positive and negative clusters smaller than ``min_size`` voxels.

    nilearn's ``_apply_cluster_size_threshold`` on each volume of ``data``
    (a 3D or 4D dask array); clusters are the 6-connected components of
    ``data > 0`` and of ``data < 0``.

    A 3D map keeps its chunks: clusters are labelled across chunks
    (:func:`roidask._dask.labels.label_array`) and counted by
    :func:`roidask._dask.label_counts.counts_per_label`. A 4D image is
    rechunked into whole volumes (as many per chunk as
    :func:`roidask._dask.chunks.whole_volume_chunks` allows, at least one)
    and each volume is filtered in memory, so the graph has a few tasks per
    chunk whatever the number of volumes; the result gets ``data``'s chunks
    back.
    """
    if data.ndim == 4:
        volumes = data.rechunk(whole_volume_chunks(data.shape, data.dtype))
        filtered = volumes.map_blocks(_zero_small_clusters, min_size, dtype=data.dtype)
        return filtered.rechunk(data.chunks)
    kept = data
    for sign in (-1, 1):
        labels, _ = label_array((data * sign) > 0, FACES)
        small = counts_per_label(labels).map_blocks(_small_labels, min_size, dtype=bool)
        kept = da.blockwise(
            _zero_small, "ijk", kept, "ijk", labels, "ijk", small, "z",
            dtype=kept.dtype, concatenate=True,
        )
    return kept


def threshold_img(
    img, threshold, *, cluster_threshold=0, two_sided=True, mask_img=None, copy_header=True
):
    """Set to 0 the voxels whose values are below a threshold, lazily.

    Equal to :func:`nilearn.image.threshold_img` at any chunking; a numeric
    threshold outside the data range gives zeros and a
    :class:`ThresholdRangeWarning` when the result is computed (see the
    module notes).

    Parameters
    ----------
    img : xarray.DataArray
        3D or 4D image (a percentile is taken over all its voxels and volumes).
    threshold : float or str
        A value, or a percentile string such as ``"97%"`` of ``|x|``
        (two-sided) or of the values >= 0 (one-sided); nilearn adds 1e-5 to
        a percentile.
    cluster_threshold : int
        Drop positive and negative clusters (6-connected, per volume) with
        fewer voxels than this. On a 4D image the filter works on chunks of
        whole volumes (as many as fit in
        :data:`~roidask._dask.chunks.TARGET_CHUNK_BYTES`, at least one).
    two_sided : bool
        Keep ``|x| >= threshold`` (True); else keep ``x >= threshold`` for a
        threshold >= 0, ``x <= threshold`` for a negative one.
    mask_img : xarray.DataArray, optional
        3D mask; voxels outside it become 0 and do not count for a
        percentile. Resampled (nearest) onto ``img``'s grid when it is on
        another one, as nilearn does.
    copy_header : bool
        Keep the header facts (units, TR) of ``img``.

    Returns
    -------
    xarray.DataArray
        Thresholded image, same dtype; non-finite values become 0.

    Raises
    ------
    ParameterError
        For a malformed threshold ("120%", a negative two-sided one); a
        :class:`~roidask.errors.ParameterTypeError` (a ``TypeError``) for
        one that is neither a number nor a string.

    Warns
    -----
    ThresholdRangeWarning
        When the result is computed, if a numeric threshold is outside the
        data range (the result is then all zeros).

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> img = new_image(np.arange(27.0).reshape(3, 3, 3), np.eye(4)).chunk(2)
    >>> int((threshold_img(img, "50%") > 0).sum())
    13
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     empty = threshold_img(img, 100.0).compute(scheduler="sync")
    >>> int(empty.sum()), str(caught[0].message)
    (0, 'threshold 100 is above the maximum of the absolute values (26): the result is all zeros')
    """
    img = as_image(img)
    if (
        not isinstance(cluster_threshold, numbers.Real)
        or isinstance(cluster_threshold, bool)
        or cluster_threshold < 0
    ):
        raise ParameterError("cluster_threshold", "a number of voxels >= 0", cluster_threshold)
    parse_threshold(threshold, two_sided)
    data = dask_data(img)
    mask = _mask_on_grid(mask_img, img) if mask_img is not None else None
    finite = data.map_blocks(finite_copy, data.dtype, dtype=data.dtype)
    where = None
    if mask is not None:
        where = da.broadcast_to(mask[(...,) + (None,) * (data.ndim - 3)], data.shape,
                                chunks=data.chunks)
    cutoff = cutoff_threshold(
        finite, threshold, two_sided=two_sided, where=where
    )
    func = functools.partial(apply_threshold, two_sided=two_sided)
    index = "ijkt"[: data.ndim]
    args = [data, index, cutoff, ""] + ([mask, "ijk"] if mask is not None else [])
    out = da.blockwise(
        func, index, *args, dtype=data.dtype, concatenate=True,
        meta=np.empty((0,) * data.ndim, dtype=data.dtype),
    )
    if cluster_threshold > 0:
        out = cluster_size_filter(out, cluster_threshold)
    return with_data(img, out, copy_header=copy_header)


def binarize_img(img, threshold=0.0, *, mask_img=None, two_sided=False, copy_header=True):
    """Binarize an image: 1 where :func:`threshold_img` keeps a value, else 0.

    Equal to :func:`nilearn.image.binarize_img` (nilearn 0.14 defaults:
    ``threshold=0.0``, ``two_sided=False``).

    Parameters
    ----------
    img : xarray.DataArray
        3D or 4D image.
    threshold : float or str
        Value or percentile string, as in :func:`threshold_img`.
    mask_img : xarray.DataArray, optional
        3D mask; voxels outside it are 0.
    two_sided : bool
        Whether ``|x|`` is thresholded.
    copy_header : bool
        Keep the header facts (units, TR) of ``img``.

    Returns
    -------
    xarray.DataArray
        int8 image of 0 and 1.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> img = new_image(np.array([-3.0, -1.0, 0.0, 2.0]).reshape(1, 2, 2), np.eye(4))
    >>> binarize_img(img.chunk(1), 1.5, two_sided=True).values.ravel().tolist()
    [1, 0, 0, 1]
    """
    thresholded = threshold_img(
        img, threshold, mask_img=mask_img, two_sided=two_sided, copy_header=copy_header
    )
    return (thresholded != 0).astype(np.int8)
