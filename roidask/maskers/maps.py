"""MapsMasker: one signal per map of a probabilistic atlas, as nilearn's NiftiMapsMasker.

The signals of a volume are the least-squares fit of the maps to it (nilearn's
``img_to_signals_maps``: ``lstsq(maps[mask], data[mask])``). With ``A`` the
(voxels x maps) matrix, that is ``pinv(A^T A) A^T d``: ``fit`` computes the
small Gram matrix ``A^T A``, and ``transform`` the products ``A^T d`` of every
volume in one pass over the 4D data (per spatial chunk, then summed, by
:func:`roidask._dask.extraction.weighted_sums`), then solves, lazily.
"""

import dask
import dask.array as da
import numpy as np
import xarray as xr

from roidask._dask.data import dask_data
from roidask._dask.extraction import weighted_sums
from roidask._utils.checks import check_bool, mask_values
from roidask._utils.docs import fill_doc
from roidask._utils.warnings import warn_user
from roidask.errors import MaskWarning, ParameterError, ParameterTypeError
from roidask.grid import (
    TIME_DIM,
    check_same_grid,
    image_affine,
    new_image,
    same_grid,
    time_coords,
    voxel_size,
)
from roidask.maskers.base import _BaseMasker, _one_image
from roidask.maskers.inputs import _load, _load_checked, _resample_to
from roidask.maskers.inverse import _spatial_facts

MAPS_RESAMPLING_TARGETS = ("data", "mask", "maps", None)


def _map_crops(maps):
    """Each map as (float64 crop of its nonzero box, box slices), None for an empty map."""
    crops = []
    for r in range(maps.shape[-1]):
        m = maps[..., r]
        nonzero = np.nonzero(m)
        if nonzero[0].size == 0:
            crops.append(None)
            continue
        box = tuple(slice(int(ax.min()), int(ax.max()) + 1) for ax in nonzero)
        crops.append((np.ascontiguousarray(m[box], dtype=np.float64), box))
    return crops


def _solve(products, pinv_gram):
    """(T, R) least-squares signals from (T, R) products ``A^T d`` and ``pinv(A^T A)``."""
    return products @ pinv_gram.T


def _lazy_gram_solve(maps, data, dtype):
    """Signals of ``data`` against lazy ``maps`` (another grid), all lazy.

    ``maps`` (I, J, K, R) and ``data`` (I, J, K, T) dask arrays; non-finite
    values count as 0, data are cast to ``dtype`` first (as nilearn's
    ``safe_get_data(ensure_finite=True)``).
    """
    n_maps = maps.shape[-1]
    a = maps.astype(np.float64)
    a = da.where(da.isfinite(a), a, 0.0).reshape((-1, n_maps))
    d = data.astype(dtype)
    d = da.where(da.isfinite(d), d, 0).astype(np.float64).reshape((-1, data.shape[-1]))
    gram = a.T @ a
    products = (a.T @ d).T
    pinv = da.map_blocks(np.linalg.pinv, gram.rechunk(-1), dtype=np.float64)
    return da.map_blocks(_solve, products.rechunk({1: -1}), pinv, dtype=np.float64)


