"""Run nilearn's own test modules against roidask and print what passes.

Usage: python tools/nilearn_suite/run.py [--modules test_image test_signal ...]
       [--out results.jsonl] [-k EXPR] [--roidask-src DIR | --head]

Each module runs in its own pytest process with ``swap_plugin`` (see
README.md); the per-test records go to a JSON-lines file and a table per
module and in total is printed.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

MODULES = {
    "test_image": "image/tests/test_image.py",
    "test_resampling": "image/tests/test_resampling.py",
    "test_region_extractor": "regions/tests/test_region_extractor.py",
    "test_signal_extraction": "regions/tests/test_signal_extraction.py",
    "test_nifti_labels_masker": "maskers/tests/test_nifti_labels_masker.py",
    "test_nifti_masker": "maskers/tests/test_nifti_masker.py",
    "test_masking": "tests/test_masking.py",
    "test_signal": "tests/test_signal.py",
    "test_nifti_maps_masker": "maskers/tests/test_nifti_maps_masker.py",
    "test_nifti_spheres_masker": "maskers/tests/test_nifti_spheres_masker.py",
    "test_thresholding": "glm/tests/test_thresholding.py",
    "test_get_clusters_table": "reporting/tests/test_get_clusters_table.py",
}

COLUMNS = ["reached", "pass", "value", "missing", "contract", "harness", "not reached",
           "surface", "xfail", "skipped"]


def nilearn_dir():
    import nilearn

    return Path(nilearn.__file__).resolve().parent


REPO = HERE.parent.parent


def load_review():
    """Hand-reviewed classifications (review.json): test name -> category, reason."""
    path = HERE / "review.json"
    return json.loads(path.read_text()) if path.exists() else {}


def head_snapshot():
    """Export roidask/ of the checkout's HEAD commit (others' uncommitted edits left out)."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.strip()
    target = Path(tempfile.gettempdir()) / f"roidask-suite-{commit}"
    if not (target / "roidask").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", "HEAD", "roidask"], cwd=REPO, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target, commit


def run_module(name, out, extra, src=None):
    root = nilearn_dir()
    env = dict(os.environ)
    paths = [str(src)] if src else []
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(HERE), env.get("PYTHONPATH", "")])
    env["NILEARN_SUITE_OUT"] = str(out)
    env.setdefault("MPLBACKEND", "Agg")
    cmd = [sys.executable, "-m", "pytest", "-p", "swap_plugin", "-c", str(HERE / "pytest.ini"),
           "--rootdir", str(root), "--confcutdir", str(root.parent), "-q", "--no-header",
           "-o", "console_output_style=classic", str(root / MODULES[name]), *extra]
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    return proc.returncode, tail, proc.stderr[-2000:]


def category(rec, review):
    """The record's class, or the reviewed one when the test failed."""
    if rec["category"] not in ("value", "missing", "contract", "harness"):
        return rec["category"]
    test = rec["nodeid"].split("::", 1)[-1]
    entry = review.get(test) or review.get(test.split("[")[0] + "[*]")
    return entry["category"] if entry else rec["category"]


def summarise(records, review, estimator_checks=True):
    counts = collections.Counter()
    for rec in records:
        if not estimator_checks and is_estimator_check(rec):
            continue
        cat = category(rec, review)
        if cat in ("skipped", "xfail", "surface"):
            # xfail: a check nilearn marks as an expected failure of its own estimators
            counts[cat] += 1
            continue
        if not rec.get("reached"):
            counts["not reached"] += 1
            continue
        counts["reached"] += 1
        counts["pass" if cat == "xpass" else cat] += 1
    return counts


def cause(rec):
    """A failure's cause, with the numbers and names that vary between tests removed."""
    import re

    detail = (rec.get("detail") or "").split(" [")[0]
    detail = re.sub(r"Mismatched elements.*", "", detail)
    detail = re.sub(r"0x[0-9a-f]+", "", detail)
    detail = re.sub(r"\(\d[^)]*\)|\[\d[^\]]*\]", "(...)", detail)
    detail = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "N", detail)
    return detail[:160]


def is_estimator_check(rec):
    return "::test_check_estimator" in rec["nodeid"]


