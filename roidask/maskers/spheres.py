"""SpheresMasker: the mean signal of a sphere around each seed, as nilearn's NiftiSpheresMasker.

The voxels of a sphere follow nilearn's ``apply_mask_and_get_affinity``
exactly: every (in-mask) voxel whose centre lies within ``radius`` mm of the
seed, plus the voxel nearest to the seed (so ``radius=0`` still gives one
voxel), plus the first voxel whose world coordinates, truncated to integers,
equal the seed's truncated coordinates. The membership is a small numpy
computation from the grid (and mask); ``transform`` returns the means of
every volume lazily, in one pass, through
:func:`roidask._dask.extraction.weighted_sums` (weights ``1 / size``).
"""

import numbers

import dask
import numpy as np
import xarray as xr

from roidask._dask.data import dask_data
from roidask._dask.extraction import weighted_sums
from roidask._utils.checks import check_bool, mask_values
from roidask._utils.docs import fill_doc
from roidask.errors import ParameterError
from roidask.grid import TIME_DIM, image_affine, same_grid, time_coords, voxel_size
from roidask.image.resampling import resample_img
from roidask.maskers.base import _BaseMasker, _one_image
from roidask.maskers.inputs import _load, _load_checked


def _check_seeds(seeds):
    if isinstance(seeds, str) or not hasattr(seeds, "__iter__"):
        raise ParameterError("seeds", "a list of (x, y, z) coordinates in mm", seeds)
    checked = []
    for i, seed in enumerate(seeds):
        if not hasattr(seed, "__len__") or isinstance(seed, str):
            raise ParameterError(f"seeds[{i}]", "a triplet of coordinates", seed)
        seed = seed.tolist() if isinstance(seed, np.ndarray) else list(seed)
        if len(seed) != 3 or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) for v in seed):
            raise ParameterError(f"seeds[{i}]", "a triplet of coordinates (numbers)", seed)
        checked.append(seed)
    if not checked:
        raise ParameterError("seeds", "at least one seed", seeds)
    return checked


def _box(seed, reach, inverse, shape):
    """Voxel slices around a cube of half-side ``reach`` mm centred on ``seed``."""
    corners = np.array(np.meshgrid(*[[s - reach, s + reach] for s in seed], indexing="ij"))
    corners = corners.reshape(3, -1)
    voxels = inverse[:3, :3] @ corners + inverse[:3, 3:4]
    low = np.clip(np.floor(voxels.min(axis=1)).astype(int) - 1, 0, None)
    high = np.minimum(np.ceil(voxels.max(axis=1)).astype(int) + 2, shape)
    return tuple(slice(int(a), int(max(a, b))) for a, b in zip(low, high))


