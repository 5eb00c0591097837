"""Brain masks computed from the data or from MNI152 templates, equal to nilearn's.

:func:`compute_epi_mask`, :func:`compute_background_mask`,
:func:`compute_brain_mask` and :func:`intersect_masks` follow
:mod:`nilearn.masking` step for step and give the same masks voxel for
voxel. They are lazy: they return a 3D int8 image (1 inside, 0 outside)
backed by dask. The 4D data enter only through their mean image, a streaming
reduction over the time chunks; the cutoffs, opening and largest connected
component are computed on that small 3D mean, in one task, when the mask is
computed or written.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> data = np.zeros((9, 9, 9, 4), "float32")
>>> data[2:7, 2:7, 2:7] = 100 + np.arange(4)
>>> mask = compute_background_mask(new_image(data, np.eye(4)))
>>> int(mask.sum())
125
"""

import numbers
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from scipy import ndimage

from roidask._dask.data import dask_data
from roidask._utils.checks import mask_values
from roidask._utils.dtypes import float_dtype
from roidask._utils.warnings import warn_user
from roidask.errors import (
    DimensionError,
    MaskWarning,
    ParameterError,
    ParameterTypeError,
    RoidaskError,
)
from roidask.grid import (
    as_image,
    check_same_grid,
    header_facts,
    image_affine,
    new_image,
)
from roidask.image.resampling import resample_to_img
from roidask.image.smoothing import fwhm_to_sigma, smooth_block
from roidask.image.volumes import mean_img

MASK_TYPES = ("whole-brain", "gm", "wm")
TEMPLATES_EXTRA = "templates"

__all__ = [
    "MaskWarning",
    "TemplatesUnavailableError",
    "apply_mask",
    "compute_background_mask",
    "compute_brain_mask",
    "compute_epi_mask",
    "compute_multi_background_mask",
    "compute_multi_brain_mask",
    "compute_multi_epi_mask",
    "intersect_masks",
    "load_mni152_template",
    "unmask",
]


class TemplatesUnavailableError(RoidaskError, ImportError):
    """The MNI152 templates (shipped inside nilearn) cannot be loaded."""


def _on_grid(img, data, name=None):
    """A 3D image with ``data``, on ``img``'s grid."""
    facts = {k: v for k, v in header_facts(img).items() if k != "t_r"}
    return new_image(data, image_affine(img), header=facts, name=name)


def _check_opening(opening):
    if opening is False or opening is None:
        return 0
    if isinstance(opening, bool):
        return 1
    if not isinstance(opening, numbers.Integral) or opening < 0:
        raise ParameterError("opening", "a number of iterations >= 0 (or False)", opening)
    return int(opening)


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ParameterError(name, "a number between 0 and 1", value)
    return float(value)


def largest_connected_component(mask):
    """The largest 6-connected component of a 3D boolean array (nilearn's rule).

    Examples
    --------
    >>> m = np.zeros((5, 1, 1), bool); m[[0, 2, 3]] = True
    >>> largest_connected_component(m).ravel().tolist()
    [False, False, True, True, False]
    """
    labels, n_labels = ndimage.label(mask)
    if n_labels == 0:
        raise ParameterError("mask", "at least one non-zero voxel", "an empty mask")
    if n_labels == 1:
        return np.asarray(mask, dtype=bool)
    counts = np.bincount(labels.ravel())
    counts[0] = 0
    return labels == counts.argmax()


def _post_process(mask, opening, connected, warning):
    """Opening and largest component, as nilearn's ``_post_process_mask``."""
    if opening:
        mask = ndimage.binary_erosion(mask, iterations=opening)
    if not mask.any():
        warn_user(f"computed an empty mask. {warning}", MaskWarning)
    elif connected:
        mask = largest_connected_component(mask)
    if opening:
        mask = ndimage.binary_dilation(mask, iterations=2 * opening)
        mask = ndimage.binary_erosion(mask, iterations=opening)
    return np.asarray(mask, dtype=np.int8)


