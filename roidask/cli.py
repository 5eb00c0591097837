"""The ``roidask`` command line.

Expected errors (bad files, bad parameters) print one line ``error: ...``
to stderr and exit with status 1 (2 for usage and config mistakes), never a
traceback.
"""

import contextlib
import functools
import signal
import sys
import threading
from pathlib import Path

import click
import numpy as np

from roidask._dask.cluster import get_client
from roidask.errors import RoidaskError
from roidask.pipeline.spec import ConfigError

EXIT_FAILURE = 1
EXIT_USAGE = 2


def fail(message, code=EXIT_FAILURE):
    """Print ``error: message`` to stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (how batch schedulers stop a job), unwound like an interrupt."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While inside, SIGTERM raises :class:`Terminated`, so clean-up runs as for Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def handle_errors(command):
    """Turn roidask's expected errors into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with sigterm_as_interrupt():
                return command(*args, **kwargs)
        except ConfigError as err:
            fail(str(err).replace("\n", " "), EXIT_USAGE)
        except RoidaskError as err:
            fail(str(err).replace("\n", " "))
        except Terminated:
            fail("terminated (SIGTERM); no output was left half-written", 128 + signal.SIGTERM)
        except KeyboardInterrupt:
            fail("interrupted; no output was left half-written", 130)

    return wrapper


def cluster_options(command):
    """Add --scheduler / --n-workers / --threads-per-worker / --memory-limit."""
    options = [
        click.option("--scheduler", envvar="ROIDASK_SCHEDULER", default=None,
                     help="Address of a running dask scheduler (default: an embedded "
                          "LocalCluster). Also read from ROIDASK_SCHEDULER."),
        click.option("--n-workers", type=click.IntRange(min=1), default=None,
                     help="Workers of the embedded cluster (default: 1 with --threads, "
                          "one per core with --processes)."),
        click.option("--threads-per-worker", type=click.IntRange(min=1), default=None,
                     help="Threads per worker of the embedded cluster (default: one per "
                          "core with --threads, 1 with --processes)."),
        click.option("--processes/--threads", default=None,
                     help="Embedded cluster of worker processes, or one worker whose "
                          "threads share this process (default: threads)."),
        click.option("--memory-limit", default=None,
                     help="Memory limit per worker of the embedded cluster, e.g. 2GB "
                          "(default: the machine's memory split between workers)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def client_from(options, defaults=None):
    """A client context manager from the cluster options (then ``defaults``, a config's)."""
    merged = dict(defaults or {})
    merged.update({key: value for key, value in options.items() if value is not None})
    return get_client(
        merged.get("scheduler"), n_workers=merged.get("n_workers"),
        threads_per_worker=merged.get("threads_per_worker"),
        memory_limit=merged.get("memory_limit", "auto"),
        processes=merged.get("processes", False), jobqueue=merged.get("jobqueue"),
    )


@click.group()
@click.version_option(package_name="roidask")
def main():
    """roidask: neuroimaging ROI analysis, lazy and out-of-core on Dask."""


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--chunks", default=None,
              help="Chunk sizes, e.g. 't=100' or 'i=32,j=32,k=32,t=1' "
                   "(default: whole volumes x ~64 MiB of time points).")
@click.option("--labels", type=click.Path(path_type=Path), default=None,
              help="Per-volume labels file to store as t coordinates (NIfTI -> zarr).")
@cluster_options
@handle_errors
def convert(src, dst, chunks, labels, **cluster):
    """Convert NIfTI (SRC .nii/.nii.gz) to a zarr store (DST .zarr), or back.

    NIfTI -> zarr is one streaming pass in this process; zarr -> NIfTI runs
    on the cluster.
    """
    from roidask.io.convert import convert as run_convert
    from roidask.io.nifti_format import is_nifti_path

    if is_nifti_path(src):
        run_convert(src, dst, chunks=chunks, labels=labels)
    else:
        with client_from(cluster):
            run_convert(src, dst, chunks=chunks, labels=labels)
    click.echo(f"wrote {dst}")


@main.command("make-data")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--size", type=click.Choice(["tiny", "small", "haxby", "hcp", "large"]),
              default="haxby", show_default=True, help="Preset shape and volume count.")
