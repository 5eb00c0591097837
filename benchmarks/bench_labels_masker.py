"""Atlas signals from HCP-sized data: roidask LabelsMasker vs nilearn NiftiLabelsMasker.

Both read the same uncompressed float32 ``.nii`` (91 x 109 x 91 voxels of
2 mm, 1200 volumes, 4.3 GB) and a 100-region atlas, extract the mean signal
of every region in every volume, detrend and z-score it; each runs in a
fresh process whose wall time and peak memory (resident memory of the
process and all its children, sampled every 50 ms) are recorded. The two
results are compared, and a markdown table is printed.

The data are written once by :func:`write_hcp_like`, streamed to disk one
block of volumes at a time (peak memory ~ one block), and reused afterwards.

Run:
    python benchmarks/bench_labels_masker.py [--workdir /tmp/roidask-bench/labels]
        [--volumes 1200] [--regions 100]
"""

import argparse
import sys
from pathlib import Path

import dask.array as da
import nibabel as nib
import numpy as np
from measure import python_snippet, run_measured
from scipy.spatial import cKDTree

from roidask.grid import new_image
from roidask.io import to_nifti

SHAPE = (91, 109, 91)
VOXEL_MM = 2.0
T_R = 0.72
VOLUMES_PER_BLOCK = 16

ROIDASK = """
import numpy as np, roidask
from roidask.maskers import LabelsMasker
img = roidask.load_img({bold!r})
masker = LabelsMasker({atlas!r}, detrend=True, standardize="zscore_sample")
signals = masker.fit_transform(img).compute()
np.save({out!r}, signals.values)
"""

NILEARN = """
import warnings
import numpy as np
from nilearn.maskers import NiftiLabelsMasker
warnings.simplefilter("ignore")
masker = NiftiLabelsMasker({atlas!r}, detrend=True, standardize="zscore_sample")
np.save({out!r}, masker.fit_transform({bold!r}))
"""


def _affine():
    affine = np.diag([-VOXEL_MM, VOXEL_MM, VOXEL_MM, 1.0])
    affine[:3, 3] = [90.0, -126.0, -72.0]
    return affine


def _brain():
    grids = np.ogrid[tuple(slice(0, n) for n in SHAPE)]
    centre, radii = [45, 54, 40], [38, 48, 36]
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1.0


def _volumes(block_info=None, *, baseline, seed):
    """One block of volumes: baseline + slow drift + noise, float32."""
    start, stop = block_info[None]["array-location"][3]
    rng = np.random.default_rng([seed, start])
    n = stop - start
    drift = 5.0 * np.sin(np.arange(start, stop) * T_R / 30.0)
    noise = rng.standard_normal(SHAPE + (n,), dtype=np.float32) * 20.0
    return baseline[..., None] + drift.astype(np.float32) + noise


def write_hcp_like(workdir, *, n_volumes=1200, n_regions=100, seed=0):
    """Write an HCP-sized float32 ``bold.nii`` and an ``atlas.nii.gz``; return their paths.

    The 4D image is a lazy dask array generated one block of
    ``VOLUMES_PER_BLOCK`` volumes at a time and streamed to disk by
    :func:`roidask.to_nifti`, so writing it needs ~one block of memory. The
    atlas splits an ellipsoidal "brain" into ``n_regions`` Voronoi parcels
    around random seed voxels (labels 1..n_regions, 0 outside).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    bold, atlas = workdir / "bold.nii", workdir / "atlas.nii.gz"
    rng = np.random.default_rng(seed)
    brain = _brain()
    if not atlas.exists():
        inside = np.argwhere(brain)
        seeds = inside[rng.choice(len(inside), n_regions, replace=False)]
        labels = np.zeros(SHAPE, np.int16)
        labels[brain] = cKDTree(seeds).query(inside)[1] + 1
        nib.save(nib.Nifti1Image(labels, _affine()), atlas)
    if not bold.exists():
        baseline = np.where(brain, 1000.0, 50.0).astype(np.float32)
        baseline += np.linspace(0, 200, SHAPE[0], dtype=np.float32)[:, None, None] * brain
        chunks = tuple((n,) for n in SHAPE) + (
            da.core.normalize_chunks(VOLUMES_PER_BLOCK, (n_volumes,))[0],
        )
        data = da.map_blocks(_volumes, baseline=baseline, seed=seed, dtype=np.float32,
                             chunks=chunks)
        to_nifti(new_image(data, _affine(), header={"t_r": T_R, "xyz_units": "mm"}), bold)
    return bold, atlas


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="/tmp/roidask-bench/labels")
    parser.add_argument("--volumes", type=int, default=1200)
    parser.add_argument("--regions", type=int, default=100)
    args = parser.parse_args()
    workdir = Path(args.workdir)
    bold, atlas = write_hcp_like(workdir, n_volumes=args.volumes, n_regions=args.regions)
    size_gb = bold.stat().st_size / 1e9
    runs = {}
    for name, code in (("roidask LabelsMasker", ROIDASK), ("nilearn NiftiLabelsMasker", NILEARN)):
        out = workdir / f"signals_{name.split()[0]}.npy"
        result = run_measured(python_snippet(code.format(bold=str(bold), atlas=str(atlas),
                                                         out=str(out))))
        if result.returncode != 0:
            sys.exit(f"{name} failed (exit {result.returncode})")
        runs[name] = (result, np.load(out))
    (_, ours), (_, theirs) = runs.values()
    difference = float(np.abs(ours - theirs).max())
    print(f"\n{args.volumes} volumes of {'x'.join(map(str, SHAPE))} float32 "
          f"({size_gb:.1f} GB .nii), {args.regions} regions, mean + detrend + zscore_sample\n")
    print("| tool | wall s | peak RSS GB | signals |")
    print("|---|---|---|---|")
    for name, (result, signals) in runs.items():
        print(f"| {name} | {result.wall_s:.1f} | {result.peak_rss_gb:.2f} | "
              f"{signals.shape[0]} x {signals.shape[1]} {signals.dtype} |")
    print(f"\nmax |roidask - nilearn| = {difference:.2e} (z-scored signals)")


if __name__ == "__main__":
    main()
