"""roidask.interfaces.fmriprep against nilearn's load_confounds on fMRIPrep-shaped files."""

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from roidask.bids.synthetic import make_fmriprep_like
from roidask.errors import RoidaskError
from roidask.interfaces.fmriprep import load_confounds, load_confounds_strategy

nilearn_fmriprep = pytest.importorskip("nilearn.interfaces.fmriprep")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmriprep")
    deriv = make_fmriprep_like(root, subjects=2, runs=2, sessions=["a"], n_volumes=100,
                               shape=(8, 9, 7), n_spikes=4, seed=3)
    return sorted(str(p) for p in deriv.rglob("*desc-preproc_bold.nii.gz"))


def _same(ours, theirs):
    (conf, mask), (conf_ref, mask_ref) = ours, theirs
    if conf_ref is None:
        assert conf is None
    else:
        assert list(conf.columns) == list(conf_ref.columns)
        np.testing.assert_allclose(conf.to_numpy(float), conf_ref.to_numpy(float), atol=1e-12)
    if mask_ref is None:
        assert mask is None
    else:
        np.testing.assert_array_equal(mask, mask_ref)


STRATEGIES = [
    dict(strategy=("motion", "high_pass", "wm_csf")),
    *[dict(strategy=("motion",), motion=m) for m in ("basic", "power2", "derivatives", "full")],
    *[dict(strategy=("wm_csf",), wm_csf=m) for m in ("basic", "power2", "derivatives", "full")],
    *[dict(strategy=("global_signal",), global_signal=m)
      for m in ("basic", "power2", "derivatives", "full")],
    *[dict(strategy=("high_pass", "compcor"), compcor=c, n_compcor=n)
      for c in ("anat_combined", "anat_separated", "temporal", "temporal_anat_combined",
                "temporal_anat_separated") for n in ("all", 2)],
    *[dict(strategy=("motion", "scrub"), scrub=s, fd_threshold=fd, std_dvars_threshold=dv)
      for s in (0, 5, 12) for fd, dv in ((0.5, 1.5), (0.2, 1.2), (100.0, 100.0))],
    dict(strategy=("motion", "wm_csf", "scrub"), demean=False),
    dict(strategy=("high_pass",)),
    dict(strategy=("scrub",)),
]


@pytest.mark.parametrize("params", STRATEGIES, ids=str)
def test_load_confounds_equals_nilearn(tree, params):
    for bold in tree[:2]:
        _same(load_confounds(bold, **params), nilearn_fmriprep.load_confounds(bold, **params))
    ours, theirs = load_confounds(tree, **params), nilearn_fmriprep.load_confounds(tree, **params)
    for pair in zip(zip(*ours), zip(*theirs)):
        _same(*pair)


@pytest.mark.parametrize("preset", ["simple", "scrubbing", "compcor"])
@pytest.mark.parametrize("extra", [{}, {"global_signal": "full"}, {"motion": "basic"},
                                   {"fd_threshold": 0.3, "scrub": 3}])
