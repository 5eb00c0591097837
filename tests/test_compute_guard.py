"""raise_if_dask_computes sees every compute, also those that name a scheduler."""

import threading

import dask
import dask.array as da
import numpy as np
import pytest

from roidask.testing import raise_if_dask_computes, random_image


@pytest.fixture
def x():
    return da.arange(12, chunks=4)


@pytest.mark.parametrize("scheduler", ["sync", "synchronous", "single-threaded", "threads",
                                       "processes"])
def test_named_scheduler_is_caught(x, scheduler):
    with pytest.raises(RuntimeError, match="too many dask computes: 1 > 0"):
        with raise_if_dask_computes():
            x.sum().compute(scheduler=scheduler)


def test_dask_compute_and_persist_with_a_scheduler_are_caught(x):
    with pytest.raises(RuntimeError, match="too many dask computes"):
        with raise_if_dask_computes():
            dask.compute(x.sum(), scheduler="sync")
    with pytest.raises(RuntimeError, match="too many dask computes"):
        with raise_if_dask_computes():
            x.persist(scheduler="threads")


def test_image_compute_with_a_scheduler_is_caught():
    img = random_image((4, 5, 6), chunks=2)
    with pytest.raises(RuntimeError, match="too many dask computes"):
        with raise_if_dask_computes():
            img.compute(scheduler="sync")


def test_scheduler_set_in_config_inside_the_block_is_caught(x):
    with pytest.raises(RuntimeError, match="too many dask computes"):
        with raise_if_dask_computes(), dask.config.set(scheduler="sync"):
            np.asarray(x)


def test_each_compute_counts_once(x):
    with raise_if_dask_computes(max_computes=3) as counter:
        x.sum().compute()
        x.max().compute(scheduler="sync")
        np.asarray(x + 1)
    assert counter.total_computes == 3
    with pytest.raises(RuntimeError, match="too many dask computes: 2 > 1"):
        with raise_if_dask_computes(max_computes=1):
            x.sum().compute()
            x.sum().compute(scheduler="threads")


def test_compute_in_another_thread_is_caught(x):
    seen = []

    def work():
        try:
            x.sum().compute(scheduler="sync")
        except RuntimeError as err:
            seen.append(str(err))

    with raise_if_dask_computes():
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert seen == ["too many dask computes: 1 > 0"]


def test_building_graphs_is_allowed_and_guard_ends_with_the_block(x):
    with raise_if_dask_computes() as counter:
        y = (x * 2).sum()
    assert counter.total_computes == 0
    assert int(y.compute(scheduler="sync")) == 132  # outside the block: allowed
