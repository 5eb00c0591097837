"""Thresholds of statistical maps with nilearn's names (``nilearn.glm``), lazily.

``from nilearn.glm import threshold_stats_img`` becomes ``from roidask.glm
import threshold_stats_img``.

Examples
--------
>>> from roidask.glm import fdr_threshold
>>> import numpy as np
>>> round(float(fdr_threshold(np.array([4.0, 3.5, 2.8, 2.5, 1.9, 1.2]), 0.05)), 2)
1.9
"""

from roidask.glm.thresholding import fdr_threshold, threshold_stats_img

__all__ = ["fdr_threshold", "threshold_stats_img"]
