"""Temporal cleaning of extracted signals, equal to :func:`nilearn.signal.clean`.

Signals are the small ``(t x region)`` or ``(t x voxel)`` tables a masker
extracts. :func:`clean` detrends them, filters them (Butterworth band-pass or
cosine drift regressors), regresses confounds out and standardizes them, in
nilearn's order and with nilearn's numbers. It takes a numpy array (returns
numpy) or an :class:`xarray.DataArray` whose first dim is ``t`` (returns a
DataArray, lazy when the input or the confounds are dask-backed: ``t`` is
gathered into one chunk and the other dim is processed chunk by chunk; the
small ``(t x confound)`` table goes to every chunk as one block).

Arithmetic is done in float64; the result has nilearn's dtype (float32 stays
float32, integers of up to 4 bytes become float32, 8-byte ones float64).

Examples
--------
>>> import numpy as np
>>> x = np.arange(12.0).reshape(6, 2) ** 2
>>> out = clean(x, detrend=True, standardize="zscore_sample")
>>> np.round(out.std(axis=0, ddof=1), 6).tolist()
[1.0, 1.0]
"""

import io
import numbers
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from scipy import linalg

from roidask._utils.dtypes import float_dtype
from roidask._utils.warnings import warn_user
from roidask.errors import InputFileError, ParameterError, ParameterTypeError, SignalWarning
from roidask.grid import TIME_DIM

STANDARDIZE = (None, "zscore_sample", "zscore", "psc")
FILTERS = ("butterworth", "cosine", False)
EPS = np.finfo(np.float64).eps
RESIDUAL_ROUNDING = 100  # a residual below this many n * eps of the signal is rounding error

__all__ = ["butterworth", "clean", "standardize_signal"]


def _check_standardize(standardize):
    if standardize is True:
        return "zscore_sample"
    if standardize is False:
        return None
    if standardize not in STANDARDIZE:
        raise ParameterError(
            "standardize", "one of None, 'zscore_sample', 'zscore', 'psc' (or True/False)",
            standardize,
        )
    return standardize


def _linear_trend(n_times):
    """nilearn's linear regressor: centred, unit norm (None for a single volume)."""
    if n_times < 2:
        return None
    regressor = np.arange(n_times, dtype=np.float64)
    regressor -= regressor.mean()
    return regressor / np.sqrt((regressor**2).sum())


def _detrend(x):
    """Remove the mean and the linear trend of each column (float64, copy)."""
    x = np.array(x, dtype=np.float64)
    if x.shape[0] == 1:
        warn_user(
            "detrending a single time point would leave zeros; skipped", SignalWarning,
        )
        return x
    x -= x.mean(axis=0)
    regressor = _linear_trend(x.shape[0])
    x -= np.outer(regressor, regressor @ x)
    return x


def standardize_signal(signals, *, detrend=False, standardize="zscore_sample"):
    """Detrend and standardize each column of a (time x features) array.

    Parameters
    ----------
    signals : numpy.ndarray, shape (n_times, n_features)
        Time along the first axis.
    detrend : bool
        Remove the mean and linear trend first.
    standardize : {None, 'zscore_sample', 'zscore', 'psc'} or bool
        'zscore_sample' divides by the sample standard deviation (ddof=1),
        'zscore' by the population one (ddof=0); 'psc' gives percent signal
        change from the mean. Columns with (near) zero deviation or mean are
        left unscaled (zscore) or set to 0 (psc), as nilearn does.

    Returns
    -------
    numpy.ndarray
        float64 copy.

    Examples
    --------
    >>> import numpy as np
    >>> standardize_signal(np.array([[1.0], [2.0], [3.0]]), standardize="psc").ravel().tolist()
    [-50.0, 0.0, 50.0]
    """
    standardize = _check_standardize(standardize)
    x = _detrend(signals) if detrend else np.array(signals, dtype=np.float64)
    if standardize is None:
        return x
    if x.shape[0] == 1:
        warn_user(
            "standardizing a single time point would leave zeros; skipped", SignalWarning,
        )
        return x
    if standardize in ("zscore_sample", "zscore"):
        if not detrend:
            x -= x.mean(axis=0)
        std = x.std(axis=0, ddof=1 if standardize == "zscore_sample" else 0)
        std[std < EPS] = 1.0
        x /= std
    else:  # psc
        mean = x.mean(axis=0)
        invalid = np.abs(mean) < EPS
        with np.errstate(divide="ignore", invalid="ignore"):
            x = (x - mean) / np.abs(mean) * 100
        if invalid.any():
            warn_user(
                "psc standardization is meaningless for signals whose mean is 0; "
                "they are set to 0", SignalWarning,
            )
            x[:, invalid] = 0
    return x


