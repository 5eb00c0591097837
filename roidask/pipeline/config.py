"""Pipeline configs: YAML read and validated before anything is built.

A config has these top-level keys::

    name: roi_extraction           # optional
    inputs:                        # name -> path, or {path, labels, chunks}
      func: {path: func.nii.gz, labels: labels.txt}
      vt_mask: vt_mask.nii.gz
    subjects:                      # optional: run once per subject folder
      glob: data/sub-*             # or  list: [data/sub-01, data/sub-02]
    steps:                         # run in order; $name refers to an input
      - op: smooth_img             # or an earlier step (name defaults to op)
        img: $func
        fwhm: 6
    outputs:                       # name -> {from: $step[.field], path: ...}
      labels: {from: $label, path: roi_labels.nii.gz}
    cluster: {n_workers: 2, memory_limit: 2GB}   # or, on an HPC system:
    # cluster: {jobqueue: {kind: slurm, jobs: 4, cores: 8, memory: 32GB, walltime: "01:00:00"}}

A BIDS study instead of ``subjects`` (see :mod:`roidask.pipeline.bids_study`)::

    inputs:
      func: {bids: {root: ., task: rest, space: MNI152NLin2009cAsym, subjects: all}}
      atlas: atlas-synth_dseg.nii.gz
      atlas_labels: atlas-synth_dseg.tsv   # a .tsv input is a look-up table (index, name)
    confounds: {denoise_strategy: scrubbing}   # or load_confounds arguments
    steps:
      - {op: labels_masker, img: $func, labels_img: $atlas, lut: $atlas_labels,
         mask_img: $func_mask, confounds: $confounds}
    outputs:                               # BIDS tails added to each run's entities
      ts: {from: $labels_masker.signals, path: seg-synth_desc-clean_timeseries.tsv}

Each matched run is one unit of the batch: ``$func`` is its BOLD (with a
``condition`` coordinate from its ``events.tsv``), ``$func_mask`` its brain
mask, ``$confounds`` its confounds and sample mask. With ``--inputs-dir``
(``inputs_dir=``), ``bids.root`` is relative to it and the other inputs stay
relative to the config's folder.

Input paths are relative to the config file, or to each subject folder when
``subjects`` is given. Output paths are relative to the output folder (one
sub-folder per subject) and must stay inside it: no absolute path, no ``..``
that leaves it, no two outputs on the same file, and ``name`` (the default
output folder's name) is a plain folder name. Every mistake raises :class:`ConfigError` naming
the step and the key, e.g. ``steps[2].fwhm: expected a number >= 0, got 'six'``.

Examples
--------
>>> config = validate_config({
...     "inputs": {"img": "x.nii.gz"},
...     "steps": [{"op": "smooth_img", "img": "$img", "fwhm": 6}],
...     "outputs": {"smoothed": {"from": "$smooth_img", "path": "s.zarr"}},
... }, check_files=False)
>>> [step.name for step in config.steps]
['smooth_img']
"""

import dataclasses
import glob
import os
import posixpath
from pathlib import Path, PurePosixPath

import yaml

from roidask._dask.chunks import check_chunk_spec
from roidask._dask.cluster import JOBQUEUE_KINDS, memory_limit_bytes
from roidask.errors import ParameterError
from roidask.pipeline import ops  # noqa: F401  (registers the operations)
from roidask.pipeline.bids_study import (
    BidsRun,
    check_bids_spec,
    check_confounds,
    find_units,
    parse_tail,
)
from roidask.pipeline.registry import OPS
from roidask.pipeline.spec import (
    REFERENCE_PREFIX,
    Choice,
    ConfigError,
    Flag,
    ListOf,
    Number,
    Optional,
    Ref,
    Spec,
    Text,
    is_reference,
)

TOP_LEVEL = ("name", "description", "inputs", "subjects", "confounds", "steps", "outputs",
             "cluster")
LUT_SUFFIXES = (".tsv",)
OUTPUT_SUFFIXES = {
    ".nii": "image", ".nii.gz": "image", ".zarr": "image",
    ".csv": "table", ".tsv": "table", ".parquet": "table",
    ".png": "figure", ".html": "report",
}
class MemoryLimit(Spec):
    """A worker memory limit as ``LocalCluster`` reads it (``2GB``, a fraction, ``auto``)."""

    def check(self, value, where):
        try:
            memory_limit_bytes(value, where=where)
        except ParameterError as err:
            raise ConfigError(where, err.expected, value) from None
        return value


