"""roidask.signal.clean against nilearn.signal.clean where the numbers are delicate.

- z-scoring float32 signals far from zero (~800): nilearn computes in float32
  and carries its rounding error (up to ~1e-3 here); roidask accumulates in
  float64 and equals nilearn run on float64 copies, i.e. the exact values,
  to float32 rounding of the result.
- rank-deficient confound regression (more confound columns than kept
  volumes): equal to nilearn while something is left of the signals; when
  nothing is (the confounds span every kept volume) nilearn z-scores the
  rounding error, roidask returns 0 and warns.
- nilearn's ``butterworth__*`` keyword arguments and SPM's whitespace-aligned
  motion files (``rp_*.txt``).
"""

import warnings

import numpy as np
import pytest
import xarray as xr
from nilearn import signal as nsignal

from roidask.errors import ParameterError, SignalWarning
from roidask.signal import clean
from roidask.testing import raise_if_dask_computes

N_TIMES = 90
# one chunk, uneven chunks, one feature per chunk (over the feature dim; t is gathered)
FEATURE_CHUNKS = {"one": (12,), "uneven": (5, 2, 5), "single": (1,) * 12}


def nilearn_clean(values, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nsignal.clean(values, **kwargs)


def lazy_clean(values, chunks, **kwargs):
    signals = xr.DataArray(values, dims=("t", "region")).chunk({"t": (40, 50), "region": chunks})
    with raise_if_dask_computes():
        out = clean(signals, **kwargs)
    return out.values


@pytest.fixture(scope="module")
def far_from_zero():
    """float32 signals of magnitude ~800 with small fluctuations (a BOLD-like baseline)."""
    rng = np.random.default_rng(3)
    spread = np.array([5.0, 1.0, 0.3] * 4)
    return (800 + spread * rng.standard_normal((N_TIMES, 12))).astype(np.float32)


@pytest.mark.parametrize("chunking", FEATURE_CHUNKS)
@pytest.mark.parametrize("standardize", ["zscore_sample", "zscore"])
def test_zscore_far_from_zero_is_exact(far_from_zero, chunking, standardize):
    """Without detrend: equal to the float64 reference to float32 rounding (no float32 drift)."""
    options = dict(detrend=False, standardize=standardize)
    exact = nilearn_clean(far_from_zero.astype(np.float64), standardize="zscore_sample",
                          detrend=False)
    if standardize == "zscore":
        exact *= np.sqrt(N_TIMES / (N_TIMES - 1))
    for got in (clean(far_from_zero, **options),
                lazy_clean(far_from_zero, FEATURE_CHUNKS[chunking], **options)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, exact, rtol=0, atol=4e-7)


@pytest.fixture(scope="module")
def signals():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N_TIMES, 12)) * 3 + np.linspace(0, 4, N_TIMES)[:, None] + 100


KEPT = np.sort(np.random.default_rng(5).choice(N_TIMES, 30, replace=False))
CENSOR_OPTIONS = [
    dict(detrend=True),
    dict(detrend=False),
    dict(detrend=True, standardize_confounds=False),
    dict(detrend=True, filter="cosine", high_pass=0.01, t_r=2.0),
]


