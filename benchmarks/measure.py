"""Run a command and report its wall time and peak memory, all processes counted.

Peak memory is the largest sum of resident set sizes of the process and all
its children (dask workers included), sampled every 50 ms.

Examples
--------
>>> result = run_measured(["python", "-c", "print('hi')"])
>>> result.returncode, result.wall_s > 0
(0, True)
"""

import dataclasses
import os
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


def run_measured(command, interval=0.05, env=None):
    """Run ``command`` (a list), sampling the RSS of its process tree."""
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
    return Measured(wall, peak, proc.returncode, stdout)


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