CLUSTER_KEYS = {
    "n_workers": Number(minimum=1, integer=True),
    "threads_per_worker": Number(minimum=1, integer=True),
    "memory_limit": MemoryLimit(),
    "processes": Flag(),
    "jobqueue": Spec(),
    "scheduler": Text(),
}


@dataclasses.dataclass
class Step:
    name: str
    op: str
    params: dict


@dataclasses.dataclass
class Output:
    name: str
    source: str
    path: str
    kind: str
    options: dict


@dataclasses.dataclass
class PipelineConfig:
    """A validated config; paths resolved against ``base_dir``."""

    name: str
    inputs: dict
    subjects: list
    steps: list
    outputs: list
    cluster: dict
    base_dir: Path
    raw: dict
    bids: dict = None
    confounds: dict = None

    @property
    def parameters(self):
        """What a BIDS run's outputs depend on besides its files: steps, outputs, confounds
        and the other inputs (so adding subjects changes no run's key)."""
        raw = self.raw
        return {"steps": raw.get("steps"), "outputs": raw.get("outputs"),
                "confounds": self.confounds,
                "inputs": {n: v for n, v in raw.get("inputs", {}).items()
                           if not (isinstance(v, dict) and "bids" in v)}}


def output_kind(path):
    """The output kind an output path's suffix asks for, or None."""
    for suffix, kind in OUTPUT_SUFFIXES.items():
        if str(path).endswith(suffix):
            return kind
    return None


def _folder_name(value, where, expected):
    """``value`` when it is one plain folder name (no separator, not ``.`` or ``..``)."""
    if (not isinstance(value, str) or value in ("", ".", "..") or "/" in value
            or "\\" in value or "\0" in value):
        raise ConfigError(where, expected, value)
    return value


def subject_label(subject, config_name):
    """The name of a subject's output sub-folder (the config's name without subjects);
    a BIDS run's entities (``sub-01_task-rest_space-X``)."""
    if isinstance(subject, BidsRun):
        return subject.label
    return Path(subject).name if subject else config_name


def _mapping(value, where):
    if not isinstance(value, dict):
        raise ConfigError(where, "a mapping of keys to values", value)
    return value


def _reference_name(value):
    return value[len(REFERENCE_PREFIX):].split(".", 1)[0]


def _input(name, value, where):
    if isinstance(value, str):
        value = {"path": value}
    value = _mapping(value, where)
    if value.get("chunks") is not None:
        try:
            check_chunk_spec(value["chunks"], f"{where}.chunks")
        except ParameterError as err:
            raise ConfigError(err.name, err.expected, value["chunks"]) from None
    if "bids" in value:
        unknown = set(value) - {"bids", "chunks"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}", "bids or chunks (a BIDS input "
                              "finds its files by BIDS rules)", sorted(unknown)[0])
        return {**value, "bids": check_bids_spec(value["bids"], f"{where}.bids")}
    unknown = set(value) - {"path", "labels", "chunks"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}", "one of path, labels, chunks, bids",
                          sorted(unknown)[0])
    if not isinstance(value.get("path"), str):
        raise ConfigError(f"{where}.path", "a file path", value.get("path"))
    return dict(value)


def _subjects(value, base_dir):
    if value is None:
        return [None]
    value = _mapping(value, "subjects")
    if "glob" in value:
        pattern = Text().check(value["glob"], "subjects.glob")
        found = sorted(glob.glob(str(base_dir / pattern)))
        folders = [Path(f) for f in found if Path(f).is_dir()]
        if not folders:
            raise ConfigError("subjects.glob", "a pattern matching subject folders", pattern)
        return _distinct_subjects(folders, [f"subjects.glob ({f})" for f in folders])
    if "list" in value:
        items = value["list"]
        if not isinstance(items, list) or not items:
            raise ConfigError("subjects.list", "a non-empty list of folders", items)
        folders = [base_dir / Text().check(item, f"subjects.list[{i}]") for i, item in
                   enumerate(items)]
        return _distinct_subjects(folders, [f"subjects.list[{i}]" for i in range(len(items))])
    raise ConfigError("subjects", "a mapping with 'glob' or 'list'", value)


