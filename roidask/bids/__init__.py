"""BIDS datasets: index fMRIPrep derivatives (:func:`find_runs`) and write synthetic ones."""

from roidask.bids.index import find_runs

__all__ = ["find_runs"]
