"""Argument checks shared by the functions, the maskers and the config layer.

Each raises :class:`~roidask.errors.ParameterError` ("name: expected X, got
Y"); the config layer turns it into a message naming the step and key.
Mask operations accept boolean or integer images (nonzero is foreground, as
in :mod:`scipy.ndimage`) and refuse floating-point maps, so that a t-map is
never labelled or dilated as a whole by mistake: threshold it first.

Examples
--------
>>> binary_structure(None, 2).sum()
np.int64(19)
>>> check_fwhm([4, None, 6]).tolist()
[4.0, 0.0, 6.0]
>>> check_bool("yes", "detrend")
Traceback (most recent call last):
...
roidask.errors.ParameterError: detrend: expected True or False, got 'yes'
"""

import numbers

import numpy as np
from scipy import ndimage as ndi

from roidask.errors import ParameterError

FWHM_EXPECTED = "a number >= 0 (mm), a sequence of 3, None or 'fast'"


def check_bool(value, name):
    """``value`` as a bool; only True and False (numpy's too) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(name, "True or False", value)
    return bool(value)


def check_fwhm(fwhm, name="fwhm"):
    """Validate a smoothing FWHM; return None, ``'fast'`` or 3 floats in mm.

    Accepts a number >= 0, a sequence of 3 (a None entry leaves that axis
    alone), None or ``'fast'``; all zeros mean no smoothing (None).
    """
    if fwhm is None:
        return None
    if isinstance(fwhm, str):
        if fwhm == "fast":
            return "fast"
        raise ParameterError(name, FWHM_EXPECTED, fwhm)
    if isinstance(fwhm, numbers.Real) and not isinstance(fwhm, bool):
        values = [fwhm] * 3
    elif isinstance(fwhm, (list, tuple, np.ndarray)) and np.ndim(fwhm) == 1 and len(fwhm) == 3:
        values = list(fwhm)
    else:
        raise ParameterError(name, FWHM_EXPECTED, fwhm)
    values = [0.0 if v is None else v for v in values]
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        raise ParameterError(name, FWHM_EXPECTED, fwhm)
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ParameterError(name, FWHM_EXPECTED, fwhm)
    if np.all(values == 0):
        return None
    return values


def binary_structure(structure, connectivity, *, labelling=False):
    """The 3D boolean structuring element for ``structure`` / ``connectivity``.

    ``structure`` wins when given. For labelling it must be a centro-symmetric
    3x3x3 array, as :func:`scipy.ndimage.label` requires.
    """
    if structure is None:
        if (
            isinstance(connectivity, bool)
            or not isinstance(connectivity, numbers.Integral)
            or connectivity not in (1, 2, 3)
        ):
            raise ParameterError("connectivity", "1, 2 or 3", connectivity)
        return ndi.generate_binary_structure(3, int(connectivity))
    array = np.asarray(structure)
    if array.ndim != 3 or array.size == 0:
        raise ParameterError("structure", "a non-empty 3D array", f"shape {array.shape}")
    array = array.astype(bool)
    symmetric = np.array_equal(array, array[::-1, ::-1, ::-1])
    if labelling and (array.shape != (3, 3, 3) or not symmetric):
        raise ParameterError(
            "structure", "a centro-symmetric 3x3x3 array", f"shape {array.shape}"
        )
    return array


def check_iterations(iterations):
    """``iterations`` as a positive int (scipy's "until stable" is not local)."""
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, numbers.Integral)
        or iterations < 1
    ):
        raise ParameterError("iterations", "a positive integer", iterations)
    return int(iterations)


def check_border_value(border_value):
    """``border_value`` as 0 or 1."""
    if isinstance(border_value, (bool, np.bool_)) or border_value in (0, 1):
        return int(border_value)
    raise ParameterError("border_value", "0 or 1", border_value)


def check_mask_dtype(img, name):
    """Refuse a floating-point image where a boolean or integer mask is needed."""
    if img.dtype.kind not in "biu":
        raise ParameterError(
            name,
            "a boolean or integer mask (threshold a map first, e.g. img > 3)",
            f"{img.dtype} values",
        )