def _epi_mask(mean, lower_cutoff, upper_cutoff, exclude_zeros, ensure_finite, opening,
              connected):
    mean = np.array(mean)
    if opening:  # smooth by 1 voxel FWHM, keeping NaNs where the mean had them
        nan_mask = np.isnan(mean) if mean.dtype.kind == "f" else None
        mean = smooth_block(mean, sigmas=fwhm_to_sigma(1.0, np.ones(3)), fast=False,
                            dtype=float_dtype(mean.dtype))
        if nan_mask is not None:
            mean[nan_mask] = np.nan
    if ensure_finite:
        mean[~np.isfinite(mean)] = 0
    values = np.sort(mean.ravel())
    if exclude_zeros:
        values = values[values != 0]
    lower = int(np.floor(lower_cutoff * len(values)))
    upper = min(int(np.floor(upper_cutoff * len(values))), len(values) - 1)
    delta = values[lower + 1:upper + 1] - values[lower:upper]
    if delta.size == 0:
        raise ParameterError(
            "lower_cutoff", f"a cutoff well below upper_cutoff={upper_cutoff} for an image "
            f"of {len(values)} usable voxels", lower_cutoff,
        )
    ia = delta.argmax()
    threshold = 0.5 * (values[ia + lower] + values[ia + lower + 1])
    return _post_process(
        mean >= threshold, opening, connected,
        "Are the input data EPI images that were not detrended?",
    )


def _lazy_mask(func, shape, *args):
    return da.from_delayed(dask.delayed(func, pure=True)(*args), shape, dtype=np.int8)


def compute_epi_mask(epi_img, *, lower_cutoff=0.2, upper_cutoff=0.85, connected=True,
                     opening=2, exclude_zeros=False, ensure_finite=True, target_affine=None,
                     target_shape=None):
    """Brain mask of EPI data from the least dense point of the mean's histogram.

    T. Nichols' heuristic, as :func:`nilearn.masking.compute_epi_mask`: the
    mean image (resampled if asked, smoothed by 1 voxel FWHM when opening)
    is sorted, and the threshold is the middle of the largest gap between
    the ``lower_cutoff`` and ``upper_cutoff`` fractions; then an opening
    and the largest connected component.

    Parameters
    ----------
    epi_img : xarray.DataArray
        3D or 4D image (a 4D image enters through its mean).
    lower_cutoff, upper_cutoff : float
        Fractions of the sorted values between which the gap is sought.
    connected : bool
        Keep only the largest connected component.
    opening : int or False
        Iterations of the morphological opening.
    exclude_zeros : bool
        Ignore zeros when placing the cutoffs.
    ensure_finite : bool
        Treat NaN and inf as 0.
    target_affine, target_shape : optional
        Resample the mean image first (continuous interpolation).

    Returns
    -------
    xarray.DataArray
        Lazy 3D int8 mask.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> data = np.random.default_rng(42).normal(size=(9, 9, 9))
    >>> data[3:-2, 3:-2, 3:-2] = 10
    >>> data[5:6, 5:6, 5:6] = 11
    >>> int(compute_epi_mask(new_image(data, np.eye(4)), opening=False).sum())
    73
    """
    epi_img = as_image(epi_img, "epi_img")
    lower_cutoff = _check_fraction(lower_cutoff, "lower_cutoff")
    upper_cutoff = _check_fraction(upper_cutoff, "upper_cutoff")
    if lower_cutoff >= upper_cutoff:
        raise ParameterError(
            "lower_cutoff", f"a value below upper_cutoff={upper_cutoff}", lower_cutoff
        )
    opening = _check_opening(opening)
    mean = mean_img(epi_img, target_affine=target_affine, target_shape=target_shape)
    # one task gets the (3D) mean and smooths it there: the data are read once
    mask = _lazy_mask(
        _epi_mask, mean.shape, dask_data(mean), lower_cutoff, upper_cutoff,
        bool(exclude_zeros), bool(ensure_finite), opening, bool(connected),
    )
    return _on_grid(mean, mask, name="mask")


def _border_values(data, size):
    return np.concatenate([
        data[:size].ravel(), data[-size:].ravel(),
        data[:, :size].ravel(), data[:, -size:].ravel(),
        data[:, :, :size].ravel(), data[:, :, -size:].ravel(),
    ])