def _check_frequency(kind, freq, nyquist):
    """Keep a cutoff inside (0, Nyquist), warning as nilearn does."""
    eps32 = np.finfo(np.float32).eps
    if freq >= nyquist:
        freq = nyquist - nyquist * 10 * eps32
        warn_user(
            f"the {kind}-pass cutoff is at or above the Nyquist frequency; "
            f"lowered to {freq}", SignalWarning,
        )
    elif freq < 0.0:
        freq = nyquist * eps32
        warn_user(f"the {kind}-pass cutoff is negative; set to {freq}", SignalWarning)
    return freq


def butterworth(signals, sampling_rate, *, low_pass=None, high_pass=None, order=5,
                padtype="odd", padlen=None):
    """Zero-phase Butterworth low-, high- or band-pass filter along axis 0.

    Same filter as :func:`nilearn.signal.butterworth`: second-order sections
    of an order-5 filter run forwards and backwards (``sosfiltfilt``, odd
    padding by default).

    Parameters
    ----------
    signals : numpy.ndarray, shape (n_times, ...)
    sampling_rate : float
        Samples per second (1 / t_r).
    low_pass, high_pass : float, optional
        Cutoffs in Hz.
    order : int
        Filter order.
    padtype : {'odd', 'even', 'constant', None}
        How the series is extended at both ends before filtering (see
        :func:`scipy.signal.sosfiltfilt`); None: no padding.
    padlen : int, optional
        Samples added at each end (default: scipy's, three times the
        filter's length).

    Returns
    -------
    numpy.ndarray
        float64 filtered copy.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(200) * 0.5
    >>> x = np.sin(2 * np.pi * 0.01 * t) + np.sin(2 * np.pi * 0.5 * t)
    >>> y = butterworth(x[:, None], 2.0, low_pass=0.1)
    >>> bool(np.abs(y[50:150, 0] - np.sin(2 * np.pi * 0.01 * t[50:150])).max() < 0.05)
    True
    """
    x = np.array(signals, dtype=np.float64)
    sos = _butterworth_sos(sampling_rate, low_pass, high_pass, order)
    if sos is None:
        return x
    from scipy import signal as sp_signal  # deferred: a slow import, for filtering only

    return sp_signal.sosfiltfilt(sos, x, axis=0, padtype=padtype, padlen=padlen)


def _butterworth_sos(sampling_rate, low_pass, high_pass, order=5):
    """Second-order sections of nilearn's Butterworth filter (None: no filtering)."""
    if low_pass is None and high_pass is None:
        return None
    if low_pass is not None and high_pass is not None and high_pass >= low_pass:
        raise ParameterError(
            "high_pass", f"a cutoff below low_pass ({low_pass} Hz)", high_pass
        )
    nyquist = sampling_rate * 0.5
    critical = []
    if high_pass is not None:
        btype = "high"
        critical.append(_check_frequency("high", high_pass, nyquist))
    if low_pass is not None:
        btype = "low"
        critical.append(_check_frequency("low", low_pass, nyquist))
    if len(critical) == 2:
        btype = "band"
        if critical[0] == critical[1]:
            warn_user(
                "band-pass cutoffs are equal after clipping to the Nyquist frequency; "
                "signals are returned unfiltered", SignalWarning,
            )
            return None
    else:
        critical = critical[0]
    from scipy import signal as sp_signal

    return sp_signal.butter(N=order, Wn=critical, btype=btype, output="sos", fs=sampling_rate)


def _filter_padding(sos, padtype="odd", padlen=None):
    """Samples ``sosfiltfilt`` pads each end with; a series must be longer."""
    if padtype is None:
        return 0
    if padlen is not None:
        return padlen
    taps = 2 * sos.shape[0] + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
    return 3 * taps


def _filtered_length(n_volumes, index):
    """Length of a run the Butterworth filter sees after scrubbing (see _interpolate_volumes)."""
    if index is None:
        return n_volumes
    rows = n_volumes - 1 - index  # the rows nilearn fills: ~index, counted from the end
    unfilled = rows[(rows < index[0]) | (rows > index[-1])]
    return n_volumes - np.unique(unfilled).size


