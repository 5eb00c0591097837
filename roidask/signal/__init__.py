"""Time-series cleaning with nilearn's names and results: ``clean`` and its parts.

``from nilearn.signal import clean`` becomes ``from roidask.signal import
clean``; it takes numpy arrays or lazy (t x n) DataArrays.

Examples
--------
>>> import numpy as np
>>> from roidask.signal import clean
>>> signals = np.arange(12.0).reshape(6, 2) ** 2
>>> clean(signals, detrend=True, standardize=False).mean(axis=0).round(12).tolist()
[0.0, 0.0]
"""

from roidask.signal.cleaning import butterworth, clean, standardize_signal
from roidask.signal.confounds import high_variance_confounds

__all__ = ["butterworth", "clean", "high_variance_confounds", "standardize_signal"]
