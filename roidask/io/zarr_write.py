"""Write an image to a zarr store: one dask computation, chunks in parallel.

:func:`to_zarr` goes through :class:`roidask.io.materialise.Materialisation`
(the store layout is :func:`roidask.io.zarr_store.to_dataset`'s).
"""

from roidask.io.materialise import Materialisation


def to_zarr(img, path, *, overwrite=True):
    """Write an image to a zarr store, chunk by chunk and atomically.

    Chunks are written in parallel by the active dask scheduler (a
    distributed cluster if one is active); the store appears under ``path``
    only once complete.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from roidask.grid import new_image
    >>> from roidask.io import open_zarr
    >>> path = os.path.join(tempfile.mkdtemp(), "x.zarr")
    >>> to_zarr(new_image(np.ones((2, 3, 4)), np.eye(4)).chunk(), path)
    >>> open_zarr(path).shape
    (2, 3, 4)
    """
    plan = Materialisation()
    plan.add_image(img, path, overwrite=overwrite)
    plan.run()