def mask_truth(block):
    """Which voxels of a mask block are in the mask: finite and not 0 (nilearn's rule)."""
    block = np.asarray(block)
    if block.dtype.kind in "fc":
        return np.isfinite(block) & (block != 0)
    return block != 0


def mask_values(values, name, *, allow_empty=False):
    """nilearn's ``load_mask_img`` on in-memory values: check them, return booleans.

    Non-finite values count as 0. A mask holds 0 and at most one other value;
    an all-zero mask is refused unless ``allow_empty``.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f":
        values = np.where(np.isfinite(values), values, 0)
    present = np.unique(values)
    if not allow_empty and len(present) == 1 and present[0] == 0:
        raise ParameterError(name, "a mask with at least one voxel", "an empty mask (all 0)")
    if len(present) > 2 or (len(present) == 2 and 0 not in present):
        raise ParameterError(
            name, "a mask: 0 for background and one other value",
            f"an image with values {present[:6].tolist()}",
        )
    return values != 0


# The checks below are the rules some functions apply inline; the pipeline's
# config specs run them, so a config refuses what the function refuses, in
# its words. Each says which function's rule it is.
def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_choice(value, name, choices, expected=None):
    """``value`` if it is one of ``choices`` (``expected`` defaults to "one of (...)").

    Examples
    --------
    >>> check_choice("gm", "mask_type", ("whole-brain", "gm", "wm"))
    'gm'
    >>> check_choice("grey", "mask_type", ("whole-brain", "gm", "wm"))
    Traceback (most recent call last):
    ...
    roidask.errors.ParameterError: mask_type: expected one of ('whole-brain', 'gm', 'wm'), \
got 'grey'
    """
    if value not in choices:
        raise ParameterError(name, expected or f"one of {choices}", value)
    return value


def check_border_size(border_size):
    """``compute_background_mask``'s ``border_size``: an integer number of voxels >= 1."""
    if isinstance(border_size, bool) or not isinstance(border_size, numbers.Integral) \
            or border_size < 1:
        raise ParameterError("border_size", "a number of voxels >= 1", border_size)
    return int(border_size)


def check_cluster_threshold(cluster_threshold):
    """``threshold_img``'s ``cluster_threshold``: a number of voxels, not below 0."""
    if not _is_real(cluster_threshold) or cluster_threshold < 0:
        raise ParameterError("cluster_threshold", "a number of voxels >= 0", cluster_threshold)
    return cluster_threshold


def check_template_threshold(threshold):
    """``compute_brain_mask``'s ``threshold``: a number (template values are in [0, 1])."""
    if not _is_real(threshold):
        raise ParameterError("threshold", "a number (template values are in [0, 1])", threshold)
    return float(threshold)


def check_min_region_size(min_region_size):
    """``connected_regions``' ``min_region_size``: a number of mm^3."""
    if not _is_real(min_region_size):
        raise ParameterError("min_region_size", "a number of mm^3", min_region_size)
    return min_region_size


def check_region_smoothing(smoothing_fwhm):
    """``connected_regions``' ``smoothing_fwhm``: None or a number of mm, not below 0."""
    if smoothing_fwhm is not None and (not _is_real(smoothing_fwhm) or smoothing_fwhm < 0):
        raise ParameterError(
            "smoothing_fwhm", "a non-negative number of mm or None", smoothing_fwhm
        )
    return smoothing_fwhm


def check_popmean(popmean):
    """``ttest_1samp``'s number ``popmean`` (the function also takes a 3D image)."""
    if not _is_real(popmean):
        raise ParameterError("popmean", "a number or a 3D image", popmean)
    return float(popmean)


def check_real(value, name, expected="a number"):
    """``value`` if it is a real number (not a bool), e.g. a masker's ``background_label``."""
    if not _is_real(value):
        raise ParameterError(name, expected, value)
    return value


def check_cutoffs(lower_cutoff, upper_cutoff):
    """``compute_epi_mask``'s order of its (already checked) cutoffs: lower < upper."""
    if lower_cutoff >= upper_cutoff:
        raise ParameterError(
            "lower_cutoff", f"a value below upper_cutoff={float(upper_cutoff)}",
            float(lower_cutoff),
        )
