"""The Haxby-shaped ROI workflow: roidask against nilearn and plain dask + dask-image.

Steps (nilearn's plot_roi_extraction example): smooth (6 mm), face-vs-house
t-test, -log10 p >= 5, AND the ventral-temporal mask, binary dilation,
connected-component labels, and each label's z-scored signal in every
volume. Every variant runs in a fresh process on the same files, with its
peak memory summed over all its processes (dask workers included); the
labels each variant finds are checked against nilearn's.

Also measured in the same run, the floor: reading the data once
(isal decompression of the .nii.gz, or a read of the zarr store) plus the
unavoidable filtering (smoothing the face and house volumes).

Run: python benchmarks/bench_roi_workflow.py [--size haxby] [--workdir /tmp/roidask-bench]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from measure import run_measured

from roidask.datasets import make_haxby_like

CONFIGS = Path(__file__).parents[1] / "configs"
FWHM = 6.0
THRESHOLD = 5.0


def _conditions(data_dir):
    return np.loadtxt(data_dir / "labels.txt", dtype=str, skiprows=1)[:, 0]


def _save_labels(labels, affine, out):
    import nibabel as nib

    nib.save(nib.Nifti1Image(labels.astype(np.int32), affine), out)


def variant_nilearn(data_dir, out):
    """nilearn in memory, as its example does it."""
    import nibabel as nib
    from nilearn.image import smooth_img
    from nilearn.maskers import NiftiLabelsMasker
    from scipy import ndimage, stats

    func = nib.load(data_dir / "func.nii.gz")
    conditions = _conditions(data_dir)
    smoothed = smooth_img(func, fwhm=FWHM).get_fdata()
    _, p = stats.ttest_ind(smoothed[..., conditions == "face"],
                           smoothed[..., conditions == "house"], axis=-1)
    del smoothed
    log_p = -np.log10(p)
    log_p[np.isnan(log_p)] = 0
    log_p[log_p > 10] = 10
    vt = nib.load(data_dir / "vt_mask.nii.gz").get_fdata() > 0
    labels, _ = ndimage.label(ndimage.binary_dilation((log_p >= THRESHOLD) & vt))
    labels_img = nib.Nifti1Image(labels.astype(np.int32), func.affine)
    masker = NiftiLabelsMasker(labels_img, resampling_target=None, standardize="zscore_sample")
    signals = masker.fit_transform(func)
    _save_labels(labels, func.affine, out / "labels.nii.gz")
    np.save(out / "signals.npy", signals)


def variant_dask_image(data_dir, out):
    """The same steps written with plain dask.array and dask-image, threaded."""
    import dask
    import dask.array as da
    import nibabel as nib
    from dask_image import ndfilters, ndmeasure, ndmorph
    from scipy import special

    func = nib.load(data_dir / "func.nii.gz")
    conditions = _conditions(data_dir)
    voxel = np.sqrt((func.affine[:3, :3] ** 2).sum(0))
    sigma = FWHM / (np.sqrt(8 * np.log(2)) * voxel)
    data = da.from_array(func.dataobj, chunks=(-1, -1, -1, 100)).astype(np.float32)
    smoothed = ndfilters.gaussian_filter(data, sigma=tuple(sigma) + (0,))
    a = smoothed[..., np.flatnonzero(conditions == "face")].astype(np.float64)
    b = smoothed[..., np.flatnonzero(conditions == "house")].astype(np.float64)
    na, nb = a.shape[-1], b.shape[-1]
    pooled = ((na - 1) * a.var(-1, ddof=1) + (nb - 1) * b.var(-1, ddof=1)) / (na + nb - 2)
    t = (a.mean(-1) - b.mean(-1)) / da.sqrt(pooled * (1 / na + 1 / nb))
    df = na + nb - 2
    p = 2 * da.map_blocks(lambda x: special.stdtr(df, -np.abs(x)), t)
    log_p = da.clip(da.nan_to_num(-da.log10(p)), 0, 10)
    vt = da.from_array(nib.load(data_dir / "vt_mask.nii.gz").get_fdata() > 0)
    dilated = ndmorph.binary_dilation((log_p >= THRESHOLD) & vt)
    labels, n = ndmeasure.label(dilated)
    with dask.config.set(scheduler="threads"):
        labels, n = dask.compute(labels, n)
        flat = data.reshape(-1, data.shape[-1])
        means = [flat[np.flatnonzero(labels.ravel() == value)].mean(0)
                 for value in range(1, int(n) + 1)]
        signals = np.stack(dask.compute(*means), axis=1)
    signals = (signals - signals.mean(0)) / signals.std(0, ddof=1)
    _save_labels(labels, func.affine, out / "labels.nii.gz")
    np.save(out / "signals.npy", signals)


def variant_roidask(data_dir, out, source):
    """``roidask run configs/roi_extraction.yaml`` on a 2-worker LocalCluster."""
    import nibabel as nib
    import pandas as pd
    import yaml
    from click.testing import CliRunner

    from roidask.cli import main

    config = yaml.safe_load((CONFIGS / "roi_extraction.yaml").read_text())
    config["inputs"]["func"]["path"] = source
    config["outputs"] = {key: config["outputs"][key] for key in ("rois", "signals")}
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["run", str(path), "--inputs-dir", str(data_dir),
                                       "--output", str(out / "run"), "--force"])
    if result.exit_code:
        raise SystemExit(result.stderr)
    labels = np.asarray(nib.load(out / "run" / "roi_labels.nii.gz").dataobj)
    _save_labels(labels, nib.load(out / "run" / "roi_labels.nii.gz").affine,
                 out / "labels.nii.gz")
    table = pd.read_csv(out / "run" / "roi_signals.csv")
    signals = table[[c for c in table.columns if c not in ("t", "time", "condition", "run")]]
    np.save(out / "signals.npy", signals.to_numpy())


def floor(data_dir, source):
    """Seconds to read the data once plus smoothing the face and house volumes."""
    import nibabel as nib
    from scipy import ndimage

    conditions = _conditions(data_dir)
    wanted = np.flatnonzero(np.isin(conditions, ("face", "house")))
    start = time.perf_counter()
    if source.endswith(".zarr"):
        import zarr

        array = zarr.open_array(data_dir / source, path="image", mode="r")
        volumes = [array[..., a:a + 204] for a in range(0, array.shape[-1], 204)]
        data = np.concatenate(volumes, axis=-1)[..., wanted]
    else:
        from isal import igzip

        func = nib.load(data_dir / source)
        with igzip.open(data_dir / source, "rb") as stream:
            raw = stream.read()
        offset = int(func.dataobj.offset)
        data = np.frombuffer(raw, func.get_data_dtype(), offset=offset).reshape(
            func.shape, order="F")[..., wanted]
    read_s = time.perf_counter() - start
    func = nib.load(data_dir / "func.nii.gz")
    voxel = np.sqrt((func.affine[:3, :3] ** 2).sum(0))
    sigma = FWHM / (np.sqrt(8 * np.log(2)) * voxel)
    start = time.perf_counter()
    for index in range(data.shape[-1]):
        volume = data[..., index].astype(np.float32)
        for axis in range(3):
            volume = ndimage.gaussian_filter1d(volume, sigma[axis], axis=axis)
    return read_s, time.perf_counter() - start


VARIANTS = {
    "nilearn": lambda d, o: variant_nilearn(d, o),
    "dask-image": lambda d, o: variant_dask_image(d, o),
    "roidask (.nii.gz)": lambda d, o: variant_roidask(d, o, "func.nii.gz"),
    "roidask (zarr)": lambda d, o: variant_roidask(d, o, "func.zarr"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="haxby")
    parser.add_argument("--workdir", default="/tmp/roidask-bench")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dir = Path(args.workdir) / f"roi-{args.size}"
    if args.variant:  # child process: run one variant
        out = data_dir / "results" / args.variant.replace(" ", "_")
        out.mkdir(parents=True, exist_ok=True)
        VARIANTS[args.variant](data_dir, out)
        return
    if not (data_dir / "func.nii.gz").exists():
        make_haxby_like(data_dir, size=args.size)
    if not (data_dir / "func.zarr").exists():
        from roidask.io.convert import nifti_to_zarr

        nifti_to_zarr(data_dir / "func.nii.gz", data_dir / "func.zarr")
    rows = {}
    for name in VARIANTS:
        scratch = tempfile.mkdtemp(prefix="roidask-staging-")  # cold: no staged copy yet
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent),
                   ROIDASK_STAGING_DIR=scratch)
        rows[name] = run_measured([sys.executable, __file__, "--workdir", args.workdir,
                                   "--size", args.size, "--variant", name], env=env)
        shutil.rmtree(scratch, ignore_errors=True)
        if rows[name].returncode:
            raise SystemExit(f"{name} failed")
    floors = {"func.nii.gz": floor(data_dir, "func.nii.gz"), "func.zarr": floor(data_dir,
                                                                             "func.zarr")}
    import nibabel as nib

    results = data_dir / "results"
    reference = np.asarray(nib.load(results / "nilearn" / "labels.nii.gz").dataobj)
    ref_signals = np.load(results / "nilearn" / "signals.npy")
    print(f"data: {data_dir / 'func.nii.gz'}, shape "
          f"{nib.load(data_dir / 'func.nii.gz').shape}, {int(reference.max())} ROIs")
    print("| variant | wall s | peak RSS GB (all processes) | labels equal nilearn | "
          "max abs signal diff |")
    print("|---|---|---|---|---|")
    for name, measured in rows.items():
        folder = results / name.replace(" ", "_")
        labels = np.asarray(nib.load(folder / "labels.nii.gz").dataobj)
        signals = np.load(folder / "signals.npy")
        same = np.array_equal(labels, reference)
        diff = float(np.abs(signals - ref_signals).max()) if signals.shape == \
            ref_signals.shape else float("nan")
        print(f"| {name} | {measured.wall_s:.1f} | {measured.peak_rss_gb:.2f} | {same} | "
              f"{diff:.1e} |")
    nilearn, dask_image = rows["nilearn"], rows["dask-image"]
    for name in ("roidask (.nii.gz)", "roidask (zarr)"):
        measured = rows[name]
        print(f"{name}: {nilearn.wall_s / measured.wall_s:.1f}x faster than nilearn, "
              f"{dask_image.wall_s / measured.wall_s:.1f}x faster than dask-image, "
              f"peak memory {100 * measured.peak_rss_bytes / nilearn.peak_rss_bytes:.0f}% "
              "of nilearn's")
    for source, (read_s, filter_s) in floors.items():
        name = "roidask (zarr)" if source.endswith(".zarr") else "roidask (.nii.gz)"
        total = read_s + filter_s
        timings = json.loads((results / name.replace(" ", "_") / "run" /
                              "provenance.json").read_text())["timings"]
        pipeline_s = sum(timings.values())
        print(f"floor {source}: read {read_s:.2f} s + smoothing {filter_s:.2f} s = "
              f"{total:.2f} s; {name} is {rows[name].wall_s / total:.1f}x the floor for the "
              f"whole command, {pipeline_s / total:.1f}x for the pipeline itself "
              f"({pipeline_s:.2f} s: build {timings['build_s']}, compute "
              f"{timings['compute_s']}, write {timings['write_s']}; without interpreter and "
              "cluster start-up)")
    print(json.dumps({name: {"wall_s": round(m.wall_s, 2), "peak_gb": round(m.peak_rss_gb, 2)}
                      for name, m in rows.items()}))


if __name__ == "__main__":
    main()
