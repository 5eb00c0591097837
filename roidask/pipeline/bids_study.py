"""A BIDS (fMRIPrep derivatives) study as a pipeline's batch, and BIDS derivatives out.

A config input with a ``bids`` mapping stands for every matching run of a
dataset; each run is one unit of the batch (:class:`BidsRun`), with its
brain mask, confounds and events found by BIDS rules
(:func:`roidask.bids.find_runs`)::

    inputs:
      func:                               # $func: the run's BOLD; $func_mask: its brain mask
        bids: {root: ., task: rest, space: MNI152NLin2009cAsym, desc: preproc,
               subjects: all, session: null, run: null, raw: ../../raw}
        chunks: {t: 100}                  # optional
    confounds: {denoise_strategy: scrubbing}   # $confounds: its confounds and sample_mask

``root`` is relative to the config's folder (or to ``--inputs-dir``),
``raw`` (the raw dataset holding ``_events.tsv``) to ``root``; by default
events are looked for in ``root`` or, for a ``<study>/derivatives/<name>``
root, in the raw dataset of the study (:func:`events_root`).
``events.tsv`` gives each volume a ``condition`` coordinate: the
``trial_type`` of the event whose ``[onset, onset + duration)`` holds the
volume's acquisition time ``i * RepetitionTime`` (the last such event;
``n/a`` when none), with the repetition time of the bold's JSON sidecar,
else of its header.

``confounds`` is a preset name (``simple``, ``scrubbing``, ``compcor``,
``ica_aroma``), a mapping with ``denoise_strategy`` and the overrides
nilearn's ``load_confounds_strategy`` takes, or a mapping of
``load_confounds`` arguments (``strategy: [motion, high_pass]``, ...).

Each output ``path`` is the BIDS tail added to the run's entities (``desc``
replaced): ``seg-synth_desc-denoised_timeseries.tsv`` makes
``sub-01/func/sub-01_task-rest_space-X_seg-synth_desc-denoised_timeseries.tsv``,
with a JSON sidecar, a ``dataset_description.json`` and a group table
(``group/<tail>.parquet``) over every run of the output folder.

Examples
--------
>>> check_confounds("scrubbing", "confounds")
{'denoise_strategy': 'scrubbing'}
>>> bids_file_name({"sub": "01", "task": "rest", "space": "MNI"},
...                parse_tail("seg-synth_desc-denoised_timeseries.tsv", "outputs.ts.path"))
'sub-01/func/sub-01_task-rest_space-MNI_seg-synth_desc-denoised_timeseries.tsv'
>>> volume_conditions(pd.DataFrame({"onset": [0.0, 4.0], "duration": 4.0,
...                                 "trial_type": ["face", "house"]}), 5, 2.0).tolist()
['face', 'face', 'house', 'house', 'n/a']
"""

import dataclasses
import json
import numbers
import re
from pathlib import Path

import numpy as np
import pandas as pd

from roidask.errors import InputFileError, ParameterError
from roidask.interfaces.fmriprep import PRESETS, load_confounds, load_confounds_strategy
from roidask.interfaces.fmriprep._confounds import COMPCOR, MODELS, STRATEGIES
from roidask.io.atomic import atomic_output
from roidask.pipeline.spec import ConfigError

BIDS_KEYS = ("root", "raw", "task", "space", "desc", "subjects", "session", "run")
# BIDS entity order (the schema's), for the entities roidask files carry
ENTITY_ORDER = ("sub", "ses", "sample", "task", "tracksys", "acq", "nuc", "voi", "ce", "trc",
                "stain", "rec", "dir", "run", "mod", "echo", "flip", "inv", "mt", "part",
                "proc", "hemi", "space", "split", "recording", "chunk", "seg", "res", "den",
                "label", "desc")
NO_CONDITION = "n/a"
GROUP_FOLDER = "group"
LABEL = re.compile(r"^[A-Za-z0-9]+$")
LOAD_CONFOUNDS_KEYS = ("strategy", "motion", "scrub", "fd_threshold", "std_dvars_threshold",
                       "wm_csf", "global_signal", "compcor", "n_compcor", "ica_aroma", "demean")


@dataclasses.dataclass(frozen=True)
class BidsRun:
    """One matched run: its entities and files (``bold``, ``mask``, ``confounds``...)."""

    entities: dict
    files: dict

    @property
    def label(self):
        """The run's entities as in its file names, e.g. ``sub-01_task-rest_space-X``."""
        return "_".join(f"{k}-{v}" for k, v in _ordered(self.entities))

    @property
    def folder(self):
        """Its output folder in a BIDS derivatives dataset: ``sub-01[/ses-1]/func``."""
        parts = [f"sub-{self.entities['sub']}"]
        if "ses" in self.entities:
            parts.append(f"ses-{self.entities['ses']}")
        return Path(*parts, "func")

    def __str__(self):
        return self.label


