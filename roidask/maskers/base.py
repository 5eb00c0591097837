"""What the maskers share: parameters, their checks, cleaning and reports.

:class:`_BaseMasker` holds the scikit-learn style parameter handling, the
checks and the :func:`roidask.signal.clean` step common to
:class:`~roidask.maskers.LabelsMasker` and :class:`~roidask.maskers.Masker`,
and the parameters they document alike come from
:data:`roidask._utils.docs.DOCS` (:func:`~roidask._utils.docs.fill_doc`).
"""


import xarray as xr

from roidask._dask.chunks import TARGET_CHUNK_BYTES
from roidask._utils.checks import check_bool, check_fwhm
from roidask.errors import ParameterError, RoidaskError
from roidask.grid import TIME_DIM, chunk_data, same_grid
from roidask.image.resampling import resample_to_img
from roidask.image.smoothing import smooth_img
from roidask.image.volumes import mean_img
from roidask.maskers.inputs import _as_4d, _load
from roidask.signal.cleaning import _check_filter, _check_standardize, clean
from roidask.signal.confounds import high_variance_confounds


def _one_image(imgs):
    """A list or tuple of images (or paths) as one image concatenated along ``t``."""
    if isinstance(imgs, (list, tuple)):
        from roidask.image.concat import concat_imgs

        return concat_imgs([_load(img, "imgs") for img in imgs], dtype=None)
    return imgs


class NotFittedError(RoidaskError, AttributeError):
    """A masker was used before ``fit``."""


