"""The operations a pipeline config can name, registered with their parameter specs.

Most are roidask's lazy library functions registered as they are; a few
adapters make config-friendly forms (selecting volumes by condition, a
t-test between two conditions of one run, maskers that return their signals).

Every parameter's spec is :class:`~roidask.pipeline.spec.Checked` around the
check the function itself runs (from :mod:`roidask._utils.checks`, or the
function's module), so ``roidask validate`` refuses what the function
refuses, with its message. A flag that a library function reads as true or
false without checking is checked by the registered op (:func:`_checking_flags`).
Rules that tie two parameters together (a negative threshold needs
``two_sided: false``; ``lower_cutoff < upper_cutoff``; a band-pass needs
``t_r``) are :func:`check_step`'s, run on a whole step.
"""

import dataclasses
import functools
import inspect
import numbers

import numpy as np

from roidask import image, masking, stats
from roidask._utils.checks import (
    binary_structure,
    check_bool,
    check_border_size,
    check_choice,
    check_cluster_threshold,
    check_cutoffs,
    check_fwhm,
    check_iterations,
    check_min_region_size,
    check_popmean,
    check_region_smoothing,
    check_template_threshold,
)
from roidask.errors import ParameterError
from roidask.image.resampling import _check_interpolation
from roidask.image.thresholding import parse_threshold
from roidask.maskers import LabelsMasker, Masker
from roidask.maskers.voxels import MASK_STRATEGIES
from roidask.masking import MASK_TYPES, _check_fraction, _check_opening
from roidask.pipeline.registry import IMAGE, OPS, register
from roidask.pipeline.spec import Checked, ListOf, Optional, Ref, Spec, is_reference
from roidask.regions.components import EXTRACT_TYPES, _label_values


def check_connectivity(connectivity):
    """The morphology and labelling functions' ``connectivity``: 1, 2 or 3."""
    binary_structure(None, connectivity)
    return connectivity


def check_condition(condition, name="condition"):
    """A condition label (a string or a number) or a non-empty list of them.

    Examples
    --------
    >>> check_condition(["face", "house"])
    ['face', 'house']
    >>> check_condition([], "condition_a")
    Traceback (most recent call last):
    ...
    roidask.errors.ParameterError: condition_a: expected a condition label (a string or a \
number) or a non-empty list of them, got []
    """
    items = condition if isinstance(condition, list) else [condition]
    if not items or not all(isinstance(c, str) or (isinstance(c, numbers.Real)
                                                     and not isinstance(c, bool)) for c in items):
        raise ParameterError(name, "a condition label (a string or a number) or a non-empty "
                             "list of them", condition)
    return condition


def check_conditions(conditions):
    """None (every condition) or a list of at least 2 distinct condition labels."""
    if conditions is None:
        return None
    if (not isinstance(conditions, list) or len(conditions) < 2
            or len({repr(c) for c in conditions}) != len(conditions)):
        raise ParameterError("conditions", "null or a list of at least 2 distinct condition "
                             "labels", conditions)
    check_condition(conditions, "conditions")
    return conditions


def check_by(by):
    """``by``: the name of a coordinate on t (checked against the image when built)."""
    if not isinstance(by, str):
        raise ParameterError("by", "the name of a coordinate on t", by)
    return by


def _own_errors(check, key):
    """``check`` run for one parameter: errors that name another parameter are left
    to :func:`check_step`, which sees the whole step."""

    def check_one(value):
        try:
            check(value)
        except ParameterError as err:
            if err.name == key:
                raise

    check_one.__name__ = f"check_{key}"
    return check_one


class _Atlas:
    """Stands for a labels image in a check of a masker's options (never read)."""


def _labels_masker_params(**options):
    LabelsMasker(_Atlas(), **options)._check_params()


def _masker_params(mask_strategy="background", **options):
    Masker(**options)._check_common()
    check_choice(mask_strategy, "mask_strategy", MASK_STRATEGIES)


