"""connected_label_regions against nilearn's: labels split into connected parts, lazily."""

import dask
import nibabel as nib
import numpy as np
import pytest
from nilearn.regions import connected_label_regions as nilearn_connected_label_regions

from roidask.errors import ParameterError
from roidask.grid import new_image
from roidask.regions import connected_label_regions
from roidask.testing import raise_if_dask_computes

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])
CHUNKINGS = {"one-chunk": None, "uneven": {"i": (5, 7), "j": (4, 6), "k": (3, 5)},
             "thin": {"i": 2, "j": 2, "k": 2}}


def atlas():
    values = np.zeros((12, 10, 8), "int16")
    values[1:4, 1:4, 1:3] = 1
    values[7:10, 6:9, 5:7] = 1          # label 1 in two parts
    values[5, 5, 5] = 1                 # and a one-voxel part
    values[1:4, 6:9, 1:7] = 3
    values[8:11, 1:3, 1:3] = 3          # label 3 in two parts
    values[6, 2, 6] = 5
    values[7, 3, 7] = 5                 # diagonal neighbours: one region with connect_diag
    return values


@pytest.mark.parametrize("options", [{}, {"connect_diag": False}, {"min_size": 20},
                                     {"labels": ["one", "three", "five"]}])
@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_connected_label_regions_equals_nilearn(chunks, options):
    img = new_image(atlas(), AFFINE)
    img = img if chunks is None else img.chunk(chunks)
    with raise_if_dask_computes():
        result = connected_label_regions(img, **options)
    expected = nilearn_connected_label_regions(nib.Nifti1Image(atlas(), AFFINE), **options)
    if "labels" in options:
        (out, names), (expected, expected_names) = dask.compute(*result), expected
        assert names == list(expected_names)
    else:
        out = result.compute()
    np.testing.assert_array_equal(out.values, np.asarray(expected.dataobj))


def test_bad_inputs_are_refused():
    img = new_image(atlas(), AFFINE)
    with pytest.raises(TypeError):
        connected_label_regions(img, min_size="big")
    with pytest.raises(ParameterError, match="connect_diag"):
        connected_label_regions(img, connect_diag="yes")
    out, names = connected_label_regions(img, labels=["only one"])
    with pytest.raises(ParameterError, match="labels: expected 3 names"):
        dask.compute(names)
