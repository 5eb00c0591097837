"""pytest plugin: run nilearn's own test modules with roidask swapped in.

Loaded by ``run.py`` (``-p swap_plugin``); never collected by the project's
pytest run. After nilearn's test module is imported, every public nilearn
function or class it imported by name is replaced by an adapter around
roidask's function of the same name (or by a stub raising :class:`Lacking`
when roidask has none). Adapters convert nibabel images (and paths to NIfTI
files) into roidask images with uneven dask chunks on every axis, and
convert roidask results back (images with ``img.nii.to_nibabel()``, lazy
arrays with ``numpy.asarray``) where nilearn's test inspects them. Each test's
outcome is classified and written as one JSON line to ``$NILEARN_SUITE_OUT``.
"""

import ast
import functools
import inspect
import json
import os
import re
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import dask
import numpy as np
import pytest

import roidask
import roidask.glm
import roidask.image
import roidask.maskers
import roidask.masking
import roidask.regions
import roidask.reporting
import roidask.signal
from roidask.grid import chunk_data

HERE = Path(__file__).resolve().parent
ROIDASK_DIR = str(Path(roidask.__file__).resolve().parent)
NILEARN_SUITE_OUT = os.environ.get("NILEARN_SUITE_OUT")


class Lacking(BaseException):  # noqa: N818 -- not an Exception: pytest.raises(Exception) must not swallow it
    """roidask has no counterpart of a nilearn name the test uses."""


# -- per-test state ---------------------------------------------------------
STATE = {"reached": set(), "helpers": set(), "lacking": set(), "surface": False}

# helpers nilearn's tests use to build inputs or inspect results: calling
# them does not count as reaching roidask unless the test is about them
HELPERS = {"get_data", "new_img_like", "load_img"}