def _distinct_subjects(folders, wheres):
    """Each subject's outputs go to ``<output>/<folder name>``: names must be plain, distinct."""
    seen = {}
    for folder, where in zip(folders, wheres):
        name = _folder_name(folder.name, where, "a subject folder with a plain name (its "
                            "outputs go to <output folder>/<its name>); name the folder itself, "
                            "not '.' or '..'")
        if name in seen:
            raise ConfigError(where, f"a subject folder whose name differs from {seen[name]}'s "
                              "(both would write into the same output sub-folder)", str(folder))
        seen[name] = where
    return folders


def _step(index, value, known):
    where = f"steps[{index}]"
    value = dict(_mapping(value, where))
    op_name = value.pop("op", None)
    if op_name not in OPS:
        raise ConfigError(f"{where}.op", f"one of {', '.join(sorted(OPS))}", op_name)
    op = OPS[op_name]
    name = value.pop("name", op_name)
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"{where}.name", "an identifier (letters, digits, _)", name)
    if name in known:
        raise ConfigError(f"{where}.name", "a name not used by an input or earlier step", name)
    for key in value:
        if key not in op.params:
            raise ConfigError(f"{where}.{key}", f"a parameter of {op_name} "
                              f"({', '.join(op.params)})", key)
    for key in op.required:
        if key not in value:
            raise ConfigError(f"{where}.{key}", f"a value (required by {op_name})", None)
    params = {}
    for key, item in value.items():
        params[key] = _check_param(op.params[key], item, f"{where}.{key}", known)
    try:
        ops.check_step(op_name, params)
    except ConfigError:
        raise
    except ParameterError as err:
        raise ConfigError(f"{where}.{err.name}", err.expected, err.got) from None
    return Step(name, op_name, params)


def _ref_kinds(spec):
    """Result kinds a reference parameter accepts (None when it takes no reference)."""
    if isinstance(spec, Optional):
        spec = spec.spec
    return spec.kinds if isinstance(spec, Ref) else None


def _check_param(spec, value, where, known):
    if isinstance(spec, ListOf) and isinstance(spec.item, Ref) and isinstance(value, list):
        return [_check_param(spec.item, v, f"{where}[{i}]", known) for i, v in enumerate(value)]
    value = spec.check(value, where)
    if is_reference(value):
        target = _reference_name(value)
        if target not in known:
            raise ConfigError(where, "a reference to an input or an earlier step "
                              f"({', '.join(known)})", value)
        kinds = _ref_kinds(spec)
        if kinds and "." not in value and known[target] not in kinds:
            kind = known[target]
            article = "an" if kind[0] in "aeiou" else "a"
            raise ConfigError(where, spec.expected, f"{value} ({article} {kind})")
    return value


def _output(name, value, known, bids=False):
    where = f"outputs.{name}"
    value = dict(_mapping(value, where))
    source = value.pop("from", None)
    if not is_reference(source) or _reference_name(source) not in known:
        raise ConfigError(f"{where}.from", "a reference to a step ($name or $name.field)",
                          source)
    path = value.pop("path", None)
    if not isinstance(path, str) or output_kind(path) is None:
        raise ConfigError(f"{where}.path", "a path ending in "
                          f"{', '.join(OUTPUT_SUFFIXES)}", path)
    if bids:
        parse_tail(path, f"{where}.path")
    return Output(name, source, _inside_output_folder(path, f"{where}.path"), output_kind(path),
                  value)


def _inside_output_folder(path, where):
    """``path`` normalised, when it names a file inside the output folder."""
    pure = PurePosixPath(path)
    normal = posixpath.normpath(path)
    if pure.is_absolute() or Path(path).is_absolute() or "\0" in path or \
            normal == ".." or normal.startswith("../"):
        raise ConfigError(where, "a path relative to the output folder that stays inside it "
                          "(no leading '/', no '..' that leaves it), e.g. 'roi_signals.csv'",
                          path)
    return normal


