"""Scaling: tasks per chunk of each operation, and throughput with 1 and 2 workers.

Graph sizes are counted on the Haxby-shaped zarr store, at the default
volume layout and at spatial chunks, as tasks per input chunk (the source
reads included), so a per-label or per-volume task explosion would show.
Throughput is the ROI workflow's one pass (smoothed face-vs-house t-test
from the store, then per-ROI signals of every volume) in GB of input per
second, on a LocalCluster of 1 and 2 worker processes (1 thread each) and
of 1 worker with 1 and 2 threads.

Run: python benchmarks/bench_scaling.py [--workdir /tmp/roidask-bench]
"""

import argparse
import time
from pathlib import Path

import numpy as np
from distributed import wait

import roidask
from roidask.datasets import make_haxby_like
from roidask.io.convert import nifti_to_zarr
from roidask.pipeline import ops


def graph_sizes(img, vt_mask):
    """Tasks of each lazy operation, divided by the image's chunk count."""
    n_chunks = img.data.npartitions
    mask3d = roidask.binarize_img(roidask.mean_img(img), 900, two_sided=False)
    masker = roidask.LabelsMasker(vt_mask, resampling_target=None)
    masker.fit()
    built = {
        "load (read tasks)": img,
        "smooth_img": roidask.smooth_img(img, 6),
        "mean_img": roidask.mean_img(img),
        "ttest_ind (face vs house, smoothed)": ops.ttest_conditions(
            roidask.smooth_img(img, 6), "face", "house").statistic,
        "f_oneway (9 conditions)": roidask.f_oneway(img, "condition").statistic,
        "threshold_img '97%' of the mean": roidask.threshold_img(roidask.mean_img(img), "97%"),
        "binary_dilation (of a mean-image mask)": roidask.binary_dilation(mask3d),
        "label (of a mean-image mask)": roidask.label(mask3d)[0],
        "LabelsMasker.transform": masker.transform(img),
    }
    return {name: len(obj.data.__dask_graph__()) / n_chunks for name, obj in built.items()}


def throughput(store, gb, **cluster):
    """GB of input per second over the workflow's two passes (t-test, then signals)."""
    with roidask.get_client(**cluster) as client:
        start = time.perf_counter()
        img = roidask.load_img(store)
        test = ops.ttest_conditions(roidask.smooth_img(img, 6), "face", "house")
        rois = roidask.label(roidask.binarize_img(test.neg_log10_p, 5, two_sided=False))[0]
        wait(rois := client.persist(rois))
        masker = roidask.LabelsMasker(rois, resampling_target=None)
        client.compute(masker.fit_transform(img)).result()
        return 2 * gb / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default="/tmp/roidask-bench")
    args = parser.parse_args()
    data_dir = Path(args.workdir) / "roi-haxby"
    if not (data_dir / "func.nii.gz").exists():
        make_haxby_like(data_dir, size="haxby")
    store = data_dir / "func-labelled.zarr"
    if not store.exists():
        nifti_to_zarr(data_dir / "func.nii.gz", store, labels=data_dir / "labels.txt")
    img = roidask.load_img(store)
    vt = roidask.load_img(data_dir / "vt_mask.nii.gz")
    gb = int(np.prod(img.shape)) * img.dtype.itemsize / 1e9

    layouts = {"volume layout": img, "spatial 20x32x32x1": roidask.load_img(
        store, chunks="i=20,j=32,k=32,t=1")}
    sizes = {name: graph_sizes(image, vt) for name, image in layouts.items()}
    print(f"data: {store}, shape {img.shape}, {gb:.2f} GB")
    print("| operation | " + " | ".join(f"tasks per chunk ({n} chunks, {name})" for name, n in
                                      ((k, v.data.npartitions) for k, v in layouts.items()))
          + " |")
    print("|---|" + "---|" * len(layouts))
    for op in sizes["volume layout"]:
        print(f"| {op} | " + " | ".join(f"{sizes[name][op]:.1f}" for name in layouts) + " |")

    print("\n| cluster | GB/s read (t-test pass + signals pass) |")
    print("|---|---|")
    for label, cluster in (
        ("1 worker process x 1 thread", dict(n_workers=1, threads_per_worker=1,
                                              processes=True)),
        ("2 worker processes x 1 thread", dict(n_workers=2, threads_per_worker=1,
                                                processes=True)),
        ("1 worker x 1 thread (in process)", dict(n_workers=1, threads_per_worker=1)),
        ("1 worker x 2 threads (in process, default)", dict(n_workers=1,
                                                            threads_per_worker=2)),
    ):
        print(f"| {label} | {throughput(store, gb, **cluster):.2f} |")


if __name__ == "__main__":
    main()
