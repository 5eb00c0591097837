"""LabelsMasker: one signal per atlas region and volume, as nilearn's NiftiLabelsMasker.

``fit`` reads the 3D atlas (and mask) in one compute, resamples them as
asked and names the regions by nilearn's rules; ``transform`` returns lazy
``("t", "region")`` signals through :func:`roidask._dask.extraction.label_statistics`.
"""

import numbers
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from roidask._dask.data import dask_data
from roidask._dask.extraction import STRATEGIES, label_codes, label_statistics
from roidask._utils.checks import check_bool, mask_values
from roidask._utils.docs import fill_doc
from roidask._utils.warnings import warn_user
from roidask.errors import (
    InputFileError,
    MaskWarning,
    ParameterError,
    ParameterTypeError,
    ResamplingWarning,
    RoidaskWarning,
)
from roidask.grid import (
    TIME_DIM,
    check_same_grid,
    image_affine,
    new_image,
    same_grid,
    time_coords,
    voxel_size,
    voxel_volume,
)
from roidask.image.resampling import nearest_in_memory
from roidask.maskers.base import _BaseMasker
from roidask.maskers.inputs import _load, _load_checked, _resample_to
from roidask.maskers.inverse import _inverse, _spatial_facts

RESAMPLING_TARGETS = ("data", "labels", None)