# -- chunks -------------------------------------------------------------------
def uneven(n):
    """Uneven chunk sizes summing to ``n`` (e.g. 10 -> (3, 4, 3), 4 -> (1, 2, 1))."""
    if n <= 1:
        return (n,)
    if n == 2:
        return (1, 1)
    a = max(1, n // 3)
    b = max(1, (n - a) // 2 + 1)
    rest = n - a - b
    return (a, b, rest) if rest > 0 else (a, b)


def to_roidask(img):
    loaded = roidask.load_img(img)
    if os.environ.get("NILEARN_SUITE_CHUNKS") == "whole":
        # diagnosis only: one chunk per image, to tell chunking effects from others
        return chunk_data(loaded, {dim: size for dim, size in zip(loaded.dims, loaded.shape)})
    return chunk_data(loaded, {dim: uneven(size) for dim, size in zip(loaded.dims, loaded.shape)})


def _is_nifti_path(obj):
    if isinstance(obj, (str, Path)):
        name = str(obj)
        return name.endswith((".nii", ".nii.gz")) and "*" not in name and Path(name).is_file()
    return False


def _is_surface(obj):
    return type(obj).__module__.startswith("nilearn.surface")


def convert_in(obj, depth=0):
    import nibabel as nib

    if _is_surface(obj):
        STATE["surface"] = True  # nilearn's surface data: out of roidask's (volumetric) scope
        return obj

    if isinstance(obj, nib.spatialimages.SpatialImage) and len(obj.shape) >= 3:
        return to_roidask(obj)
    if _is_nifti_path(obj):
        return to_roidask(obj)
    if depth < 2 and isinstance(obj, (list, tuple)) and obj:
        converted = [convert_in(o, depth + 1) for o in obj]
        if all(c is o for c, o in zip(converted, obj)):
            return obj  # nothing converted: the very object (sklearn's clone checks identity)
        return type(obj)(converted) if isinstance(obj, tuple) else converted
    return obj


def _is_image(obj):
    import xarray as xr

    return isinstance(obj, xr.DataArray) and tuple(obj.dims[:3]) == ("i", "j", "k")


def convert_out(obj, depth=0):
    import xarray as xr

    if _is_image(obj):
        return obj.nii.to_nibabel()  # computes: an error here is roidask's (its frames say so)
    if isinstance(obj, xr.DataArray):
        return np.asarray(obj.values)
    if dask.is_dask_collection(obj):
        (value,) = dask.compute(obj)
        return convert_out(value, depth + 1)
    if isinstance(obj, tuple) and depth < 3:
        return tuple(convert_out(o, depth + 1) for o in obj)
    if isinstance(obj, list) and depth < 3:
        return [convert_out(o, depth + 1) for o in obj]
    if inspect.isgenerator(obj):
        return (convert_out(o, depth + 1) for o in obj)
    if isinstance(obj, Iterator):
        # another iterator (roidask's iter_img gives a list iterator): keep its kind
        return map(functools.partial(convert_out, depth=depth + 1), obj)
    return obj


# -- adapters -----------------------------------------------------------------
def function_adapter(name, func):
    @functools.wraps(func)
    def adapter(*args, **kwargs):
        (STATE["helpers"] if name in HELPERS else STATE["reached"]).add(name)
        args = [convert_in(a) for a in args]
        kwargs = {k: convert_in(v) for k, v in kwargs.items()}
        return convert_out(func(*args, **kwargs))

    adapter.__roidask_adapter__ = name
    return adapter


def lacking_function(name):
    def stub(*args, **kwargs):
        STATE["reached"].add(name)
        STATE["lacking"].add(name)
        raise Lacking(f"roidask has no {name}")

    stub.__name__ = name
    stub.__roidask_adapter__ = name
    return stub


def lacking_class(name):
    def __init__(self, *args, **kwargs):  # noqa: N807
        STATE["reached"].add(name)
        STATE["lacking"].add(name)
        raise Lacking(f"roidask has no {name}")

    return type(name, (), {"__init__": __init__, "__roidask_adapter__": name})


def _called_from_roidask():
    frame = sys._getframe(2)
    return frame.f_globals.get("__name__", "").startswith("roidask")


def masker_adapter(name, cls):
    """A subclass of roidask's masker that converts nibabel in and out."""

    def _mark():
        STATE["reached"].add(name)

    def fit(self, imgs=None, y=None, **kwargs):
        _mark()
        cls.fit(self, convert_in(imgs), y, **kwargs)
        return self

    def transform(self, imgs, *args, **kwargs):
        _mark()
        kwargs = {k: convert_in(v) for k, v in kwargs.items()}
        return convert_out(cls.transform(self, convert_in(imgs), *args, **kwargs))

    def fit_transform(self, imgs=None, *args, **kwargs):
        _mark()
        kwargs = {k: convert_in(v) for k, v in kwargs.items()}
        return convert_out(cls.fit_transform(self, convert_in(imgs), *args, **kwargs))

    def inverse_transform(self, signals, *args, **kwargs):
        _mark()
        return convert_out(cls.inverse_transform(self, signals, *args, **kwargs))

    def __init__(self, *args, **kwargs):  # noqa: N807
        _mark()
        args = [convert_in(a) for a in args]
        kwargs = {k: convert_in(v) for k, v in kwargs.items()}
        cls.__init__(self, *args, **kwargs)

    def __getattribute__(self, attr):  # noqa: N807
        value = object.__getattribute__(self, attr)
        if attr.endswith("_") and not attr.startswith("_") and not _called_from_roidask():
            return convert_out(value)
        return value

    def __setattr__(self, attr, value):  # noqa: N807
        # a test (or sklearn's set_params) setting an image parameter after construction
        if not attr.startswith("_") and not _called_from_roidask():
            value = convert_in(value)
        object.__setattr__(self, attr, value)

    namespace = {
        "__setattr__": __setattr__,
        "fit": fit, "transform": transform, "fit_transform": fit_transform,
        "__getattribute__": __getattribute__, "__roidask_adapter__": name,
        "__module__": cls.__module__, "__qualname__": name, "__doc__": cls.__doc__,
    }
    # keep roidask's signature for sklearn's get_params/clone
    init = functools.wraps(cls.__init__)(__init__)
    namespace["__init__"] = init
    if hasattr(cls, "inverse_transform"):
        namespace["inverse_transform"] = inverse_transform
    return type(name, (cls,), namespace)


# -- the swap table -------------------------------------------------------------
NOT_CLAIMED = {
    # nilearn's input checking and surface/parcellation parts: not roidask's
    "check_niimg", "check_niimg_3d", "check_niimg_4d", "BaseMasker",
    "MultiSurfaceLabelsMasker", "MultiSurfaceMapsMasker", "MultiSurfaceMasker",
    "SurfaceLabelsMasker", "SurfaceMapsMasker", "SurfaceMasker",
    "HierarchicalKMeans", "Parcellations", "ReNA", "recursive_neighbor_agglomeration",
}


def _counterpart(namespace, name):
    if namespace == "nilearn.image" and name == "load_img":
        return roidask.load_img
    if namespace == "nilearn.regions" and name == "RegionExtractor":
        return roidask.maskers.RegionExtractor  # a masker: roidask's layers put it there
    if namespace == "nilearn.image" and name == "high_variance_confounds":
        return roidask.signal.high_variance_confounds  # roidask's takes an image, as this one
    module = {
        "nilearn.image": roidask.image, "nilearn.masking": roidask.masking,
        "nilearn.signal": roidask.signal, "nilearn.regions": roidask.regions,
        "nilearn.maskers": roidask.maskers, "nilearn.glm": roidask.glm,
        "nilearn.reporting": roidask.reporting,
    }[namespace]
    return getattr(module, name, None)


def build_swaps():
    import importlib

    public = {
        "nilearn.image": None, "nilearn.masking": None, "nilearn.signal": None,
        "nilearn.regions": None, "nilearn.maskers": None,
        "nilearn.glm": ["threshold_stats_img", "fdr_threshold", "cluster_level_inference"],
        "nilearn.reporting": ["get_clusters_table"],
    }
    extra = {"nilearn.signal": ["standardize_signal"]}
    swaps = {}
    table = {}
    for namespace, names in public.items():
        module = importlib.import_module(namespace)
        names = list(names or module.__all__) + extra.get(namespace, [])
        for name in names:
            if name in NOT_CLAIMED:
                continue
            original = getattr(module, name)
            ours = _counterpart(namespace, name)
            if ours is None:
                repl = lacking_class(name) if inspect.isclass(original) else lacking_function(name)
                table[f"{namespace}.{name}"] = "lacking"
            elif inspect.isclass(ours):
                repl = masker_adapter(name, ours)
                table[f"{namespace}.{name}"] = f"{ours.__module__}.{ours.__name__}"
            else:
                repl = function_adapter(name, ours)
                table[f"{namespace}.{name}"] = f"{ours.__module__}.{ours.__name__}"
            swaps[id(original)] = (original, repl)
    return swaps, table


SWAPS, SWAP_TABLE = build_swaps()
_SWAPPED_NAMES = {key.rsplit(".", 1)[1] for key in SWAP_TABLE}


def swapped(value):
    entry = SWAPS.get(id(value))
    if entry is not None and entry[0] is value:
        return entry[1]
    return None


def swap_estimator(value):
    """An instance of a nilearn class in a parametrization -> roidask's."""
    entry = SWAPS.get(id(type(value)))
    if entry is None or entry[0] is not type(value):
        return None
    repl = entry[1]
    params = value.get_params(deep=False)
    accepted = inspect.signature(repl.__init__).parameters
    defaults = inspect.signature(type(value).__init__).parameters
    kwargs = {}
    for key, val in params.items():
        if key in accepted:
            kwargs[key] = val
        elif key in defaults and _same(val, defaults[key].default):
            continue
        else:
            STATE["reached"].add(type(value).__name__)
            STATE["lacking"].add(f"{type(value).__name__}({key}=...)")
            raise Lacking(f"roidask's {type(value).__name__} takes no {key}={val!r}")
    return repl(**kwargs)


def _same(a, b):
    try:
        return bool(a is b or a == b)
    except Exception:
        return False


# -- pytest hooks -------------------------------------------------------------------
_PATCHED = set()


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        module = getattr(item, "module", None)
        if module is None or module.__name__ in _PATCHED:
            continue
        _PATCHED.add(module.__name__)
        for key, value in list(vars(module).items()):
            repl = swapped(value)
            if repl is not None:
                setattr(module, key, repl)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    STATE["reached"] = set()
    STATE["helpers"] = set()
    STATE["lacking"] = set()
    STATE["surface"] = False
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return
    for key, value in list(callspec.params.items()):
        repl = swapped(value) if callable(value) else None
        if repl is None and hasattr(value, "get_params"):
            repl = swap_estimator(value)
        if repl is not None:
            callspec.params[key] = repl
            if key in getattr(item, "funcargs", {}):
                item.funcargs[key] = repl


# the test's own source: where a failing line sits in a raises/warns block
_AST_CACHE = {}


def _contract_lines(path):
    if path not in _AST_CACHE:
        lines = set()
        try:
            tree = ast.parse(Path(path).read_text())
        except Exception:
            tree = None
        if tree is not None:
            for node in ast.walk(tree):
                if isinstance(node, (ast.With, ast.AsyncWith)):
                    src = " ".join(ast.unparse(i.context_expr) for i in node.items)
                    if any(w in src for w in ("raises", "warns", "catch_warnings",
                                              "deprecated_call", "does_not_raise")):
                        end = node.end_lineno or node.lineno
                        lines.update(range(node.lineno, end + 1))
        _AST_CACHE[path] = lines
    return _AST_CACHE[path]


def classify(item, excinfo):
    """(category, detail) for a failing test."""
    exc = excinfo.value
    test_file = str(item.fspath)
    tb = traceback.extract_tb(excinfo.tb)
    in_test = [f for f in tb if f.filename == test_file]
    last_test = in_test[-1] if in_test else None
    innermost = tb[-1] if tb else None
    in_block = last_test is not None and last_test.lineno in _contract_lines(test_file)
    from_roidask = any(f.filename.startswith(ROIDASK_DIR) for f in tb)
    from_harness = innermost is not None and innermost.filename == __file__
    line = (last_test.line or "") if last_test else ""
    msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    if isinstance(exc, AssertionError):
        # numpy's message: the mismatch count and the largest differences
        useful = [ln.strip() for ln in str(exc).splitlines()
                  if ln.strip().startswith(("Mismatched", "Max abs", "Max rel", "x:", "y:",
                                            "ACTUAL", "DESIRED", "(shapes"))]
        if useful:
            msg = f"{msg} {' '.join(useful)}"[:700]

    if isinstance(exc, Lacking) or STATE["lacking"]:
        return "missing", f"Lacking: {', '.join(sorted(STATE['lacking'])) or exc}"
    name = type(exc).__name__
    text = str(exc)
    if item.name.startswith("test_check_estimator"):
        # sklearn's and nilearn's estimator conformance checks
        if "Mismatched elements" in text:
            return "value", f"numbers: {msg}"
        return "missing", f"estimator API: {msg}"
    if isinstance(exc, AttributeError) and "object has no attribute" in text and any(
            f"'{n}' object" in text for n in _SWAPPED_NAMES):
        return "missing", f"attribute: {msg}"
    if name in ("Failed",) and ("DID NOT RAISE" in text or "DID NOT WARN" in text):
        return "contract", msg
    if isinstance(exc, AssertionError) and ("Regex pattern did not match" in text
                                            or "did not match" in text and "pattern" in text):
        return "contract", msg
    attr = re.search(r"\.([a-z]\w*_)(?!\w)", line)
    if attr and (not isinstance(exc, AssertionError) or "== {" in text):
        # a fitted attribute in another form than nilearn's (a list for a dict, ...)
        return "missing", f"fitted attribute {attr.group(1)} not in nilearn's form: {msg}"
    if isinstance(exc, AssertionError) or name == "Failed":
        lower = line.lower()
        if in_block or "warn" in lower or "record" in lower or ".message" in lower:
            return "contract", f"{msg} [{line.strip()}]"
        if "header" in line or "match_headers_keys" in line or "header" in item.name:
            return "missing", f"NIfTI header not kept: {msg} [{line.strip()}]"
        if "shapes" in text and "mismatch" in text or ".shape" in line:
            return "value", f"form/shape: {msg} [{line.strip()}]"
        if "dtype" in line or "dtype" in text:
            return "value", f"form/dtype: {msg} [{line.strip()}]"
        if "isinstance" in line or "type(" in line or "header" in line or "len(" in line:
            return "value", f"form/type: {msg} [{line.strip()}]"
        return "value", f"numbers: {msg} [{line.strip()}]"
    if isinstance(exc, TypeError) and "unexpected keyword argument" in text and (
            from_harness or from_roidask):
        return "missing", f"parameter: {msg}"
    if from_harness and not from_roidask:
        return "harness", msg
    if in_block:
        return "contract", f"{msg} (raised inside the test's raises/warns block)"
    if from_roidask or isinstance(exc, NotImplementedError):
        return "missing", f"refused: {msg}"
    if isinstance(exc, AttributeError) and ("roidask" in text or "DataArray" in text
                                            or "Masker" in text):
        return "missing", f"attribute: {msg}"
    return "value", f"form/other: {msg} [{line.strip()}]"


_REPORTS = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    rec = _REPORTS.setdefault(item.nodeid, {"nodeid": item.nodeid, "category": None})
    if report.when == "setup" and report.skipped:
        rec.update(category="skipped", detail=str(report.longrepr)[-200:])
    if report.failed and rec["category"] is None:
        if call.excinfo is not None:
            category, detail = classify(item, call.excinfo)
        else:
            category, detail = "value", "failed"
        rec.update(category=category, detail=detail, when=report.when)
    if report.when == "call":
        if report.passed and rec["category"] is None:
            rec["category"] = "xpass" if hasattr(report, "wasxfail") else "pass"
        elif report.skipped and hasattr(report, "wasxfail"):
            rec["category"] = "xfail"
            rec["detail"] = str(call.excinfo.value)[:200] if call.excinfo else ""
        elif report.skipped and rec["category"] is None:
            rec["category"] = "skipped"
    if report.when == "teardown":
        reached = sorted(STATE["reached"]) or (
            sorted(n for n in STATE["helpers"] if n in item.name)
        )
        rec["reached"] = reached
        if STATE["surface"]:
            rec["category"] = "surface"
            rec["detail"] = "a nilearn surface object was given to roidask"
        rec["helpers"] = sorted(STATE["helpers"])
        if rec["category"] is None:
            rec["category"] = "pass"
        if NILEARN_SUITE_OUT:
            with open(NILEARN_SUITE_OUT, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