def _background_mask(mean, border_size, opening, connected):
    border = _border_values(mean, border_size)
    if np.isnan(border).any():
        mask = ~np.isnan(mean)
    else:
        mask = mean != np.median(border)
    return _post_process(
        mask, opening, connected, "Do the input images have a homogeneous background?"
    )


def compute_background_mask(data_imgs, *, border_size=2, connected=False, opening=False,
                            target_affine=None, target_shape=None):
    """Brain mask: voxels whose mean differs from the background value.

    The background is the median of the mean image over a border of
    ``border_size`` voxels (or NaN when the border holds NaNs), as
    :func:`nilearn.masking.compute_background_mask`.

    Parameters
    ----------
    data_imgs : xarray.DataArray
        3D or 4D image.
    border_size : int
        Width of the border, in voxels.
    connected : bool
        Keep only the largest connected component.
    opening : int or False
        Iterations of the morphological opening.
    target_affine, target_shape : optional
        Resample the mean image first.

    Returns
    -------
    xarray.DataArray
        Lazy 3D int8 mask.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> data = np.random.default_rng(42).random((2, 3, 4))
    >>> data[0:3, 0:2, 0:3] = 0
    >>> compute_background_mask(new_image(data, np.eye(4))).values[0].tolist()
    [[0, 0, 0, 1], [0, 0, 0, 1], [1, 1, 1, 1]]
    """
    data_imgs = as_image(data_imgs, "data_imgs")
    if isinstance(border_size, bool) or not isinstance(border_size, numbers.Integral) \
            or border_size < 1:
        raise ParameterError("border_size", "a number of voxels >= 1", border_size)
    opening = _check_opening(opening)
    mean = mean_img(data_imgs, target_affine=target_affine, target_shape=target_shape)
    mask = _lazy_mask(
        _background_mask, mean.shape, dask_data(mean), int(border_size), opening, bool(connected)
    )
    return _on_grid(mean, mask, name="mask")


def load_mni152_template(mask_type="whole-brain"):
    """The 1 mm MNI152 template nilearn computes brain masks from, as an image.

    The whole-brain (T1), grey-matter or white-matter template, rescaled to
    [0, 1], read from the files shipped inside nilearn (no download).

    Parameters
    ----------
    mask_type : {'whole-brain', 'gm', 'wm'}

    Returns
    -------
    xarray.DataArray
        Lazy float32 image, 197 x 233 x 189 voxels of 1 mm.

    Raises
    ------
    TemplatesUnavailableError
        nilearn is not installed; ``pip install "roidask[templates]"``.

    Examples
    --------
    >>> load_mni152_template("gm").shape
    (197, 233, 189)
    """
    if mask_type not in MASK_TYPES:
        raise ParameterError("mask_type", f"one of {MASK_TYPES}", mask_type)
    try:
        import nilearn  # noqa: F401
    except ImportError:
        raise TemplatesUnavailableError(
            "the MNI152 templates ship with nilearn, which is not installed; "
            f'install them with: pip install "roidask[{TEMPLATES_EXTRA}]"'
        ) from None
    template = _template_loader(mask_type)(resolution=1)
    # the 34 MB of voxels are read by a task, not shipped inside the graph
    data = da.from_delayed(dask.delayed(_template_values, pure=True)(mask_type),
                           shape=template.shape, dtype=np.float32)
    return new_image(data, template.affine, header={"xyz_units": "mm"}, name=f"mni152_{mask_type}")


def _template_loader(mask_type):
    from nilearn import datasets

    return {
        "whole-brain": datasets.load_mni152_template,
        "gm": datasets.load_mni152_gm_template,
        "wm": datasets.load_mni152_wm_template,
    }[mask_type]


def _template_values(mask_type):
    image = _template_loader(mask_type)(resolution=1)
    return np.asarray(image.get_fdata(dtype=np.float32))


def _template_mask(resampled, threshold, opening, connected, mask_type):
    return _post_process(
        resampled >= threshold, opening, connected,
        f"the {mask_type} mask is empty; lower the threshold or check the field of view",
    )