@pytest.mark.parametrize("options", CENSOR_OPTIONS)
@pytest.mark.parametrize("chunking", FEATURE_CHUNKS)
def test_more_collinear_confounds_than_volumes_equal_nilearn(signals, options, chunking):
    """90 confound columns of rank 8 and 30 kept volumes: nilearn's pivoted-QR projection."""
    rng = np.random.default_rng(1)
    confounds = rng.standard_normal((N_TIMES, 8)) @ rng.standard_normal((8, 90))
    options = dict(options, confounds=confounds, sample_mask=KEPT)
    expected = nilearn_clean(signals, **options)
    np.testing.assert_allclose(clean(signals, **options), expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(lazy_clean(signals, FEATURE_CHUNKS[chunking], **options),
                               expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("options", CENSOR_OPTIONS + [dict(detrend=True, low_pass=0.2, t_r=2.0)])
@pytest.mark.parametrize("n_confounds", [40, 200])
@pytest.mark.parametrize("chunking", FEATURE_CHUNKS)
def test_confounds_spanning_all_kept_volumes_leave_zeros(signals, options, n_confounds,
                                                         chunking):
    """Nothing is left of the signals: 0 and a SignalWarning, not standardized rounding noise."""
    rng = np.random.default_rng(2)
    confounds = rng.standard_normal((N_TIMES, n_confounds))
    kept = np.arange(20, 50) if "low_pass" in options else KEPT
    options = dict(options, confounds=confounds, sample_mask=kept)
    # what nilearn returns is the projection's rounding error (~1e-14; and the mean when
    # the signals are not detrended) ...
    residual = nilearn_clean(signals, **dict(options, standardize=None))
    assert np.abs(residual - residual.mean(axis=0)).max() < 1e-11 * np.abs(signals).max()
    np.testing.assert_allclose(clean(signals, **dict(options, standardize=None)), residual,
                               rtol=0, atol=1e-11)
    # ... which it then scales to unit variance; roidask keeps the 0 that is left
    with pytest.warns(SignalWarning, match="explained entirely by the confounds"):
        assert not clean(signals, **options).any()
    with pytest.warns(SignalWarning, match="explained entirely"):
        assert not lazy_clean(signals, FEATURE_CHUNKS[chunking], **options).any()


def test_a_signal_equal_to_a_confound_or_a_trend_becomes_zero(signals):
    trend = 800 + 3.0 * np.arange(N_TIMES)
    values = np.column_stack([signals[:, :3], signals[:, 3], trend])
    confounds = signals[:, 3]
    with pytest.warns(SignalWarning, match="2 of 5 signals"):
        got = clean(values, detrend=True, confounds=confounds)
    assert not got[:, 3:].any()
    np.testing.assert_allclose(got[:, :3], nilearn_clean(values, confounds=confounds)[:, :3],
                               rtol=0, atol=1e-10)


def test_no_warning_when_something_is_left(signals):
    confounds = np.random.default_rng(4).standard_normal((N_TIMES, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SignalWarning)
        clean(signals, detrend=True, confounds=confounds, sample_mask=KEPT)
        clean(np.zeros((N_TIMES, 2)), detrend=True)  # constant signals: 0, as nilearn


BUTTERWORTH_KWARGS = [
    dict(butterworth__order=3),
    dict(butterworth__padtype="even"),
    dict(butterworth__padtype=None),
    dict(butterworth__padtype="constant", butterworth__padlen=10),
    dict(butterworth__order=2, butterworth__padlen=0),
]


@pytest.mark.parametrize("kwargs", BUTTERWORTH_KWARGS)
@pytest.mark.parametrize("chunking", FEATURE_CHUNKS)
def test_butterworth_kwargs_equal_nilearn(signals, kwargs, chunking):
    confounds = np.random.default_rng(6).standard_normal((N_TIMES, 3))
    options = dict(detrend=True, low_pass=0.1, high_pass=0.01, t_r=2.0, confounds=confounds,
                   **kwargs)
    expected = nilearn_clean(signals, **options)
    np.testing.assert_allclose(clean(signals, **options), expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(lazy_clean(signals, FEATURE_CHUNKS[chunking], **options),
                               expected, rtol=0, atol=1e-10)


def test_butterworth_kwargs_change_the_result_and_are_checked(signals):
    base = clean(signals, detrend=True, low_pass=0.1, t_r=2.0)
    assert np.abs(clean(signals, detrend=True, low_pass=0.1, t_r=2.0,
                        butterworth__order=2) - base).max() > 1e-3
    # a short series fits without padding
    short = signals[:15]
    with pytest.raises(ParameterError, match="more than 18 volumes"):
        clean(short, detrend=True, low_pass=0.1, t_r=2.0)
    np.testing.assert_allclose(
        clean(short, detrend=True, low_pass=0.1, t_r=2.0, butterworth__padtype=None),
        nilearn_clean(short, low_pass=0.1, t_r=2.0, butterworth__padtype=None),
        rtol=0, atol=1e-10)
    with pytest.raises(ParameterError, match="more than 15 volumes"):
        clean(short, low_pass=0.1, t_r=2.0, butterworth__padlen=15)
    np.testing.assert_allclose(
        clean(short, detrend=True, low_pass=0.1, t_r=2.0, butterworth__padlen=14),
        nilearn_clean(short, low_pass=0.1, t_r=2.0, butterworth__padlen=14), rtol=0, atol=1e-10)
    with pytest.raises(TypeError, match="butterworth__padtype"):
        clean(signals, low_pass=0.1, t_r=2.0, butterworth_order=3)  # a typo
    with pytest.raises(ParameterError, match="butterworth__order: expected a positive"):
        clean(signals, low_pass=0.1, t_r=2.0, butterworth__order=0)
    with pytest.raises(ParameterError, match="butterworth__padtype"):
        clean(signals, low_pass=0.1, t_r=2.0, butterworth__padtype="wrap")


@pytest.mark.parametrize("header", [False, True])
def test_spm_motion_file_equals_nilearn(tmp_path, signals, header):
    """SPM's rp_*.txt: six columns aligned by a varying number of spaces, no header."""
    motion = np.random.default_rng(7).standard_normal((N_TIMES, 6)) * [1, 1, 1, .01, .01, .01]
    path = tmp_path / "rp_asub-01_task-rest_bold.txt"
    np.savetxt(path, motion, fmt="%16.7e")  # SPM's format: leading blanks, '-' eats one
    if header:
        path.write_text("trans_x trans_y trans_z rot_x rot_y rot_z\n" + path.read_text())
    assert "  " in path.read_text().splitlines()[1]
    # nilearn reads a header only from delimited files: its reference is the table itself
    expected = nilearn_clean(signals, confounds=np.loadtxt(path, skiprows=int(header))
                             if header else str(path))
    got = clean(signals, detrend=True, confounds=path)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        lazy_clean(signals, FEATURE_CHUNKS["uneven"], detrend=True, confounds=[str(path)]),
        expected, rtol=0, atol=1e-10)


def test_fsl_par_and_tab_files_still_read(tmp_path, signals):
    motion = np.random.default_rng(8).standard_normal((N_TIMES, 6))
    par = tmp_path / "prefiltered_func_data_mcf.par"
    np.savetxt(par, motion, fmt="%.6f", delimiter="  ")
    tsv = tmp_path / "confounds.tsv"
    np.savetxt(tsv, motion, fmt="%.6f", delimiter="\t", header="a\tb\tc\td\te\tf",
               comments="")
    expected = nilearn_clean(signals, confounds=np.round(motion, 6))
    for path in (par, tsv):
        np.testing.assert_allclose(clean(signals, detrend=True, confounds=path), expected,
                                   rtol=0, atol=1e-10)