def sphere_members(seeds, radius, affine, shape, mask=None):
    """Boolean crop and box of each sphere's voxels, by nilearn's rules.

    Parameters
    ----------
    seeds : list of (x, y, z)
        World coordinates in mm.
    radius : float
    affine : numpy.ndarray
    shape : tuple of 3 int
    mask : numpy.ndarray of bool, optional

    Returns
    -------
    list of (numpy.ndarray of bool, tuple of slices)

    Examples
    --------
    >>> import numpy as np
    >>> crop, box = sphere_members([(1.0, 1.0, 1.0)], 0.0, np.eye(4), (3, 3, 3))[0]
    >>> int(crop.sum()), [s.start for s in box]
    (1, [0, 0, 0])
    """
    affine = np.asarray(affine, dtype=np.float64)
    inverse = np.linalg.inv(affine)
    members = []
    for seed in seeds:
        box = _box(seed, float(radius) + 2.0, inverse, shape)
        ijk = np.stack(np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij"))
        world = np.tensordot(affine[:3, :3], ijk, axes=1) + affine[:3, 3][:, None, None, None]
        inside = np.ones(ijk.shape[1:], bool) if mask is None else mask[box]
        distance = np.sqrt(((world - np.asarray(seed)[:, None, None, None]) ** 2).sum(axis=0))
        crop = inside & (distance <= radius)
        nearest = np.round(inverse[:3, :3] @ np.asarray(seed, float) + inverse[:3, 3])
        nearest = nearest.astype(int)
        local = tuple(int(n - s.start) for n, s in zip(nearest, box))
        if all(0 <= n < s.stop - s.start for n, s in zip(local, box)) and inside[local]:
            crop[local] = True
        # nilearn also includes the first in-mask voxel whose world coordinates,
        # truncated to integers, equal the seed's
        same = inside & np.all(world.astype(int) == np.asarray(
            [int(v) for v in seed])[:, None, None, None], axis=0)
        if same.any():
            crop[np.unravel_index(np.flatnonzero(same)[0], same.shape)] = True
        members.append((crop, box))
    return members


@fill_doc
class SpheresMasker(_BaseMasker):
    """The mean signal of a sphere around each seed, as nilearn's NiftiSpheresMasker.

    Parameters
    ----------
    seeds : list of (x, y, z)
        Sphere centres, world coordinates in mm.
    radius : float, optional
        Sphere radius in mm; None as 0 (nilearn's default: only the voxel
        nearest to the seed).
    mask_img : xarray.DataArray or path, optional
        Voxels outside this mask are in no sphere (resampled nearest onto
        the data grid). The spheres of a grid are placed once, in ``fit``
        for the grid of its ``imgs``; ``transform`` of an image on a grid not
        seen yet places them there without touching the data, but with a
        mask on another grid it computes that (3D) mask's resampling once.
    allow_overlap : bool
        If False (default), spheres sharing a voxel raise
        :class:`~roidask.errors.ParameterError` (nilearn's ValueError).
    %(cleaning_parameters)s
    runs : array-like or str, optional
        Run of each volume (or the name of a ``t`` coordinate), for cleaning
        each run separately.

    Attributes
    ----------
    seeds_ : list of list of float
    n_elements_ : int
        Number of spheres.
    sphere_sizes_ : numpy.ndarray or None
        Voxels of each sphere on the grid of the data given to ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> data = np.arange(5 * 5 * 5 * 2, dtype="float32").reshape(5, 5, 5, 2)
    >>> masker = SpheresMasker([(2.0, 2.0, 2.0)], radius=1.0)
    >>> masker.fit_transform(new_image(data, np.eye(4))).values.tolist()
    [[124.0], [125.0]]
    """

    _param_names = (
        "seeds", "radius", "mask_img", "allow_overlap", "smoothing_fwhm", "standardize",
        "standardize_confounds", "high_variance_confounds", "detrend", "low_pass",
        "high_pass", "t_r", "runs",
    )

    def __init__(self, seeds=None, radius=None, mask_img=None, allow_overlap=False, *,
                 smoothing_fwhm=None, standardize=False, standardize_confounds=True,
                 high_variance_confounds=False, detrend=False, low_pass=None, high_pass=None,
                 t_r=None, runs=None):
        self._set_params(locals())

    def _check_params(self):
        self._check_common()
        check_bool(self.allow_overlap, "allow_overlap")
        radius = 0.0 if self.radius is None else self.radius
        if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not (
                np.isfinite(radius) and radius >= 0):
            raise ParameterError("radius", "a number of mm >= 0", self.radius)
        self._radius = float(radius)
        return _check_seeds(self.seeds)

    def fit(self, imgs=None, y=None):
        """Check the seeds, load the mask; with ``imgs``, place the spheres on their grid.

        Parameters
        ----------
        imgs : xarray.DataArray, path or list of them, optional
        y : ignored
            For scikit-learn's ``fit(X, y)``.

        Returns
        -------
        SpheresMasker
            self

        Examples
        --------
        >>> SpheresMasker([(0, 0, 0), (10, 0, 0)], radius=4).fit().n_elements_
        2
        """
        self.fitted_ = False
        self.seeds_ = self._check_params()
        mask_img = _load_checked(self.mask_img, "mask_img", 3, "mask")
        if mask_img is not None:
            mask_img = mask_img.copy(data=mask_values(np.asarray(dask.compute(mask_img.data)[0]),
                                                      "mask_img"))
        self.mask_img_ = mask_img
        self.n_elements_ = len(self.seeds_)
        self._grids = {}
        self.sphere_sizes_ = None
        data_img = None if imgs is None else _load(_one_image(imgs), "imgs")
        if data_img is not None:
            members = self._members(data_img)
            self.sphere_sizes_ = np.array([int(crop.sum()) for crop, _ in members])
        self._report_img = data_img
        self.fitted_ = True
        return self

    def _members(self, img):
        """The spheres on ``img``'s grid (computed once per grid, in numpy)."""
        affine = image_affine(img)
        key = (tuple(img.shape[:3]), affine.tobytes())
        if key not in self._grids:
            mask = None
            if self.mask_img_ is not None:
                mask_img = self.mask_img_
                if not same_grid(mask_img, img):
                    mask_img = resample_img(mask_img, affine, img.shape[:3],
                                            interpolation="nearest")
                with dask.config.set(scheduler="sync"):
                    mask = np.asarray(mask_img.values) != 0
            members = sphere_members(self.seeds_, self._radius, affine, img.shape[:3], mask)
            sizes = np.array([int(crop.sum()) for crop, _ in members])
            if (sizes == 0).any():
                raise ParameterError(
                    "seeds", "spheres that hold at least one (in-mask) voxel",
                    f"empty spheres {np.flatnonzero(sizes == 0).tolist()}",
                )
            if not self.allow_overlap:
                count = np.zeros(img.shape[:3], np.int32)
                for crop, box in members:
                    count[box] += crop
                if (count >= 2).any():
                    raise ParameterError(
                        "seeds", "spheres that do not overlap (allow_overlap=False)",
                        "overlapping spheres",
                    )
            self._grids[key] = members
        return self._grids[key]

    def transform(self, imgs, confounds=None, sample_mask=None):
        """Mean signal of every sphere, lazily.

        Parameters
        ----------
        imgs : xarray.DataArray or path
            4D image (a 3D image gives one value per sphere).
        confounds : array-like, DataFrame, path or list of them, optional
            One row per volume, regressed out (see :func:`roidask.signal.clean`).
        %(sample_mask_parameter)s

        Returns
        -------
        xarray.DataArray
            Dims ``("t", "region")``; ``region`` numbers the seeds. float32
            for float32 data, else float64.

        Examples
        --------
        >>> import numpy as np
        >>> from roidask.grid import new_image
        >>> img = new_image(np.ones((4, 4, 4, 3), "float32"), np.eye(4))
        >>> SpheresMasker([(1, 1, 1)], radius=1.5).fit(img).transform(img).shape
        (3, 1)
        """
        return self._transform(imgs, confounds, sample_mask)

    def _extract(self, img):
        dtype = np.float32 if img.dtype == np.float32 else np.float64
        members = self._members(img)
        weights = [(crop / crop.sum(), box) for crop, box in members]
        values = weighted_sums(dask_data(self._smooth(img)), weights, dtype)
        signals = xr.DataArray(
            values, dims=(TIME_DIM, "region"),
            coords={**time_coords(img, with_index=True), "region": np.arange(self.n_elements_)},
            name="signals",
        )
        return signals, dtype

    def _report_content(self, title):
        from roidask.reporting.html_report import ReportContent, grid_text

        if self._report_img is None:
            raise ParameterError("imgs", "fit(imgs) before a report (spheres need a grid)",
                                 None)
        img = self._report_img
        overlay = np.zeros(img.shape[:3], np.int32)
        for number, (crop, box) in enumerate(self._members(img), start=1):
            overlay[box] = np.where(crop, number, overlay[box])
        return ReportContent(
            title=title or "SpheresMasker report",
            summary=f"{self.n_elements_} spheres of radius {self._radius:g} mm on a grid of "
                    f"{grid_text(img)}.",
            overlay=overlay, kind="labels", voxel_size=tuple(voxel_size(img)),
            affine=image_affine(img),
            caption="Spheres over the mean image",
            background=self._report_background(img), parameters=self.get_params(),
        )


NiftiSpheresMasker = SpheresMasker
