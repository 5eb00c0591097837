"""Binary morphology on chunked images, equal to :mod:`scipy.ndimage` at any chunking.

Each local operation normalizes its arguments, computes its halo depth
(structure radius x iterations, twice that for opening and closing, which run
both steps in one pass) and runs **one** :func:`dask.array.map_overlap` with
``boundary="none"`` through :func:`roidask._dask.halo.halo_map`, as smoothing
does: blocks on the true edges of the image get no padding, so scipy's own
``border_value`` applies there exactly as on the whole array, and errors from
cut block edges stay inside the halo that is trimmed away. Chunks thinner
than the halo are merged first (and the result is rechunked back).

:func:`binary_fill_holes` is not local: it labels the background across
chunks (:func:`roidask._dask.labels.label_array`) and keeps as holes the
background components that do not touch the image border.

Inputs are boolean or integer images (nonzero is foreground); outputs are
boolean images on the same grid. A 4D image is processed volume by volume.

Examples
--------
>>> import numpy as np, roidask
>>> from roidask.image.morphology import binary_dilation
>>> data = np.zeros((5, 5, 5), bool)
>>> data[2, 2, 2] = True
>>> img = roidask.new_image(data, np.eye(4)).chunk(2)
>>> int(binary_dilation(img).sum())
7
"""

import functools

import dask.array as da
import numpy as np
from dask.base import tokenize
from scipy import ndimage as ndi

from roidask._dask.data import mask_input
from roidask._dask.graphs import block_keys, new_delayed
from roidask._dask.halo import halo_map
from roidask._dask.labels import label_array
from roidask._utils.checks import binary_structure, check_border_value, check_iterations
from roidask._utils.docs import fill_doc
from roidask.grid import like_image

_STEPS = {
    "dilation": ("dilation",),
    "erosion": ("erosion",),
    "opening": ("erosion", "dilation"),
    "closing": ("dilation", "erosion"),
}
_SCIPY = {"dilation": ndi.binary_dilation, "erosion": ndi.binary_erosion}


def _run_steps(block, steps, structure, iterations, border_value):
    for step in steps:
        block = _SCIPY[step](
            block, structure=structure, iterations=iterations, border_value=border_value
        )
    return block


