"""Resampling onto another grid, equal to nilearn's ``resample_img``.

The source is gathered one time chunk at a time into whole volumes (the
volume layout), prepared once per volume (nilearn's extrapolation of
non-finite values, then the cubic spline prefilter for ``continuous``), and
every output block interpolates from it with
:func:`scipy.ndimage.map_coordinates`. The source coordinates of an output
block are computed with the same floating-point operations scipy's
``affine_transform`` performs for the whole output (``(k + shift) * zoom``
for diagonal transforms, the row-by-row matrix product otherwise), so each
output voxel gets the value nilearn computes, bit for bit, whatever the
output chunks.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> img = new_image(np.arange(64.0).reshape(4, 4, 4), np.diag([2.0, 2.0, 2.0, 1.0]))
>>> out = resample_img(img, np.diag([4.0, 4.0, 4.0, 1.0]), (2, 2, 2), interpolation="nearest")
>>> out.values[:, :, 0].tolist()
[[0.0, 8.0], [32.0, 40.0]]
"""

import functools
import numbers
import warnings

import dask.array as da
import numpy as np
from dask.array.core import PerformanceWarning
from scipy import linalg
from scipy.ndimage import binary_dilation, map_coordinates, spline_filter

from roidask._dask.chunks import gather_chunks, spatial_single_chunk
from roidask._dask.data import dask_data
from roidask._utils.checks import check_bool
from roidask._utils.dtypes import resampled_dtype
from roidask.errors import ParameterError
from roidask.grid import as_image, image_affine, image_on_grid

INTERPOLATION_ORDERS = {"continuous": 3, "linear": 1, "nearest": 0}
EXTRAPOLATION_ITERATIONS = 2


def _check_interpolation(interpolation):
    if interpolation not in INTERPOLATION_ORDERS:
        raise ParameterError(
            "interpolation", "one of 'continuous', 'linear', 'nearest'", interpolation
        )
    return INTERPOLATION_ORDERS[interpolation]


def _check_target(target_affine, target_shape):
    """Validate the target grid as nilearn does; return (affine array, shape tuple)."""
    if target_shape is not None:
        if (
            np.ndim(target_shape) != 1
            or len(target_shape) != 3
            or not all(isinstance(n, numbers.Integral) and n > 0 for n in target_shape)
        ):
            raise ParameterError("target_shape", "3 positive integers", target_shape)
        target_shape = tuple(int(n) for n in target_shape)
        if target_affine is None:
            raise ParameterError(
                "target_affine", "a (4, 4) affine when target_shape is given", None
            )
    if target_affine is not None:
        target_affine = np.asarray(target_affine, dtype=float)
        if target_affine.shape not in ((4, 4), (3, 3)):
            raise ParameterError("target_affine", "a (4, 4) or (3, 3) array", target_affine)
        if target_affine.shape == (3, 3) and target_shape is not None:
            raise ParameterError(
                "target_affine",
                "a (4, 4) affine when target_shape is given (a (3, 3) one has no origin)",
                target_affine,
            )
    return target_affine, target_shape


def _bounds(shape, affine):
    """nilearn's ``get_bounds``: the box of the voxel corners mapped by ``affine``."""
    adim, bdim, cdim = (n - 1 for n in shape)
    box = np.array(
        [
            [0.0, 0, 0, 1], [adim, 0, 0, 1], [0, bdim, 0, 1], [0, 0, cdim, 1],
            [adim, bdim, 0, 1], [adim, 0, cdim, 1], [0, bdim, cdim, 1], [adim, bdim, cdim, 1],
        ]
    ).T
    box = np.dot(affine, box)[:3]
    return list(zip(box.min(axis=-1), box.max(axis=-1)))