def test_load_confounds_strategy_equals_nilearn(tree, preset, extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = load_confounds_strategy(tree[0], preset, **extra)
        theirs = nilearn_fmriprep.load_confounds_strategy(tree[0], preset, **extra)
    _same(ours, theirs)


def test_scrubbing_removes_spikes_and_short_segments(tree):
    conf, mask = load_confounds_strategy(tree[0], "scrubbing")
    assert conf.shape[0] == 100 and 0 < mask.size < 99
    kept = np.zeros(100, bool)
    kept[mask] = True
    edges = np.flatnonzero(np.diff(np.r_[0, kept.astype(int), 0]))
    assert (np.diff(edges)[::2] >= 5).all()  # no kept segment shorter than 5 volumes
    np.testing.assert_allclose(conf.iloc[mask].mean(), 0, atol=1e-9)  # demeaned on kept rows


def test_first_row_na_filled_from_second(tree):
    raw = pd.read_csv(tree[0].replace("space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz",
                                      "desc-confounds_timeseries.tsv"), sep="\t")
    assert raw["trans_x_derivative1"].isna().iloc[0]
    conf, _ = load_confounds(tree[0], strategy=("motion",), motion="derivatives", demean=False)
    assert conf["trans_x_derivative1"].iloc[0] == raw["trans_x_derivative1"].iloc[1]


def test_ica_aroma_and_errors(tree, tmp_path):
    for fn in (load_confounds, nilearn_fmriprep.load_confounds):
        with pytest.raises(ValueError):  # no ICA-AROMA outputs in fMRIPrep 23+
            fn(tree[0], strategy=("ica_aroma",), ica_aroma="basic")
        with pytest.raises(ValueError):  # full AROMA needs the smoothAROMAnonaggr image
            fn(tree[0], strategy=("ica_aroma",), ica_aroma="full")
        with pytest.raises(ValueError):
            fn(tree[0], strategy=("compcor",))
        with pytest.raises(ValueError):
            fn(tree[0], strategy=("motion",), motion="cubic")
    deriv = make_fmriprep_like(tmp_path, subjects=1, n_volumes=20, shape=(4, 4, 3), raw=False)
    bold = str(next(deriv.rglob("*preproc_bold.nii.gz")))
    tsv = next(deriv.rglob("*confounds_timeseries.tsv"))
    table = pd.read_csv(tsv, sep="\t").drop(columns=["rot_z_power2"])
    table.to_csv(tsv, sep="\t", index=False, na_rep="n/a")
    with pytest.raises(RoidaskError, match="rot_z_power2"):
        load_confounds(bold, strategy=("motion",), motion="full")
    with pytest.raises(ValueError, match="rot_z_power2"):
        nilearn_fmriprep.load_confounds(bold, strategy=("motion",), motion="full")
    table.drop(columns=["csf", "white_matter"]).to_csv(tsv, sep="\t", index=False, na_rep="n/a")
    with pytest.raises(RoidaskError, match="wm_csf"):
        load_confounds(bold, strategy=("wm_csf",), wm_csf="basic")
    with pytest.raises(ValueError, match="wm_csf"):
        nilearn_fmriprep.load_confounds(bold, strategy=("wm_csf",), wm_csf="basic")
    tsv.with_suffix(".json").unlink()
    with pytest.raises(RoidaskError, match="CompCor"):
        load_confounds(bold, strategy=("high_pass", "compcor"))
    tsv.unlink()
    with pytest.raises(RoidaskError, match="no confounds file"):
        load_confounds(bold)
    with pytest.raises(RoidaskError, match="preprocessed BOLD"):
        load_confounds(str(tmp_path / "sub-01_task-rest_bold.nii.gz"))


@pytest.mark.parametrize("preset", ["simple", "scrubbing", "compcor"])
def test_cleaned_signals_equal_nilearn_labels_masker(tree, tmp_path, preset):
    from nilearn.maskers import NiftiLabelsMasker

    from roidask.maskers import LabelsMasker

    bold = tree[0]
    ref = nib.load(bold)
    labels = np.zeros(ref.shape[:3], np.int16)
    labels[1:4, 1:5, 1:4], labels[4:7, 2:8, 2:6], labels[2:6, 5:8, 4:6] = 1, 2, 3
    atlas = tmp_path / "atlas.nii.gz"
    nib.save(nib.Nifti1Image(labels, ref.affine), atlas)
    conf, mask = load_confounds_strategy(bold, preset)
    conf_ref, mask_ref = nilearn_fmriprep.load_confounds_strategy(bold, preset)
    kwargs = dict(standardize="zscore_sample", detrend=True, t_r=2.0)
    # nilearn on a float64 copy: roidask cleans float64 region means and rounds once
    # (nilearn's float32 arithmetic drifts by ~4e-5 here)
    loaded = nib.load(bold)
    bold64 = nib.Nifti1Image(loaded.get_fdata(), loaded.affine, loaded.header)
    expected = NiftiLabelsMasker(str(atlas), **kwargs).fit_transform(
        bold64, confounds=conf_ref, sample_mask=mask_ref).astype(np.float32)
    got = LabelsMasker(str(atlas), **kwargs).fit_transform(bold, confounds=conf, sample_mask=mask)
    assert got.shape == expected.shape == (mask_ref.size, 3)
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-5)


@pytest.mark.parametrize("stem", ["test-v21_desc-confounds_timeseries",
                                  "test_desc-confounds_regressors"])
@pytest.mark.parametrize("params", [
    *STRATEGIES,
    dict(strategy=("high_pass", "wm_csf", "ica_aroma"), ica_aroma="basic"),
    dict(strategy=("motion", "global_signal", "scrub"), motion="full", global_signal="full"),
], ids=str)
def test_nilearn_shipped_fmriprep_tables(tmp_path, stem, params):
    """The same on the real fMRIPrep tables nilearn ships (v1.4 regressors and v21 timeseries)."""
    import importlib.resources
    import shutil

    data = importlib.resources.files("nilearn.interfaces.fmriprep") / "data"
    func = tmp_path / "sub-01" / "func"
    func.mkdir(parents=True)
    suffix = stem.split("_desc-confounds")[1]
    for ext in (".tsv", ".json"):
        shutil.copy(data / f"{stem}{ext}", func / f"sub-01_task-rest_desc-confounds{suffix}{ext}")
    bold = str(func / f"sub-01_task-rest_space-{'MNI152NLin2009cAsym'}_desc-preproc_bold.nii.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = nilearn_fmriprep.load_confounds(bold, **params)
        except ValueError:
            with pytest.raises(RoidaskError):
                load_confounds(bold, **params)
            return
        got = load_confounds(bold, **params)
    _same(got, expected)
