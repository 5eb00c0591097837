"""Run a validated pipeline: build every subject's lazy graph, compute once, write.

Two phases, each one computation over all subjects at once:

1. *Building.* Each step's function is called on the lazy results of the
   steps before. A step whose graph depends on values (a labels masker
   must know the label list of an atlas computed by earlier steps) fits on
   3D results that are persisted on the cluster as soon as they are built,
   so what it computes is shared with the outputs.
2. *Materialising.* Every output of every subject -- image files stored
   chunk by chunk by the workers, tables, figures, and the pictures of
   reports -- is handed to one :class:`roidask.io.materialise.Materialisation`
   and made in one ``client.compute`` call, under one progress bar (on
   stderr, when it is a terminal); then the small files are written from
   its results.

A subject whose files are bad, or whose computation fails, is reported
while the other subjects' outputs are still written.

A subject's outputs are written into a staging folder inside its output
folder and moved into place together once all are complete; the old
``provenance.json`` is removed before the first one replaces an earlier
output and the new one, with a fingerprint of every output, is written
last. A rerun skips subjects whose outputs are up to date and unchanged,
and redoes interrupted ones (see :mod:`roidask.pipeline.provenance`).
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import xarray as xr

from roidask.errors import InputFileError, RoidaskError
from roidask.grid import TIME_DIM
from roidask.io.atomic import fault_point, remove_stale_staging, replace_path, staging_folder
from roidask.io.load import load_img
from roidask.io.materialise import Materialisation
from roidask.pipeline import bids_study, provenance
from roidask.pipeline.config import subject_label
from roidask.pipeline.outputs import plan_output
from roidask.pipeline.registry import OPS
from roidask.pipeline.spec import REFERENCE_PREFIX, is_reference


@dataclasses.dataclass
class SubjectPlan:
    """One subject's lazy results, output paths and provenance record."""

    label: str
    folder: Path
    key: str
    record: dict
    values: dict = dataclasses.field(default_factory=dict)
    writers: list = dataclasses.field(default_factory=list)
    stage: Path = None
    error: str = None
    subject: object = None
    paths: dict = None
    provenance_name: str = provenance.PROVENANCE
    earlier: bool = False  # outputs or a record of an earlier run are there


@dataclasses.dataclass
class RunSummary:
    """What a run did: subjects done, skipped as up to date, and failed."""

    output_dir: Path
    done: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    failed: dict = dataclasses.field(default_factory=dict)
    changed: set = dataclasses.field(default_factory=set)  # planned over an earlier record
    planned: list = dataclasses.field(default_factory=list)  # a dry run's would-be work

    def counts(self):
        """``3 new, 1 changed, 96 up to date`` (and failures): what the run did."""
        done = self.planned or self.done
        changed = sum(label in self.changed for label in done)
        text = f"{len(done) - changed} new, {changed} changed, {len(self.skipped)} up to date"
        return text + (f", {len(self.failed)} failed" if self.failed else "")

    @property
    def exit_code(self):
        return 1 if self.failed else 0


def resolve(values, value):
    """Replace ``$name`` / ``$name.field`` references by built values."""
    if isinstance(value, list):
        return [resolve(values, v) for v in value]
    if not is_reference(value):
        return value
    name, _, field = value[len(REFERENCE_PREFIX):].partition(".")
    result = values[name]
    if field:
        result = result[field] if isinstance(result, xr.Dataset) else getattr(result, field)
    return result


def input_paths(config, subject):
    """Absolute input paths of one subject: name -> {path, labels}.

    For a BIDS run, its input holds every file of the run (``path``: the
    BOLD, ``mask``, ``confounds``, ``confounds_json``, ``events``,
    ``sidecar``), so all are fingerprinted; the other inputs are relative to
    the config's folder.
    """
    if isinstance(subject, bids_study.BidsRun):
        paths = input_paths(config, None)
        files = {("path" if k == "bold" else k): Path(v) for k, v in subject.files.items() if v}
        paths[config.bids["name"]] = files
        return paths
    folder = Path(subject or config.base_dir).resolve()
    return {name: {key: folder / spec[key] for key in ("path", "labels") if key in spec}
            for name, spec in config.inputs.items() if "bids" not in spec}


