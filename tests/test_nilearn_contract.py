"""nilearn's error and warning contract: the same builtin classes, roidask's messages.

Code written for nilearn catches ``TypeError`` where nilearn raises it (a
threshold of None, labels given as a set, an empty list of images, a masker
without its atlas, an image of the wrong dimensionality: nilearn's
``DimensionError`` is a ``TypeError``). roidask raises its own classes, which
are also ``TypeError``s and still ``ParameterError``s. Where nilearn warns and
goes on (a threshold above the data, NaN in an atlas), roidask does too, with
nilearn's values.
"""

import warnings

import dask
import nibabel as nib
import numpy as np
import pytest
from nilearn import image as nimage
from nilearn import maskers as nmaskers
from nilearn.exceptions import DimensionError as NilearnDimensionError

from roidask import image
from roidask.errors import (
    DimensionError,
    MaskWarning,
    NotAnImageError,
    ParameterError,
    ParameterTypeError,
    RoidaskError,
)
from roidask.grid import new_image
from roidask.image.thresholding import ThresholdRangeWarning
from roidask.maskers import LabelsMasker, MapsMasker
from roidask.testing import raise_if_dask_computes

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])
SHAPE = (9, 8, 7)
CHUNKINGS = {
    "one-chunk": None,
    "uneven": {"i": (4, 3, 2), "j": (5, 3), "k": (2, 5), "t": (3, 2)},
    "thin": {"i": 2, "j": 2, "k": 2, "t": 1},
}


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def chunked(img, chunking):
    return img if CHUNKINGS[chunking] is None else img.chunk(
        {dim: size for dim, size in CHUNKINGS[chunking].items() if dim in img.dims})


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def volume():
    return np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)


@pytest.fixture(scope="module")
def series():
    return np.random.default_rng(1).standard_normal(SHAPE + (5,)).astype(np.float32)


@pytest.fixture(scope="module")
def atlas():
    return (np.arange(np.prod(SHAPE)).reshape(SHAPE) % 4).astype(np.int16)


def nifti(values):
    return nib.Nifti1Image(values, AFFINE)


def roidask_img(values):
    return new_image(values, AFFINE)


def raised(func):
    """The exception ``func`` raises."""
    try:
        quiet(func)
    except Exception as err:  # noqa: BLE001 - the class is what is compared
        return err
    raise AssertionError(f"{func} did not raise")


def assert_type_error_as_nilearn(ours, theirs, roidask_class):
    """nilearn raises a TypeError; roidask raises ``roidask_class``, also a TypeError."""
    nilearn_error, roidask_error = raised(theirs), raised(ours)
    assert isinstance(nilearn_error, TypeError)
    assert type(roidask_error) is roidask_class, roidask_error
    assert isinstance(roidask_error, TypeError)
    assert isinstance(roidask_error, RoidaskError)  # and roidask's message: "name: expected"
    with pytest.raises(TypeError):  # what a nilearn user writes
        quiet(ours)
    return roidask_error


def test_threshold_of_none_is_a_type_error(volume):
    for ours, theirs in [
        (lambda: image.threshold_img(roidask_img(volume), None),
         lambda: nimage.threshold_img(nifti(volume), None, copy_header=True)),
        (lambda: image.binarize_img(roidask_img(volume), None),
         lambda: nimage.binarize_img(nifti(volume), None, copy_header=True)),
        (lambda: image.threshold_img(roidask_img(volume), [1.0]),
         lambda: nimage.threshold_img(nifti(volume), [1.0], copy_header=True)),
    ]:
        error = assert_type_error_as_nilearn(ours, theirs, ParameterTypeError)
        assert isinstance(error, ParameterError) and str(error).startswith("threshold: expected")
    with pytest.raises(ValueError):  # a malformed string stays a ValueError, as nilearn
        image.threshold_img(roidask_img(volume), "high")


