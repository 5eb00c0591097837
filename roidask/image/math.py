"""Formulas on images and their data: nilearn's ``math_img`` and ``get_data``, lazily.

Examples
--------
>>> from roidask.testing import random_image
>>> img = random_image((4, 5, 6, 3), chunks={"t": 2})
>>> math_img("np.mean(img, axis=-1)", img=img).shape
(4, 5, 6)
"""

import ast

import dask.array as da
import numpy as np

from roidask._dask.data import dask_data
from roidask.errors import ParameterError
from roidask.grid import as_image, check_same_grid, image_affine, like_image, new_image


def _check_formula(formula):
    if not isinstance(formula, str):
        raise ParameterError("formula", "a Python expression such as 'img1 + img2'", formula)
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError:
        raise ParameterError("formula", "a valid Python expression", formula) from None
    for node in ast.walk(tree):
        name = getattr(node, "id", None) or getattr(node, "attr", None)
        if isinstance(name, str) and name.startswith("__"):
            raise ParameterError("formula", "no names starting with '__'", name)
    return compile(tree, "<formula>", "eval")


def math_img(formula, copy_header_from=None, **imgs):
    """Evaluate a numpy formula on images, lazily, as :func:`nilearn.image.math_img`.

    The formula runs on the images' dask arrays, in a namespace holding only
    ``np`` (numpy) and the images by keyword: no builtins and no name
    starting with ``__``. numpy functions dispatch to dask, so nothing is
    computed. The images must share a grid.

    Parameters
    ----------
    formula : str
        A Python expression, e.g. ``"img1 - img2"`` or ``"np.mean(img, axis=-1)"``.
    copy_header_from : str, optional
        Keyword of the image whose header facts (units, TR) the result keeps;
        by default, as in nilearn, none are kept.
    **imgs : xarray.DataArray
        The images, named as in the formula.

    Returns
    -------
    xarray.DataArray
        The result on the images' grid (booleans become uint8, as nilearn's
        ``new_img_like`` does).

    Examples
    --------
    >>> import numpy as np
    >>> from roidask.grid import new_image
    >>> a = new_image(np.arange(8.0).reshape(2, 2, 2), np.eye(4)).chunk(1)
    >>> math_img("a * 2 + 1", a=a).values.ravel().tolist()[:3]
    [1.0, 3.0, 5.0]
    """
    code = _check_formula(formula)
    if not imgs:
        raise ParameterError("imgs", "at least one image given by keyword", "none")
    images = {key: as_image(img, key) for key, img in imgs.items()}
    first_key, first = next(iter(images.items()))
    for key, img in images.items():
        check_same_grid(first, img, (first_key, key))
    if copy_header_from is not None and copy_header_from not in images:
        raise ParameterError("copy_header_from", f"one of {sorted(images)}", copy_header_from)
    namespace = {"__builtins__": {}, "np": np}
    namespace.update({key: dask_data(img) for key, img in images.items()})
    result = eval(code, namespace)  # noqa: S307  (restricted namespace, checked names)
    result = da.asarray(result)
    if result.dtype == bool:
        result = result.astype(np.uint8)
    if result.ndim not in (3, 4) or result.shape[:3] != first.shape[:3]:
        raise ParameterError("formula", "a 3D or 4D result on the images' grid",
                             f"a result of shape {result.shape}")
    if copy_header_from is not None:
        ref = images[copy_header_from]
        if result.ndim != ref.ndim:
            raise ParameterError("copy_header_from", f"an image with {result.ndim} dimensions",
                                 f"one with {ref.ndim}")
        return like_image(ref, result)
    return new_image(result, image_affine(first))


def get_data(img):
    """The voxel values of an image as a dask array (lazy: nothing is read).

    Unlike :func:`nilearn.image.get_data`, which returns numpy values, this
    returns the image's dask array (numpy-backed images get the volume
    layout); call ``.compute()`` on it, or ``numpy.asarray``, to read it.

    Examples
    --------
    >>> from roidask.testing import random_image
    >>> data = get_data(random_image((4, 5, 6), chunks=2))
    >>> type(data).__name__, data.shape
    ('Array', (4, 5, 6))
    """
    return dask_data(as_image(img))
