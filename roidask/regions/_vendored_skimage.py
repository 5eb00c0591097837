"""VENDORED: random walker segmentation and peak finder, from scikit-image 0.11.3.

Source: nilearn 0.14.1, ``nilearn/_utils/segmentation.py`` ("mostly adapted
from scikit-image 0.11.3"), and scikit-image 0.11.3,
``skimage/segmentation/random_walker_segmentation.py`` and
``skimage/feature/peak.py``. Licence: BSD 3-Clause (scikit-image:
Copyright (C) 2011, the scikit-image team; nilearn: Copyright (c) The
nilearn developers). Method: Grady, *Random walks for image segmentation*,
IEEE TPAMI 28(11), 2006.

Rewritten to follow the same arithmetic step by step as nilearn's copy, so
results are equal, without nilearn, scikit-image or scikit-learn at run
time; only what nilearn's local-regions extraction uses is kept. Change it
only to follow upstream.

Examples
--------
>>> import numpy as np
>>> peak_local_max(np.array([[[0.0, 1.0, 0.0, 0.0, 3.0]]]), min_distance=1).ravel().tolist()
[False, True, False, False, True]
"""

import warnings

import numpy as np
from scipy import ndimage as ndi
from scipy import sparse
from scipy.sparse.linalg import cg


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
