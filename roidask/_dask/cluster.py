"""Where computations run: a dask.distributed client.

:func:`get_client` connects to an existing scheduler (an address, or the
``ROIDASK_SCHEDULER`` environment variable) or starts an embedded
``LocalCluster`` with worker processes. Use it as a context manager so an
embedded cluster is shut down afterwards.

Examples
--------
>>> with get_client(n_workers=1, threads_per_worker=1, processes=False) as client:
...     client.submit(sum, [1, 2]).result()
3
"""

import contextlib
import logging
import os
import re
import shutil

import dask
import psutil
from dask.utils import format_bytes, parse_bytes
from distributed import Client, LocalCluster

from roidask.errors import ParameterError, RoidaskError

SCHEDULER_ENV = "ROIDASK_SCHEDULER"
# how long a run waits for its first worker, e.g. DASK_ROIDASK__WORKER_TIMEOUT="30 minutes"
WORKER_TIMEOUT_KEY = "roidask.worker-timeout"
DEFAULT_WORKER_TIMEOUT = {"scheduler": "60s", "jobqueue": "15 minutes"}


def wait_for_a_worker(client, kind, where, fix):
    """Return once ``client`` has a worker; raise a RoidaskError naming ``where`` if none comes.

    The wait is ``roidask.worker-timeout`` in dask's config (environment
    ``DASK_ROIDASK__WORKER_TIMEOUT``), by default 60 s for an existing
    scheduler and 15 minutes for batch jobs that wait in a queue.
    """
    timeout = dask.config.get(WORKER_TIMEOUT_KEY, DEFAULT_WORKER_TIMEOUT[kind])
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise RoidaskError(
            f"no dask worker joined {where} within {timeout}: {fix} (or wait longer with "
            f"DASK_ROIDASK__WORKER_TIMEOUT)"
        ) from None


def cores():
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


# room a worker needs above what it holds at rest for a task's chunks and results
TASK_HEADROOM = 64 * 2**20
# a worker process once its tasks have imported roidask (measured: ~182 MiB, Python 3.11)
WORKER_PROCESS_AT_REST = 192 * 2**20
PAUSE_KEY = "distributed.worker.memory.pause"


def _machine_memory():
    from distributed import system

    return system.MEMORY_LIMIT


def memory_limit_bytes(memory_limit, threads_per_worker=1, where="memory_limit"):
    """A worker's memory limit in bytes (None: no limit), as ``LocalCluster`` reads it.

    ``memory_limit`` is a size (``"2GB"``, bytes as a number), a fraction of
    the machine's memory (a number <= 1), ``"auto"`` (the machine's memory
    split by threads), or None / 0 (no limit). Anything else raises a
    :class:`ParameterError` naming ``where``.

    Examples
    --------
    >>> memory_limit_bytes("200MB")
    200000000
    >>> memory_limit_bytes(0) is None
    True
    >>> memory_limit_bytes("lots")
    Traceback (most recent call last):
    ...
    roidask.errors.ParameterError: memory_limit: expected a size such as 2GB, a fraction \
of the machine's memory (<= 1), 'auto' or 0 (no limit), got 'lots'
    """
    expected = ("a size such as 2GB, a fraction of the machine's memory (<= 1), 'auto' or 0 "
                "(no limit)")
    if memory_limit is None:
        return None
    machine = _machine_memory()
    if isinstance(memory_limit, str) and memory_limit.strip().lower() == "auto":
        return int(machine * min(1, threads_per_worker / cores()))
    if isinstance(memory_limit, bool):
        raise ParameterError(where, expected, memory_limit)
    try:
        value = float(memory_limit)
    except (TypeError, ValueError):
        if not isinstance(memory_limit, str):
            raise ParameterError(where, expected, memory_limit) from None
        try:
            value = parse_bytes(memory_limit.strip())
        except ValueError:
            raise ParameterError(where, expected, memory_limit) from None
    if not value >= 0 or value == float("inf"):
        raise ParameterError(where, expected, memory_limit)
    if value == 0:
        return None
    return min(machine, int(value * machine if value <= 1 else value))


