"""Voxelwise tests (roidask.stats) against scipy and scikit-learn."""

import warnings

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.stats as sps
from sklearn.feature_selection import f_classif

from roidask._dask import moments as moments_module
from roidask._dask.moments import block_moments, merge_moments, moments, pool_groups
from roidask.errors import GridMismatchError, NotAnImageError, ParameterError
from roidask.grid import image_affine, new_image
from roidask.stats import f_oneway, ttest_1samp, ttest_ind
from roidask.testing import CountingArray, raise_if_dask_computes

SHAPE = (8, 9, 10, 40)
AFFINE = np.array([[-3.0, 0, 0, 90], [0, 3.0, 0, -120], [0, 0, 3.5, -60], [0, 0, 0, 1]])
CHUNKINGS = {
    "one-chunk": {"i": -1, "j": -1, "k": -1, "t": -1},
    "uneven-t": {"t": (7, 13, 3, 17)},
    "small-spatial-uneven-t": {"i": 3, "j": 2, "k": 3, "t": (5, 11, 2, 22)},
}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny graphs: the synchronous scheduler is fastest and shares the machine."""
    with dask.config.set(scheduler="synchronous"):
        yield


def conditions():
    """Shuffled face/house/rest labels; volumes 16-17 (one t chunk) are rest only."""
    labels = np.array(["face"] * 15 + ["house"] * 14 + ["rest"] * 11)
    labels = np.random.default_rng(1).permutation(labels)
    rest = np.flatnonzero(labels == "rest")[:2]
    labels[rest], labels[16:18] = labels[16:18], "rest"
    return labels


def run_values(bold=False):
    """Volumes with a face effect in one corner and an all-zero voxel (0, 0, 0)."""
    rng = np.random.default_rng(7)
    labels = conditions()
    if bold:
        base = 3000 + rng.integers(-400, 400, SHAPE[:3])[..., None]
        values = base + rng.normal(0, 2.0, SHAPE)
        values[:4, :4, :5, labels == "face"] += 2.0
        values = np.round(values).astype(np.int16)
    else:
        values = rng.standard_normal(SHAPE).astype(np.float32)
        values[:4, :4, :5, labels == "face"] += 0.8
    values[0, 0, 0] = 0
    return values, labels


def dask_chunks(chunks):
    return tuple(chunks.get(dim, -1) for dim in ("i", "j", "k", "t"))


def make_run(chunks, bold=False):
    """A dask-backed run whose ``condition`` coordinate is in memory (as load_img gives)."""
    values, labels = run_values(bold)
    data = da.from_array(values, chunks=dask_chunks(chunks))
    return new_image(data, AFFINE, time_coords={"condition": labels}), values, labels


def nilearn_neg_log10_p(p_value, clip=10.0):
    """-log10 p as nilearn's ROI-extraction example computes it."""
    with np.errstate(divide="ignore"):
        out = -np.log10(p_value)
    out[np.isnan(out)] = 0.0
    out[out > clip] = clip
    return out