@dataclasses.dataclass
class Confounds:
    """A run's selected confounds (a table or None) and kept volumes (or None)."""

    table: object
    sample_mask: object


def _ordered(entities):
    known = [k for k in ENTITY_ORDER if k in entities]
    return [(k, entities[k]) for k in known + sorted(set(entities) - set(known))]


def _labels(value, where, kind=str):
    """None, one label or a non-empty list of labels (str; int for run)."""
    items = value if isinstance(value, list) else [value]
    ok = bool(items) and all(
        (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0)
        if kind is int else (isinstance(v, str) and LABEL.match(v)) for v in items)
    if not ok:
        what = "a run number (integer >= 0)" if kind is int else \
            "a BIDS label (letters and digits)"
        raise ConfigError(where, f"{what} or a non-empty list of them", value)
    return value


def check_bids_spec(value, where):
    """The ``bids`` mapping of an input, checked; the defaults filled in."""
    if not isinstance(value, dict):
        raise ConfigError(where, "a mapping with root, task, space, desc, subjects...", value)
    unknown = sorted(set(value) - set(BIDS_KEYS))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", f"one of {', '.join(BIDS_KEYS)}", unknown[0])
    spec = {"root": ".", "raw": None, "task": None, "space": None, "desc": "preproc",
            "subjects": "all", "session": None, "run": None, **value}
    for key in ("root", "raw"):
        if spec[key] is not None and (not isinstance(spec[key], str) or not spec[key]):
            raise ConfigError(f"{where}.{key}", "a folder path", spec[key])
    for key in ("task", "space", "session"):
        if spec[key] is not None:
            _labels(spec[key], f"{where}.{key}")
    if spec["run"] is not None:
        _labels(spec["run"], f"{where}.run", int)
    if not isinstance(spec["desc"], str) or not LABEL.match(spec["desc"]):
        raise ConfigError(f"{where}.desc", "a BIDS label (letters and digits), e.g. preproc",
                          spec["desc"])
    subjects = spec["subjects"]
    if subjects != "all":
        if not isinstance(subjects, list) or not subjects:
            raise ConfigError(f"{where}.subjects", "'all' or a non-empty list of subject "
                              "labels (e.g. ['01', '02'])", subjects)
        for i, sub in enumerate(subjects):
            if not isinstance(sub, str) or not LABEL.match(sub.removeprefix("sub-")):
                raise ConfigError(f"{where}.subjects[{i}]", "a subject label as a string "
                                  "(quote numbers: '01')", sub)
    return spec


def dataset_root(spec, base_dir):
    return (Path(base_dir) / spec["root"]).resolve()


def events_root(spec, root):
    """The dataset holding the events: ``raw``; else, for a ``<study>/derivatives/<name>``
    root, ``<study>`` (BIDS's layout), ``<study>/rawdata`` (BIDS's study layout) or
    ``<study>/raw`` (what ``roidask make-data --bids`` writes), the first that is a dataset."""
    if spec["raw"] is not None:
        return (root / spec["raw"]).resolve()
    if root.parent.name == "derivatives":
        study = root.parents[1]
        for candidate in (study, study / "rawdata", study / "raw"):
            if (candidate / "dataset_description.json").is_file():
                return candidate
    return None


FILTERS = (("task", "task"), ("space", "space"), ("session", "ses"), ("run", "run"))


