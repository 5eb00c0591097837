"""The roidask image model: an xarray.DataArray on a voxel grid.

An image has dims ``("i", "j", "k")`` or ``("i", "j", "k", "t")``. These are
voxel-index axes, not world axes, because affines may flip or rotate. The
``i, j, k`` coordinates hold integer voxel indices into the grid, so
``world = affine @ [i, j, k, 1]`` stays true after any slicing. The 0-d
``space`` coordinate carries the 4x4 affine and the header facts (units,
repetition time) in its attrs, the way rioxarray keeps a CRS on
``spatial_ref``; it survives arithmetic, reductions, ``where`` and a zarr
round trip. A :class:`GridIndex` on ``space`` makes xarray's alignment raise
:class:`~roidask.errors.GridMismatchError` when two images on different
affines meet, instead of silently keeping one affine.

``t`` holds the integer volume index; per-volume metadata (acquisition
``time``, ``condition``, ``run``) are non-dimension coordinates on ``t``.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image, image_affine
>>> img = new_image(np.zeros((4, 5, 6)), np.diag([2.0, 2.0, 2.0, 1.0]))
>>> image_affine(img[1:, ::2])[:3, 3].tolist()
[2.0, 0.0, 0.0]
"""

import numpy as np
import xarray as xr

from roidask.errors import GridMismatchError, NotAnImageError

SPATIAL_DIMS = ("i", "j", "k")
TIME_DIM = "t"
SPACE = "space"
AFFINE_TOLERANCE = 1e-4


def _affine_text(affine):
    return np.array2string(np.asarray(affine)[:3], precision=4, suppress_small=True)


class GridIndex(xr.Index):
    """xarray index on the ``space`` coordinate that compares affines.

    Alignment of two images whose affines differ calls :meth:`join`, which
    raises :class:`~roidask.errors.GridMismatchError` with a fix-it message.
    """

    def __init__(self, name, attrs):
        self.name = name
        self.attrs = dict(attrs)
        self.affine = np.asarray(attrs["affine"], dtype=float)

    @classmethod
    def from_variables(cls, variables, *, options):
        (name, var), = variables.items()
        if "affine" not in var.attrs:
            raise NotAnImageError(f"coordinate {name!r} has no 'affine' attribute")
        return cls(name, var.attrs)

    def create_variables(self, variables=None):
        if variables and self.name in variables:
            return {self.name: variables[self.name]}
        return {self.name: xr.Variable((), np.int64(0), self.attrs)}

    def equals(self, other, **kwargs):
        return isinstance(other, GridIndex) and np.allclose(
            self.affine, other.affine, atol=AFFINE_TOLERANCE
        )

    def _check(self, other):
        if not self.equals(other):
            raise GridMismatchError(
                "images are on different grids: affine\n"
                f"{_affine_text(self.affine)}\ndiffers from\n{_affine_text(other.affine)}\n"
                "resample one onto the other first, e.g. "
                "roidask.resample_to_img(mask, img, interpolation='nearest')"
            )

    def join(self, other, how="inner"):
        self._check(other)
        return self

    def reindex_like(self, other):
        self._check(other)
        return {}

    @classmethod
    def concat(cls, indexes, dim, positions=None):
        first = indexes[0]
        for other in indexes[1:]:
            first._check(other)
        return first

    def isel(self, indexers):
        return self

    def copy(self, deep=True):
        return type(self)(self.name, self.attrs)

    def _repr_inline_(self, max_width):
        return "GridIndex"


def _space_variable(affine, header):
    attrs = {"affine": np.asarray(affine, dtype=float).tolist()}
    attrs.update({key: value for key, value in (header or {}).items() if value is not None})
    return xr.Variable((), np.int64(0), attrs)