def _check_series_length(filter_type, low_pass, high_pass, t_r, runs, n_times,
                         sample_mask=None, butterworth_options=None):
    """Reject series too short for the Butterworth filter before any work is done."""
    if filter_type != "butterworth":
        return
    options = butterworth_options or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the clipping warnings come again when filtering
        sos = _butterworth_sos(1.0 / t_r, low_pass, high_pass, options.get("order", 5))
    if sos is None:
        return
    lengths = [n_times] if runs is None else np.unique(runs, return_counts=True)[1]
    masks = [None] * len(lengths) if sample_mask is None else sample_mask
    shortest = min(_filtered_length(n, index) for n, index in zip(lengths, masks))
    padding = _filter_padding(sos, options.get("padtype", "odd"), options.get("padlen"))
    if shortest <= padding:
        raise ParameterError(
            "signals", f"more than {padding} volumes per run for this Butterworth filter "
            "(or a low_pass/high_pass alone, which needs fewer)", f"{shortest} volumes",
        )


def _cosine_drift(high_pass, t_r, n_times):
    """nilearn's discrete cosine drift regressors (without the constant)."""
    dt = t_r
    if high_pass * dt >= 0.5:
        warn_user(
            f"high_pass={high_pass} Hz spans all frequencies the sampling can resolve "
            "and saturates the design; lower it", SignalWarning,
        )
    order = min(n_times - 1, int(np.floor(2 * n_times * high_pass * dt)))
    times = np.arange(n_times)
    drift = np.zeros((n_times, order + 1))
    normalizer = np.sqrt(2.0 / n_times)
    for k in range(1, order + 1):
        drift[:, k - 1] = normalizer * np.cos((np.pi / n_times) * (times + 0.5) * k)
    return drift[:, :-1]


def _add_cosine_drift(confounds, drift):
    if drift.shape[1] == 0:
        warn_user(
            "no cosine drift regressor fits this series: it is too short for high_pass",
            SignalWarning,
        )
        return confounds
    if confounds is None:
        return drift.copy()
    corr = np.corrcoef(drift.T, confounds.T)
    np.fill_diagonal(corr, 0)
    if (corr[: drift.shape[1], :].ravel() > 0.9).any():
        warn_user(
            "the confounds already hold cosine drift regressors; only they are used", SignalWarning,
        )
        return confounds
    return np.hstack((confounds, drift))