def compute_brain_mask(target_img, *, threshold=0.5, connected=True, opening=2,
                       mask_type="whole-brain"):
    """Whole-brain, grey- or white-matter mask from the MNI152 template.

    The 1 mm template is resampled onto the grid of ``target_img``
    (continuous interpolation) and thresholded, then opened, as
    :func:`nilearn.masking.compute_brain_mask`. Only the grid of
    ``target_img`` is used: no data are read.

    Parameters
    ----------
    target_img : xarray.DataArray
        3D or 4D image giving the grid.
    threshold : float
        Template value (in [0, 1]) from which voxels are in the mask.
    connected : bool
        Keep only the largest connected component.
    opening : int or False
        Iterations of the morphological opening.
    mask_type : {'whole-brain', 'gm', 'wm'}

    Returns
    -------
    xarray.DataArray
        Lazy 3D int8 mask on the grid of ``target_img``.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> affine = np.array([[4., 0, 0, -90], [0, 4, 0, -126], [0, 0, 4, -72], [0, 0, 0, 1]])
    >>> mask = compute_brain_mask(new_image(np.zeros((46, 55, 46)), affine))
    >>> 20000 < int(mask.sum()) < 30000
    True
    """
    target_img = as_image(target_img, "target_img")
    opening = _check_opening(opening)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ParameterError("threshold", "a number (template values are in [0, 1])", threshold)
    template = load_mni152_template(mask_type)
    resampled = resample_to_img(template, target_img, interpolation="continuous")
    mask = _lazy_mask(
        _template_mask, resampled.shape, dask_data(resampled), float(threshold), opening,
        bool(connected), mask_type,
    )
    return _on_grid(target_img, mask, name="mask")


def _intersect(threshold, connected, *masks):
    total = np.zeros(masks[0].shape, dtype=np.int64)
    for position, values in enumerate(masks):
        total += mask_values(values, f"mask_imgs[{position}]", allow_empty=True)
    mask = total > threshold * len(masks)
    if connected and mask.any():
        mask = largest_connected_component(mask)
    return mask.astype(np.int8)


def intersect_masks(mask_imgs, *, threshold=0.5, connected=True):
    """Voxels in more than a fraction ``threshold`` of the masks.

    As :func:`nilearn.masking.intersect_masks`: ``threshold=1`` keeps the
    intersection, ``threshold=0`` the union.

    Parameters
    ----------
    mask_imgs : sequence of xarray.DataArray
        3D masks on one grid.
    threshold : float
        Between 0 and 1.
    connected : bool
        Keep only the largest connected component.

    Returns
    -------
    xarray.DataArray
        Lazy 3D int8 mask.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> a = new_image(np.array([[[0, 1, 1], [0, 1, 1], [0, 1, 1]]]), np.eye(4))
    >>> b = new_image(np.array([[[0, 0, 0], [0, 1, 1], [1, 0, 0]]]), np.eye(4))
    >>> intersect_masks([a, b], threshold=1).values[0].tolist()
    [[0, 0, 0], [0, 1, 1], [0, 0, 0]]
    """
    if isinstance(mask_imgs, (str, bytes)) or not hasattr(mask_imgs, "__len__"):
        raise ParameterError("mask_imgs", "a list of 3D mask images", type(mask_imgs).__name__)
    if len(mask_imgs) == 0:
        raise ParameterError("mask_imgs", "at least one mask", "an empty list")
    threshold = _check_fraction(threshold, "threshold")
    threshold = min(threshold, 1 - 1.0e-7)
    masks = [as_image(m, f"mask_imgs[{n}]") for n, m in enumerate(mask_imgs)]
    for n, mask in enumerate(masks):
        if mask.ndim != 3:
            raise DimensionError(f"mask_imgs[{n}]", "a 3D mask", f"a {mask.ndim}D image",
                                 mask.ndim, 3)
        check_same_grid(masks[0], mask, ("mask_imgs[0]", f"mask_imgs[{n}]"))
    result = _lazy_mask(
        _intersect, masks[0].shape, threshold, bool(connected), *[dask_data(m) for m in masks]
    )
    return _on_grid(masks[0], result, name="mask")


