"""roidask.signal.clean against nilearn.signal.clean, on numpy and lazy DataArrays."""

import warnings

import numpy as np
import pytest
import xarray as xr
from nilearn import signal as nsignal

from roidask.errors import InputFileError, ParameterError
from roidask.signal.cleaning import butterworth, clean, standardize_signal
from roidask.testing import raise_if_dask_computes

N_TIMES = 60


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(0)
    trend = np.linspace(0, 5, N_TIMES)[:, None]
    wave = np.sin(np.arange(N_TIMES) * 0.7)[:, None]
    values = rng.standard_normal((N_TIMES, 5)) * 3 + trend + wave * [1, 2, 0, 3, 1] + 100
    return values.astype("float32")


@pytest.fixture(scope="module")
def confounds():
    return np.random.default_rng(1).standard_normal((N_TIMES, 3))


def nilearn_clean(values, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nsignal.clean(values, **kwargs)


def assert_like_nilearn(got, expected):
    """Equal within float32 rounding of nilearn's own float32 arithmetic."""
    assert got.dtype == expected.dtype
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5 * scale)


OPTIONS = [
    dict(detrend=False, standardize=None),
    dict(detrend=True, standardize="zscore_sample"),
    dict(detrend=False, standardize="psc"),
    dict(detrend=True, standardize="psc", low_pass=0.1, t_r=2.0),
    dict(detrend=True, standardize="zscore_sample", high_pass=0.02, t_r=2.0),
    dict(detrend=False, standardize="zscore_sample", low_pass=0.15, high_pass=0.02, t_r=2.0),
    dict(detrend=True, standardize=None, filter="cosine", high_pass=0.02, t_r=2.0),
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("with_confounds", [False, True])
def test_clean_equals_nilearn_on_numpy(series, confounds, options, with_confounds):
    extra = dict(confounds=confounds) if with_confounds else {}
    expected = nilearn_clean(series, **options, **extra)
    got = clean(series, **options, **extra)
    assert isinstance(got, np.ndarray)
    assert_like_nilearn(got, expected)


@pytest.mark.parametrize("standardize_confounds", [True, False])
def test_confound_scaling_equals_nilearn(series, confounds, standardize_confounds):
    values = series.astype(np.float64)
    options = dict(detrend=True, confounds=confounds, standardize_confounds=standardize_confounds)
    np.testing.assert_allclose(
        clean(values, **options), nilearn_clean(values, **options), rtol=1e-10, atol=1e-10
    )


@pytest.mark.parametrize("chunks", [N_TIMES, (7, 23, 30), 5])
def test_clean_is_lazy_on_dask_and_equal(series, confounds, chunks):
    signals = xr.DataArray(
        series, dims=("t", "region"), coords={"region": [3, 5, 7, 9, 11]}
    ).chunk({"t": chunks, "region": 2})
    options = dict(detrend=True, standardize="zscore_sample", low_pass=0.1, t_r=2.0)
    with raise_if_dask_computes():
        out = clean(signals, confounds=confounds, **options)
    assert out.dims == ("t", "region") and out.chunks[0] == (N_TIMES,)
    assert out["region"].values.tolist() == [3, 5, 7, 9, 11]
    assert_like_nilearn(out.values, nilearn_clean(series, confounds=confounds, **options))


@pytest.mark.parametrize("chunks", [N_TIMES, (7, 23, 30), 5])
@pytest.mark.parametrize("form", ["dataarray", "dask", "list"])
def test_lazy_confounds_stay_lazy_and_equal(series, confounds, chunks, form):
    lazy = xr.DataArray(confounds, dims=("t", "confound")).chunk({"t": chunks})
    given = {"dataarray": lazy, "dask": lazy.data,
             "list": [lazy[:, :1], confounds[:, 1:2], lazy.data[:, 2]]}[form]
    options = dict(detrend=True, standardize="zscore_sample", low_pass=0.1, t_r=2.0,
                   runs=np.repeat([0, 1], N_TIMES // 2), sample_mask=[np.arange(2, 30)] * 2)
    expected = nilearn_clean(series, confounds=confounds, **options)
    for signals in (xr.DataArray(series, dims=("t", "region")),  # in memory: becomes lazy
                    xr.DataArray(series, dims=("t", "region")).chunk({"t": chunks, "region": 2})):
        with raise_if_dask_computes():
            out = clean(signals, confounds=given, **options)
        assert out.chunks[0] == (56,)
        assert_like_nilearn(out.values, expected)
    assert_like_nilearn(clean(series, confounds=given, **options), expected)  # numpy: computed


def test_lazy_confounds_are_checked_by_shape_without_computing(series, confounds):
    lazy = xr.DataArray(confounds[:45], dims=("t", "confound")).chunk({"t": 10})
    with raise_if_dask_computes():
        with pytest.raises(ParameterError, match=r"confounds: expected 60 rows.*'45 rows'"):
            clean(xr.DataArray(series, dims=("t", "region")).chunk(), confounds=lazy)


def test_runs_are_cleaned_separately_as_in_nilearn(series, confounds):
    runs = np.repeat([0, 1, 2], N_TIMES // 3)
    values = series.astype(np.float64)
    options = dict(detrend=True, standardize="zscore_sample", low_pass=0.1, t_r=2.0)
    expected = nilearn_clean(values, runs=runs, confounds=confounds, **options)
    np.testing.assert_allclose(
        clean(values, runs=runs, confounds=confounds, **options), expected, atol=1e-10
    )
    signals = xr.DataArray(values, dims=("t", "region"), coords={"run": ("t", runs)})
    np.testing.assert_allclose(
        clean(signals, runs="run", confounds=confounds, **options).values, expected, atol=1e-10
    )


def test_zscore_uses_population_std(series):
    values = series.astype(np.float64)
    expected = (values - values.mean(0)) / values.std(0)
    np.testing.assert_allclose(clean(values, standardize="zscore"), expected, atol=1e-12)
    sample = clean(values, standardize="zscore_sample")
    np.testing.assert_allclose(sample.std(0, ddof=1), 1.0, atol=1e-12)


def test_dtypes_follow_nilearn(series):
    assert clean(series).dtype == np.float32
    assert clean(series.astype(np.int16)).dtype == np.float32
    assert clean(series.astype(np.int64)).dtype == np.float64
    assert clean(series.astype(np.float64)).dtype == np.float64


def test_one_dimensional_signal(series):
    got = clean(series[:, 0], detrend=True, standardize="zscore_sample")
    expected = nilearn_clean(series[:, :1], detrend=True)[:, 0]
    assert got.shape == (N_TIMES,)
    assert_like_nilearn(got, expected)


def test_ensure_finite_zeroes_nan(series):
    values = series.astype(np.float64).copy()
    values[3, 1] = np.nan
    got = clean(values, ensure_finite=True, standardize=None)
    assert got[3, 1] == 0 and np.isfinite(got).all()


def test_confounds_from_csv_with_header(series, confounds, tmp_path):
    path = tmp_path / "confounds.csv"
    np.savetxt(path, confounds, delimiter=",", header="a,b,c", comments="")
    expected = nilearn_clean(series, detrend=True, confounds=confounds)
    assert_like_nilearn(clean(series, detrend=True, confounds=path), expected)
    assert_like_nilearn(clean(series, detrend=True, confounds=[confounds[:, :1], str(path)]),
                        nilearn_clean(series, detrend=True,
                                      confounds=np.hstack([confounds[:, :1], confounds])))


def test_filtering_without_t_r_is_a_parameter_error(series):
    with pytest.raises(ParameterError, match="t_r: expected the repetition time"):
        clean(series, low_pass=0.1)
    with pytest.raises(ParameterError, match="t_r"):
        clean(series, filter="cosine", high_pass=0.01)


def test_confounds_with_wrong_row_count_name_both_counts(series, confounds):
    with pytest.raises(ParameterError, match=r"confounds: expected 60 rows.*got '45 rows'"):
        clean(series, confounds=confounds[:45])


def test_bad_options_raise_before_any_compute(series):
    lazy = xr.DataArray(series, dims=("t", "region")).chunk({"t": 10})
    with raise_if_dask_computes():
        with pytest.raises(ParameterError, match="high_pass: expected a cutoff below low_pass"):
            clean(lazy, low_pass=0.05, high_pass=0.1, t_r=2.0)
        with pytest.raises(ParameterError, match="standardize"):
            clean(lazy, standardize="robust")
        with pytest.raises(ParameterError, match="filter"):
            clean(lazy, filter="fft")
        with pytest.raises(ParameterError, match="t_r: expected a positive"):
            clean(lazy, low_pass=0.1, t_r=-2.0)
        with pytest.raises(ParameterError, match="runs: expected 60 values"):
            clean(lazy, runs=np.zeros(10))
    with pytest.raises(ParameterError, match="signals"):
        clean(xr.DataArray(series, dims=("region", "t")))
    with pytest.raises(InputFileError, match="no such confounds file"):
        clean(series, confounds="/no/such/file.csv")


def test_series_too_short_for_the_filter_fails_before_computing(series):
    lazy = xr.DataArray(series[:30], dims=("t", "region")).chunk({"t": 10})
    with raise_if_dask_computes(), pytest.raises(
        ParameterError, match="signals: expected more than 33 volumes per run.*got '30 volumes'"
    ):
        clean(lazy, low_pass=0.2, high_pass=0.02, t_r=2.0)
    with pytest.raises(ParameterError, match="got '20 volumes'"):
        clean(series, runs=np.repeat([0, 1, 2], 20), low_pass=0.2, high_pass=0.02, t_r=2.0)
    with pytest.raises(ValueError, match="padlen"):  # nilearn fails too, later
        nilearn_clean(series[:30], low_pass=0.2, high_pass=0.02, t_r=2.0)


def test_butterworth_equals_nilearn(series):
    values = series.astype(np.float64)
    for low, high in [(0.2, None), (None, 0.05), (0.2, 0.05)]:
        expected = nsignal.butterworth(values, 1.0, low_pass=low, high_pass=high, copy=True)
        np.testing.assert_allclose(butterworth(values, 1.0, low_pass=low, high_pass=high),
                                   expected, atol=1e-10)


def test_psc_of_zero_mean_columns_is_zero_with_a_warning():
    values = np.array([[1.0, -1.0], [2.0, 1.0], [3.0, 0.0]])
    with pytest.warns(UserWarning, match="psc"):
        out = standardize_signal(values, standardize="psc")
    assert out[:, 1].tolist() == [0.0, 0.0, 0.0]
    assert out[:, 0].tolist() == [-50.0, 0.0, 50.0]


# -- sample_mask (scrubbing) ------------------------------------------------------------

def _scrub_mask(n, removed):
    mask = np.ones(n, bool)
    mask[list(removed)] = False
    return mask


SCRUB_OPTIONS = [
    dict(detrend=False, standardize=None),
    dict(detrend=True, standardize="zscore_sample"),
    dict(detrend=True, standardize="psc"),
    dict(detrend=True, standardize="zscore_sample", low_pass=0.2, t_r=2.0),
    dict(detrend=True, standardize="zscore_sample", low_pass=0.2, high_pass=0.02, t_r=2.0),
    dict(detrend=True, standardize=None, filter="cosine", high_pass=0.02, t_r=2.0),
]
# removed volumes at both ends (the Butterworth path drops and shifts them) and inside
REMOVED = (0, 1, 10, 11, 25, 40, 58, 59)


@pytest.mark.parametrize("options", SCRUB_OPTIONS)
@pytest.mark.parametrize("form", ["bool", "index", "list"])
@pytest.mark.parametrize("with_confounds", [False, True])
def test_sample_mask_equals_nilearn(series, confounds, options, form, with_confounds):
    values = series.astype(np.float64)
    mask = _scrub_mask(N_TIMES, REMOVED)
    given = {"bool": mask, "index": np.flatnonzero(mask),
             "list": [np.flatnonzero(mask)]}[form]
    extra = dict(confounds=confounds) if with_confounds else {}
    expected = nilearn_clean(values, sample_mask=np.flatnonzero(mask), **options, **extra)
    got = clean(values, sample_mask=given, **options, **extra)
    assert got.shape == (N_TIMES - len(REMOVED), 5)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("options", [o for o in SCRUB_OPTIONS if "low_pass" not in o
                                     or "high_pass" not in o])  # band-pass: runs too short
def test_sample_mask_per_run_equals_nilearn(series, confounds, options):
    values = series.astype(np.float64)
    runs = np.repeat([0, 1], N_TIMES // 2)
    masks = [np.flatnonzero(_scrub_mask(30, (0, 7, 8))), _scrub_mask(30, (12, 29))]
    expected = nilearn_clean(values, runs=runs, confounds=confounds,
                             sample_mask=[masks[0], np.flatnonzero(masks[1])], **options)
    got = clean(values, runs=runs, confounds=confounds, sample_mask=masks, **options)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * np.abs(expected).max())


def test_unsorted_indices_reorder_volumes_as_in_nilearn(series):
    values = series.astype(np.float64)
    index = np.array([5, 3, 3, 40, 2])
    np.testing.assert_allclose(clean(values, sample_mask=index, detrend=True),
                               nilearn_clean(values, sample_mask=index, detrend=True),
                               atol=1e-12)


@pytest.mark.parametrize("chunks", [N_TIMES, (7, 23, 30), 5])
def test_sample_mask_is_lazy_and_keeps_t_coordinates(series, confounds, chunks):
    runs = np.repeat([0, 1], N_TIMES // 2)
    signals = xr.DataArray(
        series, dims=("t", "region"),
        coords={"t": np.arange(N_TIMES), "time": ("t", np.arange(N_TIMES) * 2.0),
                "run": ("t", runs)},
    ).chunk({"t": chunks, "region": 2})
    signals = signals.assign_coords(time=("t", np.arange(N_TIMES) * 2.0), run=("t", runs))
    masks = [_scrub_mask(30, (0, 4)), np.flatnonzero(_scrub_mask(30, (29,)))]
    options = dict(detrend=True, standardize="zscore_sample", low_pass=0.2, t_r=2.0)
    with raise_if_dask_computes():
        out = clean(signals, runs="run", sample_mask=masks, confounds=confounds, **options)
        censored = clean(signals, sample_mask=np.arange(0, N_TIMES, 2), standardize=None)
    kept = np.flatnonzero(np.concatenate([masks[0], _scrub_mask(30, (29,))]))
    assert out.dims == ("t", "region") and out.chunks[0] == (kept.size,)
    assert out["t"].values.tolist() == kept.tolist()
    assert out["time"].values.tolist() == (kept * 2.0).tolist()
    expected = nilearn_clean(series, runs=runs, confounds=confounds,
                             sample_mask=[np.flatnonzero(masks[0]), masks[1]], **options)
    assert_like_nilearn(out.values, expected)
    assert censored["t"].values.tolist() == list(range(0, N_TIMES, 2))
    np.testing.assert_array_equal(censored.values, series[::2])


def test_bad_sample_masks_are_parameter_errors(series):
    lazy = xr.DataArray(series, dims=("t", "region")).chunk({"t": 10})
    with raise_if_dask_computes():
        with pytest.raises(ParameterError, match=r"sample_mask: expected 60 booleans, one per "
                                                 r"volume, got '59 booleans'"):
            clean(lazy, sample_mask=np.ones(59, bool))
        with pytest.raises(ParameterError, match=r"sample_mask: expected volume indices from 0 "
                                                 r"to 59, got 'indices such as \[60, -1\]'"):
            clean(lazy, sample_mask=np.array([0, 60, -1]))
        with pytest.raises(ParameterError, match="sample_mask: expected at least one volume"):
            clean(lazy, sample_mask=np.zeros(60, bool))
        with pytest.raises(ParameterError, match="sample_mask: expected 2 masks, one per run"):
            clean(lazy, runs=np.repeat([0, 1], 30), sample_mask=np.arange(10))
        with pytest.raises(ParameterError, match="30 booleans, one per volume of run 1"):
            clean(lazy, runs=np.repeat([0, 1], 30),
                  sample_mask=[np.arange(3), np.ones(31, bool)])
        with pytest.raises(ParameterError, match="a list holds one mask per run"):
            clean(lazy, sample_mask=[0, 1, 2])
        with pytest.raises(ParameterError, match="increasing and each once"):
            clean(lazy, sample_mask=np.array([3, 2, 10]), low_pass=0.2, t_r=2.0)
        with pytest.raises(ParameterError, match="integer volume indices or booleans"):
            clean(lazy, sample_mask=np.array([0.5, 2.0]))
        # nilearn filters volumes 0..39 but the 20 rows its spline cannot fill: too few
        with pytest.raises(ParameterError, match="signals: expected more than 33 volumes"
                                                 ".*got '20 volumes'"):
            clean(lazy[:40], sample_mask=np.arange(20), low_pass=0.2, high_pass=0.02, t_r=2.0)
    with pytest.raises(ValueError, match="padlen"):
        nilearn_clean(series[:40], sample_mask=np.arange(20), low_pass=0.2, high_pass=0.02,
                      t_r=2.0)
