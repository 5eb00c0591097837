"""Whole-run smoothing (FWHM 6 mm) of the Haxby-shaped run: roidask against nilearn, the floor
and the compiled tools.

The run is the synthetic Haxby-shaped ``func.nii.gz`` (``make_haxby_like``,
shared with ``bench_roi_workflow.py``), inflated once to an uncompressed
``func.nii`` (int16) that every row reads; the file is read once before the
rows so that all of them find it in the page cache. Rows, each in a fresh
process (peak memory summed over its processes):

- nilearn ``smooth_img(path, 6).get_fdata()``;
- the floor per core: a single-thread loop over the volumes, each read from
  the file as one contiguous float32 volume and filtered along i, j, k with
  ``scipy.ndimage.gaussian_filter1d`` (reading included, nothing written);
- roidask ``smooth_img(load_img(path), 6).compute()`` on dask's threaded
  scheduler with 2 threads and with 1 (per core), and the same written to a
  ``.nii`` with ``roidask.to_nifti`` (as the compiled tools do);
- MRtrix3 ``mrfilter IN smooth -fwhm 6 OUT -nthreads N`` and Connectome
  Workbench ``wb_command -volume-smoothing IN 6 OUT -fwhm`` (OpenMP,
  ``OMP_NUM_THREADS=N``), both writing a float32 ``.nii``; optional rows,
  skipped with a note when the tool is not installed (Debian packages
  ``mrtrix3`` and ``connectome-workbench``). They truncate their kernels
  differently from scipy, so they differ from nilearn near edges;
- the memory-bandwidth bound: the time to read and write the float32 run
  once (``numpy.copyto`` of the whole array, best of 3, with 1 and with 2
  threads; the faster is the bound), reported in GB/s, and the rate of the
  first write of a freshly allocated array of that size (page faults; on a
  VM whose host reclaims idle memory this is far slower, and every row that
  makes a new array pays it).

Times: "work s" is measured inside the process from opening the file to
the result (in memory, or written for the rows that write); for the
compiled tools it is the process wall time. Ratios divide a row's work time
by nilearn's, by the floor's and by the bandwidth bound. Per-core
efficiency is ``floor_s / (work_s * threads)``. The max abs difference is
against nilearn's float32 result (nilearn filters in float32; ``get_fdata``
only widens it). "other load" is the average number of cores other
processes kept busy meanwhile (0 on a quiet machine).

Run: python benchmarks/bench_smoothing.py [--size haxby] [--workdir /tmp/roidask-bench]
(To measure another copy of roidask, e.g. a snapshot of a commit made with
``git archive HEAD roidask | tar -x -C /tmp/snap``, run with
``PYTHONPATH=/tmp/snap``; the header line names the copy measured.)
"""

import argparse
import gzip
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
from measure import child_env, markdown_table, run_measured

FWHM = 6.0
SIGMA_PER_FWHM = 1 / np.sqrt(8 * np.log(2))
SINGLE_THREAD = {var: "1" for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                       "MKL_NUM_THREADS")}


# ---------------------------------------------------------------- rows (child processes)
def _report(out, name, **facts):
    (out / f"{name}.json").write_text(json.dumps(facts))


def row_nilearn(nii, out):
    from nilearn.image import smooth_img

    start = time.perf_counter()
    data = smooth_img(str(nii), FWHM).get_fdata()
    work = time.perf_counter() - start
    _report(out, "nilearn", work_s=work)
    np.save(out / "nilearn.npy", data.astype(np.float32))  # exact: nilearn filters in float32


def row_floor(nii, out):
    import nibabel as nib
    from scipy.ndimage import gaussian_filter1d

    img = nib.load(nii)
    shape, dtype, offset = img.shape, img.get_data_dtype(), int(img.dataobj.offset)
    voxel = np.sqrt((img.affine[:3, :3] ** 2).sum(0))
    sigmas = FWHM * SIGMA_PER_FWHM / voxel
    n_voxels = int(np.prod(shape[:3]))
    start = time.perf_counter()
    with open(nii, "rb") as stream:
        stream.seek(offset)
        for _ in range(shape[3]):
            raw = np.fromfile(stream, dtype, count=n_voxels)
            volume = raw.reshape(shape[:3], order="F").astype(np.float32)  # contiguous volume
            for axis, sigma in enumerate(sigmas):
                gaussian_filter1d(volume, sigma, axis=axis, output=volume)
    _report(out, "floor", work_s=time.perf_counter() - start)


