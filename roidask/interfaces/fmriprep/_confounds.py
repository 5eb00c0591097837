"""Select fMRIPrep confounds by strategy, scrub outlier volumes, demean."""

import itertools
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from roidask.errors import InputFileError, ParameterError, RoidaskWarning

STRATEGIES = ("motion", "wm_csf", "global_signal", "compcor", "ica_aroma", "scrub",
              "high_pass", "non_steady_state")
MODELS = ("basic", "power2", "derivatives", "full")
_SUFFIXES = {"basic": (), "derivatives": ("derivative1",), "power2": ("power2",),
             "full": ("derivative1", "power2", "derivative1_power2")}
COMPCOR = {"temporal_anat_combined": "ta", "temporal_anat_separated": "tawc",
           "temporal": "t", "anat_combined": "a", "anat_separated": "awc"}
PRESETS = {
    "simple": {"strategy": ("high_pass", "motion", "wm_csf"), "motion": "full",
               "wm_csf": "basic", "global_signal": None, "demean": True},
    "scrubbing": {"strategy": ("high_pass", "motion", "wm_csf", "scrub"), "motion": "full",
                  "wm_csf": "full", "scrub": 5, "fd_threshold": 0.5,
                  "std_dvars_threshold": 1.5, "global_signal": None, "demean": True},
    "compcor": {"strategy": ("high_pass", "motion", "compcor"), "motion": "full",
                "n_compcor": "all", "compcor": "anat_combined", "global_signal": None,
                "demean": True},
    "ica_aroma": {"strategy": ("high_pass", "wm_csf", "ica_aroma"), "wm_csf": "basic",
                  "ica_aroma": "full", "global_signal": None, "demean": True},
}


class _Missing(Exception):
    def __init__(self, params=(), keywords=()):
        self.params, self.keywords = list(params), list(keywords)


def _check(name, value, allowed):
    if value not in allowed:
        raise ParameterError(name, f"one of {list(allowed)}", value)


def _expand(names, model):
    return list(names) + [f"{n}_{s}" for n in names for s in _SUFFIXES[model]]


def _columns(table, wanted, keyword):
    """The ``wanted`` columns; all absent -> missing keyword, some absent -> missing params."""
    absent = [c for c in wanted if c not in table.columns]
    if absent and len(absent) == len(wanted):
        raise _Missing(keywords=[keyword])
    if absent:
        raise _Missing(params=absent)
    return table[wanted]


def _containing(table, key):
    return table[[c for c in table.columns if key in c]]


def _compcor_columns(meta, compcor, n_compcor):
    def first(cols):
        return cols if n_compcor == "all" or n_compcor >= len(cols) else cols[:n_compcor]

    masks = {"combined": ["combined"], "separated": ["WM", "CSF"]}.get(compcor.split("_")[-1])
    out = []
    for prefix in COMPCOR[compcor]:
        count = sum(f"{prefix}_comp_cor" in name for name in meta)
        cols = [f"{prefix}_comp_cor_{i:02d}" for i in range(count)]
        if prefix == "a":
            for mask in masks:
                out += first([c for c in cols if meta[c]["Mask"] in mask])
        else:
            out += first(cols)
    return out


def _scrub_index(outliers, n_scans, scrub):
    """nilearn's ``optimize_scrub``: also drop segments shorter than ``scrub`` volumes."""
    idx = list(outliers)
    if idx[0] < scrub:
        idx = list(range(idx[0])) + idx
    if n_scans - (idx[-1] + 1) < scrub:
        idx = idx + list(range(idx[-1], n_scans))
    gaps = np.diff(idx)
    for i in np.where((gaps > 1) & (gaps < scrub + 1))[0]:
        idx += list(range(idx[i] + 1, idx[i + 1]))
    return np.unique(idx)