def check_cluster_fits(n_workers, threads_per_worker, memory_limit, processes,
                       resident=None):
    """Refuse, before starting it, an embedded cluster that could never run a task.

    A worker pauses (runs no task) once its process holds
    ``distributed.worker.memory.pause`` (80 %) of its limit, and waits, with
    no message, for memory that never comes. A worker starts holding about
    what a worker process holds once it has imported roidask
    (:data:`WORKER_PROCESS_AT_REST`, or less when this process holds less);
    in the threads cluster every worker counts this whole process
    (``resident``, bytes; by default measured). So the limit
    must leave :data:`TASK_HEADROOM` above that below the pause fraction, and
    the machine must hold all the workers. Raises :class:`ParameterError`
    naming the smallest limit (or the most workers) that can work.

    Examples
    --------
    >>> check_cluster_fits(1, 2, "400MB", False, resident=200 * 2**20)
    >>> check_cluster_fits(1, 2, "200MB", False, resident=200 * 2**20)
    Traceback (most recent call last):
    ...
    roidask.errors.ParameterError: memory_limit: expected at least 330.00 MiB per worker \
(a worker holds ~200.00 MiB before its first task and pauses, waiting for memory, at 80% of \
its limit), got '200MB'
    """
    limit = memory_limit_bytes(memory_limit, threads_per_worker)
    if resident is None:
        resident = psutil.Process().memory_info().rss
    if processes:
        resident = min(resident, WORKER_PROCESS_AT_REST)
    machine = _machine_memory()
    per_worker = (resident if processes else 0) + TASK_HEADROOM
    most = max(1, (machine - (0 if processes else resident)) // per_worker)
    if n_workers > most:
        raise ParameterError(
            "n_workers", f"at most {most} workers on this machine (its "
            f"{format_bytes(machine)} hold that many workers of ~{format_bytes(per_worker)})",
            n_workers)
    pause = dask.config.get(PAUSE_KEY, 0.8)
    if limit is None or not pause:
        return
    smallest = int((resident + TASK_HEADROOM) / float(pause)) + 1
    if limit < smallest:
        raise ParameterError(
            "memory_limit", f"at least {format_bytes(smallest)} per worker (a worker holds "
            f"~{format_bytes(resident)} before its first task and pauses, waiting for memory, "
            f"at {float(pause):.0%} of its limit)", memory_limit)


JOBQUEUE_KINDS = ("slurm", "pbs", "sge", "lsf", "htcondor", "moab", "oar")
HPC_EXTRA = "hpc"


def jobqueue_cluster(kind, jobs=1, **options):
    """A dask-jobqueue cluster (``kind`` e.g. ``"slurm"``) asking for ``jobs`` batch jobs.

    ``options`` go to the cluster class (``cores``, ``memory``, ``queue``,
    ``walltime``, ``account``, ...); see dask-jobqueue's documentation.
    """
    if kind not in JOBQUEUE_KINDS:
        raise ParameterError("jobqueue.kind", f"one of {', '.join(JOBQUEUE_KINDS)}", kind)
    try:
        import dask_jobqueue
    except ImportError:
        raise ParameterError(
            "jobqueue", f'dask-jobqueue installed (pip install "roidask[{HPC_EXTRA}]")', kind
        ) from None
    name = {"htcondor": "HTCondor", "moab": "Moab", "oar": "OAR"}.get(kind, kind.upper())
    cluster_class = getattr(dask_jobqueue, f"{name}Cluster")
    for key in ("cores", "memory"):
        if options.get(key) is None and dask.config.get(f"jobqueue.{kind}.{key}", None) is None:
            raise ParameterError(
                f"jobqueue.{key}", f"the {key} of each batch job, e.g. {{kind: {kind}, cores: 8, "
                f"memory: 24GB}} (or jobqueue.{kind}.{key} in dask's config)", None)
    # a free port for the dashboard, never a clash (and a warning) on 8787
    options["scheduler_options"] = {
        "dashboard_address": ":0",
        **(dask.config.get(f"jobqueue.{kind}.scheduler-options", None) or {}),
        **(options.get("scheduler_options") or {}),
    }
    try:
        cluster = cluster_class(**options)
    except (TypeError, ValueError) as err:
        unknown = re.search(r"unexpected keyword argument '([^']+)'", str(err))
        if unknown:
            raise ParameterError(f"jobqueue.{unknown[1]}", f"an option that "
                                 f"{cluster_class.__name__} takes (see dask-jobqueue's "
                                 "documentation)", unknown[1]) from None
        raise ParameterError("jobqueue", f"options that {cluster_class.__name__} takes: "
                             + str(err).replace("\n", " "), sorted(options)) from None
    submit = (getattr(cluster_class.job_cls, "submit_command", None) or "").split()[:1]
    if jobs and submit and shutil.which(submit[0]) is None:
        cluster.close()
        raise ParameterError(
            "jobqueue.kind", f"a batch system whose submit command ({submit[0]}) is on PATH: "
            "run on the cluster's login node, or leave cluster.jobqueue out to run on this "
            "machine", kind)
    if jobs:
        cluster.scale(jobs=int(jobs))
    return cluster


@contextlib.contextmanager
def get_client(scheduler=None, *, n_workers=None, threads_per_worker=None, memory_limit="auto",
               processes=False, jobqueue=None):
    """Yield a ``distributed.Client``: existing scheduler or embedded LocalCluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``). Defaults to the
        ``ROIDASK_SCHEDULER`` environment variable; if neither is set an
        embedded ``LocalCluster`` is started.
    n_workers : int, optional
        Workers of the embedded cluster (default: 1 with threads, one per
        core with processes).
    threads_per_worker : int, optional
        Threads per worker (default: one per core with threads, 1 with
        processes).
    memory_limit : str or int
        Memory limit per worker, e.g. ``"2GB"``; ``"auto"`` splits the
        machine's memory between workers.
    jobqueue : dict, optional
        Run workers as batch jobs on an HPC scheduler through dask-jobqueue:
        ``{"kind": "slurm", "jobs": 4, "cores": 8, "memory": "32GB", ...}``
        (see :func:`jobqueue_cluster`).
    processes : bool
        Worker processes, or (default) one worker whose threads run in this
        process: the numerical kernels release the GIL, and nothing is
        copied between processes, so on one machine threads are faster and
        use less memory (measured in BENCHMARKS.md).
    """
    address = scheduler or os.environ.get(SCHEDULER_ENV)
    if address:
        try:
            client = Client(address, timeout="10s")
        except OSError as err:
            raise ParameterError(
                "scheduler", "the address of a running dask scheduler", address
            ) from err
        with client:
            wait_for_a_worker(client, "scheduler", f"the scheduler at {address}",
                              f"start workers with `dask worker {address}`")
            yield client
        return
    if jobqueue:
        options = dict(jobqueue)
        with jobqueue_cluster(options.pop("kind", None), **options) as cluster, \
                Client(cluster) as client:
            if options.get("jobs", 1):  # jobs: 0 leaves scaling to the caller
                wait_for_a_worker(client, "jobqueue", f"the {cluster.__class__.__name__}",
                                  "check the batch queue (squeue, qstat) and the job's log")
            yield client
        return
    if n_workers is not None and int(n_workers) < 1:
        raise ParameterError("n_workers", "an integer >= 1", n_workers)
    if processes:
        n_workers, threads_per_worker = n_workers or cores(), threads_per_worker or 1
    else:
        n_workers, threads_per_worker = n_workers or 1, threads_per_worker or cores()
    check_cluster_fits(int(n_workers), int(threads_per_worker), memory_limit, processes)
    cluster = LocalCluster(
        n_workers=int(n_workers),
        threads_per_worker=int(threads_per_worker),
        memory_limit=memory_limit,
        processes=processes,
        dashboard_address=":0",  # a free port (client.dashboard_link), never a clash on 8787
        # task failures come back as exceptions that the caller reports (the CLI as one
        # line): the workers' own error logs of them would only repeat them as tracebacks
        silence_logs=logging.CRITICAL,
    )
    with cluster, Client(cluster) as client:
        _no_gc_callback_in_this_process()
        _quiet_interrupted_gathers()
        yield client


class _InterruptedGathers(logging.Filter):
    """Drop asyncio's ``Task exception was never retrieved`` for ``AllExit``: what a gather
    interrupted by Ctrl-C leaves behind (10 lines of distributed's traceback after the
    CLI's one line saying the run was interrupted)."""

    def filter(self, record):
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "AllExit"


def _quiet_interrupted_gathers():
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _InterruptedGathers) for f in logger.filters):
        logger.addFilter(_InterruptedGathers())


def _no_gc_callback_in_this_process():
    """Remove distributed's garbage-collection timer (``gc.callbacks``) from this process.

    The embedded scheduler and workers install it to warn when collections take long. A
    collection often runs in the main thread, and a Ctrl-C (or the CLI's SIGTERM) that
    arrives during the callback raises inside it, where Python only prints ``Exception
    ignored in: ... GCDiagnosis._gc_callback``: the run went on and wrote everything.
    """
    from distributed.gc import disable_gc_diagnosis

    disable_gc_diagnosis(force=True)