def quiet(function, *args, **kwargs):
    """Call a reference (scipy / sklearn warn on the constant voxel)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def close(actual, desired, rtol=1e-4, atol=1e-6):
    np.testing.assert_allclose(np.asarray(actual), desired, rtol=rtol, atol=atol, equal_nan=True)


# -------------------------------------------------------------------- parity
@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("equal_var", [True, False])
@pytest.mark.parametrize("bold", [False, True], ids=["float32", "bold-int16"])
def test_ttest_ind_matches_scipy(chunking, equal_var, bold):
    img, values, labels = make_run(CHUNKINGS[chunking], bold)
    face, house = (values[..., labels == c].astype(np.float64) for c in ("face", "house"))
    with raise_if_dask_computes():
        result = ttest_ind(
            img.sel(t=img.condition == "face"), img.sel(t=img.condition == "house"),
            equal_var=equal_var,
        )
    result = result.compute()
    expected = quiet(sps.ttest_ind, face, house, axis=-1, equal_var=equal_var)
    close(result.statistic, expected.statistic)
    close(result.p_value, expected.pvalue)
    close(result.df, expected.df)
    close(result.neg_log10_p, nilearn_neg_log10_p(expected.pvalue))
    close(result.mean_a, face.mean(-1), rtol=1e-10)
    close(result.mean_b, house.mean(-1), rtol=1e-10)
    close(result.mean_img, np.concatenate([face, house], -1).mean(-1), rtol=1e-10)
    assert np.isnan(result.statistic[0, 0, 0]) and result.neg_log10_p[0, 0, 0] == 0
    assert result.neg_log10_p.max() > 3  # the planted effect is found


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("bold", [False, True], ids=["float32", "bold-int16"])
def test_ttest_1samp_matches_scipy(chunking, bold):
    img, values, _ = make_run(CHUNKINGS[chunking], bold)
    popmean = 3000.0 if bold else 0.1
    with raise_if_dask_computes():
        result = ttest_1samp(img, popmean)
    result = result.compute()
    expected = quiet(sps.ttest_1samp, values.astype(np.float64), popmean, axis=-1)
    close(result.statistic, expected.statistic)
    close(result.p_value, expected.pvalue)
    close(result.df, np.full(SHAPE[:3], SHAPE[3] - 1.0))
    close(result.neg_log10_p, nilearn_neg_log10_p(expected.pvalue))
    close(result.mean_img, values.astype(np.float64).mean(-1), rtol=1e-10)


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("bold", [False, True], ids=["float32", "bold-int16"])
def test_f_oneway_matches_f_classif(chunking, bold):
    img, values, labels = make_run(CHUNKINGS[chunking], bold)
    samples = values.reshape(-1, SHAPE[3]).T.astype(np.float64)
    with raise_if_dask_computes():
        result = f_oneway(img, "condition")
    result = result.compute()
    f_value, p_value = quiet(f_classif, samples, labels)
    close(result.statistic.values.ravel(), f_value)
    close(result.p_value.values.ravel(), p_value)
    groups = [values[..., labels == c].astype(np.float64) for c in ("face", "house", "rest")]
    expected = quiet(sps.f_oneway, *groups, axis=-1)
    close(result.statistic, expected.statistic)
    close(result.p_value, expected.pvalue)
    close(result.neg_log10_p, nilearn_neg_log10_p(expected.pvalue))
    close(result.mean_img, values.astype(np.float64).mean(-1), rtol=1e-10)
    assert result.attrs["labels"] == ["face", "house", "rest"]
    assert result.attrs["df_between"] == 2
    close(result.df, np.full(SHAPE[:3], 37.0))


def naive_float32_t(a, b):
    """Student t from float32 sums and sums of squares: what this module avoids."""
    def mean_var(x):
        x = x.astype(np.float32)
        n = np.float32(x.shape[-1])
        total, squares = x.sum(-1, dtype=np.float32), (x * x).sum(-1, dtype=np.float32)
        return total / n, (squares - total * total / n) / (n - 1)

    (ma, va), (mb, vb) = mean_var(a), mean_var(b)
    na, nb = a.shape[-1], b.shape[-1]
    pooled = ((na - 1) * va + (nb - 1) * vb) / (na + nb - 2)
    with np.errstate(all="ignore"):
        return (ma - mb) / np.sqrt(pooled * (1 / na + 1 / nb))


def test_bold_like_data_defeats_float32_sums_but_not_moments():
    img, values, labels = make_run(CHUNKINGS["uneven-t"], bold=True)
    face, house = values[..., labels == "face"], values[..., labels == "house"]
    expected = quiet(sps.ttest_ind, face.astype(np.float64), house.astype(np.float64), axis=-1)
    naive_error = np.nanmax(np.abs(naive_float32_t(face, house) - expected.statistic))
    assert naive_error > 0.5  # the data really is hard for float32 sums of squares
    result = ttest_ind(img.sel(t=img.condition == "face"), img.sel(t=img.condition == "house"))
    error = np.nanmax(np.abs(result.statistic.values - expected.statistic))
    assert error < 1e-6 * np.nanmax(np.abs(expected.statistic))


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_ttest_one_sided_alternatives_match_scipy(alternative):
    img, values, labels = make_run(CHUNKINGS["uneven-t"])
    face, house = values[..., labels == "face"], values[..., labels == "house"]
    result = ttest_ind(
        img.sel(t=img.condition == "face"), img.sel(t=img.condition == "house"),
        equal_var=False, alternative=alternative,
    ).compute()
    expected = quiet(sps.ttest_ind, face, house, axis=-1, equal_var=False,
                     alternative=alternative)
    close(result.p_value, expected.pvalue)
    close(result.neg_log10_p, nilearn_neg_log10_p(expected.pvalue))
    one = ttest_1samp(img, 0.1, alternative=alternative).compute()
    expected = quiet(sps.ttest_1samp, values, 0.1, axis=-1, alternative=alternative)
    close(one.p_value, expected.pvalue)


def test_ttest_1samp_accepts_a_popmean_image():
    img, values, _ = make_run(CHUNKINGS["small-spatial-uneven-t"])
    popmean = np.linspace(-0.5, 0.5, np.prod(SHAPE[:3])).reshape(SHAPE[:3])
    popmean_img = new_image(popmean, AFFINE).chunk({"i": 5, "j": 4, "k": 10})
    with raise_if_dask_computes():
        result = ttest_1samp(img, popmean_img)
    expected = quiet(sps.ttest_1samp, values, popmean[..., None], axis=-1)
    close(result.statistic.values, expected.statistic)


def test_f_oneway_labels_leave_groups_out_and_nan_volumes_stay_in_their_group():
    values, labels = run_values()
    values[3, 4, 5, np.flatnonzero(labels == "rest")[0]] = np.nan
    img = new_image(values, AFFINE).chunk(CHUNKINGS["small-spatial-uneven-t"])
    result = f_oneway(img, labels, labels=["face", "house"]).compute()
    used = labels != "rest"
    f_value, p_value = quiet(f_classif, np.nan_to_num(values[..., used].reshape(-1, used.sum()).T),
                             labels[used])
    close(result.statistic.values.ravel(), f_value)
    assert np.isfinite(result.statistic[3, 4, 5])
    assert result.attrs["df_between"] == 1 and float(result.df.max()) == 27
    every = f_oneway(img, labels).compute()
    assert np.isnan(every.statistic[3, 4, 5]) and every.neg_log10_p[3, 4, 5] == 0


def test_f_oneway_stays_lazy_on_a_dask_backed_groups_coordinate():
    values, labels = run_values()
    img = new_image(values, AFFINE, time_coords={"condition": labels})
    img = img.chunk(CHUNKINGS["small-spatial-uneven-t"])  # chunks the coordinate too
    assert isinstance(img.condition.data, da.Array)
    with raise_if_dask_computes():
        result = f_oneway(img, "condition", labels=["face", "house", "rest"])
    expected = quiet(f_classif, values.reshape(-1, SHAPE[3]).T, labels)[0]
    close(result.statistic.values.ravel(), expected)
    with pytest.raises(ParameterError, match="labels: expected the group labels, because "
                       "'condition' is lazy"):
        f_oneway(img, "condition")


def test_neg_log10_p_is_clipped_and_finite_without_clip():
    rng = np.random.default_rng(3)
    values = rng.standard_normal((2, 2, 2, 30))
    values[..., :15] += 6.0
    img = new_image(values, AFFINE).chunk({"t": 7})
    a, b = img.isel(t=slice(0, 15)), img.isel(t=slice(15, None))
    clipped = ttest_ind(a, b).compute()
    assert float(clipped.neg_log10_p.max()) == 10.0
    free = ttest_ind(a, b, neg_log10_p_max=None).compute()
    assert float(free.neg_log10_p.min()) > 10.0
    assert np.isfinite(free.neg_log10_p).all()
    expected = quiet(sps.ttest_ind, values[..., :15], values[..., 15:], axis=-1)
    close(free.neg_log10_p, -np.log10(expected.pvalue), rtol=1e-8)


def test_results_are_3d_images_on_the_input_grid():
    img, _, _ = make_run(CHUNKINGS["small-spatial-uneven-t"])
    img = img.isel(i=slice(1, 7), j=slice(None, None, 2))
    for result in (
        ttest_ind(img.isel(t=slice(0, 20)), img.isel(t=slice(20, None))),
        ttest_1samp(img),
        f_oneway(img, "condition"),
    ):
        for name, image in result.data_vars.items():
            assert image.dims == ("i", "j", "k"), name
            assert isinstance(image.data, da.Array), name
            np.testing.assert_allclose(image_affine(image), image_affine(img))
            assert image.dtype == np.float64


def test_numpy_backed_input_gives_lazy_results():
    values, labels = run_values()
    img = new_image(values, AFFINE, time_coords={"condition": labels})
    with raise_if_dask_computes():
        result = f_oneway(img, "condition")
    assert isinstance(result.statistic.data, da.Array)
    close(result.statistic.values.ravel(),
          quiet(f_classif, values.reshape(-1, SHAPE[3]).T, labels)[0])


# ----------------------------------------------------- one pass, graph size
def counted_run(chunks):
    values, labels = run_values()
    source = CountingArray(values)
    data = da.from_array(source, chunks=chunks, meta=np.empty((0,) * 4, np.float32))
    return new_image(data, AFFINE, time_coords={"condition": labels}), source


def test_statistic_and_means_read_each_chunk_once():
    img, source = counted_run((3, 9, 5, (5, 11, 2, 22)))
    result = ttest_ind(img.sel(t=img.condition == "face"), img.sel(t=img.condition == "house"))
    source.reads.clear()
    result.compute()
    assert source.reads and len(set(source.reads)) == len(source.reads)
    result = f_oneway(img, "condition")
    source.reads.clear()
    result.compute()
    assert sorted(source.reads) == sorted(set(source.reads))
    assert len(source.reads) == img.data.npartitions


def moment_layers(image):
    return {n for n in image.data.__dask_graph__().layers if n.startswith("merge-moments-agg")}


def test_mean_images_come_from_the_test_moments():
    img, _, _ = make_run(CHUNKINGS["small-spatial-uneven-t"])
    result = ttest_ind(img.isel(t=slice(0, 20)), img.isel(t=slice(20, None)))
    layers = moment_layers(result.statistic)
    assert len(layers) == 2  # one reduction per sample
    for name in ("mean_a", "mean_b", "mean_img"):
        assert moment_layers(result[name]) and moment_layers(result[name]) <= layers
    for result in (ttest_1samp(img), f_oneway(img, "condition")):
        assert moment_layers(result.mean_img) == moment_layers(result.statistic)
        assert len(moment_layers(result.statistic)) == 1
        # The mean adds one task per spatial block on top of the statistic's graph.
        extra = set(dict(result.mean_img.data.__dask_graph__())) - set(
            dict(result.statistic.data.__dask_graph__())
        )
        spatial_blocks = np.prod(img.data.numblocks[:3])
        assert len(extra) <= 2 * spatial_blocks


def graph_size(image):
    return len(dict(image.data.__dask_graph__()))


@pytest.mark.parametrize("test", ["ttest_1samp", "f_oneway"])
def test_graph_grows_linearly_with_chunks(test):
    def build(n_volumes, n_groups=3):
        img = new_image(da.zeros((8, 9, 10, n_volumes), chunks=(4, 3, 5, 2)), AFFINE)
        img = img.assign_coords(condition=("t", np.arange(n_volumes) % n_groups))
        if test == "ttest_1samp":
            return ttest_1samp(img).statistic, img.data.npartitions
        return f_oneway(img, "condition").statistic, img.data.npartitions

    small, n_small = build(40)
    large, n_large = build(160)
    assert graph_size(large) <= 4 * n_large
    assert graph_size(large) / graph_size(small) <= 1.05 * n_large / n_small
    if test == "f_oneway":
        many_groups, _ = build(160, n_groups=16)
        assert graph_size(many_groups) == graph_size(large)  # no per-group tasks


# --------------------------------------------------------------- moments unit
def test_block_moments_in_small_slabs_equal_one_slab(monkeypatch):
    rng = np.random.default_rng(2)
    block = rng.integers(-300, 300, (5, 4, 3, 17)).astype(np.int16)
    codes = rng.integers(-1, 3, 17)
    whole = block_moments(block, codes, n_groups=3)
    monkeypatch.setattr(moments_module, "SLAB_BYTES", 8 * 17 * 7)  # 7 voxels per slab
    np.testing.assert_allclose(block_moments(block, codes, n_groups=3), whole, rtol=1e-12)
    pooled = merge_moments(whole[..., 0, :, :], axis=-2)
    kept = block_moments(block[..., codes >= 0])[..., 0, 0, :]
    np.testing.assert_allclose(kept, pooled, rtol=1e-12)


def test_chan_merge_equals_direct_moments_for_any_split():
    rng = np.random.default_rng(5)
    x = 1000 + rng.standard_normal((3, 50))
    codes = rng.integers(-1, 4, 50)
    codes[:3] = 3  # group 3 lives in the first block only
    direct = block_moments(x, codes, n_groups=4)[:, 0]
    for bounds in ([0, 50], [0, 3, 20, 21, 50], [0, 10, 10, 35, 50]):
        parts = np.concatenate(
            [block_moments(x[:, a:b], codes[a:b], n_groups=4) for a, b in zip(bounds, bounds[1:])],
            axis=1,
        )
        np.testing.assert_allclose(merge_moments(parts, axis=1), direct, rtol=1e-12)
    for group in range(4):
        member = x[:, codes == group]
        np.testing.assert_allclose(direct[:, group, 1], member.mean(-1), rtol=1e-12)
        np.testing.assert_allclose(direct[:, group, 2], member.var(-1) * member.shape[-1])
    lazy = moments(da.from_array(x, chunks=(2, 7)), codes, n_groups=4, split_every=2)
    np.testing.assert_allclose(lazy.compute(), direct, rtol=1e-12)
    empty_block = da.from_array(x, chunks=((3,), (10, 0, 40)))
    np.testing.assert_allclose(moments(empty_block, codes, n_groups=4).compute(), direct,
                               rtol=1e-12)
    pooled = pool_groups(lazy).compute()
    kept = x[:, codes >= 0]
    np.testing.assert_allclose(pooled[:, 1], kept.mean(-1), rtol=1e-12)
    np.testing.assert_allclose(pooled[:, 2], kept.var(-1) * kept.shape[-1], rtol=1e-9)


# -------------------------------------------------------------------- errors
@pytest.fixture
def run():
    return make_run(CHUNKINGS["uneven-t"])[0]


def test_equal_var_must_be_a_bool(run):
    with pytest.raises(ParameterError, match="equal_var: expected True or False, got 'yes'"):
        ttest_ind(run, run, equal_var="yes")


def test_images_on_different_grids_are_refused(run):
    shifted = new_image(run.data, AFFINE @ np.diag([2.0, 1, 1, 1]))
    with pytest.raises(GridMismatchError, match="img_b is on a different grid from img_a"):
        ttest_ind(run, shifted)
    with pytest.raises(GridMismatchError):
        ttest_ind(run, run.isel(i=slice(1, None)))
    with pytest.raises(GridMismatchError):
        ttest_1samp(run, new_image(np.zeros((8, 9, 11)), AFFINE))


def test_groups_need_two_volumes(run):
    with pytest.raises(ParameterError, match="img_b: expected at least 2 volumes along t, got 1"):
        ttest_ind(run, run.isel(t=[3]))
    with pytest.raises(ParameterError, match="img: expected at least 2 volumes along t, got 1"):
        ttest_1samp(run.isel(t=[3]))
    with pytest.raises(ParameterError, match=r"groups: expected more volumes than groups \(3\)"):
        f_oneway(run.isel(t=[0, 1, 2]), ["a", "b", "c"])


def test_3d_input_is_refused(run):
    volume = run.isel(t=0)
    expected = r"img: expected a 4D image with dims \('i', 'j', 'k', 't'\), got \('i', 'j', 'k'\)"
    with pytest.raises(ParameterError, match=expected):
        ttest_1samp(volume)
    with pytest.raises(ParameterError, match=expected):
        f_oneway(volume, "condition")
    with pytest.raises(ParameterError, match="img_a: expected a 4D image"):
        ttest_ind(volume, run)
    with pytest.raises(NotAnImageError):
        ttest_1samp(np.zeros(SHAPE))


def test_bad_options_are_refused(run):
    with pytest.raises(ParameterError, match="alternative: expected one of"):
        ttest_ind(run, run, alternative="both")
    with pytest.raises(ParameterError, match="neg_log10_p_max: expected a positive number or None"):
        ttest_1samp(run, neg_log10_p_max=-1)
    with pytest.raises(ParameterError, match="popmean: expected a number or a 3D image"):
        ttest_1samp(run, "zero")
    with pytest.raises(ParameterError, match="popmean: expected a number or a 3D image"):
        ttest_1samp(run, run)


def test_bad_groups_are_refused(run):
    with pytest.raises(ParameterError, match=r"groups: expected the name of a coordinate on t"):
        f_oneway(run, "labels")
    with pytest.raises(ParameterError, match=r"groups: expected a coordinate name or 40 labels"):
        f_oneway(run, ["a", "b"] * 10)
    with pytest.raises(ParameterError, match=r"labels: expected distinct group labels among"):
        f_oneway(run, "condition", labels=["face", "cat"])
    with pytest.raises(ParameterError, match=r"groups: expected at least 2 groups, got \['face'\]"):
        f_oneway(run, "condition", labels=["face"])