def _component(table, name, meta, p):
    if name == "non_steady_state":
        return _containing(table, "non_steady_state")
    if name == "high_pass":
        return _containing(table, "cosine")
    if name == "motion":
        return _columns(table, _expand(["trans_x", "trans_y", "trans_z", "rot_x", "rot_y",
                                        "rot_z"], p["motion"]), "motion")
    if name == "wm_csf":
        return _columns(table, _expand(["csf", "white_matter"], p["wm_csf"]), "wm_csf")
    if name == "global_signal":
        return _columns(table, _expand(["global_signal"], p["global_signal"]), "global_signal")
    if name == "compcor":
        return _columns(table, _compcor_columns(meta, p["compcor"], p["n_compcor"]), "compcor")
    if name == "ica_aroma":
        _check("ica_aroma", p["ica_aroma"], ("full", "basic"))
        if p["ica_aroma"] == "full":
            return pd.DataFrame()
        found = _containing(table, "aroma")
        if found.shape[1] == 0:
            raise _Missing(keywords=["ica_aroma"])
        return found
    # scrub
    n = len(table)
    bad = np.union1d(np.where(table["framewise_displacement"] > p["fd_threshold"])[0],
                     np.where(table["std_dvars"] > p["std_dvars_threshold"])[0])
    if p["scrub"] > 0 and bad.size:
        bad = _scrub_index(bad, n, p["scrub"])
    return pd.DataFrame(np.eye(n, dtype=int)[:, bad],
                        columns=[f"motion_outlier_{i}" for i in range(bad.size)])


def _entities(path):
    name = Path(path).name
    return [part.split("-", 1) for part in name.split("_") if "-" in part]


def _confounds_file(img, full_aroma):
    """The one ``*_desc-confounds_{timeseries,regressors}.tsv`` beside ``img`` (BIDS rules)."""
    img = str(img)
    pattern = ("_desc-smoothAROMAnonaggr_bold" if full_aroma
               else r"(_space-.*)?_desc-preproc_bold.nii.gz")
    if not re.search(pattern, img):
        fix = ("full ICA-AROMA needs a desc-smoothAROMAnonaggr_bold image" if full_aroma
               else "give an fMRIPrep ..._desc-preproc_bold.nii.gz image")
        raise InputFileError(img, "not an fMRIPrep preprocessed BOLD image", fix)
    entities = dict(_entities(img))
    entities["desc"] = "confounds"
    keys = list(entities)
    stems = {"_".join(f"{k}-{entities[k]}" for k in subset)
             for n in range(1, len(keys) + 1) for subset in itertools.combinations(keys, n)
             if "desc" in subset}
    folder = Path(img).parent
    found = [str(folder / (stem + suffix)) for stem in stems
             for suffix in ("_timeseries.tsv", "_regressors.tsv")
             if (folder / (stem + suffix)).is_file()]
    if not found:
        raise InputFileError(img, "no confounds file (..._desc-confounds_timeseries.tsv) beside it",
                             "keep fMRIPrep's func/ folder as written")
    if len(found) > 1:
        raise InputFileError(img, f"more than one confounds file beside it: {sorted(found)}")
    return found[0]


def _read_table(path):
    table = pd.read_csv(path, sep="\t", encoding="utf-8")
    if any(re.search(r"[a-z][A-Z]", c) for c in table.columns):
        raise InputFileError(path, "camel-case headers (fMRIPrep 1.0/1.1)",
                             "only fMRIPrep >= 1.2.0 outputs are supported")
    try:
        float(table.columns[0])
    except ValueError:
        return table
    raise InputFileError(path, "no header row", "is it an old fMRIPrep output?")


def _read_meta(tsv, needed):
    path = tsv.replace("tsv", "json")
    try:
        return json.loads(Path(path).read_text())
    except OSError as error:
        if needed:
            raise InputFileError(path, "missing; anatomical CompCor needs its metadata",
                                 "CompCor needs fMRIPrep >= 1.4.0 outputs") from error
        return None