def _read_confounds_file(path):
    """A table of numbers: comma, semicolon or tab separated, or whitespace-aligned columns.

    Whitespace-aligned files are SPM's motion parameters (``rp_*.txt``) and
    FSL's ``*.par``: no header, columns padded with a varying number of
    spaces. An optional one-line header is skipped, as nilearn does.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such confounds file", "check the path")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise InputFileError(path, f"is not a table of numbers ({err})") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimited = any(mark in first for mark in ",;\t")
    try:
        if delimited:
            table = pd.read_csv(io.StringIO(text), sep=None, engine="python", header=None)
        else:  # columns aligned by spaces (SPM rp_*.txt): any run of blanks separates
            table = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputFileError(path, f"is not a table of numbers ({err})") from None
    numeric = table.apply(pd.to_numeric, errors="coerce")
    if len(numeric) and numeric.iloc[0].isna().any() and not numeric.iloc[1:].isna().any().any():
        numeric = numeric.iloc[1:]  # a header row
    if numeric.isna().any().any():
        raise InputFileError(
            path, "holds values that are not numbers",
            "give one column per confound, one row per volume, numbers only",
        )
    return numeric.to_numpy(dtype=np.float64)


def _one_confound(confound, n_times):
    if isinstance(confound, (str, Path)):
        values = _read_confounds_file(confound)
    elif isinstance(confound, pd.DataFrame | pd.Series):
        values = confound.to_numpy(dtype=np.float64)
    elif isinstance(confound, xr.DataArray | da.Array):
        values = confound.data if isinstance(confound, xr.DataArray) else confound
        if isinstance(values, da.Array):  # lazy: checked by shape, read when computed
            values = values.astype(np.float64)
        else:
            values = np.asarray(values, dtype=np.float64)
    else:
        try:
            values = np.asarray(confound, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(
                "confounds", "an array, a DataFrame, a file path or a list of them",
                type(confound).__name__,
            ) from None
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ParameterError("confounds", "a 1D or 2D table", f"{values.ndim}D array")
    if values.shape[0] != n_times:
        raise ParameterError(
            "confounds",
            f"{n_times} rows, one per volume of the signals",
            f"{values.shape[0]} rows",
        )
    return values


def _sanitize_confounds(confounds, n_times):
    if confounds is None:
        return None
    if isinstance(confounds, list | tuple):
        if not confounds:
            return None
        parts = [_one_confound(c, n_times) for c in confounds]
    else:
        parts = [_one_confound(confounds, n_times)]
    if any(isinstance(part, da.Array) for part in parts):
        return da.hstack([da.asarray(part) for part in parts]).rechunk(-1)
    return np.hstack(parts)


def _check_filter(filter, low_pass, high_pass, t_r):
    """Validate the filter parameters; return the filter to run (or False)."""
    if filter not in FILTERS:
        raise ParameterError("filter", "'butterworth', 'cosine' or False", filter)
    for name, value in (("low_pass", low_pass), ("high_pass", high_pass), ("t_r", t_r)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ParameterError(name, "a number or None", value)
        if name == "t_r" and not value > 0:
            raise ParameterError(name, "a positive repetition time in seconds", value)
    if filter is False:
        if low_pass is not None or high_pass is not None:
            warn_user(
                "filter=False but a cutoff frequency was given: no filtering is done",
                SignalWarning,
            )
        return False
    if filter == "cosine":
        if t_r is None or high_pass is None:
            raise ParameterError(
                "t_r" if t_r is None else "high_pass",
                "a value: cosine drift filtering needs both t_r (s) and high_pass (Hz)",
                None,
            )
        return "cosine"
    if low_pass is None and high_pass is None:
        return False
    if t_r is None:
        raise ParameterError(
            "t_r",
            "the repetition time in seconds, needed for low_pass/high_pass filtering",
            None,
        )
    if low_pass is not None and high_pass is not None and high_pass >= low_pass:
        raise ParameterError("high_pass", f"a cutoff below low_pass={low_pass} Hz", high_pass)
    return "butterworth"


def _butterworth_options(kwargs):
    """nilearn's ``butterworth__*`` keyword arguments of clean(), checked, without the prefix."""
    prefix = "butterworth__"
    unknown = sorted(key for key in kwargs if not key.startswith(prefix)
                     or key[len(prefix):] not in ("order", "padtype", "padlen"))
    if unknown:
        raise ParameterTypeError(
            unknown[0], "a parameter of clean: butterworth__order, butterworth__padtype "
            "or butterworth__padlen beyond the named ones", "an unknown keyword argument",
        )
    options = {key[len(prefix):]: value for key, value in kwargs.items()}
    order = options.get("order", 5)
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or order < 1:
        raise ParameterError("butterworth__order", "a positive integer", order)
    if options.get("padtype", "odd") not in ("odd", "even", "constant", None):
        raise ParameterError(
            "butterworth__padtype", "'odd', 'even', 'constant' or None", options["padtype"]
        )
    padlen = options.get("padlen")
    if padlen is not None and (isinstance(padlen, bool)
                               or not isinstance(padlen, numbers.Integral) or padlen < 0):
        raise ParameterError("butterworth__padlen", "a non-negative integer or None", padlen)
    return options


def _interpolate_volumes(volumes, sample_mask, t_r):
    """nilearn's cubic-spline filling of removed volumes, then dropping unfillable rows.

    Reproduces nilearn 0.14 exactly, including that it writes the spline
    into rows ``~sample_mask`` -- the bitwise NOT of the kept *indices*,
    i.e. rows ``n - 1 - i`` counted from the end -- and that it drops the
    rows left all-NaN (outside the kept range) before filtering.
    """
    from scipy.interpolate import CubicSpline  # deferred, for scrubbing only

    frame_times = np.arange(volumes.shape[0]) * t_r
    spline = CubicSpline(frame_times[sample_mask], volumes[sample_mask], extrapolate=False)
    filled = spline(frame_times)
    volumes = volumes.copy()
    rows = ~sample_mask
    volumes[rows] = filled[rows]
    return volumes[~np.isnan(volumes).all(axis=1)]


def _scrub(x, confounds, sample_mask, filter_type, t_r):
    """Remove volumes before cleaning, or fill them for the Butterworth filter (nilearn)."""
    if sample_mask is None:
        return x, confounds, None
    if filter_type != "butterworth":
        return x[sample_mask], None if confounds is None else confounds[sample_mask], None
    x = _interpolate_volumes(x, sample_mask, t_r)
    if confounds is not None:
        confounds = _interpolate_volumes(confounds, sample_mask, t_r)
    return x, confounds, sample_mask - sample_mask[0]


