"""A whole fMRIPrep study through configs/bids_atlas_signals.yaml, against a nilearn loop.

The study: ``--subjects`` synthetic subjects (``roidask.bids.make_fmriprep_like``:
preprocessed BOLD runs, brain masks, fMRIPrep confounds with motion spikes,
events), one run each. The work per run: the confounds of nilearn's
``load_confounds_strategy(bold, denoise_strategy="scrubbing")``, then the
z-scored signal of each region of the config's 8-region atlas
(``NiftiLabelsMasker(atlas, lut=..., mask_img=brain mask,
standardize="zscore_sample").fit_transform(bold, confounds, sample_mask)``),
written as a TSV per run.

- nilearn: that loop over the runs with ``joblib.Parallel(n_jobs=2)``, which
  is what its users write.
- roidask: ``roidask run configs/bids_atlas_signals.yaml --inputs-dir
  DERIVATIVES --output OUT`` (the embedded cluster), cold: nothing staged.
- roidask, rerun after ``--added`` new subjects: only the new runs are done.

Each in a fresh process, measured by ``measure.run_measured`` (wall time,
peak memory of all processes). The signals of every run are compared with
nilearn's.

Run: python benchmarks/bench_bids_study.py [--subjects 100] [--added 5]
     [--shape 40,48,40] [--volumes 120] [--workdir /tmp/roidask-bench]
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from measure import child_env, run_measured

from roidask.bids.synthetic import make_fmriprep_like

CONFIG = Path(__file__).parents[1] / "configs" / "bids_atlas_signals.yaml"
ATLAS = CONFIG.parent / "atlas-synth_dseg.nii.gz"
LUT = CONFIG.parent / "atlas-synth_dseg.tsv"
NILEARN_LOOP = """
import sys
from pathlib import Path
import pandas as pd
from joblib import Parallel, delayed

def one_run(bold, out):
    import warnings
    from nilearn.interfaces.fmriprep import load_confounds_strategy
    from nilearn.maskers import NiftiLabelsMasker
    warnings.simplefilter("ignore")
    confounds, sample_mask = load_confounds_strategy(str(bold), denoise_strategy="scrubbing")
    mask = str(bold).replace("desc-preproc_bold", "desc-brain_mask")
    masker = NiftiLabelsMasker({atlas!r}, lut={lut!r}, mask_img=mask,
                               standardize="zscore_sample")
    signals = masker.fit_transform(str(bold), confounds=confounds, sample_mask=sample_mask)
    names = [n for n in masker.region_names_.values() if n != "Background"]
    pd.DataFrame(signals, columns=names).to_csv(out / (bold.name.split("_space")[0] + ".tsv"),
                                                sep="\\t", index=False)