def _single(img, strategy, demean, p):
    full_aroma = "ica_aroma" in strategy and p["ica_aroma"] == "full"
    tsv = _confounds_file(img, full_aroma)
    table = _read_table(tsv)
    meta = _read_meta(tsv, "compcor" in strategy and "anat" in p["compcor"])
    params, keywords, parts = [], [], []
    for name in ("non_steady_state", *strategy):
        try:
            parts.append(_component(table, name, meta, p))
        except _Missing as missing:
            params += missing.params
            keywords += missing.keywords
    if params or keywords:
        raise InputFileError(tsv, f"missing confounds: columns {params}, strategies {keywords}",
                             "check the fMRIPrep version and the strategy's options")
    selected = pd.concat(parts, axis=1)
    outlier = sorted({c for c in selected.columns
                      if "motion_outlier" in c or "non_steady_state" in c})
    outliers = selected[outlier].T.drop_duplicates().T if outlier else pd.DataFrame()
    confounds = selected[sorted(set(selected.columns) - set(outlier))]
    sample_mask = None if outliers.size == 0 else np.where(outliers.sum(axis=1).to_numpy() == 0)[0]
    if sample_mask is not None and sample_mask.size == 0:
        warnings.warn("All volumes were marked as motion outliers: every volume would be "
                      "scrubbed", RoidaskWarning, stacklevel=3)
    if confounds.size:
        first = confounds.iloc[0].isna().to_numpy()
        confounds.iloc[0, first] = confounds.iloc[1, first]
        if demean:
            rows = confounds if sample_mask is None else confounds.iloc[sample_mask]
            confounds = pd.DataFrame(confounds.to_numpy() - rows.mean(axis=0).to_numpy(),
                                     columns=confounds.columns)
    return sample_mask, confounds


def load_confounds(img_files, strategy=("motion", "high_pass", "wm_csf"), motion="full",
                   scrub=5, fd_threshold=0.5, std_dvars_threshold=1.5, wm_csf="basic",
                   global_signal="basic", compcor="anat_combined", n_compcor="all",
                   ica_aroma="full", demean=True):
    """Confounds of fMRIPrep preprocessed images selected by strategy, as nilearn does.

    Parameters
    ----------
    img_files : str or path or list
        ``..._desc-preproc_bold.nii.gz`` file(s); the confounds ``.tsv`` and
        ``.json`` are found beside each by fMRIPrep's naming rules.
    strategy : tuple of str
        Among ``motion``, ``wm_csf``, ``global_signal``, ``compcor``,
        ``ica_aroma``, ``scrub``, ``high_pass`` (non-steady-state volumes are
        always detected). ``compcor`` needs ``high_pass``.
    motion, wm_csf, global_signal : {"basic", "power2", "derivatives", "full"}
        Which expansions of those regressors to keep.
    scrub : int
        After flagging outlier volumes, also flag segments shorter than this.
    fd_threshold, std_dvars_threshold : float
        Volumes above either are outliers (``scrub`` strategy).
    compcor : str
        ``anat_combined``, ``anat_separated``, ``temporal``,
        ``temporal_anat_combined`` or ``temporal_anat_separated``.
    n_compcor : int or "all"
        Components kept per CompCor kind and mask.
    ica_aroma : {"full", "basic"}
        ``full`` expects the ``desc-smoothAROMAnonaggr_bold`` image (no
        regressors); ``basic`` keeps the ``aroma`` columns.
    demean : bool
        Subtract each column's mean (over kept volumes when scrubbing).

    Returns
    -------
    confounds : pandas.DataFrame or list or None
        Selected confounds, columns sorted by name (None when ``strategy`` is empty).
    sample_mask : numpy.ndarray or None or list
        Indices of the kept volumes, None when no volume is removed.

    Examples
    --------
    >>> import tempfile
    >>> from roidask.bids.synthetic import make_fmriprep_like
    >>> from roidask.interfaces.fmriprep import load_confounds
    >>> root = make_fmriprep_like(tempfile.mkdtemp(), subjects=1, n_volumes=30, shape=(6, 6, 5))
    >>> bold = sorted(root.rglob("*desc-preproc_bold.nii.gz"))[0]
    >>> confounds, sample_mask = load_confounds(bold, strategy=("motion",), motion="basic")
    >>> list(confounds.columns)
    ['rot_x', 'rot_y', 'rot_z', 'trans_x', 'trans_y', 'trans_z']
    >>> sample_mask[:3]  # the non-steady-state first volume is dropped
    array([1, 2, 3])
    """
    if not isinstance(strategy, (tuple, list)):
        raise ParameterError("strategy", "a tuple or list of strings", strategy)
    if not strategy:
        warnings.warn("strategy is empty, confounds will be None", RoidaskWarning, stacklevel=2)
    for name in strategy:
        _check("strategy", name, STRATEGIES)
    if "compcor" in strategy and "high_pass" not in strategy:
        raise ParameterError("strategy", "high_pass with compcor (fMRIPrep's CompCor is "
                             "computed on high-pass filtered data)", strategy)
    for name, value in (("motion", motion), ("wm_csf", wm_csf), ("global_signal", global_signal)):
        if name in strategy:
            _check(name, value, MODELS)
    if "compcor" in strategy:
        _check("compcor", compcor, COMPCOR)
    p = dict(motion=motion, scrub=scrub, fd_threshold=fd_threshold,
             std_dvars_threshold=std_dvars_threshold, wm_csf=wm_csf,
             global_signal=global_signal, compcor=compcor, n_compcor=n_compcor,
             ica_aroma=ica_aroma)
    single = isinstance(img_files, (str, Path)) or len(img_files) == 1
    files = [img_files] if isinstance(img_files, (str, Path)) else list(img_files)
    results = [_single(img, tuple(strategy), demean, p) for img in files]
    masks = [r[0] for r in results]
    confounds = None if not strategy else [r[1] for r in results]
    if single:
        return (None if confounds is None else confounds[0]), masks[0]
    return confounds, masks