@click.option("--shape", default=None, help="Volume shape, e.g. 91,109,91.")
@click.option("--volumes", type=click.IntRange(min=2), default=None, help="Number of volumes.")
@click.option("--subjects", type=click.IntRange(min=1), default=1, show_default=True,
              help="Subjects to make (sub-01, sub-02, ... folders when > 1).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--uncompressed", is_flag=True, help="Write func.nii instead of func.nii.gz.")
@click.option("--bids", is_flag=True,
              help="Write an fMRIPrep-shaped BIDS study instead (OUT_DIR/derivatives/fmriprep "
                   "and OUT_DIR/raw with events): --subjects, --volumes, --shape, --runs, "
                   "--sessions.")
@click.option("--runs", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --bids: runs per subject and session.")
@click.option("--sessions", default=None, help="With --bids: session labels, e.g. 1,2.")
@cluster_options
@handle_errors
def make_data(out_dir, size, shape, volumes, subjects, seed, uncompressed, bids, runs, sessions,
              **cluster):
    """Write synthetic Haxby-shaped data with planted regions to OUT_DIR (or, with
    --bids, an fMRIPrep derivatives tree with confounds, masks and events)."""
    from roidask.datasets import make_haxby_like

    if shape is not None:
        try:
            shape = tuple(int(n) for n in shape.split(","))
        except ValueError:
            fail(f"--shape: expected three integers like 91,109,91, got {shape!r}", EXIT_USAGE)
    if bids:
        from roidask.bids.synthetic import make_fmriprep_like

        if sessions is not None and not all(s.isalnum() for s in sessions.split(",")):
            fail(f"--sessions: expected labels of letters and digits like 1,2, got "
                 f"{sessions!r}", EXIT_USAGE)

        deriv = make_fmriprep_like(
            out_dir, subjects=subjects, runs=runs, seed=seed,
            sessions=None if sessions is None else sessions.split(","),
            **({} if shape is None else {"shape": shape}),
            **({} if volumes is None else {"n_volumes": volumes}))
        click.echo(f"wrote {deriv} ({subjects} subject(s)) and {out_dir / 'raw'} (events)")
        return
    with client_from(cluster):
        for subject in range(subjects):
            folder = out_dir if subjects == 1 else out_dir / f"sub-{subject + 1:02d}"
            data = make_haxby_like(folder, size=size, shape=shape, n_volumes=volumes,
                                   subject=subject, seed=seed, compressed=not uncompressed)
            click.echo(f"wrote {data.func} ({data.shape + (data.n_volumes,)}), {data.labels}, "
                       f"{data.vt_mask}, planted_*.nii.gz")


def bids_info(path, config):
    """List the runs of BIDS dataset ``path`` that ``config`` (or every preproc run) matches."""
    from roidask.pipeline.bids_study import check_bids_spec, describe, find_units
    from roidask.pipeline.config import load_config

    spec, where = check_bids_spec({}, "bids"), str(path)
    if config is not None:
        checked = load_config(config, check_files=False)
        if checked.bids is None:
            fail(f"--config: expected a config with a BIDS input (inputs.NAME.bids), got "
                 f"{config}", EXIT_USAGE)
        spec = {k: v for k, v in checked.bids.items() if k not in ("name", "base_dir")}
        where = f"inputs.{checked.bids['name']}.bids"
    units = find_units({**spec, "root": "."}, path, where)
    click.echo(f"BIDS dataset {path}: " + "\n".join(describe(units)))


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="With a BIDS dataset PATH: list the runs this config's BIDS input matches.")
@handle_errors
def info(path, config):
    """Print shape, chunks, dtype, affine, voxel size and TR of an image; for a BIDS
    dataset folder, the runs a config would match and the files found for each."""
    from roidask.io.load import load_img

    if path.is_dir() and (path / "dataset_description.json").is_file():
        bids_info(path, config)
        return
    img = load_img(path)
    chunks = tuple(max(c) for c in img.chunks) if img.chunks else None
    np.set_printoptions(precision=4, suppress=True)
    click.echo(f"file:       {path}")
    click.echo(f"shape:      {img.shape} dims {img.dims}")
    click.echo(f"dtype:      {img.dtype}")
    click.echo(f"chunks:     {chunks} ({img.data.npartitions} chunks)")
    click.echo(f"voxel size: {tuple(float(v) for v in img.nii.voxel_size)} "
               f"{img.nii.header.get('xyz_units', '')}")
    click.echo(f"TR:         {img.nii.t_r} s" if img.nii.t_r else "TR:         -")
    click.echo("affine:\n" + str(img.nii.affine))
    extra = [c for c in img.coords if c not in img.dims and c != "space"]
    if extra:
        click.echo(f"volume coordinates: {', '.join(extra)}")


