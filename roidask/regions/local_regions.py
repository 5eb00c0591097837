"""nilearn's "local regions" split of one 3D map, in numpy (runs inside one task).

:func:`nilearn.regions.connected_regions` with ``extract_type="local_regions"``
smooths the map, takes its local maxima as seeds and segments the map with a
random walker. nilearn ships its own random walker and peak finder (adapted
from scikit-image 0.11.3, BSD licence; Grady, *Random walks for image
segmentation*, IEEE TPAMI 28(11), 2006); this module follows the same
arithmetic step by step, so results are equal, without nilearn, scikit-image
or scikit-learn at run time. The whole map is needed at once.

Examples
--------
>>> import numpy as np
>>> grid = np.indices((24, 12, 12)).reshape(3, -1).T
>>> blobs = sum(np.exp(-((grid - c) ** 2).sum(1) / 8) for c in ([5, 6, 6], [18, 6, 6]))
>>> volume = np.where(blobs > 0.1, blobs, 0).reshape(24, 12, 12).astype("float32")
>>> labels = local_region_labels(volume, np.eye(4), fwhm=2)
>>> np.bincount(labels.ravel()).tolist()  # two seeds split the map in halves
[2774, 341, 341]
"""

import numpy as np
from scipy import ndimage as ndi

from roidask._utils.dtypes import float_dtype
from roidask.image.smoothing import fwhm_to_sigma, smooth_block
from roidask.regions._vendored_skimage import peak_local_max, random_walker


def smooth_volume(volume, affine, fwhm):
    """nilearn's ``smooth_array`` on one volume (float copy, NaN/inf set to 0)."""
    voxel_sizes = np.sqrt(np.sum(np.asarray(affine)[:3, :3] ** 2, axis=0))
    sigmas = fwhm_to_sigma(fwhm or 0.0, voxel_sizes)
    return smooth_block(
        volume, sigmas=np.broadcast_to(sigmas, 3), fast=False,
        dtype=float_dtype(volume.dtype),
    )


def local_region_labels(volume, affine, fwhm):
    """Labels of nilearn's local regions of one map (0 outside the map)."""
    seeds, _ = ndi.label(peak_local_max(smooth_volume(volume, affine, fwhm)))
    seeds[volume == 0.0] = -1
    labels = random_walker(volume, seeds)
    labels[labels == -1] = 0
    return labels