@fill_doc
class MapsMasker(_BaseMasker):
    """One signal per map of a probabilistic atlas, as nilearn's NiftiMapsMasker.

    Parameters
    ----------
    maps_img : xarray.DataArray or path
        4D image: one (weight) map per region along its last axis.
    mask_img : xarray.DataArray or path, optional
        3D mask: maps are zero outside it; maps it empties are dropped (with
        a :class:`~roidask.errors.MaskWarning`).
    allow_overlap : bool
        If False, maps that overlap (two nonzero weights in a voxel) raise
        :class:`~roidask.errors.ParameterError`, as nilearn's ValueError.
    %(cleaning_parameters)s
    resampling_target : {'data', 'mask', 'maps', None}
        'data': maps (linear) and mask (nearest) are resampled onto the data
        grid; 'mask': maps and data onto the mask's grid; 'maps': data and
        mask onto the maps' grid; None: grids must match.
    runs : array-like or str, optional
        Run of each volume (or the name of a ``t`` coordinate), for cleaning
        each run separately.

    Attributes
    ----------
    maps_img_ : xarray.DataArray
        The maps signals are fitted with, on the extraction grid (in memory).
    mask_img_ : xarray.DataArray or None
    region_ids_ : numpy.ndarray
        Index in ``maps_img`` of each output column.
    n_elements_ : int
        Number of maps.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> maps = np.zeros((2, 2, 2, 2), "float32")
    >>> maps[0, ..., 0] = 1.0
    >>> maps[1, ..., 1] = 0.5
    >>> data = np.ones((2, 2, 2, 3), "float32")
    >>> data[1] = 2.0
    >>> masker = MapsMasker(new_image(maps, np.eye(4)))
    >>> masker.fit_transform(new_image(data, np.eye(4))).values.round(6).tolist()
    [[1.0, 4.0], [1.0, 4.0], [1.0, 4.0]]
    """

    _param_names = (
        "maps_img", "mask_img", "allow_overlap", "smoothing_fwhm", "standardize",
        "standardize_confounds", "high_variance_confounds", "detrend", "low_pass",
        "high_pass", "t_r", "resampling_target", "runs",
    )

    def __init__(self, maps_img=None, mask_img=None, *, allow_overlap=True,
                 smoothing_fwhm=None, standardize=False, standardize_confounds=True,
                 high_variance_confounds=False, detrend=False, low_pass=None, high_pass=None,
                 t_r=None, resampling_target="data", runs=None):
        self._set_params(locals())

    # -- fit ---------------------------------------------------------------
    def _check_params(self):
        self._check_common()
        check_bool(self.allow_overlap, "allow_overlap")
        if self.resampling_target not in MAPS_RESAMPLING_TARGETS:
            raise ParameterError(
                "resampling_target", "'data', 'mask', 'maps' or None", self.resampling_target
            )
        if self.maps_img is None:
            raise ParameterTypeError("maps_img", "a 4D maps image (one map per region)", None)
        if self.resampling_target == "mask" and self.mask_img is None:
            raise ParameterError("mask_img", "a mask (resampling_target='mask')", None)

    def fit(self, imgs=None, y=None):
        """Load the maps (and mask), resample them as asked, compute their Gram matrix.

        Parameters
        ----------
        imgs : xarray.DataArray, path or list of them, optional
            The data that will be transformed (their grid, for
            ``resampling_target='data'``).
        y : ignored
            For scikit-learn's ``fit(X, y)``.

        Returns
        -------
        MapsMasker
            self

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> maps = new_image(np.ones((2, 2, 2, 3), "float32"), np.eye(4))
        >>> MapsMasker(maps).fit().n_elements_
        3
        """
        self._check_params()
        self.fitted_ = False
        mask_img = _load_checked(self.mask_img, "mask_img", 3, "mask")
        maps_img = self._maps_to_fit(mask_img)
        data_img = None if imgs is None else _load(_one_image(imgs), "imgs")
        # as given (lazy), for images of another grid at transform: resampled from these
        self._sources = (maps_img, mask_img)
        if self.resampling_target is None:
            if mask_img is not None:
                check_same_grid(maps_img, mask_img, ("maps_img", "mask_img"))
            if data_img is not None:
                check_same_grid(data_img, maps_img, ("imgs", "maps_img"))
        reference = maps_img
        if self.resampling_target == "data" and data_img is not None:
            reference = data_img
        elif self.resampling_target == "mask":
            reference = mask_img
        if not same_grid(reference, maps_img):
            maps_img = _resample_to(maps_img, reference, "linear")
        if mask_img is not None and not same_grid(reference, mask_img):
            mask_img = _resample_to(mask_img, reference, "nearest")
        maps, mask = dask.compute(maps_img.data, None if mask_img is None else mask_img.data)
        maps = np.nan_to_num(np.asarray(maps, dtype=np.float64), nan=0.0, posinf=0.0,
                             neginf=0.0)
        self._set_maps(maps, mask, maps_img)
        self._report_img = data_img
        self.fitted_ = True
        return self

    def _maps_to_fit(self, mask_img):
        """The maps ``fit`` works with (a subclass may derive them, e.g. as regions)."""
        return _load_checked(self.maps_img, "maps_img", 4, "maps image")

    def _set_maps(self, maps, mask, maps_img):
        n_maps = maps.shape[-1]
        if mask is not None:
            mask = mask_values(np.asarray(mask), "mask_img")
            maps = np.where(mask[..., None], maps, 0.0)
            kept = np.flatnonzero(np.abs(maps[mask]).sum(axis=0) > 0)
            removed = sorted(set(range(n_maps)) - set(kept.tolist()))
            if not kept.size:
                raise ParameterError("mask_img", "a mask that overlaps the maps",
                                     "no map left after masking")
            if removed:
                warn_user(f"the mask removed maps {removed}", MaskWarning)
            maps = maps[..., kept]
        else:
            kept = np.arange(n_maps)
        if not self.allow_overlap and ((maps > 0).sum(axis=-1) > 1).any():
            raise ParameterError(
                "maps_img", "maps that do not overlap (allow_overlap=False)", "overlapping maps"
            )
        flat = maps.reshape(-1, maps.shape[-1])
        # nilearn's lstsq over the voxels of the maps' union: pinv(A^T A) A^T d
        self._pinv_gram = np.linalg.pinv(flat.T @ flat)
        self._crops = _map_crops(maps)
        grid = dict(affine=image_affine(maps_img), header=_spatial_facts(maps_img))
        self.maps_img_ = new_image(maps.astype(np.float32), name="maps", **grid)
        self.mask_img_ = None if mask is None else new_image(mask.astype(np.int8), name="mask",
                                                             **grid)
        self.region_ids_ = kept
        self.n_elements_ = int(kept.size)

    # -- transform -----------------------------------------------------------
    def transform(self, imgs, confounds=None, sample_mask=None):
        """Signals of every map, lazily.

        Parameters
        ----------
        imgs : xarray.DataArray or path
            4D image (a 3D image gives one value per map).
        confounds : array-like, DataFrame, path or list of them, optional
            One row per volume, regressed out (see :func:`roidask.signal.clean`).
        %(sample_mask_parameter)s

        Returns
        -------
        xarray.DataArray
            Dims ``("t", "region")`` (or ``("region",)`` for a 3D image);
            ``region`` holds the index of each map. float32 for float32 data,
            else float64.

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> maps = new_image(np.ones((2, 2, 2, 1), "float32"), np.eye(4))
        >>> img = new_image(np.full((2, 2, 2, 4), 3.0, "float32"), np.eye(4))
        >>> MapsMasker(maps).fit(img).transform(img).values[:, 0].tolist()
        [3.0, 3.0, 3.0, 3.0]
        """
        return self._transform(imgs, confounds, sample_mask)

    def _extract(self, img):
        dtype = np.float32 if img.dtype == np.float32 else np.float64
        if self.resampling_target is None:
            check_same_grid(img, self.maps_img_, ("imgs", "maps_img"))
        if same_grid(img, self.maps_img_):
            data = dask_data(self._smooth(img))
            products = weighted_sums(data, self._crops, dtype)
            pinv = da.from_array(self._pinv_gram, chunks=-1)
            values = da.map_blocks(_solve, products, pinv, dtype=np.float64)
        elif self.resampling_target == "data":
            # the fitted maps resampled lazily onto the new grid; nothing is refitted
            img = self._smooth(img)
            maps_source, mask_source = self._sources
            if not same_grid(maps_source, img):
                maps_source = _resample_to(maps_source, img, "linear")
            maps = maps_source.data[..., self.region_ids_]
            if mask_source is not None:
                if not same_grid(mask_source, img):
                    mask_source = _resample_to(mask_source, img, "nearest")
                maps = da.where(mask_source.data[..., None] != 0, maps, 0.0)
            values = _lazy_gram_solve(maps, dask_data(img), dtype)
        else:
            img = self._smooth(_resample_to(img, self.maps_img_, "continuous"))
            data = dask_data(img)
            products = weighted_sums(data, self._crops, dtype)
            pinv = da.from_array(self._pinv_gram, chunks=-1)
            values = da.map_blocks(_solve, products, pinv, dtype=np.float64)
        signals = xr.DataArray(
            values, dims=(TIME_DIM, "region"),
            coords={**time_coords(img, with_index=True), "region": self.region_ids_},
            name="signals",
        )
        return signals, dtype

    def inverse_transform(self, signals):
        """An image of the maps weighted by the signals (``signals @ maps.T``), lazily.

        Parameters
        ----------
        signals : xarray.DataArray or array-like
            ``(t, region)`` or ``(region,)``, columns in ``region_ids_`` order.

        Returns
        -------
        xarray.DataArray
            4D (or 3D) image on the grid of ``maps_img_``.

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> maps = new_image(np.ones((2, 2, 2, 1), "float32"), np.eye(4))
        >>> MapsMasker(maps).fit().inverse_transform(np.array([2.0])).values[0, 0, 0]
        np.float32(2.0)
        """
        self._check_fitted()
        coords = {}
        if isinstance(signals, xr.DataArray):
            if signals.ndim == 2:
                coords = time_coords(signals, with_index=True)
            values = signals.data
        else:
            values = np.asarray(signals)
        if values.ndim not in (1, 2) or values.shape[-1] != self.n_elements_:
            raise ParameterError(
                "signals", f"an array of shape (t, {self.n_elements_}) or ({self.n_elements_},)",
                f"shape {values.shape}",
            )
        values = values if isinstance(values, da.Array) else da.from_array(values, chunks=-1)
        maps = da.from_array(self.maps_img_.values, chunks=(-1, -1, -1, -1))
        out = da.tensordot(maps, values.astype(np.float32).T, axes=([3], [0]))
        img = new_image(out, image_affine(self.maps_img_), header=_spatial_facts(self.maps_img_))
        return img.assign_coords(coords) if coords else img

    def _report_content(self, title):
        from roidask.reporting.html_report import ReportContent, grid_text

        maps = self.maps_img_.values
        strongest = np.where(maps.max(axis=-1) > 0, maps.argmax(axis=-1) + 1, 0)
        background = self._report_background(self.maps_img_)
        return ReportContent(
            title=title or "MapsMasker report",
            summary=f"{self.n_elements_} maps, signals by least squares on a grid of "
                    f"{grid_text(self.maps_img_)}.",
            overlay=strongest.astype(np.int32),
            kind="labels",
            voxel_size=tuple(voxel_size(self.maps_img_)),
            affine=image_affine(self.maps_img_),
            caption="Strongest map of each voxel"
                    + (" over the mean image" if background is not None else ""),
            background=background,
            parameters=self.get_params(),
        )


NiftiMapsMasker = MapsMasker
