"""Cluster choices: embedded threads or processes, HPC batch jobs via dask-jobqueue."""

import pytest

from roidask._dask.cluster import get_client, jobqueue_cluster
from roidask.errors import ParameterError
from roidask.pipeline.config import validate_config
from roidask.pipeline.spec import ConfigError

BASE = {"inputs": {"img": "x.nii.gz"}, "steps": [{"op": "mean_img", "img": "$img"}],
        "outputs": {}}


def test_default_is_one_threaded_worker_in_process():
    with get_client() as client:
        info = client.scheduler_info()
        assert len(info["workers"]) == 1
        assert client.cluster.processes is False


def test_slurm_cluster_from_a_jobqueue_config():
    with jobqueue_cluster("slurm", jobs=0, cores=8, memory="32GB", walltime="01:00:00",
                          queue="short") as cluster:
        script = cluster.job_script()
    assert "#SBATCH" in script and "-p short" in script and "01:00:00" in script


def test_get_client_on_a_jobqueue_cluster_without_jobs():
    with get_client(jobqueue={"kind": "pbs", "jobs": 0, "cores": 2, "memory": "4GB"}) as client:
        assert type(client.cluster).__name__ == "PBSCluster"


def test_bad_jobqueue_kind():
    with pytest.raises(ParameterError, match="jobqueue.kind: expected one of slurm"):
        jobqueue_cluster("kubernetes")


@pytest.mark.parametrize("jobqueue, message", [
    ({"kind": "kubernetes"}, "cluster.jobqueue.kind: expected one of"),
    ({"kind": "slurm", "jobs": -1}, "cluster.jobqueue.jobs: expected an integer >= 0"),
    ("slurm", "cluster.jobqueue: expected a mapping"),
])
def test_jobqueue_config_is_validated(jobqueue, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(dict(BASE, cluster={"jobqueue": jobqueue}), check_files=False)
