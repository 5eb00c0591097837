"""Labels equal scipy.ndimage.label (numbers included) and regions equal nilearn's."""

import dask
import nibabel as nib
import numpy as np
import pytest
from dask_image.ndmeasure import label as dask_image_label
from nilearn import datasets
from nilearn.regions import connected_regions as nilearn_connected_regions
from scipy import ndimage as ndi

import roidask
from roidask.errors import ParameterError
from roidask.regions.components import (
    connected_region_labels,
    connected_regions,
    label,
    region_sizes,
)
from roidask.testing import raise_if_dask_computes

AFFINE = np.diag([2.0, 2.5, 3.0, 1.0])
SHAPE = (14, 12, 11)
# one chunk; uneven chunks; thin chunks down to one voxel (every face is a block face)
CHUNKINGS = [
    {"i": -1, "j": -1, "k": -1},
    {"i": (6, 5, 3), "j": (5, 7), "k": (2, 5, 4)},
    {"i": 2, "j": 3, "k": (1, 2, 3, 1, 4)},
]
# the motor map is 53 x 63 x 46
MOTOR_CHUNKINGS = [
    {"i": -1, "j": -1, "k": -1},
    {"i": (20, 30, 3), "j": (40, 23), "k": (10, 36)},
    {"i": 7, "j": 9, "k": 5},
]


@pytest.fixture(scope="module")
def motor():
    """nilearn's motor t-map, read once (chunk reads of a .nii.gz decompress it whole)."""
    path = datasets.load_sample_motor_activation_image()
    return roidask.load_img(path).load(), nib.load(path)


def random_masks():
    rng = np.random.default_rng(0)
    yield "noise", rng.random(SHAPE) > 0.62  # many small components across corners
    yield "blobs", ndi.gaussian_filter(rng.standard_normal(SHAPE), 1.0) > 0.15
    checker = (np.indices(SHAPE).sum(axis=0) % 2 == 0)  # only edge/corner contacts
    yield "checker", checker & (rng.random(SHAPE) > 0.7)


MASKS = dict(random_masks())


def image(data, chunks):
    return roidask.new_image(data, AFFINE).chunk(chunks)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("connectivity", [1, 2, 3])
@pytest.mark.parametrize("kind", sorted(MASKS))
def test_label_equals_scipy(kind, connectivity, chunks):
    data = MASKS[kind]
    img = image(data, chunks)
    with raise_if_dask_computes():
        labels, n_labels = label(img, connectivity)
    expected, expected_n = ndi.label(data, ndi.generate_binary_structure(3, connectivity))
    assert expected_n > 1
    assert labels.dtype == np.int32
    assert labels.data.chunks == img.data.chunks
    assert n_labels.ndim == 0
    labels, n_labels = dask.compute(labels, n_labels)
    np.testing.assert_array_equal(labels.values, expected)
    assert int(n_labels) == expected_n
    np.testing.assert_allclose(labels.nii.affine, AFFINE)


def test_label_custom_structure_and_integer_input():
    data = MASKS["noise"]
    structure = np.zeros((3, 3, 3), bool)
    structure[1, 1, :] = structure[:, 1, 1] = True  # faces along i and k only
    labels, n_labels = label(image(data.astype("int16") * 7, CHUNKINGS[2]), structure=structure)
    expected, expected_n = ndi.label(data, structure)
    np.testing.assert_array_equal(labels.values, expected)
    assert int(n_labels) == expected_n


def test_label_empty_and_full():
    for data in (np.zeros(SHAPE, bool), np.ones(SHAPE, bool)):
        labels, n_labels = label(image(data, CHUNKINGS[1]))
        np.testing.assert_array_equal(labels.values, ndi.label(data)[0])
        assert int(n_labels) == ndi.label(data)[1]


