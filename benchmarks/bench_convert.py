"""Convert a >= 2 GB (uncompressed) .nii.gz to zarr: time, throughput, peak memory.

Compares ``roidask convert`` with plain gzip decompression of the same file
(zlib through Python's gzip, and isal), each in a fresh process, with peak
memory of all processes counted.

Run: python benchmarks/bench_convert.py [--size hcp] [--workdir /tmp/roidask-bench]
"""

import argparse
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
from measure import python_snippet, run_measured

from roidask.datasets import make_haxby_like

DECOMPRESS = """
import sys, {module} as gz
with gz.open(sys.argv[1] if len(sys.argv) > 1 else {path!r}, "rb") as f:
    while f.read(1 << 24):
        pass
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="hcp", help="synthetic dataset preset")
    parser.add_argument("--workdir", default="/tmp/roidask-bench")
    args = parser.parse_args()
    workdir = Path(args.workdir) / args.size
    func = workdir / "func.nii.gz"
    if not func.exists():
        make_haxby_like(workdir, size=args.size)
    image = nib.load(func)
    raw_bytes = int(np.prod(image.shape)) * image.get_data_dtype().itemsize
    store = workdir / "func.zarr"
    shutil.rmtree(store, ignore_errors=True)

    rows = []
    for label, module in (("gzip (zlib) decompress", "gzip"),
                          ("isal decompress", "isal.igzip")):
        result = run_measured(python_snippet(DECOMPRESS.format(module=module, path=str(func))))
        rows.append((label, result))
    result = run_measured(["roidask", "convert", str(func), str(store)])
    assert result.returncode == 0, "conversion failed"
    rows.append(("roidask convert -> zarr", result))

    gb = raw_bytes / 1e9
    print(f"file: {func} shape {image.shape} {image.get_data_dtype()}, "
          f"{gb:.2f} GB uncompressed, {func.stat().st_size / 1e9:.2f} GB on disk")
    print("| step | wall s | throughput GB/s (uncompressed) | peak RSS GB (all processes) |")
    print("|---|---|---|---|")
    for label, measured in rows:
        print(f"| {label} | {measured.wall_s:.1f} | {gb / measured.wall_s:.2f} | "
              f"{measured.peak_rss_gb:.2f} |")
    zlib_time = rows[0][1].wall_s
    print(f"convert / zlib-decompress time: {result.wall_s / zlib_time:.2f}x")


if __name__ == "__main__":
    main()