def _image_list(imgs, argument):
    """A non-empty list of images or paths, each opened lazily."""
    if isinstance(imgs, (str, bytes)) or not hasattr(imgs, "__len__"):
        imgs = [imgs]
    if len(imgs) == 0:
        raise ParameterTypeError(argument, "an image or a non-empty list of images",
                                 "an empty list")
    from roidask.io import load_img

    return [load_img(img) if isinstance(img, (str, Path)) else as_image(img, argument)
            for img in imgs]


def compute_multi_epi_mask(epi_imgs, *, lower_cutoff=0.2, upper_cutoff=0.85, connected=True,
                           opening=2, threshold=0.5, exclude_zeros=False, target_affine=None,
                           target_shape=None, n_jobs=1):
    """The common EPI mask of several runs, as :func:`nilearn.masking.compute_multi_epi_mask`.

    One :func:`compute_epi_mask` per image, then the voxels in more than
    ``threshold`` of them (:func:`intersect_masks`). ``n_jobs`` is accepted for
    nilearn's signature: the masks are one lazy graph.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> data = np.zeros((9, 9, 9, 4), "float32")
    >>> data[2:7, 2:7, 2:7] = 100 + np.arange(4)
    >>> runs = [new_image(data, np.eye(4)), new_image(data[..., :2], np.eye(4))]
    >>> int(compute_multi_epi_mask(runs, opening=0).sum())
    125
    """
    masks = [compute_epi_mask(img, lower_cutoff=lower_cutoff, upper_cutoff=upper_cutoff,
                              connected=connected, opening=opening, exclude_zeros=exclude_zeros,
                              target_affine=target_affine, target_shape=target_shape)
             for img in _image_list(epi_imgs, "epi_imgs")]
    return intersect_masks(masks, threshold=threshold, connected=connected)


def compute_multi_background_mask(data_imgs, *, border_size=2, connected=True, opening=2,
                                  threshold=0.5, target_affine=None, target_shape=None,
                                  n_jobs=1):
    """The common background mask of several runs, as nilearn's.

    One :func:`compute_background_mask` per image (with nilearn's defaults
    for several images: ``connected=True``, ``opening=2``), then the voxels
    in more than ``threshold`` of them.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> data = np.zeros((9, 9, 9, 3), "float32")
    >>> data[2:7, 2:7, 2:7] = 1.0
    >>> int(compute_multi_background_mask([new_image(data, np.eye(4))] * 2, opening=0).sum())
    125
    """
    masks = [compute_background_mask(img, border_size=border_size, connected=connected,
                                      opening=opening, target_affine=target_affine,
                                      target_shape=target_shape)
             for img in _image_list(data_imgs, "data_imgs")]
    return intersect_masks(masks, threshold=threshold, connected=connected)


def compute_multi_brain_mask(target_imgs, *, threshold=0.5, connected=True, opening=2,
                             mask_type="whole-brain"):
    """The template mask on the grid of the first of several images, as nilearn's.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> affine = np.array([[4., 0, 0, -90], [0, 4, 0, -126], [0, 0, 4, -72], [0, 0, 0, 1]])
    >>> runs = [new_image(np.zeros((46, 55, 46, 2)), affine)] * 2
    >>> 20000 < int(compute_multi_brain_mask(runs).sum()) < 30000
    True
    """
    images = _image_list(target_imgs, "target_imgs")
    for n, img in enumerate(images[1:], start=1):
        check_same_grid(images[0], img, ("target_imgs[0]", f"target_imgs[{n}]"))
    return compute_brain_mask(images[0], threshold=threshold, connected=connected,
                              opening=opening, mask_type=mask_type)


def _mask_now(mask_img):
    """A 3D mask image's boolean values, in memory (they set the number of columns)."""
    mask_img = as_image(mask_img, "mask_img")
    if mask_img.ndim != 3:
        raise DimensionError("mask_img", "a 3D mask", f"a {mask_img.ndim}D image",
                             mask_img.ndim, 3)
    (values,) = dask.compute(dask_data(mask_img))
    return mask_img, mask_values(np.asarray(values), "mask_img")