@pytest.mark.parametrize("chunks", MOTOR_CHUNKINGS)
@pytest.mark.parametrize("connectivity", [1, 3])
def test_label_motor_map(motor, chunks, connectivity):
    img, _ = motor
    mask = (abs(img) > 3).chunk(chunks)
    labels, n_labels = label(mask, connectivity)
    expected, expected_n = ndi.label(mask.values, ndi.generate_binary_structure(3, connectivity))
    np.testing.assert_array_equal(labels.values, expected)
    assert int(n_labels) == expected_n


def label_tasks(blocks_per_axis):
    size = 4 * blocks_per_axis
    img = image(np.zeros((size,) * 3, bool), {"i": 4, "j": 4, "k": 4})
    labels, _ = label(img, 3)
    return len(labels.data.__dask_graph__()) - len(img.data.__dask_graph__())


def test_label_graph_grows_linearly():
    small, large, larger = label_tasks(2), label_tasks(4), label_tasks(8)  # 8, 64, 512 blocks
    assert 6 < large / small < 9, (small, large)
    assert 7 < larger / large < 9, (large, larger)
    assert larger < 6 * 512
    # dask-image's label already builds more tasks for 8 blocks than roidask for 512
    img = image(np.zeros((8,) * 3, bool), {"i": 4, "j": 4, "k": 4})
    reference, _ = dask_image_label(img.data, ndi.generate_binary_structure(3, 3))
    assert len(reference.__dask_graph__()) > larger


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"connectivity": 4}, "connectivity: expected 1, 2 or 3, got 4"),
        ({"structure": np.ones((5, 5, 5))}, "structure: expected a centro-symmetric 3x3x3"),
    ],
)
def test_label_bad_parameters(args, message):
    with pytest.raises(ParameterError, match=message):
        label(image(MASKS["noise"], CHUNKINGS[0]), **args)


def test_label_refuses_float_and_4d():
    with pytest.raises(ParameterError, match="img: expected a boolean or integer mask"):
        label(image(np.ones(SHAPE, "float32"), CHUNKINGS[0]))
    with pytest.raises(ParameterError, match=r"img: expected a 3D image"):
        label(roidask.new_image(np.ones(SHAPE + (2,), bool), AFFINE))


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_region_sizes(chunks):
    labels_data, n = ndi.label(MASKS["blobs"])
    img = image(labels_data, chunks)
    with raise_if_dask_computes():
        sizes = region_sizes(img, n)
        chosen = region_sizes(img, [0, 2, n + 5])
    counts = np.bincount(labels_data.ravel())
    table = sizes.compute().to_dataframe()
    assert table.index.tolist() == list(range(1, n + 1))
    np.testing.assert_array_equal(table["voxels"], counts[1:])
    np.testing.assert_allclose(table["volume_mm3"], counts[1:] * 2.0 * 2.5 * 3.0)
    np.testing.assert_array_equal(chosen.voxels.values, [counts[0], counts[2], 0])


def test_region_sizes_needs_labels_known_now():
    labels, n_labels = label(image(MASKS["noise"], CHUNKINGS[1]))
    with pytest.raises(ParameterError, match=r"int\(n_labels\)"):
        region_sizes(labels, n_labels)
    with pytest.raises(ParameterError, match="labels_img: expected an integer label image"):
        region_sizes(image(np.ones(SHAPE, "float32"), CHUNKINGS[0]), 3)


def nilearn_regions(nifti, **kwargs):
    expected, index = nilearn_connected_regions(nifti, **kwargs)
    return expected.get_fdata(dtype=np.float32), index


@pytest.mark.parametrize("extract_type", ["connected_components", "local_regions"])
def test_connected_regions_motor_map(motor, extract_type):
    img, nifti = motor
    data = np.asanyarray(nifti.dataobj)
    thresholded = np.where(np.abs(data) > 3, data, 0).astype(data.dtype)
    for min_size in (100, 1350):
        expected, expected_index = nilearn_regions(
            nib.Nifti1Image(thresholded, nifti.affine), min_region_size=min_size,
            extract_type=extract_type,
        )
        maps = img.where(abs(img) > 3, 0).astype(img.dtype)
        for chunks in MOTOR_CHUNKINGS:
            with raise_if_dask_computes():
                regions, index = connected_regions(
                    maps.chunk(chunks), min_region_size=min_size, extract_type=extract_type
                )
            regions, index = dask.compute(regions, index)
            assert index == expected_index
            np.testing.assert_array_equal(regions.values, expected)
            np.testing.assert_allclose(regions.nii.affine, nifti.affine)


