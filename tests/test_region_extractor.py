"""RegionExtractor against nilearn's, at three chunkings of the maps, with signals."""

import warnings

import dask
import nibabel as nib
import numpy as np
import pytest
from nilearn.regions import RegionExtractor as NilearnRegionExtractor

from roidask.errors import ParameterError
from roidask.grid import new_image
from roidask.maskers import RegionExtractor
from roidask.testing import raise_if_dask_computes

SHAPE = (14, 15, 12)
AFFINE = np.diag([2.0, 2.0, 2.5, 1.0])
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (6, 8), "j": (4, 11), "k": (5, 7), "t": (2, 1)},
    "thin": {"i": 3, "j": 3, "k": 3, "t": 1},
}


def maps_values():
    """Three probabilistic maps: two blobs in the first, one each in the others, and noise."""
    rng = np.random.default_rng(0)
    grid = np.indices(SHAPE).transpose(1, 2, 3, 0).astype(float)
    maps = np.zeros(SHAPE + (3,), "float32")
    for n, centres in enumerate([[(3, 4, 3), (10, 10, 8)], [(7, 11, 4)], [(8, 4, 8)]]):
        for centre in centres:
            maps[..., n] += np.exp(-((grid - centre) ** 2).sum(-1) / 6.0)
    maps += 0.02 * rng.standard_normal(maps.shape).astype("float32")
    return maps


def run_values():
    rng = np.random.default_rng(1)
    return (100 + 5 * rng.standard_normal(SHAPE + (20,))).astype("float32")


CASES = {
    "ratio": dict(thresholding_strategy="ratio_n_voxels", threshold=0.5,
                  extractor="connected_components", smoothing_fwhm=None, min_region_size=20),
    "value": dict(thresholding_strategy="img_value", threshold=0.3,
                  extractor="connected_components", smoothing_fwhm=None, min_region_size=20),
    "percentile-local": dict(thresholding_strategy="percentile", threshold=80,
                             extractor="local_regions", smoothing_fwhm=4, min_region_size=20),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS)
def test_region_extractor_equals_nilearn(chunks, case):
    # raw region signals (nilearn z-scores float32 signals less exactly than roidask:
    # standardisation's parity is tested with signal.clean)
    options = dict(CASES[case])
    maps = new_image(maps_values(), AFFINE)
    maps = maps if chunks is None else maps.chunk(chunks)
    extractor = RegionExtractor(maps, **options).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = NilearnRegionExtractor(nib.Nifti1Image(maps_values(), AFFINE), **options)
        reference.fit()
        expected = reference.transform(nib.Nifti1Image(run_values(), AFFINE))
    assert extractor.index_ == list(reference.index_)
    np.testing.assert_allclose(np.asarray(extractor.regions_img_),
                               reference.regions_img_.get_fdata(), rtol=1e-5, atol=1e-6)
    with raise_if_dask_computes():
        signals = extractor.transform(new_image(run_values(), AFFINE).chunk({"t": 7}))
    (signals,) = dask.compute(signals)
    np.testing.assert_allclose(np.asarray(signals), expected, rtol=0,
                               atol=2e-5 * np.abs(expected).max())
    assert extractor.n_regions_ == len(reference.index_)


@pytest.mark.parametrize("kwargs, match", [
    ({"thresholding_strategy": "magic"}, "thresholding_strategy: expected one of"),
    ({"threshold": None}, "threshold: expected a number"),
    ({"threshold": 5.0}, r"threshold: expected a ratio in \(0, n_maps=3\]"),
    ({"threshold": 0.5, "min_region_size": 1e9}, "min_region_size: expected a size"),
])
def test_region_extractor_refuses_what_nilearn_refuses(kwargs, match):
    maps = new_image(maps_values(), AFFINE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ParameterError, match=match):
            RegionExtractor(maps, smoothing_fwhm=None, **kwargs).fit()


def test_threshold_none_is_a_type_error_as_in_nilearn():
    with pytest.raises(TypeError):
        RegionExtractor(new_image(maps_values(), AFFINE), threshold=None).fit()