def _masker_option(check, key):
    return Checked(_own_errors(lambda value: check(**{key: value}), key))


def _checking_flags(function, *names):
    """``function``, refusing a non-boolean value of the flags ``names`` as configs do."""

    @functools.wraps(function)
    def checked(*args, **kwargs):
        for name in names:
            if name in kwargs:
                check_bool(kwargs[name], name)
        return function(*args, **kwargs)

    return checked


def _threshold_sign(threshold, two_sided):
    parse_threshold(threshold, two_sided)


def _cutoffs(lower_cutoff, upper_cutoff):
    check_cutoffs(_check_fraction(lower_cutoff, "lower_cutoff"),
                  _check_fraction(upper_cutoff, "upper_cutoff"))


STEP_CHECKS = {
    "threshold_img": (_threshold_sign, ("threshold", "two_sided")),
    "binarize_img": (_threshold_sign, ("threshold", "two_sided")),
    "compute_epi_mask": (_cutoffs, ("lower_cutoff", "upper_cutoff")),
    "labels_masker": (_labels_masker_params, None),
    "masker": (_masker_params, None),
}


def check_step(op_name, params):
    """Check the rules that tie a step's parameters together, as its function would.

    ``params`` are the step's parameters as written (each already passed
    its own spec); the others take the function's defaults. Raises
    :class:`~roidask.errors.ParameterError` naming the parameter at fault.

    Examples
    --------
    >>> check_step("threshold_img", {"img": "$func", "threshold": -1, "two_sided": False})
    >>> check_step("threshold_img", {"img": "$func", "threshold": -1})
    Traceback (most recent call last):
    ...
    roidask.errors.ParameterError: threshold: expected a value >= 0 when two_sided=True (use \
two_sided=False for a negative one-sided threshold), got -1
    """
    if op_name not in STEP_CHECKS:
        return
    check, names = STEP_CHECKS[op_name]
    op = OPS[op_name]
    values = {name: p.default for name, p in inspect.signature(op.function).parameters.items()
              if p.default is not inspect.Parameter.empty}
    values.update(params)
    if names is None:  # every option that is not an image
        names = [name for name in op.params if name in values and not _takes_image(op, name)]
    check(**{name: values[name] for name in names if not is_reference(values[name])})


def _takes_image(op, name):
    """Whether parameter ``name`` takes references (images, a look-up table, confounds)."""
    spec = op.params[name]
    spec = spec.spec if isinstance(spec, Optional) else spec
    return isinstance(spec, Ref) or (isinstance(spec, ListOf) and isinstance(spec.item, Ref))


FWHM = Checked(check_fwhm)
CONNECTIVITY = Checked(check_connectivity)
ITERATIONS = Checked(check_iterations)
OPENING = Checked(_check_opening)
THRESHOLD = Checked(parse_threshold, False)  # the sign against two_sided: check_step
BY = Checked(check_by)
MORPHOLOGY = {"img": IMAGE, "iterations": ITERATIONS, "connectivity": CONNECTIVITY}


def flag(name):
    """The spec of a boolean parameter ``name`` (the functions' :func:`check_bool`)."""
    return Checked(check_bool, name)


def condition(name):
    return Checked(check_condition, name)


@dataclasses.dataclass
class Extraction:
    """A fitted masker and the lazy signals it extracted."""

    masker: object
    signals: object


@register("select_volumes", returns="image",
          params={"img": IMAGE, "condition": condition("condition"), "by": BY})
def select_volumes(img, condition, by="condition"):
    """Volumes whose ``by`` coordinate equals ``condition`` (or is in a list)."""
    check_condition(condition)
    if check_by(by) not in img.coords:
        raise ParameterError("by", f"a coordinate on t ({', '.join(map(str, img.coords))})", by)
    wanted = condition if isinstance(condition, list) else [condition]
    return img.isel(t=np.flatnonzero(np.isin(img.coords[by].values, wanted)))


def _two_conditions(img, condition_a, condition_b, by):
    check_condition(condition_a, "condition_a")
    check_condition(condition_b, "condition_b")
    return select_volumes(img, condition_a, by), select_volumes(img, condition_b, by)


