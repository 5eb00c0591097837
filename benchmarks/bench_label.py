"""Benchmark: connected-component labelling of a chunked 3D mask.

roidask.regions.label against dask_image.ndmeasure.label and scipy.ndimage.label
on one blob mask (smoothed noise above a threshold), split into 64 and 512
blocks. Each case runs in its own Python process (so peak memory is its own)
with dask's threaded scheduler on ``--workers`` threads, and reports:

- graph build: time to build the lazy labels and materialize their task graph,
  and the number of tasks the labelling adds (the input array's excluded);
- compute: time to compute the labels into memory;
- peak RSS: the highest resident memory of the case's process tree (sampled
  every 20 ms by a psutil thread), and the same minus the RSS before building;
- the check: scipy's numbers exactly ("identical"), or scipy's components up
  to numbering ("same up to numbering").

A case that exceeds ``--timeout`` seconds is stopped and reported as such.

Run::

    python benchmarks/bench_label.py                  # 256 x 256 x 512, 64 and 512 blocks
    python benchmarks/bench_label.py --shape 128,128,128 --timeout 60   # quick look
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

CASES = [
    ("scipy", 1),
    ("roidask", 64),
    ("dask-image", 64),
    ("roidask", 512),
    ("dask-image", 512),
]


class PeakMemory:
    """Peak RSS of this process and its children, sampled in a thread."""

    def __init__(self, interval=0.02):
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self):
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # a child may exit between listing and reading
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def make_mask(shape, seed=0, sigma=2.0, level=1.0):
    """Blobs: Gaussian-smoothed white noise above ``level`` standard deviations."""
    from scipy import ndimage as ndi

    noise = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    smooth = ndi.gaussian_filter(noise, sigma)
    return smooth > level * smooth.std()


def canonical_digest(labels):
    """Digest of the labels renumbered by first voxel in C order (scipy's numbering)."""
    flat = labels.ravel()
    values, first = np.unique(flat, return_index=True)
    foreground = values != 0
    order = np.argsort(first[foreground])
    table = np.zeros(int(values.max()) + 1, dtype=np.int64)
    table[values[foreground][order]] = np.arange(1, order.size + 1)
    return hashlib.sha256(table[flat].astype(np.int32).tobytes()).hexdigest()


def run_case(tool, blocks, mask_path, workers):
    """One case in this process; prints its figures as JSON lines (build, then all)."""
    import dask
    import dask.array as da
    from dask_image.ndmeasure import label as dask_image_label
    from scipy import ndimage as ndi

    import roidask
    from roidask.regions.components import label

    mask = np.load(mask_path)
    structure = ndi.generate_binary_structure(3, 1)
    per_axis = round(blocks ** (1 / 3))
    chunks = tuple(n // per_axis for n in mask.shape)
    memory = PeakMemory()
    baseline = memory.current()
    with memory, dask.config.set(scheduler="threads", num_workers=workers):
        start = time.perf_counter()
        if tool == "scipy":
            tasks = None
            built = time.perf_counter()
            labels, n_labels = ndi.label(mask, structure)
        else:
            data = da.from_array(mask, chunks=chunks)
            input_tasks = len(data.__dask_graph__())
            if tool == "roidask":
                img = roidask.new_image(data, np.eye(4))
                lazy, lazy_n = label(img, structure=structure)
                lazy, lazy_n = lazy.data, lazy_n.data
            else:
                lazy, lazy_n = dask_image_label(data, structure)
            graph = dict(lazy.__dask_graph__())
            graph.update(lazy_n.__dask_graph__())
            tasks = len(graph) - input_tasks
            built = time.perf_counter()
            print(json.dumps({"tasks": tasks, "build_s": built - start}), flush=True)
            labels, n_labels = dask.compute(lazy, lazy_n)
        done = time.perf_counter()
    print(json.dumps({
        "tool": tool,
        "blocks": blocks if tool != "scipy" else 1,
        "chunks": "x".join(map(str, chunks)) if tool != "scipy" else "whole",
        "tasks": tasks,
        "build_s": built - start,
        "compute_s": done - built,
        "peak_mib": memory.peak / 2**20,
        "extra_mib": (memory.peak - baseline) / 2**20,
        "n_labels": int(n_labels),
        "digest": hashlib.sha256(np.asarray(labels, np.int32).tobytes()).hexdigest(),
        "canonical": canonical_digest(np.asarray(labels)),
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="256,256,512")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--mask", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        tool, blocks = args.case.split(":")
        run_case(tool, int(blocks), args.mask, args.workers)
        return

    shape = tuple(int(n) for n in args.shape.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        mask_path = os.path.join(tmp, "mask.npy")
        mask = make_mask(shape)
        np.save(mask_path, mask)
        print(
            f"mask {shape[0]}x{shape[1]}x{shape[2]} ({mask.mean():.1%} foreground), "
            f"connectivity 1, threaded scheduler with {args.workers} workers, "
            f"timeout {args.timeout:.0f} s per case",
            flush=True,
        )
        del mask
        results = []
        for tool, blocks in CASES:
            command = [
                sys.executable, __file__, "--case", f"{tool}:{blocks}", "--mask", mask_path,
                "--workers", str(args.workers),
            ]
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=args.timeout, check=True
                )
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            except subprocess.TimeoutExpired as err:
                partial = (err.stdout or b"").decode().strip().splitlines()
                built = json.loads(partial[-1]) if partial else {}
                results.append({"tool": tool, "blocks": blocks, "timeout": args.timeout, **built})
            except subprocess.CalledProcessError as err:
                results.append({"tool": tool, "blocks": blocks, "error": err.stderr[-300:]})
            print(f"  ran {tool} on {blocks} blocks", flush=True)
    print_table(results)


def print_table(results):
    reference = next((r for r in results if r["tool"] == "scipy" and "digest" in r), None)
    print()
    print("| tool | blocks | chunk | tasks | graph build (s) | compute (s) "
          "| peak RSS (MiB) | RSS added (MiB) | labels | vs scipy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if "timeout" in r:
            if "tasks" in r:
                print(f"| {r['tool']} | {r['blocks']} | | {r['tasks']:,} | {r['build_s']:.2f} "
                      f"| stopped: over {r['timeout']:.0f} s in all | | | | |")
            else:
                print(f"| {r['tool']} | {r['blocks']} | | | stopped: build over "
                      f"{r['timeout']:.0f} s | | | | | |")
            continue
        if "error" in r:
            print(f"| {r['tool']} | {r['blocks']} | failed: {r['error']!r} | | | | | | | |")
            continue
        if r["tool"] == "scipy":
            check = "reference"
        elif reference and r["digest"] == reference["digest"]:
            check = "identical"
        elif reference and r["canonical"] == reference["canonical"]:
            check = "same up to numbering"
        else:
            check = "DIFFERENT"
        tasks = "" if r["tasks"] is None else f"{r['tasks']:,}"
        print(f"| {r['tool']} | {r['blocks']} | {r['chunks']} | {tasks} | {r['build_s']:.2f} "
              f"| {r['compute_s']:.2f} | {r['peak_mib']:.0f} | {r['extra_mib']:.0f} "
              f"| {r['n_labels']} | {check} |")


if __name__ == "__main__":
    main()