deriv, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
runs = sorted(deriv.glob("sub-*/func/*_desc-preproc_bold.nii.gz"))
Parallel(n_jobs=2)(delayed(one_run)(bold, out) for bold in runs)
"""


def make_study(root, labels, shape, volumes, seed):
    """Write the subjects ``labels`` into the study at ``root`` (a new or existing one)."""
    scratch = Path(tempfile.mkdtemp(dir=root.parent, prefix="new-subjects-"))
    make_fmriprep_like(scratch, subjects=labels, shape=shape, n_volumes=volumes, seed=seed)
    for part in ("derivatives/fmriprep", "raw"):
        (root / part).mkdir(parents=True, exist_ok=True)
        for item in (scratch / part).iterdir():
            if item.name.startswith("sub-") or not (root / part / item.name).exists():
                shutil.move(str(item), root / part / item.name)
    shutil.rmtree(scratch)


def compressed_bytes(deriv):
    return sum(p.stat().st_size for p in deriv.glob("sub-*/func/*_bold.nii.gz"))


def roidask_tables(out):
    return {p.name.split("_space")[0]: pd.read_csv(p, sep="\t")
            for p in out.glob("sub-*/func/*_timeseries.tsv")}


def nilearn_tables(out):
    return {p.stem: pd.read_csv(p, sep="\t") for p in out.glob("*.tsv")}


def max_difference(ours, theirs):
    if sorted(ours) != sorted(theirs):
        return float("inf")
    worst = 0.0
    for run, frame in theirs.items():
        mine = ours[run][frame.columns].to_numpy()
        worst = max(worst, float(np.max(np.abs(mine - frame.to_numpy()))))
    return worst


def measured(command, label, scratch_env=True):
    env = child_env(ROIDASK_STAGING_DIR=tempfile.mkdtemp(prefix="roidask-staging-")) \
        if scratch_env else None
    result = run_measured(command, env=env)
    if result.returncode:
        raise SystemExit(f"{label} failed (exit code {result.returncode})")
    print(f"done: {label}: {result.wall_s:.1f} s", file=sys.stderr, flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=100)
    parser.add_argument("--added", type=int, default=5)
    parser.add_argument("--shape", default="40,48,40")
    parser.add_argument("--volumes", type=int, default=120)
    parser.add_argument("--workdir", default="/tmp/roidask-bench")
    args = parser.parse_args()
    shape = tuple(int(n) for n in args.shape.split(","))
    root = Path(args.workdir) / f"bids-{args.subjects}x{args.volumes}-{'x'.join(map(str, shape))}"
    deriv = root / "derivatives" / "fmriprep"
    labels = [f"{n:03d}" for n in range(1, args.subjects + 1)]
    added = [f"{n:03d}" for n in range(args.subjects + 1, args.subjects + args.added + 1)]
    for extra in root.glob("derivatives/fmriprep/sub-*"):  # left by an earlier run
        if extra.name[4:] in added:
            shutil.rmtree(extra)
            shutil.rmtree(root / "raw" / extra.name, ignore_errors=True)
    if not (deriv / f"sub-{labels[-1]}").exists():
        root.mkdir(parents=True, exist_ok=True)
        make_study(root, labels, shape, args.volumes, seed=0)
    size = compressed_bytes(deriv)
    results = root / "results"
    shutil.rmtree(results, ignore_errors=True)

    loop = results / "nilearn_loop.py"
    loop.parent.mkdir(parents=True)
    loop.write_text(NILEARN_LOOP.format(atlas=str(ATLAS), lut=str(LUT)))
    nilearn = measured([sys.executable, str(loop), str(deriv), str(results / "nilearn")],
                       "nilearn loop (joblib n_jobs=2)", scratch_env=False)
    run = ["roidask", "run", str(CONFIG), "--inputs-dir", str(deriv),
           "--output", str(results / "roidask")]
    full = measured(run, "roidask run")
    difference = max_difference(roidask_tables(results / "roidask"),
                                nilearn_tables(results / "nilearn"))
    make_study(root, added, shape, args.volumes, seed=1)
    rerun = measured(run, f"roidask rerun after adding {args.added} subjects")
    redone = rerun.stdout.count(": done")

    n_runs = args.subjects
    rows = [
        ("nilearn loop (joblib n_jobs=2)", n_runs, nilearn),
        ("roidask run", n_runs, full),
        (f"roidask rerun, {args.added} subjects added", args.added, rerun),
    ]
    print(f"study: {root}, {n_runs} runs of {shape} x {args.volumes} volumes, "
          f"{size / 1e9:.2f} GB of compressed BOLD")
    print("| variant | runs | wall s | runs / min | peak memory GB | other load (cores) |")
    print("|---|---|---|---|---|---|")
    for name, runs, result in rows:
        print(f"| {name} | {runs} | {result.wall_s:.1f} | {60 * runs / result.wall_s:.1f} | "
              f"{result.peak_rss_gb:.2f} | {result.others_cores:.2f} |")
    print(f"- roidask: {nilearn.wall_s / full.wall_s:.2f}x nilearn's throughput at "
          f"{100 * full.peak_rss_bytes / nilearn.peak_rss_bytes:.0f} % of its peak memory")
    print(f"- rerun after adding {args.added} subjects: {100 * rerun.wall_s / full.wall_s:.1f} % "
          f"of the full run; runs redone: {redone}")
    print(f"- signals: max abs difference from nilearn over every run {difference:.2e}")
    print(json.dumps({"nilearn_s": nilearn.wall_s, "roidask_s": full.wall_s,
                      "rerun_s": rerun.wall_s, "max_diff": difference}))


if __name__ == "__main__":
    main()
