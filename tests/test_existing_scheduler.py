"""``roidask run --scheduler ADDRESS`` on a real scheduler and two worker processes.

The README's way to use an existing cluster: ``dask scheduler`` and ``dask
worker`` are started as separate processes, and the run's outputs must equal
those of a run on the embedded cluster.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import distributed
import pandas as pd
import pytest

CONFIGS = Path(__file__).parents[1] / "configs"


def _start(args, log):
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture
def scheduler_address(tmp_path, request):
    n_workers = getattr(request, "param", 2)
    info = tmp_path / "scheduler.json"
    log = open(tmp_path / "cluster.log", "w")
    processes = [_start([sys.executable, "-m", "distributed.cli.dask_scheduler",
                         "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                         "--scheduler-file", str(info)], log)]
    try:
        for _ in range(600):  # the scheduler writes its address once it listens
            if info.exists() and info.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for _ in range(n_workers):
            processes.append(_start([sys.executable, "-m", "distributed.cli.dask_worker",
                                     address, "--nthreads", "1", "--memory-limit", "2GB",
                                     "--no-dashboard"], log))
        if n_workers:
            with distributed.Client(address) as client:
                client.wait_for_workers(n_workers, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        log.close()


def roidask_run(*args, env=None):
    return subprocess.run(["roidask", "run", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)  # a hang fails instead of waiting forever


def test_run_on_an_existing_scheduler_equals_the_embedded_run(scheduler_address, tiny_dataset,
                                                              tmp_path):
    config, data = CONFIGS / "atlas_signals.yaml", tiny_dataset.func.parent
    remote = roidask_run(config, "--inputs-dir", data, "--output", tmp_path / "remote",
                         "--scheduler", scheduler_address)
    assert remote.returncode == 0, remote.stderr
    assert "Traceback" not in remote.stderr
    with distributed.Client(scheduler_address) as client:  # the work ran there
        prefixes = client.run_on_scheduler(
            lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
        assert len(client.scheduler_info()["workers"]) == 2
    assert any(prefix.startswith("nifti") for prefix in prefixes), prefixes
    local = roidask_run(config, "--inputs-dir", data, "--output", tmp_path / "local",
                        "--n-workers", "1", "--memory-limit", "2GB")
    assert local.returncode == 0, local.stderr
    tables = sorted((tmp_path / "remote").rglob("*.parquet")) + \
        sorted((tmp_path / "remote").rglob("*.csv"))
    assert tables
    for table in tables:
        twin = tmp_path / "local" / table.relative_to(tmp_path / "remote")
        read = pd.read_parquet if table.suffix == ".parquet" else pd.read_csv
        pd.testing.assert_frame_equal(read(table), read(twin))


@pytest.mark.parametrize("scheduler_address", [0], indirect=True)
def test_a_scheduler_without_workers_fails_in_time_with_a_fix(scheduler_address, tiny_dataset,
                                                              tmp_path):
    env = {**os.environ, "DASK_ROIDASK__WORKER_TIMEOUT": "3s"}
    result = roidask_run(CONFIGS / "atlas_signals.yaml", "--inputs-dir",
                         tiny_dataset.func.parent, "--output", tmp_path / "out",
                         "--scheduler", scheduler_address, env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"no dask worker joined the scheduler at {scheduler_address} within 3s" in \
        result.stderr
    assert "dask worker" in result.stderr
    assert not list((tmp_path / "out").rglob("*.parquet"))