@register("ttest_ind", returns="stats",
          params={"img": IMAGE, "condition_a": condition("condition_a"),
                  "condition_b": condition("condition_b"), "by": BY,
                  "equal_var": flag("equal_var"),
                  "neg_log10_p_max": Checked(stats._check_max)})
def ttest_conditions(img, condition_a, condition_b, by="condition", equal_var=True,
                     neg_log10_p_max=stats.NEG_LOG10_P_MAX):
    """Voxelwise two-sample t-test between the volumes of two conditions.

    The selection goes through the image's pending operators: after a
    ``smooth_img`` step only the selected volumes are smoothed.
    """
    a, b = _two_conditions(img, condition_a, condition_b, by)
    return stats.ttest_ind(a, b, equal_var=equal_var, neg_log10_p_max=neg_log10_p_max)


register("ttest_1samp", returns="stats",
         params={"img": IMAGE, "popmean": Checked(check_popmean)})(stats.ttest_1samp)


@register("f_oneway", returns="stats",
          params={"img": IMAGE, "by": BY, "conditions": Checked(check_conditions)})
def f_test_conditions(img, by="condition", conditions=None):
    """One-way F-test across the conditions of ``by`` (all, or the listed ones)."""
    return stats.f_oneway(img, check_by(by), labels=check_conditions(conditions))


register("smooth_img", returns="image", params={"img": IMAGE, "fwhm": FWHM})(image.smooth_img)
register("mean_img", returns="image", params={"img": IMAGE})(image.mean_img)
register("std_img", returns="image", params={"img": IMAGE})(image.std_img)
register("threshold_img", returns="image",
         params={"img": IMAGE, "threshold": THRESHOLD, "two_sided": flag("two_sided"),
                 "cluster_threshold": Checked(check_cluster_threshold),
                 "mask_img": Optional(IMAGE)})(_checking_flags(image.threshold_img, "two_sided"))
register("binarize_img", returns="image",
         params={"img": IMAGE, "threshold": THRESHOLD, "two_sided": flag("two_sided"),
                 "mask_img": Optional(IMAGE)})(_checking_flags(image.binarize_img, "two_sided"))
register("resample_to_img", returns="image",
         params={"source_img": IMAGE, "target_img": IMAGE,
                 "interpolation": Checked(_check_interpolation)})(image.resample_to_img)


@register("mask_and", returns="image", params={"masks": ListOf(IMAGE)})
def mask_and(masks):
    """Voxels inside every mask."""
    return image.mask_and(*masks)


@register("mask_or", returns="image", params={"masks": ListOf(IMAGE)})
def mask_or(masks):
    """Voxels inside any mask."""
    return image.mask_or(*masks)


register("mask_not", returns="image", params={"mask_img": IMAGE})(image.mask_not)
for _name in ("binary_dilation", "binary_erosion", "binary_opening", "binary_closing"):
    register(_name, returns="image", params=MORPHOLOGY)(getattr(image, _name))
register("binary_fill_holes", returns="image",
         params={"img": IMAGE, "connectivity": CONNECTIVITY})(image.binary_fill_holes)


@register("label", returns="image", params={"img": IMAGE, "connectivity": CONNECTIVITY})
def label(img, connectivity=1):
    """Connected components, numbered as scipy.ndimage.label numbers them."""
    from roidask.regions.components import label as label_regions

    labels, _ = label_regions(img, connectivity=connectivity)
    return labels


@register("connected_regions", returns="image",
          params={"maps_img": IMAGE, "min_region_size": Checked(check_min_region_size),
                  "extract_type": Checked(check_choice, "extract_type", EXTRACT_TYPES,
                                          "'connected_components' or 'local_regions'"),
                  "smoothing_fwhm": Checked(check_region_smoothing),
                  "mask_img": Optional(IMAGE)})
