"""LabelsMasker(lut=...) and the fitted lut_ against nilearn 0.14's NiftiLabelsMasker."""

import warnings

import dask
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.maskers import NiftiLabelsMasker
from sklearn.base import clone

from roidask.errors import InputFileError, ParameterError
from roidask.grid import new_image
from roidask.maskers import LabelsMasker
from roidask.testing import raise_if_dask_computes

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])
SHAPE = (7, 6, 5)
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (4, 3), "j": (1, 5), "k": (3, 2), "t": (4, 3, 3)},
    "thin": {"i": 2, "j": 2, "k": 2, "t": 1},
}


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture(scope="module")
def atlas():
    return (np.arange(np.prod(SHAPE)).reshape(SHAPE) % 4).astype(np.int16)


@pytest.fixture(scope="module")
def series():
    return np.random.default_rng(0).standard_normal(SHAPE + (10,)).astype(np.float32)


def chunked(values, chunking):
    img = new_image(values, AFFINE)
    if CHUNKINGS[chunking] is None:
        return img
    return img.chunk({d: c for d, c in CHUNKINGS[chunking].items() if d in img.dims})


def nilearn_masker(atlas, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NiftiLabelsMasker(nib.Nifti1Image(atlas, AFFINE), **options)


LUTS = {
    "with-background": dict(lut=pd.DataFrame({"index": [0, 1, 2, 3],
                                              "name": ["Background", "a", "b", "c"]})),
    "no-background": dict(lut=pd.DataFrame({"index": [1, 2, 3], "name": ["a", "b", "c"]})),
    "extra-missing-color": dict(lut=pd.DataFrame({
        "index": [1, 3, 9], "name": ["a", "c", "z"],
        "color": ["#ff0000", "#00ff00", "#0000ff"]})),
    "unsorted-background-named": dict(lut=pd.DataFrame({"index": [3, 1, 2, 0],
                                                        "name": ["c", "a", "b", "bg"]})),
    "background-label-1": dict(lut=pd.DataFrame({"index": [0, 1, 2, 3],
                                                 "name": ["z", "a", "b", "c"]}),
                               background_label=1),
    "labels": dict(labels=["bg", "a", "b", "c"]),
    "labels-short": dict(labels=["a", "b"]),
    "neither": dict(),
}


@pytest.mark.parametrize("case", LUTS)
def test_fitted_lut_equals_nilearn(atlas, case):
    options = LUTS[case]
    expected = nilearn_masker(atlas, **options).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # roidask's "label values but names" warnings
        masker = LabelsMasker(new_image(atlas, AFFINE), **options).fit()
    pd.testing.assert_frame_equal(masker.lut_, expected.lut_)
    assert masker.region_names_ == list(expected.region_names_.values())
    assert masker.region_ids_.tolist() == [
        v for k, v in expected.region_ids_.items() if k != "background"]


@pytest.mark.parametrize("sep", ["\t", ","])
def test_lut_from_a_file(atlas, tmp_path, sep):
    path = tmp_path / ("atlas_dseg.tsv" if sep == "\t" else "atlas.csv")
    pd.DataFrame({"index": [2, 1, 3], "name": ["left", "right", "both"],
                  "color": ["#aa0000", "#00aa00", "#0000aa"]}).to_csv(path, sep=sep, index=False)
    expected = nilearn_masker(atlas, lut=path).fit()
    masker = LabelsMasker(new_image(atlas, AFFINE), lut=str(path)).fit()
    pd.testing.assert_frame_equal(masker.lut_, expected.lut_)
    assert masker.region_names_ == ["right", "left", "both"]


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_signals_and_names_with_a_lut_on_another_grid(atlas, series, chunking):
    lut = pd.DataFrame({"index": [3, 1, 2], "name": ["c", "a", "b"]})
    data_affine = np.diag([1.0, 1.0, 1.0, 1.0])
    data = np.random.default_rng(1).standard_normal((12, 11, 9, 10)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_masker = nilearn_masker(atlas, lut=lut)
        expected = expected_masker.fit_transform(nib.Nifti1Image(data, data_affine))
    img = new_image(data, data_affine)
    if CHUNKINGS[chunking] is not None:
        img = img.chunk({"i": 5, "j": (4, 7), "k": 3, "t": (4, 6)} if chunking == "uneven"
                        else {"i": 2, "j": 2, "k": 2, "t": 1})
    masker = LabelsMasker(new_image(atlas, AFFINE), lut=lut).fit(img)
    with raise_if_dask_computes():
        signals = masker.transform(img)
    np.testing.assert_allclose(signals.values, expected, rtol=1e-6, atol=1e-6)
    pd.testing.assert_frame_equal(masker.lut_, expected_masker.lut_)
    assert masker.region_names_ == list(expected_masker.region_names_.values())


def test_lut_errors(atlas, tmp_path):
    img = new_image(atlas, AFFINE)
    lut = pd.DataFrame({"index": [1, 2, 3], "name": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="not both"):
        nilearn_masker(atlas, lut=lut, labels=["a", "b", "c"]).fit()
    with pytest.raises(ParameterError, match="lut: expected labels or a look-up table"):
        LabelsMasker(img, labels=["a", "b", "c"], lut=lut).fit()
    with pytest.raises(TypeError, match="lut: expected a DataFrame"):
        LabelsMasker(img, lut=[1, 2, 3]).fit()
    with pytest.raises(ParameterError, match="'index' and 'name' columns"):
        LabelsMasker(img, lut=pd.DataFrame({"idx": [1], "name": ["a"]})).fit()
    with pytest.raises(InputFileError, match="no such look-up table"):
        LabelsMasker(img, lut=tmp_path / "missing.tsv").fit()


def test_lut_is_a_scikit_learn_parameter(atlas):
    lut = pd.DataFrame({"index": [1, 2, 3], "name": ["a", "b", "c"]})
    masker = LabelsMasker(new_image(atlas, AFFINE), lut=lut)
    assert masker.get_params()["lut"] is lut
    copy = clone(masker)
    pd.testing.assert_frame_equal(copy.lut, lut)
    assert copy.fit().region_names_ == ["a", "b", "c"]
    assert not hasattr(LabelsMasker(new_image(atlas, AFFINE)), "lut_")
