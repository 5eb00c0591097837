"""The seed ROI workflow as a nilearn user writes it: roidask's public API against nilearn.

The steps of nilearn's *plot_roi_extraction* example, written line for line
with nilearn's names and no roidask-specific tricks (no persist, no
selection before smoothing, no pipeline config): load the run, ``smoothed =
smooth_img(img, 6)``, ``mean_img(smoothed)``, a face-vs-house ``ttest_ind``
on ``index_img(smoothed, conditions == "face")`` and ``... == "house"``,
``-log10 p`` thresholded at 5 (``threshold_img``), AND the ventral-temporal
mask, binary dilation, connected-component labels, then the z-scored
signals of each label from the smoothed run. The smoothed run is reused by
the mean, the t-test and the masker.

Two modes, each against the same steps in nilearn (nibabel, nilearn.image,
scipy.stats, scipy.ndimage, nilearn.maskers) on the same files in the same
run:

``script``
    Build everything, compute once at the end: the mean image, the p-map,
    the labels and ``LabelsMasker(labels, standardize="zscore_sample")
    .fit_transform(smoothed)`` (the masker's ``fit`` computes the 3D labels
    it is given, as documented).
``notebook``
    A session where each cell computes what it shows: the smoothed mean
    picture, the p-map, the thresholded map with the mask and the labels
    (one cell), then the seed's loop of one ``masker.transform(index_img(
    smoothed, conditions == c))`` per condition, each computed. Each cell
    builds on the previous cells' lazy results; the masker gets the computed
    labels, as the shipped notebook does.

roidask runs on the schedulers its documents show a user: ``threads``
(no client: dask's default threaded scheduler, as in the README quickstart),
``get_client`` (``with roidask.get_client():``, the embedded LocalCluster
``roidask run`` uses: one worker, a thread per core, in process) and
``Client()`` (``distributed.Client()`` with its own defaults: a worker
process per core).

Every variant runs in a fresh process (imports and start-up included) with
its peak memory summed over all its processes (dask workers included),
reading ``func.nii.gz`` from a cold staging folder (``ROIDASK_STAGING_DIR``).
Labels must be identical to nilearn's (same numbering); signals are compared
by their largest difference relative to the largest nilearn signal value.
"other load" is the average number of cores that other processes kept busy
during the variant: well above 0, the timing was taken on a shared machine.
The header gives the rate at which a fresh process writes newly allocated
memory (first touch): on a VM whose host reclaims idle memory it can fall
to ~0.4 GB/s, and every large array a variant allocates pays it. With
``--exact`` the signals are also compared with float64 z-scores of the
region means of nilearn's smoothed run: nilearn rounds its signals in
float32, so the difference to nilearn is mostly nilearn's own rounding.

Run: python benchmarks/bench_user_workflow.py [--size haxby] [--workdir /tmp/roidask-bench]
     [--mode both|script|notebook] [--schedulers threads,get_client,Client()] [--exact]
(To measure another copy of roidask, e.g. a snapshot of a commit made with
``git archive HEAD roidask | tar -x -C /tmp/snap``, run with
``PYTHONPATH=/tmp/snap``; the header line names the copy measured.)
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from measure import child_env, first_touch_gbps, markdown_table, run_measured

FWHM = 6
THRESHOLD = 5
MODES = ("script", "notebook")
SCHEDULERS = ("threads", "get_client", "Client()")


class Cells:
    """Wall time of each named step (a notebook cell), in order."""

    def __init__(self):
        self.times = {}

    @contextlib.contextmanager
    def __call__(self, name):
        start = time.perf_counter()
        yield
        self.times[name] = round(time.perf_counter() - start, 2)


def _read_conditions(data_dir):
    import pandas as pd

    return pd.read_csv(data_dir / "labels.txt", sep=" ")["labels"]


def _categories(conditions):
    return [c for c in conditions.unique() if c != "rest"]


def _save(out, labels, signals, cells):
    """Labels (3D int array), signals (one (t, region) array per key) and the cell times."""
    np.save(out / "labels.npy", np.asarray(labels).astype(np.int32))
    np.savez(out / "signals.npz", **{key: np.asarray(value) for key, value in signals.items()})
    (out / "cells.json").write_text(json.dumps(cells.times))


# ------------------------------------------------------------------ nilearn
def variant_nilearn(data_dir, mode, out):
    """The seed in nilearn: eager, in memory."""
    cells = Cells()
    with cells("imports"):
        import nibabel as nib
        from nilearn.image import index_img, mean_img, new_img_like, smooth_img, threshold_img
        from nilearn.maskers import NiftiLabelsMasker
        from scipy import ndimage, stats

    conditions = _read_conditions(data_dir)
    with cells("smooth + mean"):
        smoothed = smooth_img(nib.load(data_dir / "func.nii.gz"), fwhm=FWHM)
        mean = mean_img(smoothed)
        mean.get_fdata()
    with cells("p-map"):
        _, p_values = stats.ttest_ind(index_img(smoothed, conditions == "face").get_fdata(),
                                      index_img(smoothed, conditions == "house").get_fdata(),
                                      axis=-1)
        log_p = -np.log10(p_values)
        log_p[np.isnan(log_p)] = 0
        log_p[log_p > 10] = 10
        log_p_img = new_img_like(mean, log_p)
    with cells("threshold, mask, labels"):
        thresholded = threshold_img(log_p_img, THRESHOLD, two_sided=False)
        vt = nib.load(data_dir / "vt_mask.nii.gz").get_fdata() > 0
        mask = np.logical_and(thresholded.get_fdata() != 0, vt)
        labels, _ = ndimage.label(ndimage.binary_dilation(mask))
        labels_img = new_img_like(mean, labels)
    masker = NiftiLabelsMasker(labels_img, standardize="zscore_sample")
    signals = {}
    if mode == "script":
        with cells("signals"):
            signals["all"] = masker.fit_transform(smoothed)
    else:
        masker.fit()
        for condition in _categories(conditions):
            with cells(f"signals {condition}"):
                signals[condition] = masker.transform(index_img(smoothed,
                                                                conditions == condition))
    _save(out, labels, signals, cells)


# ------------------------------------------------------------------ roidask
@contextlib.contextmanager
def _scheduler(name):
    """The compute setting a roidask user starts with."""
    if name == "threads":  # no client: dask's default threaded scheduler
        yield
    elif name == "get_client":
        import roidask

        with roidask.get_client():
            yield
    elif name == "Client()":
        from distributed import Client

        with Client():
            yield
    else:
        raise SystemExit(f"unknown scheduler {name!r}; expected one of {SCHEDULERS}")


def variant_roidask(data_dir, mode, out, scheduler):
    """The seed in roidask's public API, lazily, on ``scheduler``."""
    cells = Cells()
    with cells("imports"):
        import dask

        import roidask
        from roidask.image import (
            binary_dilation,
            index_img,
            mask_and,
            mean_img,
            smooth_img,
            threshold_img,
        )
        from roidask.maskers import LabelsMasker
        from roidask.regions import label
        from roidask.stats import ttest_ind

    stack = contextlib.ExitStack()
    with cells("start scheduler"):
        stack.enter_context(_scheduler(scheduler))
    conditions = _read_conditions(data_dir)
    img = roidask.load_img(data_dir / "func.nii.gz")
    smoothed = smooth_img(img, FWHM)
    signals = {}
    if mode == "script":
        with cells("build"):
            mean = mean_img(smoothed)
            test = ttest_ind(index_img(smoothed, conditions == "face"),
                             index_img(smoothed, conditions == "house"))
            log_p = test.neg_log10_p
            thresholded = threshold_img(log_p, THRESHOLD, two_sided=False)
            mask = mask_and(thresholded, roidask.load_img(data_dir / "vt_mask.nii.gz"))
            labels, _ = label(binary_dilation(mask))
            masker = LabelsMasker(labels, standardize="zscore_sample")
        with cells("fit_transform (fit computes the labels)"):
            lazy_signals = masker.fit_transform(smoothed)
        with cells("compute mean, p-map, labels, signals"):
            _, _, labels, signals["all"] = dask.compute(mean, log_p, labels, lazy_signals)
    else:
        with cells("smooth + mean"):
            mean = mean_img(smoothed).compute()
        with cells("p-map"):
            test = ttest_ind(index_img(smoothed, conditions == "face"),
                             index_img(smoothed, conditions == "house"))
            test.neg_log10_p.compute()
        with cells("threshold, mask, labels"):
            thresholded = threshold_img(test.neg_log10_p, THRESHOLD, two_sided=False)
            mask = mask_and(thresholded, roidask.load_img(data_dir / "vt_mask.nii.gz"))
            labels, _ = label(binary_dilation(mask))
            _, _, labels = dask.compute(thresholded, mask, labels)
        masker = LabelsMasker(labels, standardize="zscore_sample").fit()
        for condition in _categories(conditions):
            with cells(f"signals {condition}"):
                signals[condition] = masker.transform(
                    index_img(smoothed, conditions == condition)).compute()
    stack.close()
    _save(out, labels, signals, cells)