def target_grid(source_affine, source_shape, target_affine, target_shape):
    """Complete a target grid the way nilearn does (bounding box, 3x3 affines).

    Returns the (4, 4) target affine and the target shape.
    """
    if target_affine.shape == (3, 3):
        missing_offset = True
        full = np.eye(4)
        full[:3, :3] = target_affine
        target_affine = full
    else:
        missing_offset = False
        target_affine = target_affine.copy()
    transform = np.linalg.inv(target_affine).dot(source_affine)
    (xmin, xmax), (ymin, ymax), (zmin, zmax) = _bounds(source_shape, transform)
    if missing_offset:
        target_affine[:3, 3] = target_affine[:3, :3].dot([xmin, ymin, zmin])
        xmax, ymax, zmax = xmax - xmin, ymax - ymin, zmax - zmin
    if target_shape is None:
        target_shape = (int(np.ceil(xmax)) + 1, int(np.ceil(ymax)) + 1, int(np.ceil(zmax)) + 1)
    if xmax < 0 or ymax < 0 or zmax < 0:
        raise ParameterError(
            "target_affine", "a grid whose field of view contains some of the data",
            "a grid that misses the image entirely",
        )
    return target_affine, tuple(target_shape)


def extrapolate_out_mask(data, mask, iterations=1):
    """Fill voxels just outside ``mask`` with the mean of their in-mask neighbours.

    A port of nilearn's ``masking.extrapolate_out_mask`` (float64 result),
    which nilearn applies to non-finite voxels before resampling.

    Examples
    --------
    >>> data = np.ones((3, 3, 3)); mask = np.ones((3, 3, 3), bool); mask[1, 1, 1] = False
    >>> float(extrapolate_out_mask(data, mask)[0][1, 1, 1])
    1.0
    """
    for _ in range(iterations):
        new_mask = binary_dilation(mask)
        larger_mask = np.zeros(np.array(mask.shape) + 2, dtype=bool)
        larger_mask[1:-1, 1:-1, 1:-1] = mask
        masked_data = np.zeros(larger_mask.shape + data.shape[3:])
        masked_data[1:-1, 1:-1, 1:-1] = data
        masked_data[np.logical_not(larger_mask)] = np.nan
        outer_shell = larger_mask.copy()
        outer_shell[1:-1, 1:-1, 1:-1] = np.logical_xor(new_mask, mask)
        xs, ys, zs = np.where(outer_shell)
        extrapolation = np.array(
            [
                masked_data[xs + i, ys + j, zs + k]
                for i, j, k in [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
            ]
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            extrapolation = np.nansum(extrapolation, axis=0) / np.sum(
                np.isfinite(extrapolation), axis=0
            )
        extrapolation[~np.isfinite(extrapolation)] = 0
        new_data = np.zeros_like(masked_data)
        new_data[outer_shell] = extrapolation
        new_data[larger_mask] = masked_data[larger_mask]
        data, mask = new_data[1:-1, 1:-1, 1:-1], new_mask
    return data, mask


def _prepare_volumes(block, *, order, dtype):
    """Per volume: fill non-finite voxels as nilearn does, then spline-prefilter."""
    out = np.empty(block.shape, dtype=dtype)
    for index in np.ndindex(*block.shape[3:]):
        volume = block[(slice(None),) * 3 + index]
        if volume.dtype.kind in "fc":
            finite = np.isfinite(volume)
            if not finite.all():
                volume = extrapolate_out_mask(volume, finite, EXTRAPOLATION_ITERATIONS)[0]
        if order > 1:
            volume = spline_filter(volume, order, output=np.float64, mode="constant")
        out[(slice(None),) * 3 + index] = volume
    return out


def _nonfinite(block):
    return ~np.isfinite(block)


def source_coordinates(ii, jj, kk, matrix, offset):
    """Source voxel coordinates of output voxels, computed as scipy does.

    ``matrix`` is a length-3 diagonal (scipy's ``zoom_shift`` path:
    ``(k + offset / zoom) * zoom``) or a (3, 3) matrix (the ``geometric_transform``
    path: ``sum_l k_l * M[h, l]`` accumulated in order, plus the offset).
    """
    grids = np.meshgrid(
        np.asarray(ii, dtype=np.float64), np.asarray(jj, dtype=np.float64),
        np.asarray(kk, dtype=np.float64), indexing="ij",
    )
    offset = np.asarray(offset, dtype=np.float64)
    if matrix.ndim == 1:
        shift = offset / matrix
        return np.stack([(grids[h] + shift[h]) * matrix[h] for h in range(3)])
    coords = np.empty((3,) + grids[0].shape)
    for h in range(3):
        acc = np.zeros(grids[0].shape)
        for axis in range(3):
            acc += grids[axis] * matrix[h, axis]
        coords[h] = acc + offset[h]
    return coords


def _resample_block(prepared, nonfinite, ii, jj, kk, *, matrix, offset, order, cval, dtype):
    """Interpolate one output block from whole prepared source volumes."""
    coords = source_coordinates(ii, jj, kk, matrix, offset)
    extra = prepared.shape[3:]
    out = np.empty(coords.shape[1:] + extra, dtype=dtype)
    for index in np.ndindex(*extra):
        where = (slice(None),) * 3 + index
        target = out[where]  # a view: filled in place
        map_coordinates(
            prepared[where], coords, output=target, order=order, mode="constant", cval=cval,
            prefilter=False,
        )
        if nonfinite is not None and nonfinite[where].any():
            bad = map_coordinates(nonfinite[where], coords, order=0, mode="constant")
            target[bad] = np.nan
    return out


def _resample_block_finite(prepared, ii, jj, kk, **kwargs):
    return _resample_block(prepared, None, ii, jj, kk, **kwargs)


def _output_chunks(data, target_shape):
    if spatial_single_chunk(data):
        return tuple((n,) for n in target_shape)
    sizes = tuple(max(data.chunks[axis]) for axis in range(3))
    return da.core.normalize_chunks(sizes, target_shape)


def _transform(source_affine, target_affine):
    """nilearn's voxel-to-voxel transform: (matrix or diagonal, offset)."""
    if np.all(target_affine == source_affine):
        transform = np.eye(4)
    else:
        transform = np.dot(linalg.inv(source_affine), target_affine)
    matrix, offset = transform[:3, :3], transform[:3, 3]
    if np.all(np.diag(np.diag(matrix)) == matrix):
        matrix = np.diag(matrix)
    return np.ascontiguousarray(matrix, dtype=np.float64), offset


SHIFT_TOLERANCE = 1e-9  # voxels: a transform this close to a whole-voxel shift is one


def _integer_shift(matrix, offset):
    """The voxel shift when the transform is the identity plus whole voxels, else None.

    Within :data:`SHIFT_TOLERANCE`: the inverse of an affine with voxel sizes
    such as 2.5 or 3 mm gives a diagonal of 1 to a few ulps only.
    """
    if matrix.shape != (3,) or not np.all(np.abs(matrix - 1) <= SHIFT_TOLERANCE):
        return None
    whole = np.round(offset)
    if not np.all(np.abs(offset - whole) <= SHIFT_TOLERANCE):
        return None
    return [int(b) for b in whole]


def _shifted(data, shift, target_shape, fill_value, dtype):
    """``out[x] = data[x + shift]`` on ``target_shape``, ``fill_value`` outside, lazily."""
    source, pads = data, []
    for axis, (b, n_out) in enumerate(zip(shift, target_shape)):
        start, stop = max(0, -b), min(n_out, data.shape[axis] - b)  # target range with data
        if stop <= start:  # no overlap on this axis: nothing of the data is on the target
            shape = tuple(target_shape) + data.shape[3:]
            return da.full(shape, fill_value, dtype=dtype, chunks=_output_chunks(data, shape))
        index = [slice(None)] * data.ndim
        index[axis] = slice(start + b, stop + b)
        source = source[tuple(index)]
        pads.append((start, n_out - stop))
    pads += [(0, 0)] * (data.ndim - 3)
    source = source.astype(dtype)
    if not any(before or after for before, after in pads):
        return source
    return da.pad(source, pads, mode="constant", constant_values=np.asarray(fill_value, dtype))


def resample_img(
    img, target_affine=None, target_shape=None, *, interpolation="continuous",
    fill_value=0.0, clip=True, copy_header=True, force_resample=True,
):
    """Resample an image onto a target grid, lazily.

    Equal to :func:`nilearn.image.resample_img` at any chunking: exactly for
    ``nearest``, within float rounding of the spline coefficients otherwise.

    Parameters
    ----------
    img : xarray.DataArray
        3D or 4D image; 4D images are resampled volume by volume.
    target_affine : (4, 4) or (3, 3) array-like, optional
        Affine of the target grid. A (3, 3) affine takes its origin and shape
        from the bounding box of the image, as in nilearn.
    target_shape : sequence of 3 ints, optional
        Shape of the target grid; computed from the bounding box when omitted.
    interpolation : {'continuous', 'linear', 'nearest'}
        Cubic spline, trilinear or nearest-neighbour interpolation.
    fill_value : float
        Value outside the field of view of the image.
    clip : bool
        Clip the result to the range of the data and 0 (nilearn's default for
        ``resample_img``; it costs a min/max reduction over the image).
    copy_header : bool
        Keep the header facts (units, TR) of ``img``.
    force_resample : bool
        nilearn's option (default True, as nilearn 0.13+). With False, a
        target grid that is the source grid shifted by whole voxels is
        filled by selecting and padding the data instead of interpolating
        (values are the same; nilearn's padding path differs in two details
        roidask does not copy: it fills with 0 whatever ``fill_value``, and
        it zeroes the values below ``1e-8`` of the maximum outside their
        bounding box). Any other transform is interpolated.

    Returns
    -------
    xarray.DataArray
        The image on the target grid (``img`` itself when it is already
        there). Signed integers become floats with ``'continuous'``.

    Raises
    ------
    ParameterError
        For a bad interpolation, a malformed target, or a target grid that
        misses the image.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> img = new_image(np.ones((4, 4, 4), "float32"), np.eye(4))
    >>> out = resample_img(img, np.diag([2.0, 2.0, 2.0, 1.0]), (2, 2, 2))
    >>> out.shape, out.dtype.name, float(out.max())
    ((2, 2, 2), 'float32', 1.0)
    >>> shift = np.eye(4)
    >>> shift[:3, 3] = 1.0  # the grid moved by one voxel
    >>> moved = resample_img(img, shift, (4, 4, 4), force_resample=False)  # no interpolation
    >>> moved.values[:, 0, 0].tolist()
    [1.0, 1.0, 1.0, 0.0]
    """
    img = as_image(img)
    check_bool(force_resample, "force_resample")
    order = _check_interpolation(interpolation)
    target_affine, target_shape = _check_target(target_affine, target_shape)
    if target_affine is None:
        return img
    source_affine, shape = image_affine(img), img.shape
    if target_shape is not None and target_shape == tuple(shape[:3]) and np.allclose(
        target_affine, source_affine
    ):
        return img
    target_affine, target_shape = target_grid(source_affine, shape[:3], target_affine,
                                              target_shape)
    matrix, offset = _transform(source_affine, target_affine)
    data = dask_data(img)
    dtype = resampled_dtype(data.dtype, interpolation)
    shift = None if force_resample else _integer_shift(matrix, offset)
    if shift is not None:
        out = _shifted(data, shift, target_shape, fill_value, dtype)
        return image_on_grid(img, _clip(out, data, dtype) if clip else out, target_affine,
                             copy_header=copy_header)
    source = data.rechunk(gather_chunks(data, (0, 1, 2)) if data.ndim == 4 else -1)
    floating = source.dtype.kind in "fc"
    prepared_dtype = np.dtype(np.float64) if order > 1 or floating else source.dtype
    prepared = source.map_blocks(
        functools.partial(_prepare_volumes, order=order, dtype=prepared_dtype),
        dtype=prepared_dtype,
    )
    out_chunks = _output_chunks(data, target_shape)
    axes = [da.arange(n, chunks=c) for n, c in zip(target_shape, out_chunks)]
    kwargs = dict(matrix=matrix, offset=offset, order=order, cval=float(fill_value),
                  dtype=dtype)
    out_index, in_index = "abct"[: data.ndim], "xyzt"[: data.ndim]
    args = [prepared, in_index]
    if floating:
        args += [source.map_blocks(_nonfinite, dtype=bool), in_index]
        func = functools.partial(_resample_block, **kwargs)
    else:
        func = functools.partial(_resample_block_finite, **kwargs)
    for axis, letter in zip(axes, "abc"):
        args += [axis, letter]
    with warnings.catch_warnings():
        # Many output blocks read one gathered source block: intended.
        warnings.simplefilter("ignore", PerformanceWarning)
        out = da.blockwise(
            func, out_index, *args, dtype=dtype, concatenate=True,
            meta=np.empty((0,) * data.ndim, dtype=dtype),
        )
    if clip:
        out = _clip(out, data, dtype)
    return image_on_grid(img, out, target_affine, copy_header=copy_header)


def _clip(out, data, dtype):
    """nilearn's clip of a resampled image to the range of the data and 0."""
    vmin = da.minimum(da.nanmin(data), 0)
    vmax = da.maximum(da.nanmax(data), 0)
    return da.clip(out, vmin, vmax).astype(dtype)


def nearest_in_memory(values, source_affine, target_affine, target_shape):
    """An in-memory 3D array on another grid by nearest neighbour, without dask.

    Equal to ``resample_img(..., interpolation='nearest')`` (and so to
    nilearn's) for finite values: for small in-memory images such as a fitted
    atlas, where building a graph would mean computing it at once.

    Examples
    --------
    >>> import numpy as np
    >>> values = np.arange(8).reshape(2, 2, 2)
    >>> nearest_in_memory(values, np.eye(4), np.diag([2, 2, 2, 1]), (1, 1, 2)).tolist()
    [[[0, 0]]]
    """
    values = np.asarray(values)
    matrix, offset = _transform(np.asarray(source_affine, float), np.asarray(target_affine, float))
    axes = [np.arange(n) for n in target_shape]
    return _resample_block_finite(values, *axes, matrix=matrix, offset=offset, order=0,
                                  cval=0.0, dtype=values.dtype)


def resample_to_img(
    source_img, target_img, *, interpolation="continuous", fill_value=0.0, clip=False,
    copy_header=True, force_resample=True,
):
    """Resample an image onto the grid of another image, lazily.

    Equal to :func:`nilearn.image.resample_to_img`; see :func:`resample_img`.

    Parameters
    ----------
    source_img : xarray.DataArray
        3D or 4D image to resample.
    target_img : xarray.DataArray
        Image whose grid (affine and spatial shape) is the target.
    interpolation : {'continuous', 'linear', 'nearest'}
        Interpolation; use ``'nearest'`` for masks and label images.
    fill_value : float
        Value outside the field of view of ``source_img``.
    clip : bool
        Clip to the range of the data and 0 (off by default, as in nilearn).
    copy_header : bool
        Keep the header facts (units, TR) of ``source_img``.
    force_resample : bool
        With False, a grid shifted by whole voxels is filled without
        interpolating (see :func:`resample_img`).

    Returns
    -------
    xarray.DataArray
        ``source_img`` on the grid of ``target_img``.

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> mask = new_image(np.ones((4, 4, 4), "int8"), np.diag([2.0, 2.0, 2.0, 1.0]))
    >>> img = new_image(np.zeros((8, 8, 8)), np.eye(4))
    >>> out = resample_to_img(mask, img, interpolation="nearest")
    >>> out.shape, int(out.sum())
    ((8, 8, 8), 343)
    """
    source_img = as_image(source_img, "source_img")
    target_img = as_image(target_img, "target_img")
    return resample_img(
        source_img, image_affine(target_img), target_img.shape[:3],
        interpolation=interpolation, fill_value=fill_value, clip=clip, copy_header=copy_header,
        force_resample=force_resample,
    )