def find_units(spec, base_dir, where):
    """The runs a ``bids`` input matches, as :class:`BidsRun`; a ConfigError names the key
    whose filter matches nothing."""
    from roidask.bids.index import _index, runs_of

    root = dataset_root(spec, base_dir)
    if not (root / "dataset_description.json").is_file():
        raise ConfigError(f"{where}.root", "a BIDS dataset folder (with dataset_description.json)",
                          str(root))
    raw = events_root(spec, root)
    if raw is not None and not raw.is_dir():
        raise ConfigError(f"{where}.raw", "an existing raw BIDS dataset folder", str(raw))
    table = _index(root)
    if "suffix" not in table:
        raise ConfigError(f"{where}.root", "a BIDS dataset with preprocessed BOLD runs", str(root))
    bold = table[(table["suffix"] == "bold") & (table["ext"] == ".nii.gz")]
    checks = [("desc", "desc", spec["desc"])] + [(key, column, spec[key])
                                                  for key, column in FILTERS]
    if spec["subjects"] != "all":
        checks.append(("subjects", "sub", [s.removeprefix("sub-") for s in spec["subjects"]]))
    for key, column, value in checks:  # name the first filter that leaves no run
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        wanted = [str(v) for v in items]
        found = sorted({str(int(v)) if column == "run" else str(v)
                        for v in bold[column].dropna()} if column in bold else set())
        missing = [v for v in items if str(v) not in found]
        if missing:
            raise ConfigError(f"{where}.{key}", f"values found in {root} "
                              f"({', '.join(found) or 'none'})",
                              missing[0] if len(missing) == 1 else missing)
        keep = bold[column].astype(str).isin(wanted) if column != "run" else \
            bold[column].isin([int(v) for v in wanted])
        bold = bold[keep.fillna(False).astype(bool)]
    try:
        records = runs_of(table, table if raw is None else _index(raw), task=spec["task"],
                          space=spec["space"], desc=spec["desc"], session=spec["session"],
                          run=spec["run"], subjects=spec["subjects"])
    except ParameterError as err:
        raise ConfigError(f"{where}.{err.name}", err.expected, err.got) from None
    if not records:
        raise ConfigError(where, f"filters matching a preprocessed BOLD run of {root}", spec)
    units = []
    for record in records:
        files = {k: record[k] for k in ("bold", "mask", "confounds", "confounds_json", "events")}
        sidecar = record["bold"][: -len(".nii.gz")] + ".json"
        files["sidecar"] = sidecar if Path(sidecar).is_file() else None
        units.append(BidsRun(dict(record["entities"]), files))
    return units


def check_confounds(value, where="confounds"):
    """A ``confounds:`` entry, as the keyword arguments of nilearn's function it names."""
    if isinstance(value, str):
        value = {"denoise_strategy": value}
    if not isinstance(value, dict) or not value:
        raise ConfigError(where, f"a preset ({', '.join(PRESETS)}) or a mapping of "
                          "load_confounds(_strategy) arguments", value)
    value = dict(value)
    if "denoise_strategy" in value:
        if value["denoise_strategy"] not in PRESETS:
            raise ConfigError(f"{where}.denoise_strategy", f"one of {', '.join(PRESETS)}",
                              value["denoise_strategy"])
        allowed = sorted(set(PRESETS[value["denoise_strategy"]]) - {"strategy", "ica_aroma"})
        for key in value:
            if key != "denoise_strategy" and key not in allowed:
                raise ConfigError(f"{where}.{key}", "an option of the "
                                  f"{value['denoise_strategy']!r} preset ({', '.join(allowed)})",
                                  key)
    else:
        for key in value:
            if key not in LOAD_CONFOUNDS_KEYS:
                raise ConfigError(f"{where}.{key}", "denoise_strategy or an argument of "
                                  f"load_confounds ({', '.join(LOAD_CONFOUNDS_KEYS)})", key)
        strategy = value.get("strategy", ["motion", "high_pass", "wm_csf"])
        if not isinstance(strategy, list) or not all(s in STRATEGIES for s in strategy):
            raise ConfigError(f"{where}.strategy", f"a list among {', '.join(STRATEGIES)}",
                              strategy)
    for key, allowed in (("motion", MODELS), ("wm_csf", MODELS), ("global_signal", MODELS),
                         ("compcor", tuple(COMPCOR)), ("ica_aroma", ("full", "basic"))):
        if key in value and value[key] not in allowed:
            raise ConfigError(f"{where}.{key}", f"one of {', '.join(allowed)}", value[key])
    for key in ("fd_threshold", "std_dvars_threshold"):
        if key in value and (isinstance(value[key], bool) or
                             not isinstance(value[key], numbers.Real) or value[key] <= 0):
            raise ConfigError(f"{where}.{key}", "a number > 0", value[key])
    for key in ("scrub",):
        if key in value and (isinstance(value[key], bool) or
                             not isinstance(value[key], numbers.Integral) or value[key] < 0):
            raise ConfigError(f"{where}.{key}", "an integer >= 0", value[key])
    if "n_compcor" in value and value["n_compcor"] != "all" and (
            isinstance(value["n_compcor"], bool) or
            not isinstance(value["n_compcor"], numbers.Integral) or value["n_compcor"] < 1):
        raise ConfigError(f"{where}.n_compcor", "'all' or an integer >= 1", value["n_compcor"])
    if "demean" in value and not isinstance(value["demean"], bool):
        raise ConfigError(f"{where}.demean", "true or false", value["demean"])
    return value


