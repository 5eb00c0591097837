"""Connected regions: labels, sizes, and nilearn's region extraction, lazily.

``from nilearn.regions import connected_regions`` becomes ``from
roidask.regions import connected_regions``. :func:`label` numbers connected
components across chunks exactly as :func:`scipy.ndimage.label` does;
:func:`region_sizes` counts voxels per label; :func:`connected_region_labels`
is the fully lazy form of :func:`connected_regions`.

Examples
--------
>>> import numpy as np
>>> from roidask.grid import new_image
>>> from roidask.regions import label
>>> data = np.zeros((6, 6, 6), bool)
>>> data[:2, :2, :2] = data[4:, 4:, :] = True
>>> labels, n = label(new_image(data, np.eye(4)).chunk(3))
>>> int(n)
2
"""

from roidask.regions.components import (
    connected_region_labels,
    connected_regions,
    label,
    region_sizes,
)
from roidask.regions.label_regions import connected_label_regions

__all__ = ["connected_label_regions", "connected_region_labels", "connected_regions", "label",
           "region_sizes"]