def new_image(data, affine, *, header=None, time_coords=None, name=None):
    """Wrap a 3D or 4D array (numpy or dask) as a roidask image.

    Parameters
    ----------
    data : array-like, 3D or 4D
        Voxel values in ``(i, j, k[, t])`` order.
    affine : (4, 4) array-like
        Voxel-to-world transform.
    header : dict, optional
        Header facts kept on ``space``: ``xyz_units``, ``t_units``, ``t_r``,
        ``sform_code``, ``qform_code``.
    time_coords : dict, optional
        Extra coordinates along ``t`` (name -> 1D values), e.g. ``condition``.
    name : str, optional
        Name of the DataArray.

    Examples
    --------
    >>> import numpy as np
    >>> img = new_image(np.zeros((2, 3, 4, 5), "int16"), np.eye(4), header={"t_r": 2.0})
    >>> img.dims, img.space.attrs["t_r"]
    (('i', 'j', 'k', 't'), 2.0)
    """
    ndim = np.ndim(data)
    if ndim not in (3, 4):
        raise NotAnImageError(f"expected a 3D or 4D array, got {ndim}D with shape {np.shape(data)}")
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4):
        raise NotAnImageError(f"expected a 4x4 affine, got shape {affine.shape}")
    dims = SPATIAL_DIMS + ((TIME_DIM,) if ndim == 4 else ())
    coords = {dim: np.arange(size) for dim, size in zip(dims, np.shape(data))}
    coords[SPACE] = _space_variable(affine, header)
    img = xr.DataArray(data, dims=dims, coords=coords)
    img.name = name  # xarray would otherwise take the dask array's name
    for key, values in (time_coords or {}).items():
        img = img.assign_coords({key: (TIME_DIM, np.asarray(values))})
    return img.set_xindex(SPACE, GridIndex)


def as_image(obj, argument="img"):
    """Check that ``obj`` is a roidask image and return it in canonical form.

    Dims are put in ``(i, j, k[, t])`` order, and the :class:`GridIndex` is
    restored when it was lost (e.g. after a plain ``xarray.open_zarr``).
    """
    if not isinstance(obj, xr.DataArray):
        raise NotAnImageError(
            f"{argument}: expected an image (xarray.DataArray from roidask.load_img), "
            f"got {type(obj).__name__}"
        )
    if SPACE not in obj.coords or "affine" not in obj.coords[SPACE].attrs:
        raise NotAnImageError(
            f"{argument}: the DataArray has no affine (no '{SPACE}' coordinate with an "
            "'affine' attribute); build images with roidask.load_img or roidask.new_image"
        )
    dims = set(obj.dims)
    if not set(SPATIAL_DIMS) <= dims or not dims <= set(SPATIAL_DIMS + (TIME_DIM,)):
        raise NotAnImageError(
            f"{argument}: expected dims ('i', 'j', 'k') or ('i', 'j', 'k', 't'), got {obj.dims}"
        )
    order = SPATIAL_DIMS + ((TIME_DIM,) if TIME_DIM in dims else ())
    if obj.dims != order:
        obj = obj.transpose(*order)
    if not isinstance(obj.xindexes.get(SPACE), GridIndex):
        obj = obj.set_xindex(SPACE, GridIndex)
    return obj


def grid_affine(img):
    """The affine of the full grid, for which the ``i, j, k`` coordinates index."""
    return np.asarray(img.coords[SPACE].attrs["affine"], dtype=float)


def image_affine(img):
    """The affine of ``img`` itself, with its voxel (0, 0, 0) at index 0.

    Slicing shifts the origin and strides scale the axes; the result is what a
    NIfTI file of this image must carry.
    """
    shift = np.eye(4)
    for axis, dim in enumerate(SPATIAL_DIMS):
        index = np.asarray(img.coords[dim].values)
        if index.size == 0:
            continue
        step = np.diff(index)
        stride = step[0] if step.size else 1
        if step.size and not np.all(step == stride):
            raise NotAnImageError(
                f"the {dim} coordinate is not evenly spaced, so the image has no affine; "
                "select voxels with slices (img.isel(i=slice(a, b))), not lists"
            )
        shift[axis, axis] = stride
        shift[axis, 3] = index[0]
    return grid_affine(img) @ shift


def voxel_size(img):
    """Voxel edge lengths: the column norms of ``affine[:3, :3]``."""
    return np.sqrt((image_affine(img)[:3, :3] ** 2).sum(axis=0))


def voxel_volume(img):
    """Volume of one voxel in world units (mm^3): ``|det(affine[:3, :3])|``."""
    return float(abs(np.linalg.det(image_affine(img)[:3, :3])))