def _refers_to(config, name):
    """Whether a step's parameter refers to ``$name`` (or a field of it)."""
    def refs(value):
        return [v for item in value for v in refs(item)] if isinstance(value, list) else [value]

    return any(is_reference(v) and v[len(REFERENCE_PREFIX):].split(".", 1)[0] == name
               for step in config.steps for item in step.params.values() for v in refs(item))


def _is_small(value):
    """A 3D image or a Dataset of 3D images: cheap to keep on the cluster."""
    return isinstance(value, (xr.DataArray, xr.Dataset)) and TIME_DIM not in value.dims


def build_subject(config, subject, client=None):
    """Open a subject's inputs and build every step, lazily.

    With a ``client``, each 3D result (statistics, masks, labels) is
    persisted on the cluster as soon as it is built, so a step that must
    know values to build its graph (a labels masker needs the label list)
    and the final outputs share one computation of it.
    """
    values = {}
    for name, paths in input_paths(config, subject).items():
        chunks = config.inputs[name].get("chunks")
        if isinstance(subject, bids_study.BidsRun) and name == config.bids["name"]:
            values[name] = bids_study.load_run_image(subject, chunks)
            if subject.files.get("mask"):
                values[f"{name}_mask"] = load_img(subject.files["mask"])
            elif _refers_to(config, f"{name}_mask"):
                raise InputFileError(subject.files["bold"], "has no brain mask "
                                     "(..._desc-brain_mask.nii.gz) beside it",
                                     f"keep fMRIPrep's func/ folder as written, or drop "
                                     f"${name}_mask from the steps")
            if config.confounds is not None:
                values["confounds"] = bids_study.run_confounds(subject, config.confounds)
        elif str(paths["path"]).endswith(".tsv"):
            values[name] = bids_study.read_lut(paths["path"])
        else:
            values[name] = load_img(paths["path"], chunks=chunks, labels=paths.get("labels"))
    for index, step in enumerate(config.steps):
        kwargs = {key: resolve(values, item) for key, item in step.params.items()}
        try:
            value = OPS[step.op].function(**kwargs)
        except RoidaskError as err:
            raise RoidaskError(f"steps[{index}] ({step.op}): {err}") from err
        if client is not None and _is_small(value):
            value = client.persist(value, optimize_graph=False)
        values[step.name] = value
    return values


def output_names(config, subject):
    """Each output's path relative to the subject's folder (a BIDS run: its file name)."""
    if isinstance(subject, bids_study.BidsRun):
        return {o.name: Path(bids_study.bids_file_name(
            subject.entities, bids_study.parse_tail(o.path, o.name))).name
            for o in config.outputs}
    return {o.name: o.path for o in config.outputs}


def bids_provenance_name(config, run):
    """A BIDS run's record: one per run and config, so pipelines can share a folder."""
    return f"{run.label}_{config.name}_provenance.json"


