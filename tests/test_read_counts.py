"""Passes over the data: each shipped config reads each chunk of ``func`` as often as it must.

The reads are counted at the file reader (:class:`roidask.io.nifti_read.NiftiArray`,
wrapped so that every real read is also recorded) while ``run_pipeline`` runs
each shipped config on an in-process cluster, with ``func`` cut into several
time chunks. Before that computation, 3D results that a graph's shape depends
on (a mask's voxel count, a label list) are persisted while the graphs are built.
"""

import collections
import contextlib
from pathlib import Path

import distributed
import pytest
import zarr.storage

from roidask.io import load_img, to_zarr
from roidask.io.nifti_read import NiftiArray
from roidask.pipeline.config import load_config, validate_config
from roidask.pipeline.runner import run_pipeline

CONFIGS = Path(__file__).parents[1] / "configs"

# reads of each volume of func, and why that many passes are needed
PASSES = {
    # one pass: the atlas is an input, so every region signal comes from one read
    "atlas_signals.yaml": 1,
    # one pass: the region signals of the labels come from the statistics pass
    "region_extraction.yaml": 1,
    # two: the mask is the mean of all volumes, and the voxel signals need the mask
    # (its voxel count is the shape of the signals) before they can be built
    "mask_computation.yaml": 2,
    # two: the labels come from a t-test over all volumes, the signals need the labels
    "roi_extraction.yaml": 2,
}


@contextlib.contextmanager
def in_process_client():
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as client:
        yield client


@pytest.fixture
def counted_reads(monkeypatch):
    reads = collections.Counter()
    read = NiftiArray.__getitem__

    def counting(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if Path(self.path).name == "func.nii.gz":
            reads.update(range(*key[-1].indices(self.shape[-1])))
        return read(self, key)

    monkeypatch.setattr(NiftiArray, "__getitem__", counting)
    return reads


def test_every_shipped_config_has_an_expected_count():
    # BIDS configs are counted on fMRIPrep-shaped data in tests/test_bids_pipeline.py
    assert set(PASSES) == {p.name for p in CONFIGS.glob("*.yaml")
                           if "batch" not in p.name and not p.name.startswith("bids_")}


@pytest.fixture
def counted_computes(monkeypatch):
    calls = collections.Counter()
    for method in ("compute", "get"):
        original = getattr(distributed.Client, method)

        def counting(self, *args, _original=original, _method=method, **kwargs):
            calls[_method] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(distributed.Client, method, counting)
    return calls


@pytest.mark.parametrize("name", sorted(PASSES))
def test_config_reads_each_func_chunk_once_per_needed_pass(name, tiny_dataset, tmp_path,
                                                           counted_reads, counted_computes,
                                                           caplog):
    raw = load_config(CONFIGS / name, check_files=False).raw
    raw["inputs"]["func"]["chunks"] = {"t": 50}
    config = validate_config(raw, base_dir=tiny_dataset.func.parent, output_root=tmp_path)
    summary = run_pipeline(config, tmp_path, in_process_client, show_progress=False)
    assert summary.failed == {}
    # reads of each volume of func (chunks of volumes that no step uses are not read)
    assert max(counted_reads.values()) == PASSES[name]
    if name == "atlas_signals.yaml":
        assert sorted(counted_reads) == list(range(242))
    # one computation stores every output (the Materialisation); a labels masker's
    # fit computes its 3D atlas and mask (a dask.compute: Client.get) to list the regions
    assert counted_computes["compute"] == 1
    assert counted_computes["get"] <= 1
    assert_one_task_per_key(caplog)


def assert_one_task_per_key(caplog):
    """No graph of the run resubmits a key on the cluster with another task.

    distributed keeps the first task of a key and warns that the mismatch "can cause
    failures and deadlocks"; it came from optimised graphs beside persisted ones.
    """
    assert "Detected different `run_spec`" not in caplog.text


@pytest.fixture
def counted_chunk_reads(monkeypatch):
    """Reads of each chunk of the 4D image in a store named ``func.zarr`` (not coordinates)."""
    reads = collections.Counter()
    get = zarr.storage.LocalStore.get

    async def counting(self, key, *args, **kwargs):
        _, _, index = key.partition("/c/")
        if Path(str(self.root)).name == "func.zarr" and len(index.split("/")) == 4:
            reads[key] += 1
        return await get(self, key, *args, **kwargs)

    monkeypatch.setattr(zarr.storage.LocalStore, "get", counting)
    return reads


@pytest.mark.parametrize("name", sorted(PASSES))
def test_config_reads_each_zarr_chunk_once_per_needed_pass(name, tiny_dataset, tmp_path,
                                                           counted_chunk_reads, caplog):
    """The same counts with ``func`` as a zarr store (as ``roidask convert`` writes it)."""
    store = tmp_path / "func.zarr"
    to_zarr(load_img(tiny_dataset.func, chunks={"t": 50}), store)
    counted_chunk_reads.clear()  # the conversion's own reads are not the run's
    raw = load_config(CONFIGS / name, check_files=False).raw
    raw["inputs"]["func"].update(path=str(store), chunks={"t": 50})
    config = validate_config(raw, base_dir=tiny_dataset.func.parent, output_root=tmp_path)
    summary = run_pipeline(config, tmp_path / "out", in_process_client, show_progress=False)
    assert summary.failed == {}
    assert counted_chunk_reads, "no chunk of func.zarr was read"
    assert max(counted_chunk_reads.values()) == PASSES[name]
    if name == "atlas_signals.yaml":  # every time chunk of the store, once
        assert len(counted_chunk_reads) == 5
    assert_one_task_per_key(caplog)