def header_facts(img):
    """The header facts kept on ``space`` besides the affine."""
    return {k: v for k, v in img.coords[SPACE].attrs.items() if k != "affine"}


def same_grid(a, b):
    """Whether two images share shape and affine."""
    return a.shape[:3] == b.shape[:3] and np.allclose(
        image_affine(a), image_affine(b), atol=AFFINE_TOLERANCE
    )


def check_same_grid(a, b, names=("img", "mask_img")):
    """Raise :class:`GridMismatchError` unless ``a`` and ``b`` share a grid."""
    if not same_grid(a, b):
        raise GridMismatchError(
            f"{names[1]} is on a different grid from {names[0]}: shape {b.shape[:3]} "
            f"vs {a.shape[:3]}, affine\n{_affine_text(image_affine(b))}\nvs\n"
            f"{_affine_text(image_affine(a))}\nresample it first, e.g. "
            f"roidask.resample_to_img({names[1]}, {names[0]}, interpolation='nearest')"
        )


def like_image(img, data, *, name=None, drop_time=False):
    """A new image with ``data`` on the grid of ``img`` (3D if ``drop_time``).

    Keeps ``img``'s spatial coordinates and ``space``; with ``drop_time`` the
    result is 3D and the ``t`` coordinates are dropped.
    """
    dims = SPATIAL_DIMS if drop_time or np.ndim(data) == 3 else img.dims
    coords = {name_: coord for name_, coord in img.coords.items() if set(coord.dims) <= set(dims)}
    out = xr.DataArray(data, dims=dims, coords=coords)
    out.name = name
    return as_image(out)


def chunk_data(obj, chunks):
    """Rechunk only the data of a DataArray, keeping every coordinate in memory.

    ``DataArray.chunk`` also turns small non-index coordinates (``condition``,
    ``run``, ``time``) into dask arrays, and then a selection such as
    ``img.sel(t=img.condition == "face")`` needs a compute. ``chunks`` is a
    dict of dim -> size, or anything ``dask.array.rechunk`` accepts.

    Examples
    --------
    >>> import numpy as np
    >>> img = new_image(np.zeros((2, 2, 2, 4)), np.eye(4), time_coords={"condition": list("abab")})
    >>> lazy = chunk_data(img, {"t": 2})
    >>> lazy.chunks[-1], type(lazy.condition.data).__name__
    ((2, 2), 'ndarray')
    """
    import dask.array as da

    if isinstance(chunks, dict):
        current = obj.chunks or tuple((n,) for n in obj.shape)
        chunks = tuple(chunks.get(dim, current[axis]) for axis, dim in enumerate(obj.dims))
    if isinstance(obj.data, da.Array):
        return obj.copy(data=obj.data.rechunk(chunks))
    return obj.copy(data=da.from_array(np.asarray(obj.data), chunks=chunks))


def time_coords(img, *, with_index=False):
    """The coordinates of ``img`` along ``t``: ``time``, ``condition``, ``run``...

    ``t`` itself is included only ``with_index``.
    """
    return {
        name: coord
        for name, coord in img.coords.items()
        if coord.dims == (TIME_DIM,) and (with_index or name != TIME_DIM)
    }


def image_on_grid(img, data, affine, *, copy_header=True):
    """A new image of ``data`` on a new grid, keeping ``img``'s ``t`` coordinates.

    Used when an operation changes the grid (resampling); header facts
    (units, TR) come from ``img`` when ``copy_header``.
    """
    header = header_facts(img) if copy_header else None
    four_d = data.ndim == 4 and TIME_DIM in img.dims
    out = new_image(
        data, affine, header=header, time_coords=(
            {k: c.values for k, c in time_coords(img).items()} if four_d else None
        ),
        name=img.name,
    )
    if four_d:
        out = out.assign_coords({TIME_DIM: img.coords[TIME_DIM].values})
    return out


def with_data(img, data, *, copy_header=True):
    """``data`` on the grid of ``img`` with its coordinates; header facts if asked."""
    if copy_header:
        return like_image(img, data, name=img.name)
    return image_on_grid(img, data, image_affine(img), copy_header=False)
