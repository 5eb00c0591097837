"""LabelsMasker and Masker against nilearn's NiftiLabelsMasker and NiftiMasker."""

import warnings

import dask.array as da
import nibabel as nib
import numpy as np
import pytest
from nilearn.image import high_variance_confounds as nilearn_high_variance_confounds
from nilearn.maskers import NiftiLabelsMasker, NiftiMasker

from roidask._dask.extraction import STRATEGIES
from roidask.errors import GridMismatchError, ParameterError
from roidask.grid import image_affine, new_image
from roidask.maskers import LabelsMasker, Masker, NotFittedError
from roidask.testing import CountingArray, raise_if_dask_computes

SHAPE = (10, 12, 11, 30)
T_R = 2.0
CHUNKINGS = [None, {"t": (7, 13, 10)}, {"i": 3, "j": 5, "k": 4, "t": 8}]
CONDITIONS = np.array(["rest", "face", "house"] * 10)


def _affine():
    affine = np.diag([3.0, 3.5, 3.0, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 2.0]
    return affine


@pytest.fixture(scope="module")
def data():
    """float32 data (bright ellipsoid, 0 outside) and a 6-region atlas in it."""
    rng = np.random.default_rng(0)
    i, j, k = np.meshgrid(*[np.arange(n) for n in SHAPE[:3]], indexing="ij")
    brain = ((i - 4.5) / 4) ** 2 + ((j - 5.5) / 5) ** 2 + ((k - 5) / 4.5) ** 2 < 1
    drift = np.sin(np.arange(SHAPE[3]) * 0.4) * 20
    values = rng.standard_normal(SHAPE) * 5 + 800 + drift + (i * 7.0)[..., None]
    values = np.where(brain[..., None], values, 0).astype("float32")
    labels = np.zeros(SHAPE[:3], "int32")
    labels[brain] = (1 + i // 4 + 2 * (j // 6))[brain]  # 1..5, split into blocks
    labels[brain & (k < 2)] = 9  # a non-consecutive label value
    return values, labels


def _image(values, chunks=None, **coords):
    if np.ndim(values) == 4:
        coords = {"time": np.arange(np.shape(values)[3]) * T_R, **coords}
    img = new_image(values, _affine(), header={"t_r": T_R}, time_coords=coords or None)
    if not chunks:
        return img
    # DataArray.chunk would also chunk the t coordinates: keep them in memory
    in_memory = {name: coord for name, coord in img.coords.items() if coord.dims == ("t",)}
    return img.chunk(chunks).assign_coords(in_memory)


def _nifti(values, affine=None):
    return nib.Nifti1Image(values, _affine() if affine is None else affine)


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def assert_signals(got, expected, rtol=2e-6):
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=0, atol=rtol * scale)


# -- LabelsMasker ------------------------------------------------------------

@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_labels_signals_equal_nilearn(data, chunks, strategy):
    values, labels = data
    masker = LabelsMasker(_image(labels), strategy=strategy).fit(_image(values, chunks))
    with raise_if_dask_computes():
        signals = masker.transform(_image(values, chunks))
    expected = _quiet(NiftiLabelsMasker(_nifti(labels), strategy=strategy).fit_transform,
                      _nifti(values))
    assert signals.dims == ("t", "region")
    assert signals["region"].values.tolist() == [1, 2, 3, 4, 5, 9]
    assert signals["name"].values.tolist() == ["1", "2", "3", "4", "5", "9"]
    assert_signals(signals.values, expected)


CLEANING = [
    dict(standardize="zscore_sample", detrend=True),
    dict(standardize="psc", low_pass=0.1, t_r=T_R),
    dict(detrend=True, high_pass=0.02, t_r=T_R),
]


@pytest.mark.parametrize("options", CLEANING)
def test_labels_cleaning_and_confounds_equal_nilearn(data, options):
    values, labels = data
    confounds = np.random.default_rng(5).standard_normal((SHAPE[3], 2))
    img = _image(values, {"t": (7, 13, 10)})
    with raise_if_dask_computes(max_computes=1):  # fit reads the (lazy) atlas once
        masker = LabelsMasker(_image(labels, {"i": 4}), **options).fit(img)
    with raise_if_dask_computes():
        signals = masker.transform(img, confounds=confounds)
    expected = _quiet(NiftiLabelsMasker(_nifti(labels), **options).fit_transform,
                      _nifti(values), confounds=confounds)
    # psc divides by the mean: float32 input rounding is amplified (see test_signal)
    assert_signals(signals.values, expected, rtol=5e-5 if "psc" in options.values() else 2e-6)


def test_labels_smoothing_and_resampling_equal_nilearn(data):
    values, labels = data
    atlas_affine = np.diag([2.0, 2.0, 2.0, 1.0])
    atlas_affine[:3, 3] = [-9.0, 6.0, 3.0]
    atlas = np.zeros((15, 20, 16), "int32")
    atlas[2:7, 3:10, 2:12], atlas[7:13, 3:10, 2:12], atlas[2:13, 10:18, 2:12] = 1, 2, 3
    img = _image(values, {"i": 4, "j": 6, "t": 8})
    for target in ("data", "labels"):
        options = dict(resampling_target=target, smoothing_fwhm=5.0)
        masker = LabelsMasker(new_image(atlas, atlas_affine), **options).fit(img)
        with raise_if_dask_computes():
            signals = masker.transform(img)
        reference = NiftiLabelsMasker(_nifti(atlas, atlas_affine), **options)
        expected = _quiet(reference.fit_transform, _nifti(values))
        assert_signals(signals.values, expected)
        np.testing.assert_array_equal(masker.labels_img_.values,
                                      reference.labels_img_.get_fdata())


def test_atlas_fitted_alone_is_resampled_at_transform(data):
    values, labels = data
    atlas_affine = np.diag([2.0, 2.0, 2.0, 1.0])
    atlas_affine[:3, 3] = [-9.0, 6.0, 3.0]
    atlas = np.zeros((15, 20, 16), "int32")
    atlas[2:7, 3:10, 2:12], atlas[7:13, 3:18, 2:12] = 4, 7
    masker = LabelsMasker(new_image(atlas, atlas_affine)).fit()
    with pytest.warns(UserWarning, match="resampling the atlas now"):
        signals = masker.transform(_image(values, {"t": 8}))
    expected = _quiet(NiftiLabelsMasker(_nifti(atlas, atlas_affine)).fit().transform,
                      _nifti(values))
    assert_signals(signals.values, expected)


def test_runs_are_cleaned_separately_as_in_nilearn(data):
    values, labels = data
    runs = np.repeat([1, 2], SHAPE[3] // 2)
    mask = (labels > 0).astype("int8")
    options = dict(detrend=True, standardize="zscore_sample")
    img = _image(values, {"t": 7}, run=runs)
    signals = Masker(_image(mask), runs="run", **options).fit().transform(img)
    expected = _quiet(NiftiMasker(_nifti(mask), runs=runs, **options).fit_transform,
                      _nifti(values))
    assert_signals(signals.values, expected)


@pytest.mark.parametrize("keep", [False, True])
def test_labels_mask_and_keep_masked_labels_equal_nilearn(data, keep):
    values, labels = data
    mask = np.ones(SHAPE[:3], "int8")
    mask[:, :, :2] = 0  # removes region 9 entirely
    mask[:2] = 0
    options = dict(keep_masked_labels=keep)
    masker = LabelsMasker(_image(labels), mask_img=_image(mask), **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signals = masker.fit_transform(_image(values, {"t": 10}))
    expected = _quiet(NiftiLabelsMasker(_nifti(labels), mask_img=_nifti(mask), **options)
                      .fit_transform, _nifti(values))
    assert_signals(signals.values, expected)
    assert (9 in signals["region"].values) == keep
    assert masker.region_sizes_.tolist()[:5] == [
        int(((labels == v) & (mask == 1)).sum()) for v in range(1, 6)
    ]


@pytest.mark.parametrize("names", [
    ["a", "b", "c", "d", "e", "f"],
    ["Background", "a", "b", "c", "d", "e", "f"],
    ["bg", "a", "b", "c", "d", "e", "f"],
    ["a", "b"],
    ["a", "b", "c", "d", "e", "f", "g", "h"],
])
def test_region_names_follow_nilearn(data, names):
    values, labels = data
    masker = _quiet(LabelsMasker(_image(labels), labels=list(names)).fit, _image(values))
    reference = NiftiLabelsMasker(_nifti(labels), labels=list(names))
    _quiet(reference.fit_transform, _nifti(values))
    assert masker.region_names_ == list(reference.region_names_.values())
    assert masker.region_ids_.tolist() == [reference.region_ids_[n] for n in range(6)]


def test_time_coordinates_carry_over(data):
    values, labels = data
    img = _image(values, {"t": 7}, condition=CONDITIONS, run=np.repeat([1, 2], 15))
    masker = LabelsMasker(_image(labels)).fit(img)
    with raise_if_dask_computes():
        signals = masker.transform(img)
        faces = signals.sel(t=signals.condition == "face")
        per_condition = signals.groupby("condition").mean()
    np.testing.assert_array_equal(signals["time"].values, np.arange(SHAPE[3]) * T_R)
    assert faces.sizes["t"] == 10 and faces["run"].values.tolist()[:2] == [1, 1]
    expected = signals.values[CONDITIONS == "house"].mean(axis=0)
    np.testing.assert_allclose(per_condition.sel(condition="house").values, expected, rtol=1e-6)


@pytest.mark.parametrize("masker_kind", ["mean", "median", "voxels"])
def test_transform_reads_every_chunk_once(data, masker_kind):
    values, labels = data
    source = CountingArray(values)
    chunks = (5, 6, 11, 8)
    lazy = da.from_array(source, chunks=chunks, asarray=False, meta=np.array((), "float32"))
    img = new_image(lazy, _affine())
    if masker_kind == "voxels":
        masker = Masker(_image((labels > 0).astype("int8")), detrend=True).fit()
    else:
        masker = LabelsMasker(_image(labels), strategy=masker_kind, standardize="zscore_sample",
                              detrend=True).fit()
    signals = masker.transform(img)
    assert len(source.reads) == 0
    signals.compute()
    assert len(source.reads) == lazy.npartitions


def test_labels_inverse_transform_equals_nilearn(data):
    values, labels = data
    masker = LabelsMasker(_image(labels)).fit()
    reference = NiftiLabelsMasker(_nifti(labels)).fit()
    signals = masker.transform(_image(values, {"t": 7}))
    with raise_if_dask_computes():
        image = masker.inverse_transform(signals)
    expected = _quiet(reference.inverse_transform,
                      _quiet(reference.transform, _nifti(values))).get_fdata()
    np.testing.assert_allclose(image.values, expected, rtol=1e-6)
    np.testing.assert_allclose(image_affine(image), _affine())
    assert image["time"].values[1] == T_R
    volume = masker.inverse_transform(signals.values[0])
    assert volume.dims == ("i", "j", "k")


def test_labels_file_paths_equal_nilearn(data, tmp_path):
    values, labels = data
    nib.save(_nifti(values), tmp_path / "bold.nii")
    nib.save(_nifti(labels), tmp_path / "atlas.nii.gz")
    signals = LabelsMasker(str(tmp_path / "atlas.nii.gz")).fit_transform(tmp_path / "bold.nii")
    expected = _quiet(NiftiLabelsMasker(str(tmp_path / "atlas.nii.gz")).fit_transform,
                      str(tmp_path / "bold.nii"))
    assert_signals(signals.values, expected)


def test_three_d_image_gives_one_value_per_region(data):
    values, labels = data
    masker = LabelsMasker(_image(labels)).fit()
    out = masker.transform(new_image(values[..., 4], _affine()))
    assert out.dims == ("region",)
    expected = _quiet(NiftiLabelsMasker(_nifti(labels)).fit_transform, _nifti(values[..., 4]))
    assert_signals(out.values, np.ravel(expected))


# -- Masker ----------------------------------------------------------------------

@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("options", [
    {},
    dict(mask_strategy="epi", mask_args=dict(opening=1, lower_cutoff=0.3)),
    dict(mask_strategy="whole-brain-template", standardize="zscore_sample", detrend=True),
])
def test_masker_signals_and_mask_equal_nilearn(data, chunks, options):
    values, _ = data
    img = _image(values, chunks)
    with raise_if_dask_computes(max_computes=1):  # one streaming pass for the mask
        masker = Masker(**options).fit(img)
    with raise_if_dask_computes():
        signals = masker.transform(img)
    reference = NiftiMasker(**options).fit(_nifti(values))
    np.testing.assert_array_equal(masker.mask_img_.values, reference.mask_img_.get_fdata())
    assert masker.n_elements_ == reference.n_elements_
    assert_signals(signals.values, _quiet(reference.transform, _nifti(values)))
    assert signals.dims == ("t", "voxel")
    index = tuple(signals[d].values for d in ("i", "j", "k"))
    assert np.all(masker.mask_img_.values[index] == 1)


def test_masker_resampling_and_smoothing_equal_nilearn(data):
    values, _ = data
    target = np.diag([4.0, 4.0, 4.0, 1.0])
    target[:3, 3] = [-10.0, 5.0, 2.0]
    options = dict(target_affine=target, target_shape=(8, 9, 8), smoothing_fwhm=4.0,
                   mask_strategy="epi")
    img = _image(values, {"i": 4, "t": 8})
    masker = Masker(**options).fit(img)
    with raise_if_dask_computes(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signals = masker.transform(img)
    reference = NiftiMasker(**options).fit(_nifti(values))
    np.testing.assert_array_equal(masker.mask_img_.values, reference.mask_img_.get_fdata())
    assert_signals(signals.values, _quiet(reference.transform, _nifti(values)))


def test_masker_inverse_transform_equals_nilearn(data):
    values, labels = data
    mask = (labels > 2).astype("int8")
    masker = Masker(_image(mask)).fit()
    reference = NiftiMasker(_nifti(mask)).fit()
    signals = masker.transform(_image(values, {"t": 9}))
    with raise_if_dask_computes():
        image = masker.inverse_transform(signals)
    expected = _quiet(reference.inverse_transform, _quiet(reference.transform, _nifti(values)))
    expected = expected.get_fdata()
    np.testing.assert_array_equal(image.values, expected)
    assert image.dtype == np.float32
    flat = masker.inverse_transform(np.arange(masker.n_elements_, dtype=float))
    assert flat.dims == ("i", "j", "k") and flat.values[mask == 1].tolist() == list(
        range(masker.n_elements_))


def test_masker_integer_data_gives_float32(data):
    values, labels = data
    ints = values.astype("int16")
    masker = Masker(_image((labels > 0).astype("int8"))).fit()
    signals = masker.transform(_image(ints, {"t": 11}))
    expected = _quiet(NiftiMasker(_nifti((labels > 0).astype("int8"))).fit_transform,
                      _nifti(ints))
    assert_signals(signals.values, expected)


# -- sample_mask (scrubbing) --------------------------------------------------------

SCRUBBED = np.ones(SHAPE[3], bool)
SCRUBBED[[0, 6, 7, 18, 29]] = False


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("options", [
    {},
    dict(standardize="zscore_sample", detrend=True),
    dict(detrend=True, low_pass=0.15, t_r=T_R),
])
@pytest.mark.parametrize("form", ["bool", "index"])
def test_labels_sample_mask_equals_nilearn(data, chunks, options, form):
    values, labels = data
    sample_mask = SCRUBBED if form == "bool" else np.flatnonzero(SCRUBBED)
    confounds = np.random.default_rng(5).standard_normal((SHAPE[3], 2))
    img = _image(values, chunks, condition=CONDITIONS)
    masker = LabelsMasker(_image(labels), **options).fit(img)
    with raise_if_dask_computes():
        signals = masker.transform(img, confounds=confounds, sample_mask=sample_mask)
    expected = _quiet(NiftiLabelsMasker(_nifti(labels), **options).fit_transform,
                      _nifti(values), confounds=confounds, sample_mask=sample_mask)
    # nilearn fills and filters float32 signals in float32: its own results on float32
    # and float64 data differ by ~2e-5 of the scale (ours match the float64 one)
    assert_signals(signals.values, expected, rtol=5e-5 if "low_pass" in options else 2e-6)
    assert signals["t"].values.tolist() == np.flatnonzero(SCRUBBED).tolist()
    assert signals["time"].values.tolist() == (np.flatnonzero(SCRUBBED) * T_R).tolist()
    assert signals["condition"].values.tolist() == CONDITIONS[SCRUBBED].tolist()


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_masker_sample_mask_equals_nilearn(data, chunks):
    values, labels = data
    mask = (labels > 0).astype("int8")
    options = dict(detrend=True, standardize="zscore_sample", high_pass=0.01, t_r=T_R)
    img = _image(values, chunks)
    masker = Masker(_image(mask), **options).fit(img)
    with raise_if_dask_computes():
        signals = masker.transform(img, sample_mask=SCRUBBED)
        censored = Masker(_image(mask)).fit_transform(img, sample_mask=SCRUBBED)
    reference = NiftiMasker(_nifti(mask), **options)
    assert_signals(signals.values, _quiet(reference.fit_transform, _nifti(values),
                                          sample_mask=SCRUBBED))
    assert signals.dims == ("t", "voxel")
    assert signals["t"].values.tolist() == np.flatnonzero(SCRUBBED).tolist()
    assert_signals(censored.values, _quiet(NiftiMasker(_nifti(mask)).fit_transform,
                                           _nifti(values), sample_mask=SCRUBBED))


def test_masker_sample_mask_per_run_equals_nilearn(data):
    values, labels = data
    mask = (labels > 0).astype("int8")
    runs = np.repeat([0, 1], SHAPE[3] // 2)
    sample_mask = [np.array([1, 2, 3, 5, 8, 13]), np.arange(15) % 4 != 0]
    options = dict(detrend=True, standardize="zscore_sample")
    img = _image(values, {"t": 7}, run=runs)
    with raise_if_dask_computes(max_computes=1):  # fit reads the mask
        signals = Masker(_image(mask), runs="run", **options).fit_transform(
            img, sample_mask=sample_mask)
    expected = _quiet(NiftiMasker(_nifti(mask), runs=runs, **options).fit_transform,
                      _nifti(values), sample_mask=[sample_mask[0],
                                                   np.flatnonzero(sample_mask[1])])
    assert_signals(signals.values, expected)
    assert signals["run"].values.tolist() == [0] * 6 + [1] * 11


# -- high_variance_confounds ---------------------------------------------------------

HV_CLEANING = dict(standardize="zscore_sample", detrend=True)


def _masker_pair(kind, labels, **options):
    if kind == "labels":
        return (LabelsMasker(_image(labels), high_variance_confounds=True, **options),
                NiftiLabelsMasker(_nifti(labels), **options))
    return Masker(high_variance_confounds=True, **options), NiftiMasker(**options)


def _assert_high_variance_parity(masker, reference, values, img, confounds=None):
    """Lazy signals equal nilearn's, whose float32 confounds are rounded: see below."""
    with raise_if_dask_computes():
        signals = masker.transform(img, confounds=confounds)
    reference.set_params(high_variance_confounds=True)
    expected = _quiet(reference.fit_transform, _nifti(values), confounds=confounds)
    # nilearn computes the confounds of float32 data in float32 (roidask: float64); the
    # regression amplifies that rounding as psc does (see test_signal) ...
    assert_signals(signals.values, expected, rtol=5e-5)
    # ... and given the same confounds in float64 and the data as float64 (roidask cleans
    # the float64 region means and rounds once), nilearn agrees to the usual tolerance.
    # A smoothing masker's region means come from the raw data (roidask applies the
    # smoothing to the region weights, where nilearn smooths each voxel): they differ by
    # rounding, which the cleaning amplifies as above.
    values64 = values.astype(np.float64)
    high_variance = nilearn_high_variance_confounds(_nifti(values64))
    extra = [] if confounds is None else confounds if isinstance(confounds, list) else [confounds]
    reference.set_params(high_variance_confounds=False)
    labels = isinstance(masker, LabelsMasker)
    expected = _quiet(reference.fit_transform, _nifti(values64 if labels else values),
                      confounds=[high_variance, *extra]).astype(np.float32)
    smoothed_sums = labels and masker.smoothing_fwhm is not None
    assert_signals(signals.values, expected, **({"rtol": 5e-5} if smoothed_sums else {}))


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("with_confounds", [False, True])
@pytest.mark.parametrize("kind", ["labels", "voxels"])
def test_high_variance_confounds_equal_nilearn(data, chunks, with_confounds, kind):
    values, labels = data
    confounds = np.random.default_rng(5).standard_normal((SHAPE[3], 2)) if with_confounds \
        else None
    img = _image(values, chunks)
    masker, reference = _masker_pair(kind, labels, **HV_CLEANING)
    masker.fit(img)
    _assert_high_variance_parity(masker, reference, values, img, confounds)


@pytest.mark.parametrize("kind", ["labels", "voxels"])
def test_high_variance_confounds_come_from_raw_images(data, kind):
    """Computed on imgs as given: before smoothing and resampling, over all voxels."""
    values, labels = data
    options = dict(smoothing_fwhm=5.0, **HV_CLEANING)
    if kind == "labels":
        options["resampling_target"] = "labels"
    else:
        options["target_affine"] = np.diag([4.0, 4.0, 4.0])
    masker, reference = _masker_pair(kind, labels, **options)
    img = _image(values, {"i": 4, "j": 6, "t": 8})
    masker.fit(img)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the resampling notice
        _assert_high_variance_parity(masker, reference, values, img, [np.arange(30.0) ** 2])


def test_high_variance_confounds_parameter(data):
    values, labels = data
    for masker in (LabelsMasker(_image(labels), high_variance_confounds=True),
                   Masker(high_variance_confounds=True)):
        assert masker.get_params()["high_variance_confounds"] is True
        assert "high_variance_confounds=True" in repr(masker)
        masker.fit(_image(values))
        assert "high_variance_confounds" in masker.generate_report().html
        with pytest.raises(ParameterError, match="imgs: expected a 4D image"):
            masker.transform(_image(values[..., 0]))
    with pytest.raises(ParameterError, match="high_variance_confounds: expected True or False"):
        Masker(high_variance_confounds="yes").fit(_image(values))


# -- errors -------------------------------------------------------------------------

def test_transform_before_fit_is_a_clear_error(data):
    values, labels = data
    for masker in (LabelsMasker(_image(labels)), Masker()):
        with pytest.raises(NotFittedError, match="call fit\\(imgs\\)"):
            masker.transform(_image(values))
        with pytest.raises(NotFittedError):
            masker.inverse_transform(np.zeros(3))


def test_labels_errors(data):
    values, labels = data
    img = _image(values)
    with pytest.raises(ParameterError, match=r"labels_img: expected integer.*such as \[0.5"):
        LabelsMasker(_image(labels + 0.5)).fit()
    other_grid = new_image(labels, np.diag([2.0, 2.0, 2.0, 1.0]))
    with pytest.raises(GridMismatchError, match="labels_img is on a different grid from imgs"):
        LabelsMasker(other_grid, resampling_target=None).fit(img)
    with pytest.raises(GridMismatchError):
        LabelsMasker(_image(labels), resampling_target=None).fit().transform(
            new_image(values, np.diag([2.0, 2.0, 2.0, 1.0])))
    with pytest.raises(ParameterError, match="labels_img: expected at least one region"):
        LabelsMasker(_image(np.zeros(SHAPE[:3], "int16"))).fit()
    with pytest.raises(ParameterError, match="strategy"):
        LabelsMasker(_image(labels), strategy="mode").fit()
    with pytest.raises(ParameterError, match="resampling_target"):
        LabelsMasker(_image(labels), resampling_target="mask").fit()
    with pytest.raises(ParameterError, match="t_r: expected the repetition time"):
        LabelsMasker(_image(labels), low_pass=0.1).fit()
    with pytest.raises(ParameterError, match="mask_img: expected a mask with at least one voxel"):
        LabelsMasker(_image(labels), mask_img=_image(np.zeros(SHAPE[:3], "int8"))).fit()
    far = np.zeros(SHAPE[:3], "int8")
    far[0, 0, 0] = 1
    with pytest.raises(ParameterError, match="no region left after masking"):
        LabelsMasker(_image(labels), mask_img=_image(far)).fit()
    masker = LabelsMasker(_image(labels)).fit(img)
    with pytest.raises(ParameterError, match=r"confounds: expected 30 rows.*'12 rows'"):
        masker.transform(img, confounds=np.zeros((12, 2)))
    with pytest.raises(ParameterError, match="signals: expected an array of shape"):
        masker.inverse_transform(np.zeros((4, 2)))
    with raise_if_dask_computes():
        with pytest.raises(ParameterError, match="sample_mask: expected 30 booleans, one per "
                                                 "volume, got '29 booleans'"):
            masker.transform(img, sample_mask=np.ones(29, bool))
        with pytest.raises(ParameterError, match=r"sample_mask: expected volume indices from "
                                                 r"0 to 29, got 'indices such as \[30\]'"):
            masker.transform(img, sample_mask=np.array([0, 30]))


def test_masker_errors(data):
    values, _ = data
    with pytest.raises(ParameterError, match="imgs: expected the data to compute a mask"):
        Masker().fit()
    flat = new_image(np.full((5, 5, 5, 3), 7.0, "float32"), np.eye(4))
    with pytest.raises(ParameterError, match="'background', which gave an empty mask"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Masker().fit(flat)
    with pytest.raises(ParameterError, match="mask_img: expected a mask with at least one voxel"):
        Masker(_image(np.zeros(SHAPE[:3], "int8"))).fit()
    with pytest.raises(ParameterError, match="mask_img: expected a mask: 0 for background"):
        Masker(_image(np.arange(np.prod(SHAPE[:3])).reshape(SHAPE[:3]) % 3)).fit()
    with pytest.raises(ParameterError, match="mask_strategy"):
        Masker(mask_strategy="otsu").fit(_image(values))
    with pytest.raises(ParameterError, match="mask_args: expected options of mask_strategy"):
        Masker(mask_strategy="epi", mask_args={"border_size": 2}).fit(_image(values))
    with pytest.raises(ParameterError, match="smoothing_fwhm"):
        Masker(smoothing_fwhm=-3).fit(_image(values))
    masker = Masker(_image((values[..., 0] > 0).astype("int8")), runs=np.repeat([0, 1], 15))
    with pytest.raises(ParameterError, match="sample_mask: expected 2 masks, one per run"):
        masker.fit_transform(_image(values), sample_mask=np.arange(10))
