"""The dask machinery under roidask's image operations (private).

Chunk layouts and user chunk specs (:mod:`.chunks`), halo mapping and
thin-chunk merging (:mod:`.halo`), hand-written graph layers and tree
reductions (:mod:`.graphs`), streaming moments (:mod:`.moments`), exact
percentiles (:mod:`.percentile`), cross-chunk labelling (:mod:`.labels`),
per-label counts (:mod:`.label_counts`), per-label statistics and voxel
gathering (:mod:`.extraction`), image values as dask arrays (:mod:`.data`)
and the distributed client (:mod:`.cluster`). Nothing here imports an image
operation.
"""
