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

import warnings

import numpy as np
from scipy import ndimage as ndi
from scipy import sparse
from scipy.sparse.linalg import cg

from roidask._imgdata import smoothing_dtype
from roidask.smoothing import fwhm_to_sigma, smooth_block


def smooth_volume(volume, affine, fwhm):
    """nilearn's ``smooth_array`` on one volume (float copy, NaN/inf set to 0)."""
    voxel_sizes = np.sqrt(np.sum(np.asarray(affine)[:3, :3] ** 2, axis=0))
    sigmas = fwhm_to_sigma(fwhm or 0.0, voxel_sizes)
    return smooth_block(
        volume, sigmas=np.broadcast_to(sigmas, 3), fast=False,
        dtype=smoothing_dtype(volume.dtype),
    )


def peak_local_max(image, min_distance=10, threshold_rel=0.1):
    """Boolean map of the local maxima in windows of ``2 * min_distance + 1``."""
    out = np.zeros_like(image, dtype=bool)
    if np.all(image == image.flat[0]):
        return out
    image = image.copy()
    image_max = ndi.maximum_filter(image, size=2 * min_distance + 1, mode="constant")
    image *= image == image_max
    threshold = max(np.max(image.ravel()) * threshold_rel, 0)
    out[tuple(np.argwhere(image > threshold).T)] = True
    return out


def _grid_edges(shape):
    vertices = np.arange(np.prod(shape)).reshape(shape)
    return np.hstack([
        np.vstack((vertices[:, :, :-1].ravel(), vertices[:, :, 1:].ravel())),
        np.vstack((vertices[:, :-1].ravel(), vertices[:, 1:].ravel())),
        np.vstack((vertices[:-1].ravel(), vertices[1:].ravel())),
    ])


def _edge_weights(data, beta):
    spacing = np.ones(3)  # a float64 array, as in nilearn: gradients come out float64
    gradients = (
        np.r_[
            np.abs(data[:, :, :-1] - data[:, :, 1:]).ravel() / spacing[2],
            np.abs(data[:, :-1] - data[:, 1:]).ravel() / spacing[1],
            np.abs(data[:-1] - data[1:]).ravel() / spacing[0],
        ]
        ** 2
    )
    beta /= 10 * data.std()
    gradients *= beta
    weights = np.exp(-gradients)
    weights += 1.0e-10
    return weights


def _laplacian(data, beta, mask):
    edges = _grid_edges(data.shape)
    weights = _edge_weights(data, beta)
    if mask is not None:
        keep = np.logical_and(
            np.hstack((mask[:, :, :-1].ravel(), mask[:, :-1].ravel(), mask[:-1].ravel())),
            np.hstack((mask[:, :, 1:].ravel(), mask[:, 1:].ravel(), mask[1:].ravel())),
        )
        edges, weights = edges[:, keep], weights[keep]
        order = np.searchsorted(np.unique(edges.ravel()), np.arange(edges.max() + 1))
        edges = order[edges.astype(np.int64)]
    n_nodes = edges.max() + 1
    rows, cols = np.hstack((edges[0], edges[1])), np.hstack((edges[1], edges[0]))
    values = np.hstack((-weights, -weights))
    lap = sparse.coo_matrix((values, (rows, cols)), shape=(n_nodes, n_nodes))
    degree = -np.ravel(lap.sum(axis=1))
    diagonal = np.arange(n_nodes)
    lap = sparse.coo_matrix(
        (np.hstack((values, degree)), (np.hstack((rows, diagonal)), np.hstack((cols, diagonal)))),
        shape=(n_nodes, n_nodes),
    )
    return lap.tocsr()


def random_walker(data, labels, beta=130.0, tol=1.0e-3):
    """Random-walker segmentation of a 3D volume from seed ``labels``.

    ``labels``: positive seeds, 0 to segment, negative to leave out.
    """
    out_labels = np.copy(labels)
    if (labels != 0).all() or (labels == 0).all():
        warnings.warn("random walker: no voxel to segment or no seed", UserWarning, stacklevel=2)
        return out_labels
    shape = data.shape
    if data.dtype.kind in "uib":
        data = data.astype(np.float32 if data.dtype.itemsize <= 4 else np.float64)
    labels = np.copy(labels)
    values = np.unique(labels)
    if np.any(np.diff(values) != 1):
        keep = labels >= 0
        labels[keep] = np.searchsorted(np.unique(labels[keep]), labels[keep]).astype(labels.dtype)
    labels = labels.astype(np.int32)
    if np.any(labels < 0):
        filled = ndi.binary_propagation(labels > 0, mask=labels >= 0)
        labels[np.logical_and(np.logical_not(filled), labels == 0)] = -1
        filled = ndi.binary_propagation(labels == 0, mask=labels >= 0)
        labels[np.logical_and(labels > 0, np.logical_not(filled))] = -1
    if (labels == -1).all():
        warnings.warn("random walker: only isolated seeds and voxels", UserWarning, stacklevel=2)
        return out_labels
    labels = np.atleast_3d(labels)
    lap = _laplacian(data, beta, labels >= 0 if np.any(labels < 0) else None)

    active = labels[labels >= 0]
    indices = np.arange(active.size)
    unlabeled, seeds = indices[active == 0], indices[active > 0]
    coupling = lap[unlabeled][:, seeds]
    lap = lap[unlabeled][:, unlabeled].tocsc()
    probabilities = []
    for value in range(1, active.max() + 1):
        phase = sparse.csr_matrix(active[seeds] == value).transpose()
        rhs = coupling * phase
        probabilities.append(cg(lap, -rhs.todense(), rtol=tol, atol=0)[0])
    winner = np.argmax(np.array(probabilities), axis=0) + 1
    flat = np.ravel(labels)
    flat[flat == 0] = winner.astype(flat.dtype)
    return flat.reshape(shape)


def local_region_labels(volume, affine, fwhm):
    """Labels of nilearn's local regions of one map (0 outside the map)."""
    seeds, _ = ndi.label(peak_local_max(smooth_volume(volume, affine, fwhm)))
    seeds[volume == 0.0] = -1
    labels = random_walker(volume, seeds)
    labels[labels == -1] = 0
    return labels