def connected_regions(maps_img, min_region_size=1350, extract_type="local_regions",
                      smoothing_fwhm=6, mask_img=None):
    """Split a statistical map into connected regions larger than a size in mm^3.

    Returns a label image: region ``r`` is volume ``r - 1`` of nilearn's
    4D ``connected_regions`` result.
    """
    from roidask.regions.components import connected_region_labels

    return connected_region_labels(maps_img, min_region_size=min_region_size,
                                   extract_type=extract_type, smoothing_fwhm=smoothing_fwhm,
                                   mask_img=mask_img)


register("compute_epi_mask", returns="image",
         params={"epi_img": IMAGE, "lower_cutoff": Checked(_check_fraction, "lower_cutoff"),
                 "upper_cutoff": Checked(_check_fraction, "upper_cutoff"),
                 "connected": flag("connected"), "opening": OPENING,
                 "exclude_zeros": flag("exclude_zeros")})(
    _checking_flags(masking.compute_epi_mask, "connected", "exclude_zeros"))
register("compute_background_mask", returns="image",
         params={"data_imgs": IMAGE, "border_size": Checked(check_border_size),
                 "connected": flag("connected"), "opening": OPENING})(
    _checking_flags(masking.compute_background_mask, "connected"))
register("compute_brain_mask", returns="image",
         params={"target_img": IMAGE, "threshold": Checked(check_template_threshold),
                 "connected": flag("connected"), "opening": OPENING,
                 "mask_type": Checked(check_choice, "mask_type", MASK_TYPES)})(
    _checking_flags(masking.compute_brain_mask, "connected"))

CLEANING_KEYS = ("standardize", "detrend", "low_pass", "high_pass", "t_r", "smoothing_fwhm")
LABELS_MASKER_KEYS = ("labels", "background_label", "strategy", "resampling_target",
                      "keep_masked_labels") + CLEANING_KEYS


CONFOUNDS = Optional(Ref("confounds"))


def _confound_args(confounds):
    """``confounds=``, ``sample_mask=`` of a masker from a run's confounds (or None)."""
    if confounds is None:
        return {}
    return {"confounds": confounds.table, "sample_mask": confounds.sample_mask}


@register("labels_masker", returns="extraction",
          params={"img": IMAGE, "labels_img": IMAGE, "mask_img": Optional(IMAGE),
                  "lut": Optional(Ref("lut")), "confounds": CONFOUNDS,
                  **{key: _masker_option(_labels_masker_params, key)
                     for key in LABELS_MASKER_KEYS}})
def labels_masker(img, labels_img, lut=None, confounds=None, **options):
    """One signal per region of ``labels_img`` and volume (nilearn's NiftiLabelsMasker).

    ``lut`` (a BIDS ``dseg.tsv`` input) names the regions by label value;
    ``confounds`` (``$confounds`` of a BIDS config) cleans the signals with a
    run's confounds and removes its scrubbed volumes (``sample_mask``).
    """
    masker = LabelsMasker(labels_img, lut=lut, **options)
    return Extraction(masker, masker.fit_transform(img, **_confound_args(confounds)))


@register("masker", returns="extraction",
          params={"img": IMAGE, "mask_img": Optional(IMAGE),
                  "mask_strategy": _masker_option(_masker_params, "mask_strategy"),
                  "mask_args": Optional(Spec()), "confounds": CONFOUNDS,
                  **{key: _masker_option(_masker_params, key) for key in CLEANING_KEYS}})
def voxel_masker(img, confounds=None, **options):
    """One signal per in-mask voxel and volume (nilearn's NiftiMasker)."""
    masker = Masker(**options)
    return Extraction(masker, masker.fit_transform(img, **_confound_args(confounds)))


@register("region_sizes", returns="table",
          params={"labels_img": IMAGE, "labels": Checked(_label_values)})
def region_sizes(labels_img, labels):
    """Size of each labelled region (labels 1..n, or the listed values) in voxels and mm^3."""
    from roidask.regions.components import region_sizes as sizes

    return sizes(labels_img, labels)