def row_roidask(nii, out, threads, write):
    import dask

    import roidask
    from roidask.image import smooth_img

    name = f"roidask_{threads}{'_write' if write else ''}"
    load_img, to_nifti = roidask.load_img, roidask.to_nifti  # import them before timing
    start = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=threads):
        smoothed = smooth_img(load_img(nii), FWHM)
        if write:
            to_nifti(smoothed, out / f"{name}.nii")
        else:
            values = smoothed.compute().values
    _report(out, name, work_s=time.perf_counter() - start)
    if not write:
        np.save(out / f"{name}.npy", values)


def row_bandwidth(nii, out):
    """Best time to read and write the float32 run once, with 1 and 2 threads."""
    import nibabel as nib

    proxy = nib.load(nii).dataobj
    start = time.perf_counter()
    target = np.empty(proxy.shape, np.float32, order="F")
    target.fill(0)  # fault the pages in before timing the copies
    first_touch = time.perf_counter() - start
    source = np.asarray(proxy, dtype=np.float32)
    flat_source, flat_target = source.reshape(-1, order="A"), target.reshape(-1, order="A")

    def copy(threads):
        bounds = np.linspace(0, flat_source.size, threads + 1).astype(int)
        workers = [threading.Thread(target=np.copyto, args=(flat_target[a:b],
                                                             flat_source[a:b]))
                   for a, b in zip(bounds[:-1], bounds[1:])]
        start = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return time.perf_counter() - start

    best = {threads: min(copy(threads) for _ in range(3)) for threads in (1, 2)}
    _report(out, "bandwidth", nbytes=int(source.nbytes), best_1=best[1], best_2=best[2],
            first_touch=first_touch)


