"""nilearn's multi-subject maskers: a list of 4D images in, a list of lazy signals out.

``MultiMasker`` / ``MultiLabelsMasker`` / ``MultiMapsMasker`` (and nilearn's
names ``MultiNiftiMasker``, ...) are the one-image maskers with nilearn's
list behaviour: ``transform`` of a list of 4D images (one per subject or
run) returns one lazy signals array per image, with confounds and sample
masks given per image; a single image gives a single result. ``fit`` of a
``MultiMasker`` without ``mask_img`` computes one mask per image and keeps
the voxels that at least ``threshold`` of them share
(:func:`roidask.masking.compute_multi_epi_mask` and its siblings, with
nilearn's defaults for several images).

nilearn's ``n_jobs`` is accepted and has nothing to do: the lazy results of
all images are computed together, in parallel, by ``dask.compute``.

Examples
--------
>>> import dask, numpy as np
>>> from roidask.grid import new_image
>>> labels = new_image(np.repeat([0, 1, 2], 4).reshape(3, 2, 2), np.eye(4))
>>> runs = [new_image(np.full((3, 2, 2, n), float(n), "float32"), np.eye(4)) for n in (4, 6)]
>>> signals = MultiLabelsMasker(labels).fit_transform(runs)
>>> [s.shape for s in dask.compute(*signals)]
[(4, 2), (6, 2)]
"""

import functools

from roidask.errors import ParameterError
from roidask.maskers.inputs import _load
from roidask.maskers.labels import LabelsMasker
from roidask.maskers.maps import MapsMasker
from roidask.maskers.voxels import Masker

__all__ = ["MultiLabelsMasker", "MultiMapsMasker", "MultiMasker", "MultiNiftiLabelsMasker",
           "MultiNiftiMapsMasker", "MultiNiftiMasker"]

def _is_image_list(imgs):
    return isinstance(imgs, (list, tuple))


def _first(imgs):
    """The image a fit on a list works with: its first (nilearn's rule), or ``imgs`` itself."""
    return imgs[0] if _is_image_list(imgs) and imgs else imgs


def _per_image(values, n_images, argument):
    """``values`` (None, or one per image) as a list of one entry per image."""
    if values is None:
        return [None] * n_images
    if not _is_image_list(values) or len(values) != n_images:
        raise ParameterError(argument, f"None or a list of {n_images} (one per image)",
                             type(values).__name__ if not _is_image_list(values)
                             else f"a list of {len(values)}")
    return list(values)


class _MultiImages:
    """``transform`` of a list of images: one result per image (nilearn's Multi* maskers)."""

    def transform_imgs(self, imgs_list, confounds=None, sample_mask=None, copy=True, n_jobs=1):
        """Lazy signals of each image of ``imgs_list``; nilearn's ``transform_imgs``.

        ``confounds`` and ``sample_mask`` are None or one entry per image;
        ``copy`` and ``n_jobs`` are accepted for nilearn's signature (the
        results are new lazy arrays; dask computes them in parallel).
        """
        if not imgs_list:
            raise ParameterError("imgs_list", "a non-empty list of images", "an empty list")
        n_images = len(imgs_list)
        confounds = _per_image(confounds, n_images, "confounds")
        sample_mask = _per_image(sample_mask, n_images, "sample_mask")
        return [self._transform(img, c, s) for img, c, s in zip(imgs_list, confounds,
                                                                  sample_mask)]

    def transform(self, imgs, confounds=None, sample_mask=None):
        """One image: its lazy signals; a list of images: a list of them."""
        if _is_image_list(imgs):
            return self.transform_imgs(imgs, confounds=confounds, sample_mask=sample_mask)
        return super().transform(imgs, confounds=confounds, sample_mask=sample_mask)

    def fit_transform(self, imgs, y=None, confounds=None, sample_mask=None):
        """Fit on ``imgs`` (one image or a list), then :meth:`transform` them."""
        return self.fit(imgs).transform(imgs, confounds=confounds, sample_mask=sample_mask)


class MultiLabelsMasker(_MultiImages, LabelsMasker):
    """:class:`LabelsMasker` over a list of images (nilearn's ``MultiNiftiLabelsMasker``).

    ``fit`` needs no images (the atlas is given); with a list, it fits on
    the first image's grid, as nilearn does.
    """

    _param_names = LabelsMasker._param_names + ("n_jobs",)

    def __init__(self, labels_img=None, labels=None, *, background_label=0, mask_img=None,
                 smoothing_fwhm=None, standardize=False, standardize_confounds=True,
                 high_variance_confounds=False, detrend=False, low_pass=None, high_pass=None,
                 t_r=None, resampling_target="data", strategy="mean", keep_masked_labels=False,
                 runs=None, lut=None, n_jobs=1):
        self._set_params(locals())

    def fit(self, imgs=None, y=None):
        return super().fit(_first(imgs))


class MultiMapsMasker(_MultiImages, MapsMasker):
    """:class:`MapsMasker` over a list of images (nilearn's ``MultiNiftiMapsMasker``)."""

    _param_names = MapsMasker._param_names + ("n_jobs",)

    def __init__(self, maps_img=None, mask_img=None, *, allow_overlap=True,
                 smoothing_fwhm=None, standardize=False, standardize_confounds=True,
                 high_variance_confounds=False, detrend=False, low_pass=None, high_pass=None,
                 t_r=None, resampling_target="data", runs=None, n_jobs=1):
        self._set_params(locals())

    def fit(self, imgs=None, y=None):
        return super().fit(_first(imgs))


class MultiMasker(_MultiImages, Masker):
    """:class:`Masker` over a list of images (nilearn's ``MultiNiftiMasker``).

    Without ``mask_img``, ``fit(imgs)`` computes the common mask of the
    images with :func:`roidask.masking.compute_multi_epi_mask`,
    :func:`~roidask.masking.compute_multi_background_mask` or
    :func:`~roidask.masking.compute_multi_brain_mask` (``mask_strategy``;
    ``mask_args`` are their options), as nilearn does.
    """

    _param_names = Masker._param_names + ("n_jobs",)

    def __init__(self, mask_img=None, *, runs=None, smoothing_fwhm=None, standardize=False,
                 standardize_confounds=True, detrend=False, high_variance_confounds=False,
                 low_pass=None, high_pass=None, t_r=None, target_affine=None,
                 target_shape=None, mask_strategy="background", mask_args=None, n_jobs=1):
        self._set_params(locals())

    def fit(self, imgs=None, y=None):
        images = imgs if _is_image_list(imgs) else [] if imgs is None else [imgs]
        if self.mask_img is None and imgs is not None and not images:
            raise ParameterError("imgs", "a non-empty list of images", "an empty list")
        self._images = [_load(img, "imgs") for img in images]
        return super().fit(self._images[0] if self._images else None)

    def _mask_function(self):
        """nilearn's ``compute_multi_*_mask`` of the strategy."""
        from roidask import masking

        if self.mask_strategy == "background":
            return masking.compute_multi_background_mask
        if self.mask_strategy == "epi":
            return masking.compute_multi_epi_mask
        template = super()._mask_function()  # compute_brain_mask with its mask_type
        return functools.partial(masking.compute_multi_brain_mask, **template.keywords)

    def _compute_mask(self, img):
        function = self._mask_function()
        return function(self._images, **self._mask_arguments(function))


#: nilearn's class names
MultiNiftiMasker = MultiMasker
MultiNiftiLabelsMasker = MultiLabelsMasker
MultiNiftiMapsMasker = MultiMapsMasker