@fill_doc
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
    lut : pandas.DataFrame or path, optional
        nilearn's look-up table of the regions (BIDS ``dseg.tsv``): an
        ``index`` column (label values) and a ``name`` column, other columns
        (``color``) kept; a path is read as a table (tab, comma... separated).
        Rows of values absent from the atlas are dropped, atlas values
        absent from it are named "unknown", the background row is named
        "Background". Exclusive with ``labels``.
    background_label : int
        Value of voxels outside every region.
    mask_img : xarray.DataArray or path, optional
        Voxels outside this mask count as background.
    %(cleaning_parameters)s
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
    lut_ : pandas.DataFrame
        nilearn's fitted look-up table: ``index`` and ``name`` of every
        value of the atlas as given (background first as "Background"),
        sorted by index, with the other columns of ``lut``.
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
        "labels_img", "labels", "lut", "background_label", "mask_img", "smoothing_fwhm",
        "standardize", "standardize_confounds", "high_variance_confounds", "detrend",
        "low_pass", "high_pass", "t_r", "resampling_target", "strategy", "keep_masked_labels",
        "runs",
    )

    def __init__(self, labels_img=None, labels=None, *, background_label=0, mask_img=None,
                 smoothing_fwhm=None, standardize=False, standardize_confounds=True,
                 high_variance_confounds=False, detrend=False, low_pass=None, high_pass=None,
                 t_r=None, resampling_target="data", strategy="mean", keep_masked_labels=False,
                 runs=None, lut=None):
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
        check_bool(self.keep_masked_labels, "keep_masked_labels")
        if self.labels is not None and (
            not isinstance(self.labels, (list, tuple))
            or not all(isinstance(name, str) for name in self.labels)
        ):
            raise ParameterTypeError("labels", "a list of region names (str)", self.labels)
        if self.labels_img is None:
            raise ParameterTypeError("labels_img", "a 3D labels image (atlas)", None)
        if self.lut is not None and self.labels:
            raise ParameterError("lut", "labels or a look-up table (lut), not both",
                                 "both")
        if self.lut is not None and not isinstance(self.lut, (pd.DataFrame, str, Path)):
            raise ParameterTypeError(
                "lut", "a DataFrame or the path of a table with 'index' and 'name' columns",
                type(self.lut).__name__,
            )
        bg = self.background_label
        if isinstance(bg, bool) or not isinstance(bg, numbers.Real):
            raise ParameterError("background_label", "a number", bg)

    def fit(self, imgs=None, y=None):
        """Load the atlas (and mask), resample them as asked, list the regions.

        Computes the 3D atlas and mask only; the 4D ``imgs`` give their grid
        (for ``resampling_target='data'``) and are kept for the report.

        Parameters
        ----------
        imgs : xarray.DataArray or path, optional
            The data that will be transformed.
        y : ignored
            For scikit-learn's ``fit(X, y)``.

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
        labels_img = _load_checked(self.labels_img, "labels_img", 3, "labels image")
        mask_img = _load_checked(self.mask_img, "mask_img", 3, "mask")
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
        original_values, labels = self._finite_atlas(np.asarray(original_values),
                                                     np.asarray(labels))
        present, names = self._region_names(original_values)
        self.lut_ = self._fitted_lut(present, names)
        names = dict(zip(self.lut_["index"].tolist(), self.lut_["name"].tolist()))
        self._set_atlas(labels, mask, labels_img, present, names)
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
                warn_user(
                    f"{len(present)} label values but {len(names)} names: the last regions "
                    "are named 'unknown'", RoidaskWarning,
                )
                names += ["unknown"] * (len(present) - len(names))
            elif len(names) > len(present):
                warn_user(
                    f"{len(present)} label values but {len(names)} names: extra names dropped",
                    RoidaskWarning,
                )
                names = names[: len(present)]
        return present, dict(zip(present.tolist(), names))

    def _read_lut(self):
        """``lut`` as a DataFrame with ``index`` and ``name`` columns (a copy)."""
        lut = self.lut
        if isinstance(lut, (str, Path)):
            path = Path(lut)
            if not path.is_file():
                raise InputFileError(path, "no such look-up table", "check the path")
            try:
                lut = pd.read_table(path, sep=None, engine="python")
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
                raise InputFileError(path, f"is not a table ({err})") from None
        missing = [column for column in ("index", "name") if column not in lut.columns]
        if missing:
            raise ParameterError("lut", "a table with 'index' and 'name' columns",
                                 f"columns {list(lut.columns)}")
        return lut.copy()

    def _fitted_lut(self, present, names):
        """nilearn's ``lut_``: the look-up table of the values ``present`` in the atlas."""
        bg = self.background_label
        if self.lut is None:
            return pd.DataFrame({"index": present.tolist(),
                                 "name": [names[v] for v in present.tolist()]})
        lut = self._read_lut()
        background = lut["index"] == bg
        if background.any():  # first, and named "Background" (nilearn's sanitising)
            lut = pd.concat([lut[background], lut[~background]], ignore_index=True)
            lut.loc[0, "name"] = "Background"
        else:
            row = {"name": "Background", "index": bg, "color": "FFFFFF"}
            row = {column: row.get(column, np.nan) for column in lut.columns}
            lut = pd.concat([pd.DataFrame([row]), lut], ignore_index=True)
        lut = lut[lut["index"].isin(present.tolist())]
        unknown = sorted(set(present.tolist()) - set(lut["index"].tolist()))
        if unknown:
            lut = pd.concat(
                [lut, pd.DataFrame({"name": ["unknown"] * len(unknown), "index": unknown})],
                ignore_index=True,
            )
        return lut.sort_values("index").reset_index(drop=True)

    def _finite_atlas(self, original, labels):
        """NaN and inf of a float atlas become background, with a warning (nilearn: 0)."""
        if original.dtype.kind != "f" or np.isfinite(original).all():
            return original, labels
        warn_user(
            f"labels_img has {int((~np.isfinite(original)).sum())} non-finite values (NaN or "
            f"inf): they are background ({self.background_label})", MaskWarning,
        )
        bg = self.background_label
        return (np.where(np.isfinite(original), original, bg),
                np.where(np.isfinite(labels), labels, bg))

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
            mask = mask_values(mask, "mask_img")
        bg = self.background_label
        present_after_resampling = np.unique(labels)
        if np.all(present_after_resampling == bg):
            raise ParameterError(
                "labels_img", "regions left after resampling onto the data grid",
                "background only: the atlas does not overlap the data's field of view",
            )
        lost = sorted(set(original_values.tolist()) - set(present_after_resampling.tolist()))
        if lost:
            warn_user(f"resampling the atlas onto the data grid removed labels {lost}",
                      MaskWarning)
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
            warn_user(f"the mask removed regions {removed}", MaskWarning)
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
        self._grid_codes = {}

    # -- transform -----------------------------------------------------------
    def _on_labels_grid(self, img):
        """``img`` and the label codes of its grid: the fitted ones, or the atlas resampled.

        With ``resampling_target='data'``, an image on another grid than the
        one the masker was fitted on gets the fitted atlas resampled onto its
        grid (nearest), as nilearn does at transform time; the fitted state
        and the columns (``region_ids_``) stay as they are, and a region the
        resampling loses gives NaN (0 with ``keep_masked_labels``).
        """
        if same_grid(img, self.labels_img_):
            return img, self._codes
        if self.resampling_target is None:
            check_same_grid(img, self.labels_img_, ("imgs", "labels_img"))
        if self.resampling_target == "labels":
            return _resample_to(img, self.labels_img_, "continuous"), self._codes
        warn_user(
            "imgs are on another grid than the one the masker was fitted on: resampling "
            "the atlas now (fit(imgs) or fit_transform(imgs) avoids this)", ResamplingWarning,
        )
        key = (img.shape[:3], image_affine(img).tobytes())
        if key not in self._grid_codes:
            labels = nearest_in_memory(self.labels_img_.values, image_affine(self.labels_img_),
                                       image_affine(img), img.shape[:3])
            self._grid_codes[key] = label_codes(labels, self.region_ids_)
        return img, self._grid_codes[key]

    def transform(self, imgs, confounds=None, sample_mask=None):
        """Signals of every region, lazily.

        Parameters
        ----------
        imgs : xarray.DataArray or path
            4D image (a 3D image gives one value per region).
        confounds : array-like, DataFrame, path or list of them, optional
            One row per volume; regressed out (see :func:`roidask.signal.clean`),
            after the high-variance confounds of ``imgs`` with
            ``high_variance_confounds=True``.
        %(sample_mask_parameter)s

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
        >>> masker.transform(img, sample_mask=np.array([0, 2]))["condition"].values.tolist()
        ['a', 'a']
        """
        return self._transform(imgs, confounds, sample_mask)

    def _extract(self, img):
        """Lazy ``(t, region)`` signals of a 4D image, and the dtype they are cleaned in."""
        img, codes = self._on_labels_grid(img)
        img = self._smooth(img)
        data = dask_data(img)
        values = label_statistics(data, codes, self.n_elements_, self.strategy)
        if self.keep_masked_labels:
            values = da.where(da.isnan(values), 0.0, values)
        signals = xr.DataArray(
            values, dims=(TIME_DIM, "region"),
            coords={**time_coords(img, with_index=True), "region": self.region_ids_,
                    "name": ("region", self.region_names_)},
            name="signals",
        )
        return signals, np.float32 if data.dtype == np.float32 else np.float64

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

    def region_table(self):
        """The regions: value, name, size in mm^3 and in % (fitted masker).

        Sizes count the voxels signals are averaged over (after the mask); the
        relative size is a share of all labelled voxels, as nilearn reports it.

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> labels = new_image(np.repeat([0, 1, 2, 2], 2).reshape(2, 2, 2),
        ...                    np.diag([2, 2, 2, 1]))
        >>> LabelsMasker(labels).fit().region_table().to_dict("list")["size (mm^3)"]
        [16, 32]
        """
        import pandas as pd

        self._check_fitted()
        sizes = np.asarray(self.region_sizes_)
        total = sizes.sum()
        volume = voxel_volume(self.labels_img_)
        return pd.DataFrame({
            "label value": [_plain(v) for v in self.region_ids_],
            "name": list(self.region_names_),
            "size (mm^3)": [int(round(s * volume)) for s in sizes],
            "relative size (%)": [round(100.0 * s / total, 2) if total else 0.0 for s in sizes],
        })

    def _report_content(self, title):
        from roidask.reporting.html_report import ReportContent, grid_text

        background = self._report_background(self.labels_img_)
        over_mean = " over the mean image" if background is not None else ""
        return ReportContent(
            title=title or "LabelsMasker report",
            summary=f"{self.n_elements_} regions, signals by **{self.strategy}** on a grid of "
                    f"{grid_text(self.labels_img_)}.",
            overlay=np.where(self._codes < self.n_elements_, self.labels_img_.values, 0),
            kind="labels",
            voxel_size=tuple(voxel_size(self.labels_img_)),
            affine=image_affine(self.labels_img_),
            legend=dict(zip(self.region_ids_.tolist(), self.region_names_)),
            caption="Atlas regions" + over_mean,
            background=background,
            table=self.region_table(),
            table_note="Sizes count the voxels each signal is computed over (after the "
                       "mask); relative sizes are shares of all labelled voxels.",
            parameters=self.get_params(),
        )


def _plain(value):
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _label_text(value):
    return str(_plain(value))