def run_confounds(run, spec):
    """The run's confounds and sample_mask by nilearn's rules (``spec``: checked)."""
    kwargs = dict(spec)
    try:
        if "denoise_strategy" in kwargs:
            table, sample_mask = load_confounds_strategy(run.files["bold"], **kwargs)
        else:
            if "strategy" in kwargs:
                kwargs["strategy"] = tuple(kwargs["strategy"])
            table, sample_mask = load_confounds(run.files["bold"], **kwargs)
    except ParameterError as err:
        raise ConfigError(f"confounds.{err.name}", err.expected, err.got) from None
    return Confounds(table, sample_mask)


def repetition_time(run, img):
    """RepetitionTime of the bold's JSON sidecar, else of its header (seconds)."""
    sidecar = run.files.get("sidecar")
    if sidecar:
        try:
            t_r = json.loads(Path(sidecar).read_text()).get("RepetitionTime")
        except (OSError, ValueError) as err:
            raise InputFileError(sidecar, f"is not a readable JSON file ({err})") from None
        if isinstance(t_r, numbers.Real) and t_r > 0:
            return float(t_r)
    t_r = img.space.attrs.get("t_r")
    if t_r:
        return float(t_r)
    raise InputFileError(run.files["bold"], "has no repetition time (no RepetitionTime in its "
                         "JSON sidecar, no time step in its header)",
                         "add RepetitionTime to the sidecar")


def read_events(path):
    try:
        table = pd.read_csv(path, sep="\t", na_values="n/a", keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"is not a tab-separated events file ({err})") from None
    missing = [c for c in ("onset", "duration", "trial_type") if c not in table]
    if missing:
        raise InputFileError(path, f"has no column {missing[0]}",
                             "an events.tsv needs onset, duration and trial_type")
    for column in ("onset", "duration"):
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise InputFileError(path, f"has non-numeric values in {column}")
    return table


def volume_conditions(events, n_volumes, t_r):
    """Each volume's condition: the trial_type of the (last) event holding ``i * t_r``."""
    times = np.arange(n_volumes) * t_r
    conditions = np.full(n_volumes, NO_CONDITION, dtype=object)
    for onset, duration, trial in events[["onset", "duration", "trial_type"]].itertuples(
            index=False):
        if pd.isna(onset) or pd.isna(trial):
            continue
        duration = 0.0 if pd.isna(duration) else duration
        inside = (times >= onset) & (times < onset + max(duration, 0.0))
        conditions[inside] = str(trial)
    return conditions.astype(str)


def load_run_image(run, chunks):
    """The run's BOLD, lazily, with a ``condition`` coordinate from its events."""
    from roidask.io.load import load_img
    from roidask.io.volume_labels import attach_volume_labels

    img = load_img(run.files["bold"], chunks=chunks)
    if run.files.get("events"):
        events = read_events(run.files["events"])
        conditions = volume_conditions(events, img.sizes["t"], repetition_time(run, img))
        img = attach_volume_labels(img, pd.DataFrame({"condition": conditions}))
    return img


def read_lut(path):
    """A look-up table (BIDS ``dseg.tsv``: ``index`` and ``name`` columns) as a DataFrame."""
    try:
        table = pd.read_csv(path, sep="\t", keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"is not a tab-separated look-up table ({err})") from None
    if "index" not in table or "name" not in table:
        raise InputFileError(path, "has no 'index' and 'name' columns",
                             "a BIDS dseg.tsv names each label: index<TAB>name")
    if not pd.api.types.is_integer_dtype(table["index"]) or table["index"].duplicated().any():
        raise InputFileError(path, "has an 'index' column that is not distinct integers")
    return table[["index", "name"]].astype({"name": str})


def parse_tail(path, where):
    """An output path of a BIDS config: ``key-value_..._suffix.ext`` -> (entities, suffix, ext)."""
    name = Path(path).name
    if name != path or "." not in name:
        raise ConfigError(where, "a BIDS file name tail like seg-atlas_desc-clean_timeseries.tsv "
                          "(entities, suffix and extension; no folder)", path)
    stem, dot, ext = name.partition(".")
    parts = stem.split("_")
    *pairs, suffix = parts
    entities = {}
    for pair in pairs:
        key, dash, value = pair.partition("-")
        if not dash or key not in ENTITY_ORDER or not LABEL.match(value or "-"):
            raise ConfigError(where, "entities as key-label pairs (e.g. desc-clean) before the "
                              "suffix", path)
        entities[key] = value
    if not LABEL.match(suffix) or "-" in suffix:
        raise ConfigError(where, "a suffix (e.g. timeseries, mask) before the extension", path)
    return entities, suffix, dot + ext