def _check_distinct_outputs(outputs):
    """No two outputs on one file, and no output inside another (a zarr store)."""
    claimed = {}
    for output in outputs:
        where = f"outputs.{output.name}.path"
        if output.path in claimed:
            owner = claimed[output.path]
            raise ConfigError(where, f"a path no other output writes (outputs.{owner}.path is "
                              "the same file); give each output its own file", output.path)
        for other, owner in claimed.items():
            if output.path.startswith(other + "/") or other.startswith(output.path + "/"):
                raise ConfigError(where, f"a path outside outputs.{owner}.path ({other}); one "
                                  "output cannot hold another", output.path)
        claimed[output.path] = output.name


def check_output_root(config, output_root):
    """Raise :class:`ConfigError` unless the outputs can be written under ``output_root``."""
    if config.outputs:
        _check_writable(output_root, f"outputs.{config.outputs[0].name}.path")


def _check_writable(folder, where):
    folder = Path(folder)
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise ConfigError(where, "an output folder that can be written", str(folder))


def _check_jobqueue(value):
    value = _mapping(value, "cluster.jobqueue")
    Choice(*JOBQUEUE_KINDS).check(value.get("kind"), "cluster.jobqueue.kind")
    if "jobs" in value:
        Number(minimum=0, integer=True).check(value["jobs"], "cluster.jobqueue.jobs")


def _bids_input(inputs, raw):
    """The name of the BIDS input, or None; checks what may not go with one."""
    names = [name for name, spec in inputs.items() if "bids" in spec]
    if len(names) > 1:
        raise ConfigError(f"inputs.{names[1]}.bids", "one BIDS input per config (its runs are "
                          f"the batch; inputs.{names[0]} is one)", names[1])
    if names and raw.get("subjects") is not None:
        raise ConfigError("subjects", "no subjects key with a BIDS input (its runs are the "
                          f"batch: filter them in inputs.{names[0]}.bids)", raw["subjects"])
    if not names and raw.get("confounds") is not None:
        raise ConfigError("confounds", "an input with bids: (confounds are found beside each "
                          "fMRIPrep run)", raw["confounds"])
    return names[0] if names else None


def _known_inputs(inputs, bids_name, confounds):
    known = {}
    for name, spec in inputs.items():
        known[name] = "lut" if str(spec.get("path", "")).endswith(LUT_SUFFIXES) else "image"
    if bids_name is not None:
        mask = f"{bids_name}_mask"
        if mask in known:
            raise ConfigError(f"inputs.{mask}", f"a name other than {mask} (the brain mask of "
                              f"inputs.{bids_name}'s runs)", mask)
        known[mask] = "image"
        if confounds is not None:
            if "confounds" in known:
                raise ConfigError("inputs.confounds", "a name other than confounds (the runs' "
                                  "confounds, from the confounds key)", "confounds")
            known["confounds"] = "confounds"
    return known


