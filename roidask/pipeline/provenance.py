"""What a pipeline run records beside its outputs, and when a rerun can skip.

``provenance.json`` holds the versions of roidask and its engine, the
resolved config, a fingerprint of every input (size, modification time and
a hash of its first and last MiB; for a zarr store, the name, size and
modification time of every chunk file and a hash of its metadata), timings,
a key made from all of these, and a fingerprint of every output it wrote.

A run removes the old ``provenance.json`` before it replaces a single
output and writes the new one last: a run interrupted anywhere leaves
either the complete earlier set with its provenance, or no provenance, and
the next run redoes the work. A subject is up to date only when its key
matches and every output still has the fingerprint recorded when it was
written, so an output changed, replaced or removed since is redone.
"""

import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path

from roidask.io.atomic import atomic_output

PROVENANCE = "provenance.json"
PACKAGES = ("roidask", "dask", "distributed", "xarray", "zarr", "nibabel", "numpy", "scipy")
EDGE_BYTES = 2**20


def versions():
    """Versions of Python and the packages a result depends on."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


METADATA_FILES = ("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata")


def _is_metadata(name):
    return name in METADATA_FILES or name.endswith(".json")


def store_fingerprint(path):
    """Every file of a store (zarr): its name, size and mtime, and its metadata's bytes.

    Only the metadata files are read, so this costs one ``stat`` per chunk
    file: a chunk rewritten, added or removed changes the fingerprint.
    """
    path = Path(path)
    listing, metadata = hashlib.sha256(), hashlib.sha256()
    files = total = 0
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            relative = os.path.relpath(full, path)
            stat = os.stat(full)
            listing.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            files, total = files + 1, total + stat.st_size
            if _is_metadata(name):
                with open(full, "rb") as f:
                    metadata.update(relative.encode() + b"\0" + f.read())
    return {"path": str(path), "files": files, "size": total,
            "sha256_listing": listing.hexdigest(), "sha256_metadata": metadata.hexdigest()}


def fingerprint(path):
    """Size, mtime and a hash of the first and last MiB of a file; see also stores."""
    path = Path(path)
    if path.is_dir():
        return store_fingerprint(path)
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(EDGE_BYTES))
        if stat.st_size > EDGE_BYTES:
            f.seek(max(EDGE_BYTES, stat.st_size - EDGE_BYTES))
            digest.update(f.read(EDGE_BYTES))
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "sha256_edges": digest.hexdigest()}


def run_key(resolved_config, fingerprints):
    """A hash of everything that determines a subject's outputs."""
    payload = json.dumps({"config": resolved_config, "inputs": fingerprints,
                          "roidask": versions().get("roidask")}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def read_provenance(folder, name=PROVENANCE):
    """The provenance record in ``folder`` (file ``name``), or None."""
    path = Path(folder) / name
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def output_fingerprints(folder, output_paths):
    """Fingerprints of outputs, by path relative to ``folder`` (without the path itself)."""
    found = {}
    for path in output_paths:
        path = Path(path)
        print_ = fingerprint(path)
        print_.pop("path")
        found[path.relative_to(folder).as_posix()] = print_
    return found


def up_to_date(folder, key, output_paths, name=PROVENANCE):
    """Whether ``folder`` holds the outputs made with ``key``, unchanged since."""
    record = read_provenance(folder, name)
    if not record or record.get("key") != key or not isinstance(record.get("output_files"), dict):
        return False
    if not all(Path(p).exists() for p in output_paths):
        return False
    try:
        return output_fingerprints(folder, output_paths) == record["output_files"]
    except OSError:
        return False


def invalidate(folder, name=PROVENANCE):
    """Remove ``folder``'s provenance: its outputs are about to be replaced."""
    try:
        (Path(folder) / name).unlink()
    except FileNotFoundError:
        pass


def write_provenance(folder, record, name=PROVENANCE):
    """Write ``provenance.json`` (or ``name``) atomically."""
    with atomic_output(Path(folder) / name) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