def load_confounds_strategy(img_files, denoise_strategy="simple", **kwargs):
    """Confounds by one of nilearn's presets: ``simple``, ``scrubbing``, ``compcor``, ``ica_aroma``.

    Parameters
    ----------
    img_files : str or path or list
        As in :func:`load_confounds`.
    denoise_strategy : str
        Preset name (see :data:`PRESETS`).
    **kwargs
        Override the preset's parameters; a string ``global_signal`` adds
        global signal regression. Others are ignored with a warning, as nilearn does.

    Returns
    -------
    confounds, sample_mask
        As :func:`load_confounds`.

    Examples
    --------
    >>> import tempfile
    >>> from roidask.bids.synthetic import make_fmriprep_like
    >>> from roidask.interfaces.fmriprep import load_confounds_strategy
    >>> root = make_fmriprep_like(tempfile.mkdtemp(), subjects=1, n_volumes=30, shape=(6, 6, 5))
    >>> bold = sorted(root.rglob("*desc-preproc_bold.nii.gz"))[0]
    >>> confounds, sample_mask = load_confounds_strategy(bold, "scrubbing")
    >>> confounds.shape[0], sample_mask.size < 30
    (30, True)
    """
    _check("denoise_strategy", denoise_strategy, PRESETS)
    params = dict(PRESETS[denoise_strategy])
    accepted = [k for k in params if k not in ("strategy", "ica_aroma")]
    for key in accepted:
        value = kwargs.pop(key, None)
        if value is not None:
            params[key] = value
        if key == "global_signal":
            if isinstance(value, str):
                params["strategy"] += ("global_signal",)
            else:
                params.pop("global_signal", None)
    if kwargs:
        warnings.warn(f"The following parameters are not needed for the selected strategy "
                      f"'{denoise_strategy}': {list(kwargs)}; parameters accepted: {accepted}",
                      RoidaskWarning, stacklevel=2)
    return load_confounds(img_files, **params)