def pipeline_hash(config):
    """A hash of what a BIDS run's outputs depend on besides its files (its sidecars')."""
    payload = json.dumps(config.parameters, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _check_not_foreign(folder, name, config, output_paths):
    """Refuse to replace a BIDS run's outputs made by another version or other parameters:
    the run's record of this config, and the sidecar of every output already there."""
    version = provenance.versions().get("roidask")
    record = provenance.read_provenance(folder, name)
    found = [] if record is None else [(Path(folder) / name, record.get("versions", {}).get(
        "roidask"), record.get("parameters") == json.loads(
            json.dumps(config.parameters, default=str)))]
    for path in output_paths:
        sidecar = Path(bids_study.sidecar_name(path))
        if path.exists() and sidecar.is_file() and sidecar != path:
            try:
                meta = json.loads(sidecar.read_text())
            except ValueError:
                meta = {}
            theirs = (meta.get("GeneratedBy") or [{}])[0].get("Version")
            found.append((path, theirs, meta.get("RoidaskPipeline") == pipeline_hash(config)))
    for path, theirs, same in found:
        if theirs != version or not same:
            what = f"roidask {theirs}" if theirs != version else "other parameters"
            raise InputFileError(path, f"was made by {what}; outputs are not replaced "
                                 "silently", "use --force to replace them, or another "
                                 "--output folder")


def plan_subject(config, subject, output_dir, force):
    """The plan of one subject, or None when its outputs are up to date."""
    label = subject_label(subject, config.name)
    bids = isinstance(subject, bids_study.BidsRun)
    folder = Path(output_dir) / (subject.folder if bids else label if subject else "")
    name = bids_provenance_name(config, subject) if bids else provenance.PROVENANCE
    paths = input_paths(config, subject)
    fingerprints = {name: {k: provenance.fingerprint(p) for k, p in item.items()}
                    for name, item in paths.items()}
    resolved = {"config": config.parameters if bids else config.raw,
                "subject": str(subject) if subject else None,
                "inputs": {n: {k: str(p) for k, p in item.items()} for n, item in paths.items()}}
    key = provenance.run_key(resolved, fingerprints)
    outputs = output_names(config, subject)
    output_paths = [folder / path for path in outputs.values()]
    if bids:  # and their sidecars
        output_paths += [folder / bids_study.sidecar_name(path) for path in outputs.values()]
    remove_stale_staging(folder)  # left by a killed run, even when nothing is to be redone
    if not force and provenance.up_to_date(folder, key, output_paths, name):
        return label, None
    if bids and not force:
        _check_not_foreign(folder, name, config, output_paths)
    record = {"key": key, "resolved": resolved, "inputs": fingerprints,
              "versions": provenance.versions()}
    earlier = provenance.read_provenance(folder, name) is not None or \
        any(path.exists() for path in output_paths)
    if bids:
        record["parameters"] = json.loads(json.dumps(config.parameters, default=str))
    return label, SubjectPlan(label, folder, key, record, subject=subject, paths=outputs,
                              provenance_name=name, earlier=earlier)


def _fill_plan(config, plan, client):
    start = time.perf_counter()
    values = build_subject(config, plan.subject, client)
    for output in config.outputs:
        plan.values[output.name] = resolve(values, output.source)
    plan.record["timings"] = {"build_s": round(time.perf_counter() - start, 3)}


def run_pipeline(config, output_dir, client, *, force=False, show_progress=True,
                 dry_run=False):
    """Run ``config`` for all its subjects; return a :class:`RunSummary`.

    ``client`` is a function returning a context manager that yields a
    ``distributed.Client`` (e.g. ``roidask._dask.cluster.get_client``); it is
    called only when some subject is not up to date, so a rerun with nothing
    to do starts no cluster. ``dry_run`` only says what would be done
    (``RunSummary.planned``): nothing is built, computed or written.
    """
    output_dir = Path(output_dir)
    summary = RunSummary(output_dir)
    plans = []
    for subject in config.subjects:
        try:
            label, plan = plan_subject(config, subject, output_dir, force)
        except (OSError, InputFileError) as err:
            summary.failed[subject_label(subject, config.name)] = str(err)
            continue
        if plan is None:
            summary.skipped.append(label)
        else:
            plans.append(plan)
            if plan.earlier:
                summary.changed.add(label)
    if dry_run:
        summary.planned = [plan.label for plan in plans]
        return summary
    if plans:
        with client() as started:
            _build_compute_write(plans, config, started, summary, show_progress)
    if config.bids is not None:
        _finish_bids(config, output_dir, summary, bool(plans))
    return summary


def _finish_bids(config, output_dir, summary, changed):
    """The derivatives' dataset_description.json, and the group tables of every done run."""
    version = provenance.versions().get("roidask")
    links = bids_study.dataset_links(config.bids, config.bids["base_dir"])
    try:
        bids_study.write_dataset_description(output_dir, config.name, links, version)
    except OSError as err:
        summary.failed["dataset_description.json"] = str(err)
    ok = set(summary.done) | set(summary.skipped)
    units = [u for u in config.subjects if u.label in ok]
    for output in config.outputs:
        if output.kind != "table" or not output.path.endswith(".tsv"):
            continue
        group = output_dir / bids_study.GROUP_FOLDER / (output.path[: -len(".tsv")]
                                                        + ".parquet")
        if not units or (not changed and group.exists()):
            continue
        runs = []
        for unit in units:
            folder = output_dir / unit.folder
            record = provenance.read_provenance(folder, bids_provenance_name(config, unit)) or {}
            volumes = record.get("volumes", {}).get(output.name)
            runs.append((unit, folder / output_names(config, unit)[output.name], volumes))
        try:
            bids_study.write_group_table(group, runs)
        except (OSError, ValueError) as err:
            summary.failed[str(group)] = _describe(err)


def _build_compute_write(plans, config, client, summary, show_progress):
    built = []
    for plan in plans:
        try:
            _fill_plan(config, plan, client)
        except Exception as err:  # bad files or failed tasks: this subject only
            summary.failed[plan.label] = _describe(err)
            continue
        built.append(plan)
    return _compute_and_write(built, config, client, summary, show_progress)


def _describe(err):
    return str(err) if isinstance(err, (RoidaskError, OSError)) else \
        f"{type(err).__name__}: {err}"


def _compute_and_write(plans, config, client, summary, show_progress):
    with contextlib.ExitStack() as stages:
        run = Materialisation()
        for plan in plans:
            try:
                plan.stage = stages.enter_context(staging_folder(plan.folder))
                for output in config.outputs:
                    path = plan.stage / plan.paths[output.name]
                    writer = plan_output(run, output, plan.values[output.name], path, plan.label,
                                         bids=config.bids is not None)
                    plan.writers.append(writer)
            except (RoidaskError, OSError) as err:
                plan.error = str(err)
        start = time.perf_counter()
        outcome = run.run(client, show_progress=show_progress and sys.stderr.isatty())
        compute_s = round(time.perf_counter() - start, 3)
        for plan in plans:
            failure = outcome.failed(plan.label)
            if plan.error is None and failure is not None:
                plan.error = _describe(failure)
            if plan.error is None:
                try:
                    _write_subject(plan, config, outcome, compute_s)
                except (RoidaskError, OSError) as err:
                    plan.error = str(err)
            if plan.error is not None:
                summary.failed[plan.label] = plan.error
            else:
                summary.done.append(plan.label)
    return summary


def _target(folder, path):
    """``folder / path``, refused when a link on the way leads out of ``folder``."""
    target = folder / path
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(target.parent)
    if os.path.commonpath([real_folder, real]) != real_folder:
        raise InputFileError(target, f"resolves outside the output folder {folder} (through a "
                             "link)", "remove the link or choose another output folder")
    return target


def _bids_sidecars(plan, config):
    """A JSON sidecar beside each output of a BIDS run (sources, parameters, version);
    returns their paths relative to the run's folder. Also records the kept volumes."""
    links = bids_study.dataset_links(config.bids, config.bids["base_dir"])
    sources = [bids_study.source_uri(p, links)
               for item in input_paths(config, plan.subject).values() for p in item.values()]
    version = plan.record["versions"].get("roidask")
    written = []
    for output in config.outputs:
        relative = bids_study.sidecar_name(plan.paths[output.name])
        step = next((s for s in config.steps
                     if s.name == output.source[1:].split(".", 1)[0]), None)
        parameters = {"output": output.source, "confounds": config.confounds,
                      "step": None if step is None else {"op": step.op, **step.params}}
        bids_study.write_sidecar(plan.stage / relative, sources, parameters, version,
                                 pipeline_hash(config))
        written.append(relative)
        value = plan.values[output.name]
        if output.kind == "table" and isinstance(value, xr.DataArray) and TIME_DIM in value.dims:
            plan.record.setdefault("volumes", {})[output.name] = \
                value[TIME_DIM].values.tolist()
    return written


def _write_subject(plan, config, outcome, compute_s):
    """Write the small files, then replace the old set: provenance out first, in last."""
    start = time.perf_counter()
    folder, stage = plan.folder, plan.stage
    for writer in plan.writers:
        if writer is not None:
            writer(outcome)
    files = list(plan.paths.values())
    if config.bids is not None:
        files += _bids_sidecars(plan, config)
    targets = {path: _target(folder, path) for path in files}
    fault_point("outputs-staged")
    provenance.invalidate(folder, plan.provenance_name)
    for path in files:
        replace_path(stage / path, targets[path], trash=stage / ".replaced")
        fault_point("output-replaced")
    plan.record["timings"].update(compute_s=compute_s,
                                  write_s=round(time.perf_counter() - start, 3))
    plan.record["outputs"] = {name: str(targets[path]) for name, path in plan.paths.items()}
    plan.record["output_files"] = provenance.output_fingerprints(folder, targets.values())
    fault_point("before-provenance")
    provenance.write_provenance(folder, plan.record, plan.provenance_name)