def test_connected_regions_4d_with_mask():
    rng = np.random.default_rng(3)
    maps = np.stack(
        [ndi.gaussian_filter(rng.standard_normal(SHAPE), 1.2) for _ in range(3)], axis=-1
    ).astype("float32")
    maps[np.abs(maps) < 0.1] = 0
    mask = np.ones(SHAPE, bool)
    mask[:, :, 8:] = False
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    for extract_type in ("connected_components", "local_regions"):
        expected, expected_index = nilearn_regions(
            nib.Nifti1Image(maps, affine), min_region_size=200, extract_type=extract_type,
            smoothing_fwhm=4, mask_img=nib.Nifti1Image(mask.astype("uint8"), affine),
        )
        img = roidask.new_image(maps, affine).chunk({"i": 5, "j": 4, "k": 3, "t": 2})
        mask_img = roidask.new_image(mask, affine).chunk(4)
        kwargs = dict(
            min_region_size=200, extract_type=extract_type, smoothing_fwhm=4, mask_img=mask_img
        )
        with raise_if_dask_computes():
            regions, index = connected_regions(img, **kwargs)
            region_labels = connected_region_labels(img, **kwargs)
        regions, index, region_labels = dask.compute(regions, index, region_labels)
        assert index == expected_index
        np.testing.assert_array_equal(regions.values, expected)
        # label r is volume r - 1, found on the map it came from
        assert region_labels.dims == ("i", "j", "k", "t")
        for r, t in enumerate(index, start=1):
            np.testing.assert_array_equal(
                region_labels.values[..., t] == r, expected[..., r - 1] != 0
            )


def test_region_labels_of_a_map_do_not_wait_for_later_maps():
    """Map t's labels need the counts of maps up to t only, so label blocks are not all held."""
    rng = np.random.default_rng(4)
    maps = (rng.random(SHAPE + (3,)) > 0.6).astype("float32")
    img = roidask.new_image(maps, AFFINE).chunk({"i": 5, "j": 4, "k": 3, "t": 1})
    out = connected_region_labels(img, 0, "connected_components").data
    graph = dict(out.__dask_graph__())

    def ancestors(key):
        seen, todo = set(), [key]
        while todo:
            for dep in dask.core.get_dependencies(graph, todo.pop()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    def reads_map(keys, t):
        return any(isinstance(k, tuple) and k[0] == img.data.name and k[-1] == t for k in keys)

    first, last = ancestors((out.name, 0, 0, 0, 0)), ancestors((out.name, 0, 0, 0, 2))
    assert reads_map(first, 0) and not reads_map(first, 1) and not reads_map(first, 2)
    assert reads_map(last, 0) and reads_map(last, 2)  # numbering continues after map 0


def test_connected_regions_none_found():
    data = np.zeros(SHAPE, "float32")
    data[2, 2, 2] = 1.0
    regions, index = connected_regions(
        image(data, CHUNKINGS[1]), extract_type="connected_components"
    )
    with pytest.warns(UserWarning, match="No supra threshold regions"):
        assert dask.compute(regions, index) == (None, None)


def test_connected_regions_bad_parameters():
    img = image(np.ones(SHAPE, "float32"), CHUNKINGS[0])
    with pytest.raises(ParameterError, match="extract_type: expected 'connected_components'"):
        connected_regions(img, extract_type="watershed")
    with pytest.raises(ParameterError, match="smoothing_fwhm"):
        connected_region_labels(img, smoothing_fwhm=-1)