def bids_file_name(entities, tail):
    """The output file of a run: its entities (desc replaced by the tail's) + the tail."""
    extra, suffix, ext = tail
    merged = {k: v for k, v in entities.items() if k != "desc"}
    merged.update(extra)
    run = BidsRun(merged, {})
    return (run.folder / f"{run.label}_{suffix}{ext}").as_posix() if "sub" in merged else \
        f"{run.label}_{suffix}{ext}"


def sidecar_name(path):
    path = str(path)
    for ext in (".nii.gz", ".tsv.gz"):
        if path.endswith(ext):
            return path[: -len(ext)] + ".json"
    return path.rsplit(".", 1)[0] + ".json"


def write_sidecar(path, sources, parameters, version, pipeline):
    """An output's JSON sidecar; ``pipeline``: a hash of all the pipeline's parameters."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps({"Sources": sources, "Parameters": parameters,
                                   "GeneratedBy": [{"Name": "roidask", "Version": version}],
                                   "RoidaskPipeline": pipeline},
                                  indent=2, sort_keys=True, default=str))


def dataset_links(spec, base_dir):
    """The datasets a BIDS config reads: ``source`` (its root) and ``raw`` (the events')."""
    root = dataset_root(spec, base_dir)
    raw = events_root(spec, root)
    return {"source": root, **({"raw": raw} if raw is not None else {})}


def source_uri(path, links):
    """A file as a BIDS URI (``bids:source:sub-01/func/...``) when it is in a linked
    dataset, else as a ``file://`` URI (an atlas beside the config)."""
    path = Path(path).resolve()
    for name, root in links.items():
        if path.is_relative_to(root):
            return f"bids:{name}:{path.relative_to(root).as_posix()}"
    return path.as_uri()


def write_dataset_description(folder, name, links, version):
    """The derivatives dataset's ``dataset_description.json`` and a ``.bidsignore``."""
    folder = Path(folder)
    uris = {key: Path(root).as_uri() for key, root in links.items()}
    description = {"Name": f"roidask {name}", "BIDSVersion": "1.9.0",
                   "DatasetType": "derivative",
                   "GeneratedBy": [{"Name": "roidask", "Version": version,
                                    "CodeURL": "https://github.com/roidask/roidask"}],
                   "SourceDatasets": [{"URL": uri} for uri in uris.values()],
                   "DatasetLinks": uris}
    path = folder / "dataset_description.json"
    if not path.exists() or json.loads(path.read_text()) != description:
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(description, indent=2))
    ignore = folder / ".bidsignore"
    if not ignore.exists():
        with atomic_output(ignore) as tmp:
            tmp.write_text("*_provenance.json\ngroup/\n")


def write_group_table(path, runs):
    """One parquet table of every run's rows, with entity columns; ``runs``: (run, tsv, t)."""
    frames = []
    for run, tsv, volumes in runs:
        frame = pd.read_csv(tsv, sep="\t", na_values="n/a", keep_default_na=False)
        meta = {key: value for key, value in _ordered(run.entities)}
        head = pd.DataFrame({**{k: [v] * len(frame) for k, v in meta.items()},
                             "t": volumes if volumes is not None and len(volumes) == len(frame)
                             else np.arange(len(frame))})
        frames.append(pd.concat([head, frame], axis=1))
    table = pd.concat(frames, ignore_index=True)
    for key in ("sub", "ses", "task", "space", "acq", "run"):
        if key in table:
            table[key] = table[key].astype("string")
    with atomic_output(path) as tmp:
        table.to_parquet(tmp, index=False)
    return table


def describe(units):
    """Lines listing matched runs: entities and the files found (for ``roidask info``)."""
    lines = [f"{len(units)} run(s)"]
    for unit in units:
        ents = unit.entities  # sub, ses, task, run, space... as far as the run has them
        found = ", ".join(f"{k}: {'yes' if unit.files.get(k) else 'no'}"
                          for k in ("mask", "confounds", "events", "sidecar"))
        lines.append(" ".join(f"{k}-{v}" for k, v in _ordered(ents)) + f"  {found}")
        lines.append(f"  bold: {unit.files['bold']}")
    return lines
