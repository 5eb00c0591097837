"""Masker: one signal per in-mask voxel and volume, as nilearn's NiftiMasker.

``fit`` loads the mask, or computes it from the data with
:mod:`roidask.masking` (a streaming mean over the time chunks); ``transform``
returns lazy ``("t", "voxel")`` signals through
:func:`roidask._dask.extraction.masked_voxels`.
"""

import functools
import inspect

import dask
import numpy as np
import xarray as xr

from roidask._dask.data import dask_data
from roidask._dask.extraction import masked_voxels
from roidask._utils.checks import mask_values
from roidask._utils.docs import fill_doc
from roidask._utils.warnings import warn_user
from roidask.errors import ParameterError, ResamplingWarning
from roidask.grid import (
    SPATIAL_DIMS,
    TIME_DIM,
    image_affine,
    new_image,
    same_grid,
    time_coords,
    voxel_size,
)
from roidask.image.resampling import resample_img
from roidask.maskers.base import _BaseMasker
from roidask.maskers.inputs import _load, _load_checked
from roidask.maskers.inverse import _inverse, _spatial_facts
from roidask.signal.cleaning import float_dtype

MASK_STRATEGIES = ("background", "epi", "whole-brain-template", "gm-template", "wm-template")


@fill_doc
class Masker(_BaseMasker):
    """One signal per in-mask voxel and volume, as nilearn's NiftiMasker.

    Parameters
    ----------
    mask_img : xarray.DataArray or path, optional
        The mask; computed from the data at fit when None.
    runs : array-like or str, optional
        Run of each volume (or the name of a ``t`` coordinate), for cleaning
        each run separately.
    %(cleaning_parameters)s
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
        "detrend", "high_variance_confounds", "low_pass", "high_pass", "t_r", "target_affine",
        "target_shape", "mask_strategy", "mask_args",
    )

    def __init__(self, mask_img=None, *, runs=None, smoothing_fwhm=None, standardize=False,
                 standardize_confounds=True, detrend=False, high_variance_confounds=False,
                 low_pass=None, high_pass=None, t_r=None, target_affine=None,
                 target_shape=None, mask_strategy="background", mask_args=None):
        self._set_params(locals())

    def _mask_function(self):
        from roidask import masking

        if self.mask_strategy == "background":
            return masking.compute_background_mask
        if self.mask_strategy == "epi":
            return masking.compute_epi_mask
        mask_type = {"whole-brain-template": "whole-brain", "gm-template": "gm",
                     "wm-template": "wm"}[self.mask_strategy]
        return functools.partial(masking.compute_brain_mask, mask_type=mask_type)

    def _mask_arguments(self, function, extra=()):
        """``mask_args``, checked against the options of ``function`` (and ``extra``)."""
        args = dict(self.mask_args or {})
        if not isinstance(self.mask_args or {}, dict):
            raise ParameterError("mask_args", "a dict of options", self.mask_args)
        accepted = set(inspect.signature(function).parameters) | set(extra)
        accepted -= {"epi_img", "epi_imgs", "data_imgs", "target_img", "target_imgs",
                     "mask_type"}
        unknown = sorted(set(args) - accepted)
        if unknown:
            raise ParameterError(
                "mask_args", f"options of mask_strategy={self.mask_strategy!r}: "
                f"{sorted(accepted)}", unknown,
            )
        return args

    def _compute_mask(self, img):
        function = self._mask_function()
        return function(img, **self._mask_arguments(function))

    def fit(self, imgs=None, y=None):
        """Compute (or load) the mask and resample it onto the target grid.

        Computes the 3D mask: for a mask computed from ``imgs`` this streams
        the data once for their mean image.

        Parameters
        ----------
        imgs : xarray.DataArray or path, optional
            Needed when no ``mask_img`` is given.
        y : ignored
            For scikit-learn's ``fit(X, y)``.

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
            mask_img = _load_checked(self.mask_img, "mask_img", 3, "mask")
            source = "mask_img"
        if self.target_affine is not None or self.target_shape is not None:
            mask_img = resample_img(
                mask_img, target_affine=self.target_affine, target_shape=self.target_shape,
                interpolation="nearest",
            )
        (values,) = dask.compute(mask_img.data)
        try:
            mask = mask_values(values, "mask_img")
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
        warn_user(
            "imgs are resampled onto the mask's grid; resample them beforehand (or give "
            "target_affine equal to theirs) to save time", ResamplingWarning,
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

    def transform(self, imgs, confounds=None, sample_mask=None):
        """Signals of every in-mask voxel, lazily.

        Parameters
        ----------
        imgs : xarray.DataArray or path
            4D image (a 3D image gives one value per voxel).
        confounds : array-like, DataFrame, path or list of them, optional
            One row per volume; regressed out (after the high-variance confounds
            of ``imgs`` with ``high_variance_confounds=True``).
        %(sample_mask_parameter)s

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
        return self._transform(imgs, confounds, sample_mask)

    def _extract(self, img):
        """Lazy ``(t, voxel)`` signals of a 4D image, and the dtype they are cleaned in."""
        img, mask = self._on_mask_grid(img)
        data = dask_data(self._smooth(img))
        voxel_index = np.nonzero(self._mask)  # coordinates on the mask's grid
        signals = xr.DataArray(
            masked_voxels(data, mask).T, dims=(TIME_DIM, "voxel"),
            coords={**time_coords(img, with_index=True),
                    **{dim: ("voxel", idx) for dim, idx in zip(SPATIAL_DIMS, voxel_index)}},
            name="signals",
        )
        return signals, float_dtype(data.dtype)

    def _report_content(self, title):
        from roidask.reporting.html_report import ReportContent, grid_text

        background = self._report_background(self.mask_img_)
        overlay = self._mask.astype(np.int8)
        coverage = 100.0 * self.n_elements_ / overlay.size
        return ReportContent(
            title=title or "Masker report",
            summary=f"The mask holds **{self.n_elements_} voxels**, {coverage:.2f} % of the "
                    f"image ({grid_text(self.mask_img_)}).",
            overlay=overlay,
            kind="mask",
            voxel_size=tuple(voxel_size(self.mask_img_)),
            affine=image_affine(self.mask_img_),
            caption="Mask outline" + (" over the mean image" if background is not None else ""),
            background=background,
            parameters=self.get_params(),
        )

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
