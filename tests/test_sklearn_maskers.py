"""The maskers as scikit-learn estimators: clone, get/set_params, Pipeline and GridSearchCV."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from roidask.errors import ParameterError  # noqa: E402
from roidask.grid import new_image  # noqa: E402
from roidask.maskers import (  # noqa: E402
    LabelsMasker,
    MapsMasker,
    Masker,
    NiftiLabelsMasker,
    NiftiMapsMasker,
    NiftiMasker,
    NiftiSpheresMasker,
    SpheresMasker,
)
from roidask.testing import raise_if_dask_computes  # noqa: E402

SHAPE = (6, 6, 6)


def _labels():
    labels = np.zeros(SHAPE, "int32")
    labels[:3, :, 1:5] = 1
    labels[3:, :, 1:5] = 2
    return new_image(labels, np.eye(4))


def _maps():
    maps = np.zeros(SHAPE + (2,), "float32")
    maps[:3, ..., 0] = 1.0
    maps[2:, ..., 1] = 0.5
    return new_image(maps, np.eye(4))


def _maskers():
    return [
        LabelsMasker(_labels(), standardize="zscore_sample", strategy="median"),
        Masker(mask_img=_labels(), detrend=True),
        MapsMasker(_maps(), resampling_target="maps"),
        SpheresMasker([(1.0, 2.0, 3.0)], radius=2.0, allow_overlap=True),
    ]


def test_nilearn_names_are_the_classes():
    assert NiftiLabelsMasker is LabelsMasker and NiftiMasker is Masker
    assert NiftiMapsMasker is MapsMasker and NiftiSpheresMasker is SpheresMasker


@pytest.mark.parametrize("masker", _maskers(), ids=lambda m: type(m).__name__)
def test_clone_gives_an_unfitted_equal_masker(masker):
    copy = clone(masker)
    assert type(copy) is type(masker) and copy is not masker
    params, copied = masker.get_params(), copy.get_params(deep=False)
    assert params.keys() == copied.keys()
    for name, value in params.items():
        if hasattr(value, "dims"):
            assert value.identical(copied[name])
        else:
            assert copied[name] == value
    assert not getattr(copy, "fitted_", False)


def test_set_params():
    masker = LabelsMasker(_labels())
    assert masker.set_params(strategy="sum", detrend=True) is masker
    assert masker.strategy == "sum" and masker.get_params()["detrend"] is True
    with pytest.raises(ParameterError, match="nonsense"):
        masker.set_params(nonsense=1)
    with pytest.raises(ValueError):  # scikit-learn's contract: a ValueError
        masker.set_params(nonsense=1)


def _samples(n=24, seed=0):
    """3D images, one per sample: class 1 is brighter in region 2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    region = np.asarray(_labels().values) == 2
    imgs = []
    for label in y:
        values = rng.standard_normal(SHAPE).astype("float32")
        values[region] += 1.5 * label
        imgs.append(new_image(values, np.eye(4)).chunk({"i": 2, "j": 3, "k": 4}))
    return imgs, y


def test_fit_transform_of_a_list_and_lazy_transform():
    imgs, _ = _samples(6)
    masker = LabelsMasker(_labels())
    signals = masker.fit_transform(imgs)
    assert signals.shape == (6, 2)
    with raise_if_dask_computes():
        lazy = masker.transform(imgs)
    np.testing.assert_allclose(np.asarray(lazy), signals.values)
    expected = [[float(img.values[np.asarray(_labels().values) == r].mean()) for r in (1, 2)]
                for img in imgs]
    np.testing.assert_allclose(signals.values, expected, rtol=1e-6)


def test_grid_search_over_a_masker_pipeline():
    imgs, y = _samples()
    pipeline = Pipeline([("masker", LabelsMasker(_labels())),
                         ("clf", LogisticRegression())])
    search = GridSearchCV(pipeline, {"masker__strategy": ["mean", "maximum"],
                                     "clf__C": [0.01, 1.0]}, cv=3)
    search.fit(imgs, y)
    assert set(search.best_params_) == {"masker__strategy", "clf__C"}
    test_imgs, test_y = _samples(12, seed=1)
    assert search.score(test_imgs, test_y) > 0.7
    assert search.predict(test_imgs).shape == (12,)