def _zero_rounding_residuals(x, scale):
    """Set to 0 the columns of which only rounding error is left; warn if any was not 0.

    When the confounds (with the detrending and the filter) span every kept
    volume -- more confound columns than volumes after scrubbing -- or a
    signal is one of the confounds or a pure linear trend, what the
    regression leaves is rounding error (~1e-14 of the signal). nilearn
    z-scores it anyway and returns noise of unit variance that changes
    with the other columns present and with 1-ulp changes of the input.
    A column whose centred residual is at most ``RESIDUAL_ROUNDING * n *
    eps`` times the signal's largest absolute value is set to 0 instead
    (in exact arithmetic it is 0).
    """
    n_times = x.shape[0]
    centred = np.abs(x - x.mean(axis=0)).max(axis=0) if n_times else np.zeros(x.shape[1:])
    lost = centred <= RESIDUAL_ROUNDING * n_times * EPS * scale
    noisy = int((lost & (centred > 0)).sum())
    if noisy:
        warn_user(
            f"{noisy} of {x.shape[1]} signals are explained entirely by the confounds, the "
            f"detrending or the filter (nothing but rounding error is left of them in these "
            f"{n_times} volumes): they are set to 0 instead of standardized "
            "(nilearn scales the rounding error to unit variance); use fewer confounds than "
            "kept volumes", SignalWarning,
        )
    if lost.any():
        x = x.copy()
        x[:, lost] = 0.0
    return x


def _clean_run(x, confounds, sample_mask=None, *, detrend, standardize, standardize_confounds,
               filter_type, low_pass, high_pass, t_r, butterworth_options):
    """nilearn's clean() on one run: float64 in, float64 out."""
    if filter_type == "cosine":
        confounds = _add_cosine_drift(confounds, _cosine_drift(high_pass, t_r, x.shape[0]))
        if low_pass is not None:
            warn_user("low_pass is not implemented for filter='cosine'", SignalWarning)
    x, confounds, sample_mask = _scrub(x, confounds, sample_mask, filter_type, t_r)
    original_mean = x.mean(axis=0)
    signal_scale = np.abs(x).max(axis=0) if x.size else np.zeros(x.shape[1:])
    if detrend:
        x = _detrend(x)
        if confounds is not None:
            confounds = _detrend(confounds)
    if filter_type == "butterworth":
        x = butterworth(x, 1.0 / t_r, low_pass=low_pass, high_pass=high_pass,
                        **butterworth_options)
        if confounds is not None:
            confounds = butterworth(confounds, 1.0 / t_r, low_pass=low_pass,
                                    high_pass=high_pass, **butterworth_options)
        if sample_mask is not None:  # filled volumes are removed after filtering
            x = x[sample_mask]
            confounds = None if confounds is None else confounds[sample_mask]
    if confounds is not None:
        confounds = standardize_signal(
            confounds, standardize="zscore_sample" if standardize_confounds else None
        )
        if not standardize_confounds:
            scale = np.max(np.abs(confounds), axis=0)
            scale[scale == 0] = 1
            confounds = confounds / scale
        q, r, _ = linalg.qr(confounds, mode="economic", pivoting=True)
        q = q[:, np.abs(np.diag(r)) > EPS * 100.0]
        x = x - q @ (q.T @ x)
    if standardize is None:
        return x
    if standardize != "psc":
        x = _zero_rounding_residuals(x, signal_scale)
    if standardize == "psc":
        mean_abs = np.abs(original_mean).mean()
        with np.errstate(divide="ignore", invalid="ignore"):
            small = np.abs(x.mean(0)).mean() / mean_abs < 1e-1
        if small:
            return standardize_signal(x + original_mean, standardize="psc")
    return standardize_signal(x, standardize=standardize)


def _clean_array(x, confounds, runs, ensure_finite, sample_mask=None, **params):
    """Clean a 2D float array (time x features) run by run.

    With a ``sample_mask`` (one index array per run) the kept volumes of
    the runs are stacked in run order, as nilearn does.
    """
    x = np.array(x, dtype=np.float64)
    if ensure_finite:
        x[~np.isfinite(x)] = 0
    if runs is None:
        return _clean_run(x, confounds, None if sample_mask is None else sample_mask[0],
                          **params)
    out = np.empty_like(x) if sample_mask is None else []
    for n, run in enumerate(np.unique(runs)):
        rows = runs == run
        cleaned = _clean_run(
            x[rows], None if confounds is None else confounds[rows],
            None if sample_mask is None else sample_mask[n], **params,
        )
        if sample_mask is None:
            out[rows] = cleaned
        else:
            out.append(cleaned)
    return out if sample_mask is None else np.vstack(out)


def _clean_block(block, confounds, runs, ensure_finite, out_dtype, params, sample_mask=None):
    shape = block.shape
    x = block.reshape(shape[0], -1)
    out = _clean_array(x, confounds, runs, ensure_finite, sample_mask, **params)
    return out.astype(out_dtype, copy=False).reshape((out.shape[0],) + shape[1:])


