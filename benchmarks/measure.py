"""Run a command and report its wall time and peak memory, all processes counted.

Peak memory is the largest sum of resident set sizes of the process and all
its children (dask workers included), sampled every 50 ms. The CPU the rest
of the machine used meanwhile (``others_cores``: the average number of
cores busy with other work) says whether a timing was taken on a quiet
machine.

Examples
--------
>>> result = run_measured(["python", "-c", "print('hi')"])
>>> result.returncode, result.wall_s > 0
(0, True)
"""

import dataclasses
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil


@dataclasses.dataclass
class Measured:
    wall_s: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    cpu_s: float = float("nan")
    others_cores: float = float("nan")

    @property
    def peak_rss_gb(self):
        return self.peak_rss_bytes / 1e9


def tree_rss(process):
    """Resident memory of ``process`` and all its descendants, bytes."""
    total = 0
    try:
        members = [process] + process.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def _busy_cpu_s():
    """CPU seconds the whole machine has spent busy (not idle, not waiting for I/O)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(command, interval=0.05, env=None):
    """Run ``command`` (a list), sampling the RSS of its process tree."""
    busy, children = _busy_cpu_s(), _children_cpu_s()
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    watched = psutil.Process(proc.pid)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(watched))
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    cpu = _children_cpu_s() - children  # the command and the descendants it waited for
    others = max(0.0, (_busy_cpu_s() - busy - cpu) / wall)
    return Measured(wall, peak, proc.returncode, stdout, cpu, others)


def python_snippet(code):
    """A command that runs ``code`` in a fresh Python interpreter."""
    return [sys.executable, "-c", code]


def markdown_table(header, rows):
    """A Markdown table (one string) from a header and rows of cells.

    Examples
    --------
    >>> print(markdown_table(["a", "b"], [[1, "x"]]))
    | a | b |
    |---|---|
    | 1 | x |
    """
    lines = ["| " + " | ".join(str(cell) for cell in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def child_env(**extra):
    """This environment for a child process: benchmarks/ importable, ``extra`` set.

    The benchmarks folder goes in front of any ``PYTHONPATH`` already set, so
    ``PYTHONPATH=/path/to/other/roidask python benchmarks/...`` measures that
    copy of the package.
    """
    path = [str(Path(__file__).parent)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path), **extra)


_FIRST_TOUCH = """
import time, numpy as np
start = time.perf_counter()
np.ones(int({gigabytes} * 1e9) // 8)
print({gigabytes} / (time.perf_counter() - start))
"""


def first_touch_gbps(gigabytes=1.0):
    """GB/s at which a fresh process writes memory it has just allocated (first touch).

    On a VM whose host reclaims idle guest memory this can be 20x slower than
    writing memory already in use, and every large new array pays it.
    """
    result = run_measured(python_snippet(_FIRST_TOUCH.format(gigabytes=gigabytes)))
    return float(result.stdout)