def apply_mask(imgs, mask_img, dtype="f", smoothing_fwhm=None, ensure_finite=True):
    """The in-mask voxels of each volume, as :func:`nilearn.masking.apply_mask`, lazily.

    Computes the (3D) mask now -- its voxel count is the number of columns --
    and nothing of ``imgs``.

    Parameters
    ----------
    imgs : xarray.DataArray or path
        3D or 4D image on the mask's grid.
    mask_img : xarray.DataArray or path
        3D mask.
    dtype : numpy dtype
        Of the result (nilearn's default ``'f'``: float32).
    smoothing_fwhm : float, optional
        Smooth ``imgs`` first (FWHM in mm).
    ensure_finite : bool
        Set NaN and infinite values to 0 first.

    Returns
    -------
    dask.array.Array
        ``(n_volumes, n_voxels)`` (``(n_voxels,)`` for a 3D image), voxels
        in C order of ``(i, j, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> img = new_image(np.arange(16.0).reshape(2, 2, 2, 2), np.eye(4))
    >>> mask = new_image(np.array([[[1, 0], [0, 1]], [[0, 0], [1, 0]]]), np.eye(4))
    >>> apply_mask(img, mask).compute().tolist()
    [[0.0, 6.0, 12.0], [1.0, 7.0, 13.0]]
    """
    from roidask._dask.extraction import masked_voxels
    from roidask.image.smoothing import smooth_img
    from roidask.io import load_img

    img = load_img(imgs) if isinstance(imgs, (str, Path)) else as_image(imgs, "imgs")
    mask_img = load_img(mask_img) if isinstance(mask_img, (str, Path)) else mask_img
    mask_img, mask = _mask_now(mask_img)
    check_same_grid(img, mask_img, ("imgs", "mask_img"))
    if smoothing_fwhm is not None:
        img = smooth_img(img, smoothing_fwhm)
    data = dask_data(img).astype(np.dtype(dtype))
    if ensure_finite and data.dtype.kind == "f":
        data = da.where(da.isfinite(data), data, 0).astype(data.dtype)
    if img.ndim == 3:
        return masked_voxels(data[..., np.newaxis], mask)[:, 0]
    return masked_voxels(data, mask).T


def unmask(X, mask_img, order="F"):
    """Voxel values back onto the mask's grid, as :func:`nilearn.masking.unmask`, lazily.

    Parameters
    ----------
    X : array-like, shape (n_volumes, n_voxels) or (n_voxels,)
        Values of the in-mask voxels in C order (as :func:`apply_mask` gives them).
    mask_img : xarray.DataArray or path
        3D mask.
    order : str
        Accepted for nilearn's signature (the result is a lazy image).

    Returns
    -------
    xarray.DataArray
        4D image (3D for 1D ``X``), 0 outside the mask.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> mask = new_image(np.array([[[1, 0], [0, 1]], [[0, 0], [1, 0]]]), np.eye(4))
    >>> unmask(np.array([5.0, 6.0, 7.0]), mask).values.ravel().tolist()
    [5.0, 0.0, 0.0, 6.0, 0.0, 0.0, 7.0, 0.0]
    """
    from roidask._dask.extraction import unmask as scatter
    from roidask.io import load_img

    mask_img = load_img(mask_img) if isinstance(mask_img, (str, Path)) else mask_img
    mask_img, mask = _mask_now(mask_img)
    values = X if isinstance(X, da.Array) else np.asarray(X)
    if values.ndim not in (1, 2) or values.shape[-1] != int(mask.sum()):
        raise ParameterError("X", f"(n_volumes, {int(mask.sum())}) or ({int(mask.sum())},) "
                             "values, one per voxel of the mask", np.shape(values))
    index = np.full(mask.shape, -1, dtype=np.int64)
    index[mask] = np.arange(int(mask.sum()))
    data = scatter(values, index, chunks=dask_data(mask_img).chunks)
    return new_image(data, image_affine(mask_img), header=header_facts(mask_img))