def _one_sample_mask(mask, n_volumes, where, filter_type):
    """One run's sample_mask as sorted-as-given kept indices (nilearn's rules, checked)."""
    if isinstance(mask, da.Array) or (
            isinstance(mask, xr.DataArray) and isinstance(mask.data, da.Array)):
        raise ParameterError("sample_mask", "an in-memory array", "a dask array")
    values = np.asarray(mask)
    if values.ndim != 1:
        raise ParameterError(
            "sample_mask", "a 1D array of volume indices or booleans, or a list of them "
            "(one per run)", f"{values.ndim}D array" if values.ndim else type(mask).__name__,
        )
    if values.dtype == bool:
        if values.size != n_volumes:
            raise ParameterError(
                "sample_mask", f"{n_volumes} booleans, one per volume{where}",
                f"{values.size} booleans",
            )
        index = np.flatnonzero(values)
    elif values.dtype.kind in "iu":
        index = values.astype(np.int64)
        bad = index[(index < 0) | (index >= n_volumes)]
        if bad.size:
            raise ParameterError(
                "sample_mask", f"volume indices from 0 to {n_volumes - 1}{where}",
                f"indices such as {bad[:5].tolist()}",
            )
        if index.size > n_volumes:
            raise ParameterError(
                "sample_mask", f"at most {n_volumes} indices{where}", f"{index.size} indices"
            )
    else:
        raise ParameterError(
            "sample_mask", "integer volume indices or booleans", f"dtype {values.dtype}"
        )
    if index.size == 0:
        raise ParameterError("sample_mask", f"at least one volume kept{where}", "none")
    if filter_type == "butterworth":
        if index.size < 2 or np.any(np.diff(index) <= 0):
            raise ParameterError(
                "sample_mask", f"at least 2 volume indices{where}, increasing and each once "
                "(the Butterworth filter interpolates the removed volumes)",
                f"indices {index[:8].tolist()}",
            )
    return index


def _sanitize_sample_mask(sample_mask, runs, n_times, filter_type):
    """Kept indices per run (within the run) and the kept volumes' positions in ``t``.

    As nilearn: an array (indices or booleans) for one run, a list or tuple
    of them for several (or one). Kept volumes are stacked in run order.
    """
    if sample_mask is None:
        return None, None
    run_rows = [np.arange(n_times)] if runs is None else [
        np.flatnonzero(runs == run) for run in np.unique(runs)
    ]
    masks = list(sample_mask) if isinstance(sample_mask, list | tuple) else [sample_mask]
    if any(np.ndim(mask) == 0 for mask in masks):
        raise ParameterError(
            "sample_mask", "an array of volume indices or booleans (a list holds one mask "
            "per run: use numpy.array for one run)", "a list of numbers",
        )
    if len(masks) != len(run_rows):
        raise ParameterError(
            "sample_mask", f"{len(run_rows)} masks, one per run", f"{len(masks)} masks"
        )
    labels = [None] if runs is None else np.unique(runs).tolist()
    per_run = [
        _one_sample_mask(mask, len(rows), "" if runs is None else f" of run {label!r}",
                         filter_type)
        for label, mask, rows in zip(labels, masks, run_rows)
    ]
    positions = np.concatenate([rows[index] for rows, index in zip(run_rows, per_run)])
    return per_run, positions


def _sanitize_runs(runs, signals, n_times):
    if runs is None:
        return None
    if isinstance(runs, str):
        if not isinstance(signals, xr.DataArray) or runs not in signals.coords:
            raise ParameterError(
                "runs", "an array with one run per volume, or the name of a t coordinate",
                runs,
            )
        runs = signals.coords[runs].values
    runs = np.asarray(runs)
    if runs.ndim != 1 or runs.shape[0] != n_times:
        raise ParameterError(
            "runs", f"{n_times} values, one run per volume", f"{runs.shape[0]} values"
            if runs.ndim == 1 else f"an array of shape {runs.shape}",
        )
    return runs