class _BaseMasker:
    """Parameters, cleaning and reports shared by the maskers."""

    _param_names = ()

    def _set_params(self, values):
        """Store the constructor arguments as attributes, unchanged (scikit-learn style).

        Names a subclass adds are set by its own constructor.
        """
        for name in self._param_names:
            if name in values:
                setattr(self, name, values[name])

    def get_params(self, deep=True):
        """The constructor parameters, as a dict (scikit-learn convention).

        Parameters
        ----------
        deep : bool
            Accepted for scikit-learn; a masker holds no nested estimators, so
            the result is the same either way.

        Returns
        -------
        dict
            Parameter name to value, as given to the constructor (or to
            :meth:`set_params`).

        Examples
        --------
        >>> from roidask.maskers import Masker
        >>> Masker(smoothing_fwhm=6).get_params()["smoothing_fwhm"]
        6
        """
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params):
        """Set constructor parameters (scikit-learn convention); refit afterwards.

        Parameters
        ----------
        **params
            Parameter names of the constructor and their new values.

        Returns
        -------
        self

        Raises
        ------
        ParameterError
            For a name that is not a constructor parameter.

        Examples
        --------
        >>> from roidask.maskers import Masker
        >>> Masker().set_params(smoothing_fwhm=4).smoothing_fwhm
        4
        """
        for name, value in params.items():
            if name not in self._param_names:
                raise ParameterError(
                    "params", f"names among {sorted(self._param_names)}", name
                )
            setattr(self, name, value)
        return self

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
        self._fwhm = check_fwhm(self.smoothing_fwhm, "smoothing_fwhm")
        for name in ("detrend", "standardize_confounds", "high_variance_confounds"):
            check_bool(getattr(self, name), name)
        _check_standardize(self.standardize)
        _check_filter("butterworth", self.low_pass, self.high_pass, self.t_r)

    def _all_confounds(self, img, confounds, was_3d):
        """nilearn's confounds: the (lazy) high-variance ones of the raw ``img`` first."""
        if not self.high_variance_confounds:
            return confounds
        if was_3d:
            raise ParameterError(
                "imgs", "a 4D image (high_variance_confounds=True needs time series)",
                "a 3D image",
            )
        variance_confounds = high_variance_confounds(img).reset_coords(drop=True)
        if confounds is None:
            return variance_confounds
        if isinstance(confounds, list | tuple):
            return [variance_confounds, *confounds]
        return [variance_confounds, confounds]

    def _needs_cleaning(self, confounds):
        return bool(
            self.detrend or self.standardize or confounds is not None
            or self.low_pass is not None or self.high_pass is not None
        )

    def _clean(self, signals, confounds, dtype, sample_mask=None):
        """Clean and scrub a (t x n) lazy DataArray, then cast it to nilearn's float dtype.

        Cleaning runs on the signals as extracted (float64 sums and means), so the
        result is nilearn's on a float64 copy of the data, rounded once.
        """
        needs_cleaning = self._needs_cleaning(confounds)
        if not needs_cleaning and sample_mask is None:
            return signals.astype(dtype)
        if needs_cleaning:
            n_times = signals.sizes[TIME_DIM]
            other = signals.dims[1]
            per_chunk = max(1, TARGET_CHUNK_BYTES // (8 * max(1, n_times)))
            signals = chunk_data(signals, {TIME_DIM: -1, other: per_chunk})
        return clean(
            signals, runs=self.runs, detrend=self.detrend, standardize=self.standardize,
            sample_mask=sample_mask, confounds=confounds,
            standardize_confounds=self.standardize_confounds,
            low_pass=self.low_pass, high_pass=self.high_pass, t_r=self.t_r,
        ).astype(dtype)

    def _transform(self, imgs, confounds, sample_mask):
        """What ``transform`` does for both maskers around their own ``_extract``.

        Loads ``imgs`` (a 3D image as one volume), adds the high-variance
        confounds, extracts the lazy ``(t x n)`` signals, then casts, cleans
        and scrubs them.
        """
        self._check_fitted()
        img, was_3d = _as_4d(_load(_one_image(imgs), "imgs"))
        confounds = self._all_confounds(img, confounds, was_3d)
        signals, dtype = self._extract(img)
        signals = self._clean(signals, confounds, dtype, sample_mask)
        return signals.isel({TIME_DIM: 0}, drop=True) if was_3d else signals

    def _smooth(self, img):
        if self._fwhm is None:
            return img
        return smooth_img(img, self._fwhm)

    def fit_transform(self, imgs, y=None, confounds=None, sample_mask=None):
        """Fit on ``imgs``, then transform them; see :meth:`fit` and :meth:`transform`.

        Parameters
        ----------
        imgs : xarray.DataArray, path, or list of them
            A list (e.g. of 3D images, one per sample, as scikit-learn passes
            ``X``) is concatenated along ``t``, as nilearn does.
        y : ignored
            In nilearn's (and scikit-learn's) place, so a masker can be the
            first step of a :class:`sklearn.pipeline.Pipeline`.
        confounds, sample_mask
            See :meth:`transform`.

        Returns
        -------
        xarray.DataArray
            Lazy signals, see :meth:`transform`.

        Examples
        --------
        >>> from roidask.maskers import Masker
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> data = np.zeros((5, 5, 5, 3), "float32")
        >>> data[1:4, 1:4, 1:4] = 1.0
        >>> Masker(mask_strategy="background").fit_transform(new_image(data, np.eye(4))).shape
        (3, 27)
        """
        imgs = _one_image(imgs)
        return self.fit(imgs).transform(imgs, confounds=confounds, sample_mask=sample_mask)

    def generate_report(self, path=None, *, title=None):
        """An HTML report of the masker: regions or mask over the mean image.

        Parameters
        ----------
        path : str or Path, optional
            Also write the self-contained page there.
        title : str, optional

        Returns
        -------
        roidask.reporting.Report

        Examples
        --------
        >>> from roidask.maskers import LabelsMasker
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> labels = new_image(np.repeat([0, 1, 2], 4).reshape(3, 2, 2), np.eye(4))
        >>> report = LabelsMasker(labels).fit().generate_report()
        >>> "Regions" in report.html
        True
        """
        from roidask.reporting.html_report import render_report

        content = self.report_content(title=title)
        report = render_report(content.computed())
        if path is not None:
            report.save_as_html(path)
        return report

    def report_content(self, *, title=None):
        """What :meth:`generate_report` shows, its background image still lazy.

        A :class:`roidask.reporting.ReportContent` whose ``background`` is
        the lazy mean image (or None): a caller that computes other results
        too computes it in the same run (as ``roidask run`` does), then
        renders ``content.computed(background)``.

        Examples
        --------
        >>> from roidask.maskers import LabelsMasker
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> labels = new_image(np.repeat([0, 1, 2], 4).reshape(3, 2, 2), np.eye(4))
        >>> LabelsMasker(labels).fit().report_content().caption
        'Atlas regions'
        """
        self._check_fitted()
        return self._report_content(title)

    def _report_background(self, grid_img):
        """The lazy mean of the image the masker was fitted on, on ``grid_img``'s grid."""
        if self._report_img is None:
            return None
        mean = mean_img(self._report_img)
        if not same_grid(mean, grid_img):
            mean = resample_to_img(mean, grid_img, interpolation="continuous")
        return mean

    def _report_content(self, title):
        """What the report shows (a :class:`roidask.reporting.ReportContent`)."""
        raise NotImplementedError
