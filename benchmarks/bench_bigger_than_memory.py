"""The ROI workflow and the labels masker on a 4D image larger than this machine's memory.

Writes (once) a synthetic int16 ``func.nii`` of 91x109x91 voxels and enough
volumes to exceed ``--gigabytes`` (default 30 GB, more than the 24 GiB of
RAM here), then runs ``roidask run`` for ``roi_extraction.yaml`` and
``atlas_signals.yaml`` with the worker memory limited to ``--memory-limit``.
Each run is a fresh process; peak memory sums all its processes. The same
is run on a Haxby-sized image for comparison. nilearn cannot run this at
all: it loads the whole image (as float64, 4x the file) into memory.

Run: python benchmarks/bench_bigger_than_memory.py [--gigabytes 30] [--memory-limit 3GB]
"""

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import yaml
from measure import run_measured

from roidask.datasets import make_haxby_like

CONFIGS = Path(__file__).parents[1] / "configs"
SHAPE = (91, 109, 91)


def config_for(name, func_name, workdir):
    config = yaml.safe_load((CONFIGS / name).read_text())
    config["inputs"]["func"]["path"] = func_name
    config["outputs"] = {k: v for k, v in config["outputs"].items()
                         if not v["path"].endswith((".html", ".png"))}
    path = workdir / f"bench-{name}"
    path.write_text(yaml.safe_dump(config))
    return path


def run(config, data_dir, out, memory_limit):
    command = ["roidask", "run", str(config), "--inputs-dir", str(data_dir), "--output",
               str(out), "--force", "--memory-limit", memory_limit]
    measured = run_measured(command)
    if measured.returncode:
        raise SystemExit(f"{config.name} failed")
    return measured, json.loads((out / "provenance.json").read_text())["timings"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gigabytes", type=float, default=30.0)
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--workdir", default="/tmp/roidask-bench")
    args = parser.parse_args()
    volume_bytes = int(np.prod(SHAPE)) * 2
    n_volumes = int(np.ceil(args.gigabytes * 1e9 / volume_bytes))
    cases = {"bigger than memory": (Path(args.workdir) / "big", dict(
                 size="large", n_volumes=n_volumes, compressed=False), "func.nii"),
             "haxby-sized": (Path(args.workdir) / "roi-haxby", dict(size="haxby"),
                             "func.nii.gz")}
    rows = []
    for case, (data_dir, options, func_name) in cases.items():
        if not (data_dir / func_name).exists():
            make_haxby_like(data_dir, **options)
        image = nib.load(data_dir / func_name)
        gb = int(np.prod(image.shape)) * image.get_data_dtype().itemsize / 1e9
        for name in ("roi_extraction.yaml", "atlas_signals.yaml"):
            config = config_for(name, func_name, data_dir)
            measured, timings = run(config, data_dir, data_dir / f"out-{name}",
                                    args.memory_limit)
            rows.append((case, image.shape, gb, name, measured, timings))
    print(f"worker memory limit {args.memory_limit}; machine RAM 24 GiB")
    print("| data | shape | GB (uncompressed) | workflow | wall s | GB/s | "
          "peak RSS GB (all processes) |")
    print("|---|---|---|---|---|---|---|")
    for case, shape, gb, name, measured, _ in rows:
        print(f"| {case} | {shape} | {gb:.1f} | {name} | {measured.wall_s:.1f} | "
              f"{gb / measured.wall_s:.2f} | {measured.peak_rss_gb:.2f} |")


if __name__ == "__main__":
    main()