def _plan(signals, n_times, *, runs, detrend, standardize, sample_mask, confounds,
          standardize_confounds, filter_type, low_pass, high_pass, t_r, butterworth_options):
    """Checked confounds, runs and sample masks, and the parameters of :func:`_clean_run`.

    ``signals`` is only read for a ``runs`` given as the name of a ``t``
    coordinate; ``standardize`` and ``filter_type`` are already checked.
    """
    confounds = _sanitize_confounds(confounds, n_times)
    runs = _sanitize_runs(runs, signals, n_times)
    sample_mask, kept = _sanitize_sample_mask(sample_mask, runs, n_times, filter_type)
    params = dict(
        detrend=bool(detrend), standardize=standardize,
        standardize_confounds=bool(standardize_confounds), filter_type=filter_type,
        low_pass=low_pass, high_pass=high_pass, t_r=t_r,
        butterworth_options=butterworth_options,
    )
    _check_series_length(filter_type, low_pass, high_pass, t_r, runs, n_times, sample_mask,
                         butterworth_options)
    return confounds, runs, sample_mask, kept, params


def clean(signals, *, runs=None, detrend=False, standardize="zscore_sample", sample_mask=None,
          confounds=None, standardize_confounds=True, filter="butterworth", low_pass=None,
          high_pass=None, t_r=None, ensure_finite=False, **kwargs):
    """Detrend, filter, remove confounds from and standardize signals.

    Matches :func:`nilearn.signal.clean` step for step: (cosine drift
    regressors,) detrend, Butterworth filter, confound regression (confounds
    detrended and filtered the same way, so the steps stay orthogonal),
    standardize. Runs are cleaned independently.

    Volumes left out by ``sample_mask`` ("scrubbing") are removed where
    nilearn removes them: before detrending without filtering or with
    ``filter='cosine'`` (the cosine regressors are made for the full run
    first); with the Butterworth filter they are filled by a cubic spline
    (nilearn's ``extrapolate=False`` rules, volumes outside the kept range
    dropped), detrended and filtered, and removed after filtering, before
    confound regression and standardization.

    Parameters
    ----------
    signals : numpy.ndarray or xarray.DataArray
        Time series with time along the first axis (dim ``t`` for a
        DataArray): ``(t,)`` or ``(t, n)``. A dask-backed DataArray gives a
        lazy result.
    runs : array-like or str, optional
        Run of each volume; a string names a ``t`` coordinate of ``signals``
        (e.g. ``"run"``).
    detrend : bool
        Remove the mean and linear trend. (nilearn's default is True.)
    standardize : {'zscore_sample', 'zscore', 'psc', None} or bool
        'zscore_sample': unit sample std (ddof=1); 'zscore': unit population
        std (ddof=0); 'psc': percent signal change; None: no scaling.
    sample_mask : array-like or list of array-like, optional
        Volumes to keep: an array of volume indices, or of booleans (True
        keeps), one per volume. With ``runs``, a list of such arrays, one
        per run in sorted run order, indexing within the run (a list of one
        array is also accepted without runs). The result has only the kept
        volumes, runs stacked in run order; a DataArray keeps their ``t``
        coordinates.
    confounds : array-like, DataFrame, DataArray, dask array, path, or list of them, optional
        One row per volume; regressed out of the signals. Dask-backed
        confounds (e.g. from :func:`roidask.signal.confounds.high_variance_confounds`)
        stay lazy with DataArray ``signals``: they are read when the result
        is computed (numpy ``signals`` compute them at once).
    standardize_confounds : bool
        z-score the confounds before regression (else scale by max abs).
    filter : {'butterworth', 'cosine', False}
        Butterworth band-pass, or cosine drift regressors (high-pass only).
    low_pass, high_pass : float, optional
        Cutoffs in Hz; need ``t_r``.
    t_r : float, optional
        Repetition time in seconds.
    ensure_finite : bool
        Replace NaN and inf by 0 first.
    **kwargs
        nilearn's options of the Butterworth filter, prefixed as in
        :func:`nilearn.signal.clean`: ``butterworth__order`` (5),
        ``butterworth__padtype`` ('odd', 'even', 'constant' or None) and
        ``butterworth__padlen`` (see :func:`butterworth`). Other names are
        refused (nilearn ignores them).

    Returns
    -------
    numpy.ndarray or xarray.DataArray
        Same shape (but for volumes ``sample_mask`` removes) and kind as
        ``signals``; float32 for float32 or small integer input, else
        float64.

    Raises
    ------
    ParameterError
        Filtering without ``t_r``, confounds whose row count differs from
        the number of volumes, sample masks of the wrong length or with
        out-of-range indices, unknown options (an unknown keyword argument:
        :class:`~roidask.errors.ParameterTypeError`, also a ``TypeError``).

    Warns
    -----
    SignalWarning
        As nilearn (a cutoff clipped to the Nyquist frequency, a single
        time point...), and where roidask differs from nilearn: a signal
        the confounds, the detrending or the filter explain entirely (more
        confound columns than kept volumes, a signal that is a confound or
        a pure linear trend) leaves only rounding error, about 1e-14 of the
        signal; nilearn z-scores that error into unit-variance noise (which
        changes with the other columns and with 1-ulp changes of the input),
        roidask returns 0 for it.

    Notes
    -----
    Arithmetic is float64 whatever the input dtype; nilearn computes in the
    input's dtype, so on float32 signals far from zero (a BOLD baseline of
    ~800) its z-scores carry float32 rounding (up to ~1e-3) that roidask's
    do not: roidask equals nilearn run on a float64 copy, rounded to float32.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> sig = xr.DataArray(rng.standard_normal((40, 3)), dims=("t", "region")).chunk({"t": 10})
    >>> out = clean(sig, detrend=True, low_pass=0.1, t_r=2.0)
    >>> out.dims, out.chunks[0]
    (('t', 'region'), (40,))
    >>> lazy_confounds = xr.DataArray(rng.standard_normal((40, 2)), dims=("t", "c")).chunk(8)
    >>> out = clean(sig, detrend=True, confounds=lazy_confounds)  # nothing computed yet
    >>> out.chunks[0], round(float(abs(out.values.T @ lazy_confounds.values).max()), 8)
    ((40,), 0.0)
    >>> sig = sig.assign_coords(t=np.arange(40))
    >>> kept = clean(sig, detrend=True, sample_mask=np.arange(40) % 10 != 3)
    >>> kept.sizes["t"], kept["t"].values[:5].tolist()
    (36, [0, 1, 2, 4, 5])
    >>> clean(np.ones((5, 1)), low_pass=0.1)
    Traceback (most recent call last):
    ...
    roidask.errors.ParameterError: t_r: expected the repetition time in seconds, \
needed for low_pass/high_pass filtering, got None
    """
    standardize = _check_standardize(standardize)
    filter_type = _check_filter(filter, low_pass, high_pass, t_r)
    butterworth_options = _butterworth_options(kwargs)
    if isinstance(signals, xr.DataArray):
        if signals.ndim not in (1, 2) or signals.dims[0] != TIME_DIM:
            raise ParameterError(
                "signals", "a DataArray with dims ('t',) or ('t', <other>)", signals.dims
            )
        n_times = signals.sizes[TIME_DIM]
    else:
        signals = np.asarray(signals)
        if signals.ndim not in (1, 2):
            raise ParameterError("signals", "a 1D or 2D array (time first)", signals.shape)
        n_times = signals.shape[0]
    if signals.dtype.kind not in "fiub":
        raise ParameterError("signals", "numbers", f"dtype {signals.dtype}")
    confounds, runs, sample_mask, kept, params = _plan(
        signals, n_times, runs=runs, detrend=detrend, standardize=standardize,
        sample_mask=sample_mask, confounds=confounds,
        standardize_confounds=standardize_confounds, filter_type=filter_type,
        low_pass=low_pass, high_pass=high_pass, t_r=t_r,
        butterworth_options=butterworth_options,
    )
    out_dtype = float_dtype(signals.dtype)
    only_censor = not (detrend or standardize or filter_type or ensure_finite) and (
        confounds is None)
    if kept is not None and only_censor:  # nothing to compute: select the volumes
        return signals[kept].astype(out_dtype)
    lazy_confounds = isinstance(confounds, da.Array)
    if not isinstance(signals, xr.DataArray):
        if lazy_confounds:  # numpy in, numpy out: the confounds must be read now
            confounds = confounds.compute()
        return _clean_block(signals, confounds, runs, ensure_finite, out_dtype, params,
                            sample_mask)
    data = signals.data
    if isinstance(data, da.Array) or lazy_confounds:
        data = da.asarray(data).rechunk({0: -1})
        n_out = n_times if kept is None else kept.size
        index = "tn"[: data.ndim]
        # the confounds go in as an array argument (one chunk), not as a constant: a lazy
        # table is then read only when the result is computed
        cleaned = da.blockwise(
            _clean_block, index, data, index, confounds, "tc" if lazy_confounds else None,
            runs, None, ensure_finite, None, out_dtype, None, params, None, sample_mask, None,
            adjust_chunks={"t": (n_out,)}, concatenate=True, dtype=out_dtype,
            meta=np.array((), dtype=out_dtype),
        )
    else:
        cleaned = _clean_block(np.asarray(data), confounds, runs, ensure_finite, out_dtype,
                               params, sample_mask)
    if kept is not None:
        signals = signals.isel({TIME_DIM: kept})
    return signals.copy(data=cleaned)