def _morphology(kind, img, structure, iterations, connectivity, border_value):
    img, mask = mask_input(img, allow_4d=True)
    structure = binary_structure(structure, connectivity)
    iterations = check_iterations(iterations)
    border_value = check_border_value(border_value)
    if img.ndim == 4:
        structure = structure[..., np.newaxis]
    steps = _STEPS[kind]
    depth = [(n // 2) * iterations * len(steps) for n in structure.shape[:3]]
    func = functools.partial(
        _run_steps, steps=steps, structure=structure, iterations=iterations,
        border_value=border_value,
    )
    out = halo_map(func, mask, depth, bool)
    return like_image(img, out, name=f"binary_{kind}")


@fill_doc
def binary_dilation(img, structure=None, iterations=1, *, connectivity=1, border_value=0):
    """Binary dilation, equal to :func:`scipy.ndimage.binary_dilation`.

    A voxel becomes foreground when the structuring element centred on it
    meets the mask.

    %(morphology_dilated)s

    Examples
    --------
    >>> import numpy as np, roidask
    >>> from scipy import ndimage as ndi
    >>> data = np.random.default_rng(0).random((8, 9, 10)) > 0.9
    >>> img = roidask.new_image(data, np.eye(4)).chunk(3)
    >>> out = binary_dilation(img, iterations=2, connectivity=3)
    >>> expected = ndi.binary_dilation(data, ndi.generate_binary_structure(3, 3), 2)
    >>> bool((out.values == expected).all())
    True
    """
    return _morphology("dilation", img, structure, iterations, connectivity, border_value)


@fill_doc
def binary_erosion(img, structure=None, iterations=1, *, connectivity=1, border_value=0):
    """Binary erosion, equal to :func:`scipy.ndimage.binary_erosion`.

    A voxel stays foreground only when the structuring element centred on it
    fits in the mask (``border_value`` is what lies outside the image).

    %(morphology_eroded)s

    Examples
    --------
    >>> import numpy as np, roidask
    >>> img = roidask.new_image(np.ones((5, 6, 7), bool), np.eye(4)).chunk(2)
    >>> int(binary_erosion(img).sum()), int(binary_erosion(img, border_value=1).sum())
    (60, 210)
    """
    return _morphology("erosion", img, structure, iterations, connectivity, border_value)


@fill_doc
def binary_opening(img, structure=None, iterations=1, *, connectivity=1, border_value=0):
    """Binary opening (erosion then dilation), equal to :func:`scipy.ndimage.binary_opening`.

    Both steps run in one ``map_overlap`` with twice the halo.

    %(morphology_opened)s

    Examples
    --------
    >>> import numpy as np, roidask
    >>> data = np.zeros((7, 7, 7), bool)
    >>> data[1:6, 1:6, 1:6] = True
    >>> data[0, 0, 0] = True  # a speck that opening removes
    >>> out = binary_opening(roidask.new_image(data, np.eye(4)).chunk(3), connectivity=3)
    >>> bool(out[0, 0, 0]), int(out.sum())
    (False, 125)
    """
    return _morphology("opening", img, structure, iterations, connectivity, border_value)


@fill_doc
def binary_closing(img, structure=None, iterations=1, *, connectivity=1, border_value=0):
    """Binary closing (dilation then erosion), equal to :func:`scipy.ndimage.binary_closing`.

    As for :func:`binary_opening`, both steps run in one pass.

    %(morphology_closed)s

    Examples
    --------
    >>> import numpy as np, roidask
    >>> data = np.ones((7, 7, 7), bool)
    >>> data[3, 3, :] = False  # a tunnel that closing fills; outside the image is 1
    >>> closed = binary_closing(roidask.new_image(data, np.eye(4)).chunk(2), border_value=1)
    >>> int(closed.sum()) == data.size
    True
    """
    return _morphology("closing", img, structure, iterations, connectivity, border_value)


def _face_labels(block, faces):
    return np.unique(np.concatenate([block.take(end, axis=axis).ravel() for axis, end in faces]))


def _union(arrays):
    return np.unique(np.concatenate(arrays))


def _fill(mask, background_labels, border_labels):
    return mask | ((background_labels > 0) & ~np.isin(background_labels, border_labels))


def binary_fill_holes(img, structure=None, *, connectivity=1):
    """Fill holes, equal to :func:`scipy.ndimage.binary_fill_holes`.

    A hole is a background component (under ``structure``) that does not
    touch the border of the image. The background is labelled across chunks
    and the labels seen on the six outer faces are gathered (small); nothing
    larger than a block or a face is loaded at once.

    Parameters
    ----------
    img : image, bool or int, 3D
        Mask (nonzero is foreground).
    structure : (3, 3, 3) array of bool, optional
        Connectivity of the background; default:
        ``generate_binary_structure(3, connectivity)``.
    connectivity : {1, 2, 3}, default=1
        Neighbourhood when ``structure`` is None.

    Returns
    -------
    image of bool
        Lazy, on the same grid and chunks as ``img``.

    Examples
    --------
    >>> import numpy as np, roidask
    >>> data = np.zeros((6, 6, 6), bool)
    >>> data[1:5, 1:5, 1:5] = True
    >>> data[2:4, 2:4, 2:4] = False  # a cavity
    >>> out = binary_fill_holes(roidask.new_image(data, np.eye(4)).chunk(3))
    >>> int(out.sum())
    64
    """
    img, mask = mask_input(img)
    structure = binary_structure(structure, connectivity, labelling=True)
    background, _ = label_array(~mask, structure)
    token = tokenize(background)
    layer = f"fill-holes-border-{token}"
    dsk = {}
    for key in block_keys(background):
        faces = [
            (axis, end) for axis, (index, n) in enumerate(zip(key[1:], background.numblocks))
            for end, on_border in ((0, index == 0), (-1, index == n - 1)) if on_border
        ]
        if faces:
            dsk[(layer, *key[1:])] = (_face_labels, key, faces)
    dsk[layer] = (_union, list(dsk))
    border = new_delayed(layer, layer, dsk, [background])
    out = da.map_blocks(_fill, mask, background, border, dtype=bool, meta=np.array((), bool))
    return like_image(img, out, name="binary_fill_holes")