def validate_config(raw, *, base_dir=".", check_files=True, output_root=None, inputs_dir=None):
    """Validate a config mapping; return a :class:`PipelineConfig`.

    ``check_files`` checks that every input exists (for every subject) and
    finds the runs of a BIDS input; ``output_root`` checks that the output
    folder can be written. ``inputs_dir`` replaces ``base_dir`` for input
    paths; with a BIDS input only for its ``root`` (the other inputs stay
    relative to ``base_dir``, the config's folder).
    """
    raw = _mapping(raw, "config")
    base_dir = Path(base_dir)
    for key in raw:
        if key not in TOP_LEVEL:
            raise ConfigError(key, f"a top-level key among {', '.join(TOP_LEVEL)}", key)
    inputs = {name: _input(name, value, f"inputs.{name}")
              for name, value in _mapping(raw.get("inputs"), "inputs").items()}
    bids_name = _bids_input(inputs, raw)
    confounds = None if raw.get("confounds") is None else check_confounds(raw["confounds"])
    known = _known_inputs(inputs, bids_name, confounds)  # names first, then files
    bids = None
    if bids_name is not None:
        bids = {"name": bids_name, **inputs[bids_name]["bids"],
                "base_dir": Path(inputs_dir or base_dir)}
        subjects = (find_units(bids, bids["base_dir"], f"inputs.{bids_name}.bids")
                    if check_files else [])
    else:
        base_dir = Path(inputs_dir) if inputs_dir is not None else base_dir
        subjects = _subjects(raw.get("subjects"), base_dir)
    if check_files:
        for subject in subjects:
            folder = base_dir if subject is None or bids else subject
            for name, spec in inputs.items():
                for key in ("path", "labels"):
                    if key in spec and not (folder / spec[key]).exists():
                        raise ConfigError(f"inputs.{name}.{key}", "an existing file",
                                          str(folder / spec[key]))
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise ConfigError("steps", "a non-empty list of steps", steps_raw)
    steps = []
    for index, value in enumerate(steps_raw):
        step = _step(index, value, known)
        known[step.name] = OPS[step.op].returns
        steps.append(step)
    outputs = [_output(name, value, known, bids=bids is not None)
               for name, value in _mapping(raw.get("outputs"), "outputs").items()]
    _check_distinct_outputs(outputs)
    cluster = dict(_mapping(raw.get("cluster") or {}, "cluster"))
    for key, value in cluster.items():
        if key not in CLUSTER_KEYS:
            raise ConfigError(f"cluster.{key}", f"one of {', '.join(CLUSTER_KEYS)}", key)
        CLUSTER_KEYS[key].check(value, f"cluster.{key}")
    if "jobqueue" in cluster:
        _check_jobqueue(cluster["jobqueue"])
    name = _folder_name(raw.get("name", "pipeline"), "name",
                        "a plain folder name without '/' or '..' (outputs go to "
                        "roidask-output/<name> by default), e.g. roi_extraction")
    config = PipelineConfig(name, inputs, subjects, steps, outputs, cluster, base_dir, raw,
                            bids, confounds)
    if output_root is not None:
        check_output_root(config, output_root)
    return config


def parse_input_option(text, where="--input"):
    """``NAME=PATH`` (a ``--input`` option) as ``(name, path)``.

    Examples
    --------
    >>> parse_input_option("atlas=my/atlas.nii.gz")
    ('atlas', 'my/atlas.nii.gz')
    >>> parse_input_option("atlas")
    Traceback (most recent call last):
    ...
    roidask.pipeline.spec.ConfigError: --input: expected NAME=PATH (e.g. \
atlas=atlas.nii.gz), got 'atlas'
    """
    name, equals, path = str(text).partition("=")
    if not equals or not name.isidentifier() or not path:
        raise ConfigError(where, "NAME=PATH (e.g. atlas=atlas.nii.gz)", text)
    return name, path


def with_inputs(raw, overrides, cwd="."):
    """``raw`` with inputs set or replaced: ``overrides`` maps a name to a path.

    Paths are relative to ``cwd`` (where the command runs). A BIDS input's
    path replaces its ``bids.root``; another input keeps its ``labels`` and
    ``chunks``, except that a zarr store (its volumes' labels are in its
    ``t`` coordinates) drops ``labels``; a new name adds an input.
    """
    raw = dict(_mapping(raw, "config"))
    inputs = dict(_mapping(raw.get("inputs") or {}, "inputs"))
    for name, path in overrides.items():
        path = str((Path(cwd) / path).absolute())
        spec = inputs.get(name)
        spec = dict(spec) if isinstance(spec, dict) else {}
        if "bids" in spec:
            spec["bids"] = {**_mapping(spec["bids"], f"inputs.{name}.bids"), "root": path}
        else:
            spec["path"] = path
            if path.rstrip("/").endswith(".zarr"):
                spec.pop("labels", None)
        inputs[name] = spec
    raw["inputs"] = inputs
    return raw


def load_config(path, *, check_files=True, output_root=None, inputs_dir=None, inputs=None):
    """Read and validate a YAML config file (``inputs_dir``: see :func:`validate_config`;
    ``inputs``: name -> path, see :func:`with_inputs`)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("config", "an existing YAML file", str(path))
    if path.is_dir():
        raise ConfigError("config", "a YAML file, not a folder", str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError("config", "a UTF-8 text file",
                          f"{path}: byte {err.start} is not UTF-8") from None
    except yaml.YAMLError as err:
        raise ConfigError("config", "valid YAML", f"{path}: {err}".replace("\n", " ")) from None
    if inputs:
        raw = with_inputs(raw, inputs)
    return validate_config(raw, base_dir=path.parent, check_files=check_files,
                           output_root=output_root, inputs_dir=inputs_dir)