def test_labels_as_a_set_and_no_atlas_are_type_errors(atlas):
    names = {"a", "b", "c"}
    assert_type_error_as_nilearn(
        lambda: LabelsMasker(roidask_img(atlas), labels=names).fit(),
        lambda: nmaskers.NiftiLabelsMasker(nifti(atlas), labels=names).fit(),
        ParameterTypeError,
    )
    error = assert_type_error_as_nilearn(
        lambda: LabelsMasker().fit(), lambda: nmaskers.NiftiLabelsMasker().fit(),
        ParameterTypeError,
    )
    assert str(error) == "labels_img: expected a 3D labels image (atlas), got None"
    assert_type_error_as_nilearn(
        lambda: MapsMasker().fit(), lambda: nmaskers.NiftiMapsMasker().fit(), ParameterTypeError
    )


def test_empty_image_lists_are_type_errors():
    assert_type_error_as_nilearn(lambda: image.concat_imgs([]), lambda: nimage.concat_imgs([]),
                                 ParameterTypeError)
    assert_type_error_as_nilearn(lambda: image.mean_img([]), lambda: nimage.mean_img([]),
                                 NotAnImageError)


def test_wrong_dimensionality_is_nilearns_dimension_error_class(volume, series, atlas):
    cases = [
        (lambda: image.index_img(roidask_img(volume), 0),
         lambda: nimage.index_img(nifti(volume), 0), 3, 4),
        (lambda: LabelsMasker(roidask_img(series)).fit(),
         lambda: nmaskers.NiftiLabelsMasker(nifti(series)).fit(), 4, 3),
        (lambda: image.threshold_img(roidask_img(volume), 0.5, mask_img=roidask_img(series)),
         lambda: nimage.threshold_img(nifti(volume), 0.5, mask_img=nifti(series),
                                      copy_header=True), 4, 3),
    ]
    for ours, theirs, file_dimension, required in cases:
        assert isinstance(raised(theirs), NilearnDimensionError)
        error = assert_type_error_as_nilearn(ours, theirs, DimensionError)
        assert (error.file_dimension, error.required_dimension) == (file_dimension, required)
        assert isinstance(error, ParameterError)  # existing `except ParameterError` still work


def test_error_classes_pickle_with_their_facts():
    import pickle

    error = pickle.loads(pickle.dumps(DimensionError("img", "a 4D image", "a 3D image", 3, 4)))
    assert (str(error), error.file_dimension, error.required_dimension) == (
        "img: expected a 4D image, got 'a 3D image'", 3, 4)
    error = pickle.loads(pickle.dumps(ParameterTypeError("threshold", "a number", None)))
    assert isinstance(error, TypeError) and error.name == "threshold"


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("two_sided", [True, False])
def test_threshold_above_the_data_warns_and_gives_nilearns_zeros(volume, chunking, two_sided):
    too_high = float(np.abs(volume).max()) + 1.0
    with pytest.warns(UserWarning, match="must not exceed"):
        expected = nimage.threshold_img(nifti(volume), too_high, two_sided=two_sided,
                                        copy_header=True).get_fdata()
    with raise_if_dask_computes():
        out = image.threshold_img(chunked(roidask_img(volume), chunking), too_high,
                                  two_sided=two_sided)
    with pytest.warns(ThresholdRangeWarning, match="above the maximum") as caught:
        values = out.values
    assert issubclass(caught[0].category, UserWarning)
    np.testing.assert_array_equal(values, expected)
    with pytest.warns(ThresholdRangeWarning):
        assert not image.binarize_img(chunked(roidask_img(volume), chunking), too_high).values.any()


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_negative_threshold_below_the_data_warns(volume, chunking):
    too_low = float(volume.min()) - 1.0
    with pytest.warns(UserWarning, match="must not be less than"):
        expected = nimage.threshold_img(nifti(volume), too_low, two_sided=False,
                                        copy_header=True).get_fdata()
    out = image.threshold_img(chunked(roidask_img(volume), chunking), too_low, two_sided=False)
    with pytest.warns(ThresholdRangeWarning, match="below the minimum"):
        np.testing.assert_array_equal(out.values, expected)


