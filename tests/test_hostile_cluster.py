"""Hostile cluster settings at the command line: refused up front, in one line, nothing written.

A memory limit a worker cannot run under used to sit paused with no message (or, for
``lots``, crash with a traceback); a jobqueue config without cores or memory, or on a
machine without the batch system, crashed or waited 15 minutes for workers. Every test
runs the real ``roidask`` in a subprocess on data made by ``roidask make-data``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).parents[1] / "configs"


def roidask(*args, env=None):
    return subprocess.run(["roidask", *[str(a) for a in args]], capture_output=True, text=True,
                          env=env)


def assert_one_error_line(proc, *fragments, code=1):
    assert proc.returncode == code, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-cluster") / "data"
    proc = roidask("make-data", folder, "--size", "tiny")
    assert proc.returncode == 0, proc.stderr
    return folder


def config_with(tmp_path, **top_level):
    raw = yaml.safe_load((CONFIGS / "roi_extraction.yaml").read_text())
    raw.update(top_level)
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_config(config, data_dir, out, *args, env=None):
    return roidask("run", config, "--inputs-dir", data_dir, "--output", out, *args, env=env)


def assert_nothing_written(out):
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


@pytest.mark.parametrize("limit", ["1MB", "50MB", "200MB"])
@pytest.mark.parametrize("processes", [False, True])
def test_a_memory_limit_too_small_to_run_is_refused_naming_the_smallest(
        data_dir, tmp_path, limit, processes):
    out = tmp_path / "out"
    mode = ["--processes", "--n-workers", "2"] if processes else ["--threads"]
    proc = run_config(CONFIGS / "roi_extraction.yaml", data_dir, out, "--memory-limit", limit,
                      *mode)
    line = assert_one_error_line(proc, "memory_limit: expected at least", f"got '{limit}'",
                                 "pauses")
    assert re.search(r"at least \d+(\.\d+)? MiB per worker", line), line
    assert_nothing_written(out)


def test_the_smallest_limit_named_runs(data_dir, tmp_path):
    """The limit the refusal names is enough: the run completes under it."""
    refused = run_config(CONFIGS / "roi_extraction.yaml", data_dir, tmp_path / "refused",
                         "--memory-limit", "100MB")
    smallest = re.search(r"at least (\d+(?:\.\d+)?) MiB", refused.stderr)
    assert smallest, refused.stderr
    limit = f"{int(float(smallest[1]) * 1.02) + 1}MiB"  # measured again in the new process
    proc = run_config(CONFIGS / "roi_extraction.yaml", data_dir, tmp_path / "out",
                      "--memory-limit", limit)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "provenance.json").is_file()


@pytest.mark.parametrize("cluster, fragments, code", [
    ({"memory_limit": "1MB"}, ["memory_limit: expected at least", "got '1MB'"], 1),
    # not a size at all: a config mistake, refused when the config is validated
    ({"memory_limit": "lots"}, ["memory_limit: expected a size such as 2GB", "got 'lots'"], 2),
    ({"memory_limit": "-3GB"}, ["memory_limit: expected a size", "got '-3GB'"], 2),
    ({"n_workers": 100000}, ["n_workers: expected at most", "got 100000"], 1),
    ({"jobqueue": {"kind": "slurm"}}, ["jobqueue.cores: expected the cores of each batch job"],
     1),
    ({"jobqueue": {"kind": "slurm", "cores": 2}},
     ["jobqueue.memory: expected the memory of each batch job"], 1),
    ({"jobqueue": {"kind": "slurm", "cores": 2, "memory": "4GB", "bogus": 1}},
     ["jobqueue.bogus: expected an option that SLURMCluster takes", "got 'bogus'"], 1),
])
def test_cluster_settings_that_cannot_work_fail_in_one_line(data_dir, tmp_path, cluster,
                                                              fragments, code):
    out = tmp_path / "out"
    proc = run_config(config_with(tmp_path, cluster=cluster), data_dir, out)
    assert_one_error_line(proc, *fragments, code=code)
    assert_nothing_written(out)


def test_memory_limit_lots_at_the_command_line(data_dir, tmp_path):
    out = tmp_path / "out"
    proc = run_config(CONFIGS / "roi_extraction.yaml", data_dir, out, "--memory-limit", "lots")
    assert_one_error_line(proc, "memory_limit: expected a size such as 2GB", "got 'lots'")
    assert_nothing_written(out)


def test_a_jobqueue_without_its_batch_system_fails_at_once(data_dir, tmp_path):
    """No sbatch on PATH: named at once, not a 15-minute wait for workers that never come."""
    bin_dir = Path(sys.executable).parent
    assert not (bin_dir / "sbatch").exists()
    env = dict(os.environ, PATH=str(bin_dir))
    config = config_with(tmp_path, cluster={"jobqueue": {"kind": "slurm", "cores": 1,
                                                         "memory": "1GB"}})
    out = tmp_path / "out"
    proc = run_config(config, data_dir, out, env=env)
    assert_one_error_line(proc, "jobqueue.kind: expected a batch system whose submit command "
                                "(sbatch) is on PATH", "got 'slurm'")
    assert_nothing_written(out)
