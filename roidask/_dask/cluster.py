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

import dask
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
    cluster = getattr(dask_jobqueue, f"{name}Cluster")(**options)
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
        yield client