def test_threshold_inside_the_data_does_not_warn(volume):
    out = image.threshold_img(roidask_img(volume), float(np.abs(volume).max()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ThresholdRangeWarning)
        assert int((out != 0).sum()) == 1


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_non_finite_atlas_values_become_background(atlas, series, chunking):
    labels = atlas.astype(np.float32)
    labels[0, 0, :3] = [np.nan, np.inf, -np.inf]
    labels[4, 4, 4] = np.nan
    with pytest.warns(UserWarning, match="Non-finite values"):  # nilearn: "replaced with zeros"
        expected = nmaskers.NiftiLabelsMasker(nifti(labels)).fit_transform(nifti(series))
    ours = LabelsMasker(chunked(roidask_img(labels), chunking))
    with pytest.warns(MaskWarning, match="4 non-finite values .*background") as caught:
        ours.fit(chunked(roidask_img(series), chunking))
    assert issubclass(caught[0].category, UserWarning)
    assert ours.region_ids_.tolist() == [1, 2, 3]
    with raise_if_dask_computes():
        signals = ours.transform(chunked(roidask_img(series), chunking))
    np.testing.assert_allclose(signals.values, expected, rtol=1e-6, atol=1e-7)


@pytest.fixture(scope="module")
def int8_volume():
    values = np.random.default_rng(4).integers(-20, 20, SHAPE).astype(np.int8)
    values[1, 2, 3] = -128
    values[5, 5, 5] = 127
    return values


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("threshold, two_sided", [
    (100.0, True), (128.0, True), (100.0, False), ("99.5%", True), ("50%", True), (10, False),
])
def test_int8_minimum_is_thresholded_as_nilearn_does_on_wider_ints(int8_volume, chunking,
                                                                   threshold, two_sided):
    """|-128| is 128: nilearn's int8 abs() wraps, so its int16 result is the reference."""
    expected = quiet(nimage.threshold_img, nifti(int8_volume.astype(np.int16)), threshold,
                     two_sided=two_sided, copy_header=True).get_fdata()
    img = chunked(roidask_img(int8_volume), chunking)
    with raise_if_dask_computes():
        out = image.threshold_img(img, threshold, two_sided=two_sided)
        binary = image.binarize_img(img, threshold, two_sided=two_sided)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ThresholdRangeWarning)  # a valid threshold: no warning
        np.testing.assert_array_equal(out.values, expected)
        np.testing.assert_array_equal(binary.values, expected != 0)
    assert out.dtype == np.int8


def test_a_threshold_outside_the_data_warns_once_whatever_the_chunks(int8_volume):
    img = chunked(roidask_img(int8_volume), "thin")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert not image.threshold_img(img, 129.0).values.any()
    assert [w.category for w in caught] == [ThresholdRangeWarning]
    assert "maximum of the absolute values (128)" in str(caught[0].message)


def test_mask_logic_refuses_4d_images_as_nilearns_masks(series, volume):
    from nilearn import masking

    four_d, three_d = roidask_img(series > 0), roidask_img(volume > 0)
    assert isinstance(raised(lambda: masking.intersect_masks([nifti((series > 0).astype(
        np.int8))] * 2)), NilearnDimensionError)
    for operation in (lambda: image.mask_and(four_d, four_d),
                      lambda: image.mask_and(three_d, four_d),
                      lambda: image.mask_or(four_d, three_d), lambda: image.mask_not(four_d)):
        error = raised(operation)
        assert type(error) is DimensionError and isinstance(error, TypeError)
        assert "math_img" in str(error)
    # the alternative the message names equals nilearn's math_img
    expected = nimage.math_img("(a != 0) & (b != 0)", a=nifti(series), b=nifti(series[::-1]))
    got = image.math_img("(a != 0) & (b != 0)", a=roidask_img(series),
                         b=roidask_img(series[::-1].copy()))
    np.testing.assert_array_equal(got.values, expected.get_fdata())
