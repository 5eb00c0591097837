"""The operations a pipeline config can name, registered with their parameter specs.

Most are roidask's lazy library functions registered as they are; a few
adapters make config-friendly forms (selecting volumes by condition, a
t-test between two conditions of one run, maskers that return their signals).
"""

import dataclasses

import numpy as np

from roidask import image, masking, stats
from roidask.errors import ParameterError
from roidask.maskers import LabelsMasker, Masker
from roidask.pipeline.registry import IMAGE, register
from roidask.pipeline.spec import (
    AnyOf,
    Choice,
    Flag,
    ListOf,
    Number,
    Optional,
    Spec,
    Text,
    Threshold,
)

FWHM = Optional(AnyOf(Number(minimum=0), ListOf(Number(minimum=0), length=3), Choice("fast"),
                      expected="a number >= 0 (mm), a list of 3 such numbers or 'fast'"))
CONNECTIVITY = Choice(1, 2, 3)
ITERATIONS = Number(minimum=1, integer=True)
STANDARDIZE = Choice(False, None, "zscore_sample", "zscore", "psc")
STRATEGY = Choice("mean", "median", "sum", "minimum", "maximum", "standard_deviation",
                  "variance")
CONDITIONS = AnyOf(Text(), Number(), ListOf(AnyOf(Text(), Number())))
MORPHOLOGY = {"img": IMAGE, "iterations": ITERATIONS, "connectivity": CONNECTIVITY}


@dataclasses.dataclass
class Extraction:
    """A fitted masker and the lazy signals it extracted."""

    masker: object
    signals: object


@register("select_volumes", returns="image",
          params={"img": IMAGE, "condition": CONDITIONS, "by": Text()})
def select_volumes(img, condition, by="condition"):
    """Volumes whose ``by`` coordinate equals ``condition`` (or is in a list)."""
    if by not in img.coords:
        raise ParameterError("by", f"a coordinate on t ({', '.join(map(str, img.coords))})", by)
    wanted = condition if isinstance(condition, list) else [condition]
    return img.isel(t=np.flatnonzero(np.isin(img.coords[by].values, wanted)))


def _two_conditions(img, condition_a, condition_b, by):
    return select_volumes(img, condition_a, by), select_volumes(img, condition_b, by)


@register("ttest_ind", returns="stats",
          params={"img": IMAGE, "condition_a": CONDITIONS, "condition_b": CONDITIONS,
                  "by": Text(), "equal_var": Flag(), "neg_log10_p_max": Optional(Number())})
def ttest_conditions(img, condition_a, condition_b, by="condition", equal_var=True,
                     neg_log10_p_max=stats.NEG_LOG10_P_MAX):
    """Voxelwise two-sample t-test between the volumes of two conditions.

    The selection goes through the image's pending operators: after a
    ``smooth_img`` step only the selected volumes are smoothed.
    """
    a, b = _two_conditions(img, condition_a, condition_b, by)
    return stats.ttest_ind(a, b, equal_var=equal_var, neg_log10_p_max=neg_log10_p_max)


register("ttest_1samp", returns="stats",
         params={"img": IMAGE, "popmean": Number()})(stats.ttest_1samp)


@register("f_oneway", returns="stats",
          params={"img": IMAGE, "by": Text(), "conditions": Optional(ListOf(Text()))})
def f_test_conditions(img, by="condition", conditions=None):
    """One-way F-test across the conditions of ``by`` (all, or the listed ones)."""
    return stats.f_oneway(img, by, labels=conditions)


register("smooth_img", returns="image", params={"img": IMAGE, "fwhm": FWHM})(image.smooth_img)
register("mean_img", returns="image", params={"img": IMAGE})(image.mean_img)
register("std_img", returns="image", params={"img": IMAGE})(image.std_img)
register("threshold_img", returns="image",
         params={"img": IMAGE, "threshold": Threshold(), "two_sided": Flag(),
                 "cluster_threshold": Number(minimum=0, integer=True),
                 "mask_img": Optional(IMAGE)})(image.threshold_img)
register("binarize_img", returns="image",
         params={"img": IMAGE, "threshold": Threshold(), "two_sided": Flag(),
                 "mask_img": Optional(IMAGE)})(image.binarize_img)
register("resample_to_img", returns="image",
         params={"source_img": IMAGE, "target_img": IMAGE,
                 "interpolation": Choice("continuous", "linear", "nearest")})(
    image.resample_to_img)


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
          params={"maps_img": IMAGE, "min_region_size": Number(minimum=0),
                  "extract_type": Choice("connected_components", "local_regions"),
                  "smoothing_fwhm": Optional(Number(minimum=0)), "mask_img": Optional(IMAGE)})
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
         params={"epi_img": IMAGE, "lower_cutoff": Number(0, 1), "upper_cutoff": Number(0, 1),
                 "connected": Flag(), "opening": AnyOf(Flag(), Number(minimum=0, integer=True)),
                 "exclude_zeros": Flag()})(masking.compute_epi_mask)
register("compute_background_mask", returns="image",
         params={"data_imgs": IMAGE, "border_size": Number(minimum=0, integer=True),
                 "connected": Flag(), "opening": AnyOf(Flag(), Number(minimum=0, integer=True))})(
    masking.compute_background_mask)
register("compute_brain_mask", returns="image",
         params={"target_img": IMAGE, "threshold": Number(0, 1), "connected": Flag(),
                 "opening": AnyOf(Flag(), Number(minimum=0, integer=True)),
                 "mask_type": Choice("whole-brain", "gm", "wm")})(masking.compute_brain_mask)

CLEANING = {"standardize": STANDARDIZE, "detrend": Flag(), "low_pass": Optional(Number(0)),
            "high_pass": Optional(Number(0)), "t_r": Optional(Number(0)),
            "smoothing_fwhm": Optional(Number(minimum=0))}


@register("labels_masker", returns="extraction",
          params={"img": IMAGE, "labels_img": IMAGE, "labels": Optional(ListOf(Text())),
                  "background_label": Number(), "strategy": STRATEGY,
                  "mask_img": Optional(IMAGE),
                  "resampling_target": Choice("data", "labels", None),
                  "keep_masked_labels": Flag(), **CLEANING})
def labels_masker(img, labels_img, **options):
    """One signal per region of ``labels_img`` and volume (nilearn's NiftiLabelsMasker)."""
    masker = LabelsMasker(labels_img, **options)
    return Extraction(masker, masker.fit_transform(img))


@register("masker", returns="extraction",
          params={"img": IMAGE, "mask_img": Optional(IMAGE),
                  "mask_strategy": Choice("background", "epi", "whole-brain-template",
                                          "gm-template", "wm-template"),
                  "mask_args": Optional(Spec()), **CLEANING})
def voxel_masker(img, **options):
    """One signal per in-mask voxel and volume (nilearn's NiftiMasker)."""
    masker = Masker(**options)
    return Extraction(masker, masker.fit_transform(img))


@register("region_sizes", returns="table",
          params={"labels_img": IMAGE, "labels": AnyOf(Number(minimum=0, integer=True),
                                                       ListOf(Number(integer=True)))})
def region_sizes(labels_img, labels):
    """Size of each labelled region (labels 1..n, or the listed values) in voxels and mm^3."""
    from roidask.regions.components import region_sizes as sizes

    return sizes(labels_img, labels)
