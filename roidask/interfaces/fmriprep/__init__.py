"""fMRIPrep confounds selected nilearn's way (``nilearn.interfaces.fmriprep``).

:func:`load_confounds` and :func:`load_confounds_strategy` return the same
``(confounds, sample_mask)`` as nilearn 0.14.1 for an fMRIPrep
``..._desc-preproc_bold.nii.gz``, without depending on nilearn. Confound
tables are small, so they are read with pandas.
"""

from roidask.interfaces.fmriprep._confounds import (
    PRESETS,
    load_confounds,
    load_confounds_strategy,
)

__all__ = ["PRESETS", "load_confounds", "load_confounds_strategy"]