def _load(config, inputs_dir, inputs=()):
    from roidask.pipeline.config import load_config, parse_input_option

    overrides = dict(parse_input_option(text) for text in inputs)
    return load_config(config, inputs_dir=inputs_dir, inputs=overrides)


def inputs_options(command):
    """Add --inputs-dir and --input NAME=PATH."""
    command = click.option(
        "--input", "inputs", multiple=True, metavar="NAME=PATH",
        help="Set or replace input NAME of the config with PATH (relative to the current "
             "folder; for a BIDS input, its dataset). Repeatable.")(command)
    return click.option(
        "--inputs-dir", type=click.Path(path_type=Path), default=None,
        help="Folder that input paths are relative to (default: the config's folder); for "
             "a config with a BIDS input, the dataset its bids.root is relative to.")(command)


@main.command()
@click.argument("config", type=click.Path(path_type=Path))
@inputs_options
@handle_errors
def validate(config, inputs_dir, inputs):
    """Check a pipeline CONFIG (keys, types, references, input files) without running it."""
    checked = _load(config, inputs_dir, inputs)
    units = "BIDS run(s)" if checked.bids is not None else "subject(s)"
    click.echo(f"{config}: valid ({len(checked.steps)} steps, {len(checked.outputs)} outputs, "
               f"{len(checked.subjects)} {units})")


@main.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--output", "output_dir", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: roidask-output/<config name>).")
@inputs_options
@click.option("--force", is_flag=True, help="Recompute outputs that are up to date.")
@click.option("--dry-run", is_flag=True,
              help="List what would be done (new, changed, up to date); compute nothing.")
@cluster_options
@handle_errors
def run(config, output_dir, inputs_dir, inputs, force, dry_run, **cluster):
    """Run a pipeline CONFIG: one lazy graph per subject, computed once, written atomically."""
    from roidask.pipeline.config import check_output_root
    from roidask.pipeline.runner import run_pipeline

    checked = _load(config, inputs_dir, inputs)
    output_dir = output_dir or Path("roidask-output") / checked.name
    check_output_root(checked, output_dir)
    summary = run_pipeline(checked, output_dir, lambda: client_from(cluster, checked.cluster),
                           force=force, dry_run=dry_run)
    if dry_run:
        for label in summary.planned:
            click.echo(f"{label}: would be {'redone' if label in summary.changed else 'done'}")
        for label, message in summary.failed.items():
            click.echo(f"error: {label}: {message}".replace("\n", " "), err=True)
        click.echo(f"dry run: {summary.counts()}; nothing computed")
        sys.exit(summary.exit_code)
    report_summary(summary)
    sys.exit(summary.exit_code)


def report_summary(summary):
    """Print what a run did; failures go to stderr, one line each."""
    for label in summary.skipped:
        click.echo(f"{label}: up to date, skipped (use --force to recompute)")
    for label in summary.done:
        click.echo(f"{label}: done")
    for label, message in summary.failed.items():
        click.echo(f"error: {label}: {message}".replace("\n", " "), err=True)
    click.echo(summary.counts())
    click.echo(f"outputs in {summary.output_dir}")


@main.command()
@click.option("--output", "output_dir", type=click.Path(path_type=Path),
              default=Path("roidask-demo"), show_default=True, help="Folder for data and outputs.")
@click.option("--size", type=click.Choice(["tiny", "small", "haxby"]), default="haxby",
              show_default=True, help="Size of the synthetic data.")
@click.option("--force", is_flag=True, help="Recompute outputs that are up to date.")
@cluster_options
@handle_errors
def demo(output_dir, size, force, **cluster):
    """Make synthetic Haxby-shaped data, run the ROI workflow and score it against the truth."""
    from roidask.pipeline.demo import run_demo

    summary, scores = run_demo(output_dir, lambda: client_from(cluster), size=size, force=force,
                               echo=click.echo)
    report_summary(summary)
    if summary.failed:
        sys.exit(summary.exit_code)
    for name, value in scores.items():
        click.echo(f"Dice {name}: {value:.3f}")
    click.echo(f"report: {summary.output_dir / 'report.html'}")


if __name__ == "__main__":  # pragma: no cover
    main()
