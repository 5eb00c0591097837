"""Maskers on lazy images: nilearn's NiftiLabelsMasker and NiftiMasker, out of core.

:class:`LabelsMasker` turns a 4D image into one signal per atlas region and
volume; :class:`Masker` into one signal per in-mask voxel and volume. Both
follow nilearn's steps and give nilearn's numbers: resample, smooth, extract,
then :func:`roidask.signal.clean` (detrend, filter, confounds, standardize).

``fit`` computes the small 3D things a masker needs to know in advance --
the label list of the atlas, or the mask (for a mask computed from the data,
its mean image is a streaming reduction over the time chunks). ``transform``
never computes: it returns a lazy :class:`xarray.DataArray` of dims
``("t", "region")`` or ``("t", "voxel")`` that reads each chunk of the data
once when computed, in memory bounded by the chunk size. The ``t``
coordinates of the image (``time``, ``condition``, ``run``) are carried over,
so per-condition signals are ``signals.groupby("condition")`` or
``signals.sel(t=signals.condition == "face")`` without another pass.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> labels = new_image(np.repeat([0, 1, 2], 4).reshape(3, 2, 2), np.eye(4))
>>> img = new_image(np.arange(60, dtype="float32").reshape(3, 2, 2, 5), np.eye(4))
>>> signals = LabelsMasker(labels, labels=["left", "right"]).fit_transform(img)
>>> signals.dims, signals["name"].values.tolist()
(('t', 'region'), ['left', 'right'])
>>> signals.sel(region=2).values.tolist()
[47.5, 48.5, 49.5, 50.5, 51.5]
"""

import numbers
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import xarray as xr

from roidask.chunks import TARGET_CHUNK_BYTES, volume_layout
from roidask.errors import ParameterError, RoidaskError
from roidask.extraction import STRATEGIES, label_codes, label_statistics, masked_voxels, unmask
from roidask.grid import (
    SPATIAL_DIMS,
    TIME_DIM,
    as_image,
    check_same_grid,
    chunk_data,
    header_facts,
    image_affine,
    new_image,
    same_grid,
)
from roidask.image import resample_img, smooth_img
from roidask.signal import _check_filter, _check_standardize, _result_dtype, clean

MASK_STRATEGIES = ("background", "epi", "whole-brain-template", "gm-template", "wm-template")
RESAMPLING_TARGETS = ("data", "labels", None)

__all__ = ["LabelsMasker", "Masker", "NotFittedError"]


class NotFittedError(RoidaskError, AttributeError):
    """A masker was used before ``fit``."""


def _load(obj, argument):
    """An image from a roidask image or a path (opened lazily)."""
    if isinstance(obj, (str, Path)):
        from roidask.io import load_img

        return load_img(obj)
    return as_image(obj, argument)


def _data(img):
    data = img.data
    return data if isinstance(data, da.Array) else da.from_array(np.asarray(data), chunks=-1)


def _time_coords(img):
    """The coordinates along ``t`` of a 4D image (index, time, condition, run...)."""
    return {name: coord for name, coord in img.coords.items() if coord.dims == (TIME_DIM,)}


def _as_4d(img):
    if TIME_DIM in img.dims:
        return img, False
    return img.expand_dims(TIME_DIM, axis=3).assign_coords({TIME_DIM: [0]}), True


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(name, "True or False", value)
    return bool(value)


def _check_fwhm(fwhm):
    if fwhm is None:
        return None
    if isinstance(fwhm, str) and fwhm == "fast":
        return fwhm
    values = np.atleast_1d(np.asarray(fwhm, dtype=object))
    if values.size not in (1, 3) or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        raise ParameterError("smoothing_fwhm", "a FWHM in mm >= 0, 3 of them, or None", fwhm)
    return fwhm