def causes(records, review, cat, top=20, estimator_checks=False):
    counter = collections.Counter()
    for rec in records:
        if is_estimator_check(rec) != estimator_checks:
            continue
        if rec.get("reached") and category(rec, review) == cat:
            test = rec["nodeid"].split("::", 1)[-1]
            entry = review.get(test) or review.get(test.split("[")[0] + "[*]")
            counter[f"(reviewed) {entry['reason']}" if entry else cause(rec)] += 1
    return counter.most_common(top)


def table(per_module):
    head = f"| {'module':28} | " + " | ".join(f"{c:>8}" for c in COLUMNS) + " |"
    lines = [head, "|" + "|".join("-" * (len(p) + 0) for p in head.split("|")[1:-1]) + "|"]
    total = collections.Counter()
    for name, counts in per_module.items():
        total.update(counts)
        lines.append(f"| {name:28} | " + " | ".join(f"{counts[c]:>8}" for c in COLUMNS) + " |")
    lines.append(f"| {'total':28} | " + " | ".join(f"{total[c]:>8}" for c in COLUMNS) + " |")
    return "\n".join(lines), total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="+", default=list(MODULES), choices=list(MODULES))
    parser.add_argument("--out", default=str(HERE / "results.jsonl"))
    parser.add_argument("-k", default=None, help="pytest -k expression (to debug one test)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--roidask-src", default=None,
                       help="folder holding the roidask package to measure")
    where.add_argument("--head", action="store_true",
                       help="measure the checkout's HEAD commit (a git archive of roidask/)")
    parser.add_argument("--summarise-only", action="store_true",
                        help="print the tables of the records in --out without running")
    args = parser.parse_args(argv)
    review = load_review()
    src, label = None, "the importable roidask"
    if args.head:
        src, commit = head_snapshot()
        label = f"roidask at commit {commit}"
    elif args.roidask_src:
        src, label = Path(args.roidask_src), f"roidask from {args.roidask_src}"
    import nilearn

    print(f"measuring {label} against nilearn {nilearn.__version__}'s tests", flush=True)
    out = Path(args.out)
    if not args.summarise_only:
        out.unlink(missing_ok=True)
    extra = ["-k", args.k] if args.k else []
    per_module = {}
    per_module_own = {}
    for name in args.modules:
        start = time.perf_counter()
        code, tail, err = (0, [], "") if args.summarise_only else run_module(name, out, extra, src)
        lines = out.read_text().splitlines() if out.exists() else []
        records = [json.loads(line) for line in lines]
        mine = [r for r in records if MODULES[name] in r["nodeid"] or
                r["nodeid"].split("::")[0].endswith(Path(MODULES[name]).name)]
        per_module[name] = summarise(mine, review)
        per_module_own[name] = summarise(mine, review, estimator_checks=False)
        took = time.perf_counter() - start
        print(f"{name}: {len(mine)} tests in {took:.0f} s ({' '.join(tail)})", flush=True)
        if not mine:
            print(err, file=sys.stderr)
    for title, counts in (("all tests", per_module),
                          ("without sklearn/nilearn estimator checks (test_check_estimator_*)",
                           per_module_own)):
        text, total = table(counts)
        print(f"\n{title}\n")
        print(text)
        reached = total["reached"]
        if reached:
            print(f"\n{total['pass']} of {reached} tests that reach roidask pass "
                  f"({100 * total['pass'] / reached:.1f} %); value differences: "
                  f"{total['value']}")
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    for cat in ("missing", "contract", "value", "harness"):
        print(f"\nmost common causes: {cat} (without estimator checks)")
        for text, n in causes(records, review, cat):
            print(f"{n:5}  {text}")
    for cat in ("missing", "contract", "value"):
        print(f"\nmost common causes in the estimator checks: {cat}")
        for text, n in causes(records, review, cat, top=8, estimator_checks=True):
            print(f"{n:5}  {text}")
    print("\nvalue differences, by test:")
    for rec in records:
        if rec.get("reached") and category(rec, review) == "value":
            test = rec["nodeid"].split("::", 1)[-1]
            entry = review.get(test) or review.get(test.split("[")[0] + "[*]")
            module = Path(rec["nodeid"].split("::")[0]).stem
            why = entry["reason"] if entry else (rec.get("detail") or "")[:300]
            print(f"- {module}::{test}: {why}")
    print(f"records: {out}")


if __name__ == "__main__":
    main()