# ------------------------------------------------------------------ driver
def _run_variant(name, mode, data_dir):
    out = data_dir / "results-user" / mode / name.replace(" ", "_")
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")  # nilearn's FutureWarnings about defaults; not timed work
    if name == "nilearn":
        variant_nilearn(data_dir, mode, out)
    else:
        variant_roidask(data_dir, mode, out, name.split(" ", 1)[1])


def _load_signals(folder):
    with np.load(folder / "signals.npz") as signals:
        return {key: signals[key] for key in signals.files}


def _signal_diff(signals, reference):
    """(max relative, max abs) difference; relative to the largest reference value."""
    if sorted(signals) != sorted(reference) or any(
            signals[key].shape != reference[key].shape for key in reference):
        return float("nan"), float("nan")
    worst = max(float(np.abs(signals[key].astype(np.float64) - reference[key]).max())
                for key in reference)
    scale = max(float(np.abs(reference[key]).max()) for key in reference)
    return worst / scale, worst


def _exact_signals(data_dir, labels, modes):
    """The z-scored signals computed in float64 from nilearn's (float32) smoothed run."""
    import nibabel as nib
    from nilearn.image import smooth_img

    data = np.asarray(smooth_img(nib.load(data_dir / "func.nii.gz"), fwhm=FWHM).dataobj)
    means = np.stack([data[labels == value].astype(np.float64).mean(0)
                      for value in range(1, int(labels.max()) + 1)], axis=1)
    del data
    conditions = _read_conditions(data_dir).to_numpy()

    def zscore(signals):
        return (signals - signals.mean(0)) / signals.std(0, ddof=1)

    exact = {"script": {"all": zscore(means)},
             "notebook": {c: zscore(means[conditions == c])
                          for c in _categories(_read_conditions(data_dir))}}
    return {mode: exact[mode] for mode in modes}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="haxby")
    parser.add_argument("--workdir", default="/tmp/roidask-bench")
    parser.add_argument("--mode", default="both", choices=("both",) + MODES)
    parser.add_argument("--schedulers", default=",".join(SCHEDULERS),
                        help="roidask schedulers, comma-separated, from " + ", ".join(SCHEDULERS))
    parser.add_argument("--exact", action="store_true",
                        help="also compare the signals with float64 ones computed from "
                        "nilearn's smoothed run (nilearn itself z-scores in float32)")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dir = Path(args.workdir) / f"roi-{args.size}"
    if args.variant:  # child process: run one variant in one mode
        _run_variant(args.variant, args.mode, data_dir)
        return
    schedulers = [s.strip() for s in args.schedulers.split(",") if s.strip()]
    for scheduler in schedulers:
        if scheduler not in SCHEDULERS:
            parser.error(f"--schedulers: {scheduler!r} is not one of {SCHEDULERS}")
    if not (data_dir / "func.nii.gz").exists():
        from roidask.datasets import make_haxby_like

        make_haxby_like(data_dir, size=args.size)
    modes = MODES if args.mode == "both" else (args.mode,)
    first_touch = first_touch_gbps()
    measured = {}
    for mode in modes:
        for name in ["nilearn"] + [f"roidask {s}" for s in schedulers]:
            scratch = tempfile.mkdtemp(prefix="roidask-staging-")  # cold: no staged copy yet
            env = child_env(ROIDASK_STAGING_DIR=scratch)
            result = run_measured([sys.executable, __file__, "--workdir", args.workdir,
                                   "--size", args.size, "--mode", mode, "--variant", name],
                                  env=env)
            shutil.rmtree(scratch, ignore_errors=True)
            if result.returncode:
                raise SystemExit(f"{mode} / {name} failed (exit code {result.returncode})")
            measured[mode, name] = result
            print(f"done: {mode} / {name}: {result.wall_s:.1f} s", file=sys.stderr, flush=True)

    import nibabel as nib

    import roidask

    print(f"roidask {roidask.__version__} from {Path(roidask.__file__).parent}")
    func = nib.load(data_dir / "func.nii.gz")
    results = data_dir / "results-user"
    n_rois = int(np.load(results / modes[0] / "nilearn" / "labels.npy").max())
    print(f"data: {data_dir / 'func.nii.gz'}, shape {func.shape}, {n_rois} ROIs; "
          f"{os.cpu_count()} cores; first touch of fresh memory {first_touch:.2f} GB/s")
    exact = None
    if args.exact:
        exact = _exact_signals(data_dir, np.load(results / modes[0] / "nilearn" / "labels.npy"),
                               modes)
    rows, profiles = [], []
    for (mode, name), result in measured.items():
        reference = results / mode / "nilearn"
        folder = results / mode / name.replace(" ", "_")
        nilearn = measured[mode, "nilearn"]
        same = bool(np.array_equal(np.load(folder / "labels.npy"),
                                   np.load(reference / "labels.npy")))
        signals = _load_signals(folder)
        rel, absolute = _signal_diff(signals, _load_signals(reference))
        row = [mode, name, f"{result.wall_s:.1f}", f"{result.peak_rss_gb:.2f}",
               f"{nilearn.wall_s / result.wall_s:.2f}x",
               f"{100 * result.peak_rss_bytes / nilearn.peak_rss_bytes:.0f}%",
               same, f"{rel:.1e}", f"{absolute:.1e}"]
        if exact is not None:
            row.append(f"{_signal_diff(signals, exact[mode])[0]:.1e}")
        rows.append(row + [f"{result.others_cores:.2f}"])
        cells = json.loads((folder / "cells.json").read_text())
        profiles.append(f"{mode} / {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                        cells.items()))
    header = ["mode", "variant", "wall s", "peak RSS GB (all processes)", "speedup vs nilearn",
              "memory vs nilearn", "labels identical", "signals max rel diff",
              "signals max abs diff"]
    header += ["signals max rel diff vs float64"] if exact is not None else []
    print(markdown_table(header + ["other load (cores)"], rows))
    print("seconds per step (in process):")
    for line in profiles:
        print("  " + line)
    print(json.dumps({f"{mode} / {name}": {"wall_s": round(m.wall_s, 2),
                                           "peak_gb": round(m.peak_rss_gb, 2)}
                      for (mode, name), m in measured.items()}))


if __name__ == "__main__":
    main()