def _mask_values(values, argument):
    """nilearn's ``load_mask_img``: check a mask's values and make it boolean."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        values = np.where(np.isfinite(values), values, 0)
    present = np.unique(values)
    if len(present) == 1 and present[0] == 0:
        raise ParameterError(argument, "a mask with at least one voxel", "an empty mask (all 0)")
    if len(present) > 2 or (len(present) == 2 and 0 not in present):
        raise ParameterError(
            argument, "a mask: 0 for background and one other value",
            f"an image with values {present[:6].tolist()}",
        )
    return values != 0


def _resample_to(img, target, interpolation):
    """``img`` on ``target``'s grid, by ``resample_img`` as nilearn's maskers do it."""
    return resample_img(img, image_affine(target), target.shape[:3],
                        interpolation=interpolation)


class _BaseMasker:
    """Parameters, cleaning and reports shared by the maskers."""

    _param_names = ()

    def _set_params(self, values):
        """Store the constructor arguments as attributes, unchanged (scikit-learn style)."""
        for name in self._param_names:
            setattr(self, name, values[name])

    def get_params(self):
        """The constructor parameters, as a dict (scikit-learn style).

        Examples
        --------
        >>> Masker(smoothing_fwhm=6).get_params()["smoothing_fwhm"]
        6
        """
        return {name: getattr(self, name) for name in self._param_names}

    def __repr__(self):
        changed = {
            name: value for name, value in self.get_params().items()
            if not isinstance(value, xr.DataArray) and value is not None and value is not False
        }
        inner = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({inner})"

    def _check_fitted(self):
        if not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(imgs) or "
                "fit_transform(imgs) before transform, inverse_transform or generate_report"
            )

    def _check_common(self):
        self._fwhm = _check_fwhm(self.smoothing_fwhm)
        for name in ("detrend", "standardize_confounds"):
            _check_bool(getattr(self, name), name)
        _check_standardize(self.standardize)
        _check_filter("butterworth", self.low_pass, self.high_pass, self.t_r)

    def _needs_cleaning(self, confounds):
        return bool(
            self.detrend or self.standardize or confounds is not None
            or self.low_pass is not None or self.high_pass is not None
        )

    def _clean(self, signals, confounds, dtype):
        """Cast (nilearn's float dtype) and clean a (t x n) lazy DataArray."""
        signals = signals.astype(dtype)
        if not self._needs_cleaning(confounds):
            return signals
        n_times = signals.sizes[TIME_DIM]
        other = signals.dims[1]
        per_chunk = max(1, TARGET_CHUNK_BYTES // (8 * max(1, n_times)))
        signals = chunk_data(signals, {TIME_DIM: -1, other: per_chunk})
        return clean(
            signals, runs=self.runs, detrend=self.detrend, standardize=self.standardize,
            confounds=confounds, standardize_confounds=self.standardize_confounds,
            low_pass=self.low_pass, high_pass=self.high_pass, t_r=self.t_r,
        )

    def _smooth(self, img):
        if self._fwhm is None:
            return img
        return smooth_img(img, self._fwhm)

    def fit_transform(self, imgs, confounds=None):
        """Fit on ``imgs``, then transform them; see :meth:`fit` and :meth:`transform`.

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> data = np.zeros((5, 5, 5, 3), "float32")
        >>> data[1:4, 1:4, 1:4] = 1.0
        >>> Masker(mask_strategy="background").fit_transform(new_image(data, np.eye(4))).shape
        (3, 27)
        """
        return self.fit(imgs).transform(imgs, confounds=confounds)

    def generate_report(self, path=None, *, title=None):
        """An HTML report of the masker: regions or mask over the mean image.

        Parameters
        ----------
        path : str or Path, optional
            Also write the self-contained page there.
        title : str, optional

        Returns
        -------
        roidask.report.Report

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> labels = new_image(np.repeat([0, 1, 2], 4).reshape(3, 2, 2), np.eye(4))
        >>> report = LabelsMasker(labels).fit().generate_report()
        >>> "Regions" in report.html
        True
        """
        from roidask.report import masker_report

        self._check_fitted()
        report = masker_report(self, title=title)
        if path is not None:
            report.save_as_html(path)
        return report


class LabelsMasker(_BaseMasker):
    """One signal per atlas region and volume, as nilearn's NiftiLabelsMasker.

    Parameters
    ----------
    labels_img : xarray.DataArray or path
        3D atlas: one integer value per region, ``background_label`` elsewhere.
    labels : list of str, optional
        Region names in the order of the sorted label values (a name for the
        background may be included: nilearn's rules apply -- "Background" is
        inserted at the background's position, missing names are "unknown",
        extra names are dropped).
    background_label : int
        Value of voxels outside every region.
    mask_img : xarray.DataArray or path, optional
        Voxels outside this mask count as background.
    smoothing_fwhm : float, optional
        Smooth the data first (mm).
    standardize : {False, 'zscore_sample', 'zscore', 'psc'}
    standardize_confounds : bool
    detrend : bool
    low_pass, high_pass : float, optional
        Butterworth cutoffs in Hz (need ``t_r``).
    t_r : float, optional
        Repetition time in seconds.
    resampling_target : {'data', 'labels', None}
        'data': the atlas (and mask) are resampled onto the data grid
        (nearest); 'labels': the data are resampled onto the atlas grid;
        None: grids must match (else GridMismatchError).
    strategy : str
        'mean', 'median', 'sum', 'minimum', 'maximum', 'standard_deviation'
        or 'variance' of the voxels of each region.
    keep_masked_labels : bool
        Keep regions the mask removes entirely (their signal is 0).
    runs : array-like or str, optional
        Run of each volume (or the name of a ``t`` coordinate, e.g. "run"),
        for cleaning each run separately.

    Attributes
    ----------
    labels_img_ : xarray.DataArray
        The atlas on the grid signals are extracted on (in memory).
    mask_img_ : xarray.DataArray or None
    region_ids_ : numpy.ndarray
        Label value of each output column.
    region_names_ : list of str
    region_sizes_ : numpy.ndarray
        Voxel count of each region (after masking).
    n_elements_ : int
        Number of regions.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> labels = new_image(np.repeat([0, 3, 7], 4).reshape(3, 2, 2), np.eye(4))
    >>> img = new_image(np.ones((3, 2, 2, 4), "float32"), np.eye(4)).chunk({"t": 2})
    >>> masker = LabelsMasker(labels, strategy="sum").fit(img)
    >>> masker.region_ids_.tolist(), masker.transform(img).values[0].tolist()
    ([3, 7], [4.0, 4.0])
    """

    _param_names = (
        "labels_img", "labels", "background_label", "mask_img", "smoothing_fwhm",
        "standardize", "standardize_confounds", "detrend", "low_pass", "high_pass", "t_r",
        "resampling_target", "strategy", "keep_masked_labels", "runs",
    )

    def __init__(self, labels_img=None, labels=None, *, background_label=0, mask_img=None,
                 smoothing_fwhm=None, standardize=False, standardize_confounds=True,
                 detrend=False, low_pass=None, high_pass=None, t_r=None,
                 resampling_target="data", strategy="mean", keep_masked_labels=False,
                 runs=None):
        self._set_params(locals())

    # -- fit ---------------------------------------------------------------
    def _check_params(self):
        self._check_common()
        if self.strategy not in STRATEGIES:
            raise ParameterError("strategy", f"one of {STRATEGIES}", self.strategy)
        if self.resampling_target not in RESAMPLING_TARGETS:
            raise ParameterError(
                "resampling_target", "'data', 'labels' or None", self.resampling_target
            )
        _check_bool(self.keep_masked_labels, "keep_masked_labels")
        if self.labels is not None and (
            not isinstance(self.labels, (list, tuple))
            or not all(isinstance(name, str) for name in self.labels)
        ):
            raise ParameterError("labels", "a list of region names (str)", self.labels)
        if self.labels_img is None:
            raise ParameterError("labels_img", "a 3D labels image (atlas)", None)
        bg = self.background_label
        if isinstance(bg, bool) or not isinstance(bg, numbers.Real):
            raise ParameterError("background_label", "a number", bg)

    def fit(self, imgs=None):
        """Load the atlas (and mask), resample them as asked, list the regions.

        Computes the 3D atlas and mask only; the 4D ``imgs`` give their grid
        (for ``resampling_target='data'``) and are kept for the report.

        Parameters
        ----------
        imgs : xarray.DataArray or path, optional
            The data that will be transformed.

        Returns
        -------
        LabelsMasker
            self

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> labels = new_image(np.repeat([0, 1, 2], 4).reshape(3, 2, 2), np.eye(4))
        >>> LabelsMasker(labels).fit().n_elements_
        2
        """
        self._check_params()
        self.fitted_ = False
        labels_img = _load(self.labels_img, "labels_img")
        if labels_img.ndim != 3:
            raise ParameterError("labels_img", "a 3D labels image", f"a {labels_img.ndim}D image")
        mask_img = None if self.mask_img is None else _load(self.mask_img, "mask_img")
        if mask_img is not None and mask_img.ndim != 3:
            raise ParameterError("mask_img", "a 3D mask", f"a {mask_img.ndim}D image")
        data_img = None if imgs is None else _load(imgs, "imgs")
        original = labels_img
        if self.resampling_target is None:
            if mask_img is not None:
                check_same_grid(labels_img, mask_img, ("labels_img", "mask_img"))
            if data_img is not None:
                check_same_grid(data_img, labels_img, ("imgs", "labels_img"))
        reference = labels_img
        if self.resampling_target == "data" and data_img is not None:
            reference = data_img
            if not same_grid(data_img, labels_img):
                labels_img = _resample_to(labels_img, data_img, "nearest")
        if mask_img is not None and not same_grid(reference, mask_img):
            mask_img = _resample_to(mask_img, reference, "nearest")
        # one compute for the atlas as given, on the extraction grid, and the mask
        original_values, labels, mask = dask.compute(
            original.data, labels_img.data, None if mask_img is None else mask_img.data
        )
        present, names = self._region_names(np.asarray(original_values))
        self._set_atlas(np.asarray(labels), mask, labels_img, present, names)
        self._report_img = data_img
        self.fitted_ = True
        return self

    def _region_names(self, values):
        """Label values of the atlas (as given) and a name for each, by nilearn's rules."""
        self._check_integer_labels(values)
        present = np.unique(values)
        bg = self.background_label
        if np.all(present == bg):
            raise ParameterError(
                "labels_img", f"at least one region besides background_label={bg}",
                "an image of background only",
            )
        if self.labels is None:
            names = ["Background" if v == bg else _label_text(v) for v in present]
        else:
            names = ["Background" if n.lower() == "background" else n for n in self.labels]
            if bg in present and "Background" not in names:
                names.insert(int(np.flatnonzero(present == bg)[0]), "Background")
            if len(names) < len(present):
                warnings.warn(
                    f"{len(present)} label values but {len(names)} names: the last regions "
                    "are named 'unknown'", stacklevel=3,
                )
                names += ["unknown"] * (len(present) - len(names))
            elif len(names) > len(present):
                warnings.warn(
                    f"{len(present)} label values but {len(names)} names: extra names dropped",
                    stacklevel=3,
                )
                names = names[: len(present)]
        return present, dict(zip(present.tolist(), names))

    @staticmethod
    def _check_integer_labels(values):
        if values.dtype.kind == "f":
            finite = np.isfinite(values)
            fractional = finite & (values != np.round(values))
            if fractional.any() or not finite.all():
                example = values[fractional | ~finite][:3].tolist()
                raise ParameterError(
                    "labels_img", "integer label values (one per region)",
                    f"non-integer values such as {example}",
                )
        elif values.dtype.kind not in "iub":
            raise ParameterError("labels_img", "an image of integer labels", str(values.dtype))

    def _set_atlas(self, labels, mask, labels_img, original_values, names):
        """Mask the atlas values on the extraction grid; fill the fitted attributes."""
        if mask is not None:
            mask = _mask_values(mask, "mask_img")
        bg = self.background_label
        present_after_resampling = np.unique(labels)
        if np.all(present_after_resampling == bg):
            raise ParameterError(
                "labels_img", "regions left after resampling onto the data grid",
                "background only: the atlas does not overlap the data's field of view",
            )
        lost = sorted(set(original_values.tolist()) - set(present_after_resampling.tolist()))
        if lost:
            warnings.warn(f"resampling the atlas onto the data grid removed labels {lost}",
                          stacklevel=3)
        before_mask = present_after_resampling[present_after_resampling != bg]
        if mask is not None:
            labels = np.where(mask, labels, bg)
        after_mask = np.unique(labels)
        after_mask = after_mask[after_mask != bg]
        if after_mask.size == 0:
            raise ParameterError(
                "mask_img", "a mask that overlaps the atlas", "no region left after masking"
            )
        removed = sorted(set(before_mask.tolist()) - set(after_mask.tolist()))
        if removed and not self.keep_masked_labels:
            warnings.warn(f"the mask removed regions {removed}", stacklevel=3)
        region_ids = before_mask if self.keep_masked_labels else after_mask
        codes = label_codes(labels, region_ids)
        grid = dict(affine=image_affine(labels_img), header=_spatial_facts(labels_img))
        self.labels_img_ = new_image(labels, name="labels", **grid)
        self.mask_img_ = None if mask is None else new_image(mask.astype(np.int8), name="mask",
                                                             **grid)
        self.region_ids_ = np.asarray(region_ids)
        self.region_names_ = [names.get(v, "unknown") for v in region_ids.tolist()]
        self.region_sizes_ = np.bincount(codes.ravel(), minlength=len(region_ids) + 1)[:-1]
        self.n_elements_ = len(region_ids)
        self._codes = codes

    # -- transform -----------------------------------------------------------
    def _on_labels_grid(self, img):
        """``img`` on the grid of ``labels_img_``: resampled, or the atlas refitted."""
        if same_grid(img, self.labels_img_):
            return img
        if self.resampling_target is None:
            check_same_grid(img, self.labels_img_, ("imgs", "labels_img"))
        if self.resampling_target == "labels":
            return _resample_to(img, self.labels_img_, "continuous")
        warnings.warn(
            "imgs are on another grid than the one the masker was fitted on: resampling "
            "the atlas now (fit(imgs) or fit_transform(imgs) avoids this)", stacklevel=3,
        )
        self.fit(img)
        return img

    def transform(self, imgs, confounds=None):
        """Signals of every region, lazily.

        Parameters
        ----------
        imgs : xarray.DataArray or path
            4D image (a 3D image gives one value per region).
        confounds : array-like, DataFrame, path or list of them, optional
            One row per volume; regressed out (see :func:`roidask.signal.clean`).

        Returns
        -------
        xarray.DataArray
            Dims ``("t", "region")`` (or ``("region",)`` for a 3D image);
            ``region`` holds the label values, ``name`` the region names, and
            the ``t`` coordinates of ``imgs`` are kept. float32 for float32
            (or smoothed integer) data, else float64.

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> labels = new_image(np.repeat([0, 1, 2], 4).reshape(3, 2, 2), np.eye(4))
        >>> img = new_image(np.zeros((3, 2, 2, 4), "float32"), np.eye(4),
        ...                 time_coords={"condition": ["a", "b", "a", "b"]})
        >>> masker = LabelsMasker(labels).fit(img)
        >>> masker.transform(img).groupby("condition").mean().sizes["condition"]
        2
        """
        self._check_fitted()
        img, was_3d = _as_4d(_load(imgs, "imgs"))
        img = self._smooth(self._on_labels_grid(img))
        data = _data(img)
        values = label_statistics(data, self._codes, self.n_elements_, self.strategy)
        if self.keep_masked_labels:
            values = da.where(da.isnan(values), 0.0, values)
        signals = xr.DataArray(
            values, dims=(TIME_DIM, "region"),
            coords={**_time_coords(img), "region": self.region_ids_,
                    "name": ("region", self.region_names_)},
            name="signals",
        )
        dtype = np.float32 if data.dtype == np.float32 else np.float64
        signals = self._clean(signals, confounds, dtype)
        return signals.isel({TIME_DIM: 0}, drop=True) if was_3d else signals

    def inverse_transform(self, signals):
        """An image holding each region's signal in all its voxels (0 elsewhere).

        Parameters
        ----------
        signals : xarray.DataArray or array-like
            ``(t, region)`` or ``(region,)``, columns in ``region_ids_`` order.

        Returns
        -------
        xarray.DataArray
            Lazy 4D (or 3D) image on the atlas grid; ``t`` coordinates of a
            DataArray input are kept.

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> labels = new_image(np.repeat([0, 1, 2], 4).reshape(3, 2, 2), np.eye(4))
        >>> masker = LabelsMasker(labels).fit()
        >>> masker.inverse_transform(np.array([5.0, 7.0])).values[:, 0, 0].tolist()
        [0.0, 5.0, 7.0]
        """
        self._check_fitted()
        index = np.where(self._codes < self.n_elements_, self._codes, -1)
        return _inverse(signals, index, self.labels_img_, self.n_elements_, "region")


def _label_text(value):
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _spatial_facts(img):
    return {k: v for k, v in header_facts(img).items() if k != "t_r"}


def _inverse(signals, index, grid_img, n_columns, column_dim):
    """Scatter (t x n) or (n,) signals onto ``grid_img``'s grid through ``index``."""
    coords = {}
    if isinstance(signals, xr.DataArray):
        if signals.dims[-1] != column_dim or signals.ndim not in (1, 2) or (
                signals.ndim == 2 and signals.dims[0] != TIME_DIM):
            raise ParameterError(
                "signals", f"a DataArray with dims ('t', '{column_dim}') or ('{column_dim}',)",
                signals.dims,
            )
        coords = _time_coords(signals) if signals.ndim == 2 else {}
        values = signals.data
    else:
        values = np.asarray(signals)
    if values.ndim not in (1, 2) or values.shape[-1] != n_columns:
        raise ParameterError(
            "signals", f"an array of shape (t, {n_columns}) or ({n_columns},)",
            f"shape {values.shape}",
        )
    values = values if isinstance(values, da.Array) else da.from_array(values, chunks=-1)
    shape = grid_img.shape[:3]
    if values.ndim == 2:
        layout = volume_layout(shape + (values.shape[0],), values.dtype)
        values = values.rechunk({0: layout[3]})
    else:
        layout = volume_layout(shape, values.dtype)
    data = unmask(values, index, chunks=layout[:3])
    img = new_image(data, image_affine(grid_img), header=_spatial_facts(grid_img))
    if coords:
        img = img.assign_coords(coords)
    return img


class Masker(_BaseMasker):
    """One signal per in-mask voxel and volume, as nilearn's NiftiMasker.

    Parameters
    ----------
    mask_img : xarray.DataArray or path, optional
        The mask; computed from the data at fit when None.
    runs : array-like or str, optional
        Run of each volume (or the name of a ``t`` coordinate), for cleaning
        each run separately.
    smoothing_fwhm : float, optional
        Smooth the data first (mm).
    standardize : {False, 'zscore_sample', 'zscore', 'psc'}
    standardize_confounds : bool
    detrend : bool
    low_pass, high_pass : float, optional
        Butterworth cutoffs in Hz (need ``t_r``).
    t_r : float, optional
    target_affine, target_shape : optional
        Resample mask (nearest) and data (continuous) onto this grid.
    mask_strategy : str
        How to compute the mask: 'background', 'epi',
        'whole-brain-template', 'gm-template' or 'wm-template'.
    mask_args : dict, optional
        Options of the mask function, e.g. ``{"lower_cutoff": 0.3,
        "opening": 1}`` for 'epi' (see :mod:`roidask.masking`).

    Attributes
    ----------
    mask_img_ : xarray.DataArray
        The mask (in memory, int8) on the grid signals are extracted on.
    n_elements_ : int
        Number of voxels in the mask.
    affine_ : numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> data = np.zeros((6, 6, 6, 4), "float32")
    >>> data[1:5, 1:5, 1:5] = 100 + np.arange(4)
    >>> masker = Masker().fit(new_image(data, np.eye(4)))
    >>> masker.n_elements_
    64
    """

    _param_names = (
        "mask_img", "runs", "smoothing_fwhm", "standardize", "standardize_confounds",
        "detrend", "low_pass", "high_pass", "t_r", "target_affine", "target_shape",
        "mask_strategy", "mask_args",
    )

    def __init__(self, mask_img=None, *, runs=None, smoothing_fwhm=None, standardize=False,
                 standardize_confounds=True, detrend=False, low_pass=None, high_pass=None,
                 t_r=None, target_affine=None, target_shape=None, mask_strategy="background",
                 mask_args=None):
        self._set_params(locals())

    def _mask_function(self):
        from roidask import masking

        if self.mask_strategy not in MASK_STRATEGIES:
            raise ParameterError("mask_strategy", f"one of {MASK_STRATEGIES}", self.mask_strategy)
        if self.mask_strategy == "background":
            return masking.compute_background_mask
        if self.mask_strategy == "epi":
            return masking.compute_epi_mask
        mask_type = {"whole-brain-template": "whole-brain", "gm-template": "gm",
                     "wm-template": "wm"}[self.mask_strategy]

        def template_mask(img, **kwargs):
            return masking.compute_brain_mask(img, mask_type=mask_type, **kwargs)

        template_mask.__wrapped__ = masking.compute_brain_mask
        return template_mask

    def _compute_mask(self, img):
        import inspect

        function = self._mask_function()
        args = dict(self.mask_args or {})
        if not isinstance(args, dict):
            raise ParameterError("mask_args", "a dict of options", self.mask_args)
        accepted = set(inspect.signature(getattr(function, "__wrapped__", function)).parameters)
        accepted -= {"epi_img", "data_imgs", "target_img", "mask_type"}
        unknown = sorted(set(args) - accepted)
        if unknown:
            raise ParameterError(
                "mask_args", f"options of mask_strategy={self.mask_strategy!r}: "
                f"{sorted(accepted)}", unknown,
            )
        return function(img, **args)

    def fit(self, imgs=None):
        """Compute (or load) the mask and resample it onto the target grid.

        Computes the 3D mask: for a mask computed from ``imgs`` this streams
        the data once for their mean image.

        Parameters
        ----------
        imgs : xarray.DataArray or path, optional
            Needed when no ``mask_img`` is given.

        Returns
        -------
        Masker
            self

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> mask = new_image(np.eye(3, dtype="int8")[:, :, None].repeat(2, 2), np.eye(4))
        >>> Masker(mask).fit().n_elements_
        6
        """
        self._check_common()
        if self.mask_strategy not in MASK_STRATEGIES:
            raise ParameterError("mask_strategy", f"one of {MASK_STRATEGIES}", self.mask_strategy)
        self.fitted_ = False
        data_img = None if imgs is None else _load(imgs, "imgs")
        if self.mask_img is None:
            if data_img is None:
                raise ParameterError(
                    "imgs", f"the data to compute a mask from (mask_strategy="
                    f"{self.mask_strategy!r}), or give mask_img to the Masker", None,
                )
            mask_img = self._compute_mask(data_img)
            source = "the computed mask"
        else:
            mask_img = _load(self.mask_img, "mask_img")
            if mask_img.ndim != 3:
                raise ParameterError("mask_img", "a 3D mask", f"a {mask_img.ndim}D image")
            source = "mask_img"
        if self.target_affine is not None or self.target_shape is not None:
            mask_img = resample_img(
                mask_img, target_affine=self.target_affine, target_shape=self.target_shape,
                interpolation="nearest",
            )
        (values,) = dask.compute(mask_img.data)
        try:
            mask = _mask_values(values, "mask_img")
        except ParameterError as err:
            if source == "mask_img":
                raise
            raise ParameterError(
                "mask_strategy", "a strategy that finds brain voxels in these data "
                "(try other mask_args, or give mask_img)",
                f"{self.mask_strategy!r}, which gave {err.got}",
            ) from None
        self.mask_img_ = new_image(
            mask.astype(np.int8), image_affine(mask_img), header=_spatial_facts(mask_img),
            name="mask",
        )
        self.affine_ = image_affine(self.mask_img_)
        self.n_elements_ = int(mask.sum())
        self._mask = mask
        self._report_img = data_img
        self.fitted_ = True
        return self

    def _on_mask_grid(self, img):
        """``img`` resampled onto the mask grid cropped to the mask, as nilearn does."""
        if same_grid(img, self.mask_img_):
            return img, self._mask
        warnings.warn(
            "imgs are resampled onto the mask's grid; resample them beforehand (or give "
            "target_affine equal to theirs) to save time", stacklevel=3,
        )
        inside = np.argwhere(self._mask)
        start = np.maximum(inside.min(axis=0) - 1, 0)
        stop = np.minimum(inside.max(axis=0) + 2, self._mask.shape)
        box = tuple(slice(int(a), int(b)) for a, b in zip(start, stop))
        shift = np.eye(4)
        shift[:3, 3] = start
        resampled = resample_img(
            img, target_affine=self.affine_ @ shift, target_shape=tuple(int(n) for n in stop -
                                                                         start),
            interpolation="continuous",
        )
        return resampled, self._mask[box]

    def transform(self, imgs, confounds=None):
        """Signals of every in-mask voxel, lazily.

        Parameters
        ----------
        imgs : xarray.DataArray or path
            4D image (a 3D image gives one value per voxel).
        confounds : array-like, DataFrame, path or list of them, optional
            One row per volume; regressed out.

        Returns
        -------
        xarray.DataArray
            Dims ``("t", "voxel")`` (or ``("voxel",)``), voxels in C order
            of ``(i, j, k)`` as nilearn's ``apply_mask``, with their ``i, j,
            k`` indices as coordinates; ``t`` coordinates of ``imgs`` kept.

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> mask = new_image(np.eye(3, dtype="int8")[:, :, None].repeat(2, 2), np.eye(4))
        >>> img = new_image(np.ones((3, 3, 2, 5), "int16"), np.eye(4))
        >>> out = Masker(mask).fit().transform(img)
        >>> out.shape, out.dtype.name
        ((5, 6), 'float32')
        """
        self._check_fitted()
        img, was_3d = _as_4d(_load(imgs, "imgs"))
        img, mask = self._on_mask_grid(img)
        img = self._smooth(img)
        data = _data(img)
        values = masked_voxels(data, mask).T
        voxel_index = np.nonzero(self._mask)  # coordinates on the mask's grid
        signals = xr.DataArray(
            values, dims=(TIME_DIM, "voxel"),
            coords={**_time_coords(img),
                    **{dim: ("voxel", idx) for dim, idx in zip(SPATIAL_DIMS, voxel_index)}},
            name="signals",
        )
        signals = self._clean(signals, confounds, _result_dtype(data.dtype))
        return signals.isel({TIME_DIM: 0}, drop=True) if was_3d else signals

    def inverse_transform(self, signals):
        """An image holding each voxel's signal (0 outside the mask), lazily.

        Parameters
        ----------
        signals : xarray.DataArray or array-like
            ``(t, voxel)`` or ``(voxel,)``.

        Returns
        -------
        xarray.DataArray
            Lazy 4D (or 3D) image on the mask grid.

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> mask = new_image(np.eye(3, dtype="int8")[:, :, None].repeat(2, 2), np.eye(4))
        >>> masker = Masker(mask).fit()
        >>> masker.inverse_transform(np.arange(6.0)).values[:, :, 1].tolist()
        [[1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 5.0]]
        """
        self._check_fitted()
        index = np.full(self._mask.shape, -1, dtype=np.int64)
        index[self._mask] = np.arange(self.n_elements_)
        return _inverse(signals, index, self.mask_img_, self.n_elements_, "voxel")