# ---------------------------------------------------------------- driver
def _inflate(data_dir):
    """``func.nii`` next to ``func.nii.gz``, made once."""
    nii = data_dir / "func.nii"
    if not nii.exists():
        tmp = nii.with_suffix(".nii.part")
        with gzip.open(data_dir / "func.nii.gz", "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 16 << 20)
        tmp.rename(nii)
    return nii


def _max_abs_diff(path, reference):
    """Largest |result - nilearn| over the run, in slabs of volumes."""
    import nibabel as nib

    if path.suffix == ".npy":
        values = np.load(path)
    else:
        values = np.asarray(nib.load(path).dataobj, dtype=np.float32)
    if values.shape != reference.shape:
        return float("nan")
    worst = 0.0
    for start in range(0, reference.shape[3], 64):
        block = np.s_[..., start:start + 64]
        worst = max(worst, float(np.abs(values[block].astype(np.float64) -
                                        reference[block]).max()))
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="haxby")
    parser.add_argument("--workdir", default="/tmp/roidask-bench")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dir = Path(args.workdir) / f"roi-{args.size}"
    out = data_dir / "results-smoothing"
    nii = data_dir / "func.nii"
    python_rows = {
        "nilearn": lambda: row_nilearn(nii, out),
        "floor": lambda: row_floor(nii, out),
        "roidask_2": lambda: row_roidask(nii, out, 2, write=False),
        "roidask_1": lambda: row_roidask(nii, out, 1, write=False),
        "roidask_2_write": lambda: row_roidask(nii, out, 2, write=True),
        "roidask_1_write": lambda: row_roidask(nii, out, 1, write=True),
        "bandwidth": lambda: row_bandwidth(nii, out),
    }
    if args.row:  # child process: one row
        python_rows[args.row]()
        return
    if not (data_dir / "func.nii.gz").exists():
        from roidask.datasets import make_haxby_like

        make_haxby_like(data_dir, size=args.size)
    _inflate(data_dir)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with open(nii, "rb") as stream:  # into the page cache, for every row alike
        while stream.read(64 << 20):
            pass

    def python_row(row, single_thread=False):
        env = child_env(**(SINGLE_THREAD if single_thread else {}))
        return run_measured([sys.executable, __file__, "--workdir", args.workdir,
                             "--size", args.size, "--row", row], env=env)

    # (label, threads, measured, work seconds, result file or None)
    table, notes = [], []

    def add_python(label, row, threads, result_file=None, single_thread=False):
        measured = python_row(row, single_thread)
        if measured.returncode:
            raise SystemExit(f"{label} failed (exit code {measured.returncode})")
        work = json.loads((out / f"{row}.json").read_text())["work_s"]
        table.append((label, threads, measured, work, result_file))
        print(f"done: {label}: {work:.2f} s", file=sys.stderr, flush=True)

    add_python("nilearn smooth_img(...).get_fdata()", "nilearn", 1, single_thread=True)
    add_python("scipy per-volume gaussian_filter1d loop, 1 thread (floor per core)", "floor", 1,
               single_thread=True)
    add_python("roidask smooth_img(...).compute(), threads=2", "roidask_2", 2, "roidask_2.npy")
    add_python("roidask smooth_img(...).compute(), threads=1", "roidask_1", 1, "roidask_1.npy")
    add_python("roidask smooth_img -> to_nifti .nii, threads=2", "roidask_2_write", 2,
               "roidask_2_write.nii")
    add_python("roidask smooth_img -> to_nifti .nii, threads=1", "roidask_1_write", 1,
               "roidask_1_write.nii")

    tools = [
        ("mrfilter", lambda n, o: (["mrfilter", str(nii), "smooth", "-fwhm", str(FWHM), str(o),
                                    "-nthreads", str(n), "-force", "-quiet"], None)),
        ("wb_command", lambda n, o: (["wb_command", "-volume-smoothing", str(nii), str(FWHM),
                                      str(o), "-fwhm"], {"OMP_NUM_THREADS": str(n)})),
    ]
    for tool, command in tools:
        if shutil.which(tool) is None:
            notes.append(f"{tool}: not installed, rows skipped (apt-get install "
                         f"{'mrtrix3' if tool == 'mrfilter' else 'connectome-workbench'})")
            continue
        for threads in (2, 1):
            target = out / f"{tool}_{threads}.nii"
            argv, extra = command(threads, target)
            measured = run_measured(argv, env=dict(os.environ, **(extra or {})))
            if measured.returncode:
                notes.append(f"{tool} -> {threads} threads failed (exit {measured.returncode})")
                continue
            label = (f"MRtrix3 mrfilter smooth -nthreads {threads} (.nii out)" if tool ==
                     "mrfilter" else f"Workbench -volume-smoothing, OMP_NUM_THREADS={threads}"
                     " (.nii out)")
            table.append((label, threads, measured, measured.wall_s, target.name))
            print(f"done: {label}: {measured.wall_s:.2f} s", file=sys.stderr, flush=True)

    measured = python_row("bandwidth")
    if measured.returncode:
        raise SystemExit("bandwidth row failed")
    bandwidth = json.loads((out / "bandwidth.json").read_text())
    bound_s = min(bandwidth["best_1"], bandwidth["best_2"])
    gb_moved = 2 * bandwidth["nbytes"] / 1e9

    import roidask

    print(f"roidask {roidask.__version__} from {Path(roidask.__file__).parent}")
    reference = np.load(out / "nilearn.npy")
    nilearn_s = table[0][3]
    floor_s = table[1][3]
    import nibabel as nib

    print(f"data: {nii}, shape {nib.load(nii).shape} int16, "
          f"{bandwidth['nbytes'] / 1e9:.2f} GB as float32; {os.cpu_count()} cores; FWHM {FWHM} mm")
    rows = []
    for label, threads, run, work, result_file in table:
        diff = "" if result_file is None else f"{_max_abs_diff(out / result_file, reference):.1e}"
        rows.append([label, threads, f"{run.wall_s:.2f}", f"{work:.2f}", f"{run.peak_rss_gb:.2f}",
                     f"{work / nilearn_s:.2f}", f"{work / floor_s:.2f}", f"{work / bound_s:.1f}",
                     f"{floor_s / (work * threads):.2f}", diff, f"{run.others_cores:.2f}"])
    rows.append([f"memory-bandwidth bound: read + write the float32 run once (numpy copy; "
                 f"{gb_moved / bandwidth['best_1']:.1f} / {gb_moved / bandwidth['best_2']:.1f}"
                 " GB/s; first write of a fresh array: "
                 f"{bandwidth['nbytes'] / 1e9 / bandwidth['first_touch']:.2f} GB/s)", "1 / 2",
                 f"{measured.wall_s:.2f}",
                 f"{bandwidth['best_1']:.3f} / {bandwidth['best_2']:.3f}",
                 f"{measured.peak_rss_gb:.2f}", f"{bound_s / nilearn_s:.3f}",
                 f"{bound_s / floor_s:.3f}", "1.0", "", "", f"{measured.others_cores:.2f}"])
    print(markdown_table(["row", "threads", "process wall s", "work s", "peak RSS GB",
                          "time / nilearn", "time / floor", "time / bandwidth bound",
                          "per-core efficiency (floor / (time x threads))",
                          "max abs diff vs nilearn", "other load (cores)"], rows))
    print(f"max |nilearn| = {float(np.abs(reference).max()):.1f}; floor {floor_s:.2f} s; "
          f"bandwidth bound {bound_s:.3f} s ({gb_moved / bound_s:.1f} GB/s moved)")
    for label, threads, _, work, _ in table:
        if label.startswith("roidask"):
            print(f"{label}: {nilearn_s / work:.2f}x faster than nilearn, per-core "
                  f"efficiency {floor_s / (work * threads):.2f} of the floor, "
                  f"{work / bound_s:.1f}x the bandwidth bound")
    for note in notes:
        print("note: " + note)
    for path in out.glob("*.nii"):
        path.unlink()  # about 1 GB each


if __name__ == "__main__":
    main()
