"""``roidask demo``: synthetic data, the ROI workflow, and a score against the truth.

Writes Haxby-shaped synthetic data with planted face- and house-selective
regions, runs the shipped ``roi_extraction`` config on the given cluster, and
measures how well the regions it finds match the planted ones (Dice).
"""

import json
from importlib import resources
from pathlib import Path

import nibabel as nib
import numpy as np

from roidask.datasets import make_haxby_like
from roidask.pipeline.config import load_config, validate_config
from roidask.pipeline.runner import run_pipeline

DEMO_CONFIG = "roi_extraction.yaml"
CONTRASTED = ("face", "house")


def shipped_config(name):
    """Path of a config shipped with roidask."""
    return Path(resources.files("roidask.pipeline") / "configs" / name)


def dice(found, truth):
    """Dice coefficient of two boolean arrays.

    Examples
    --------
    >>> dice(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]))
    0.6666666666666666
    """
    found, truth = np.asarray(found, bool), np.asarray(truth, bool)
    total = found.sum() + truth.sum()
    return 1.0 if total == 0 else float(2 * (found & truth).sum() / total)


def ensure_data(folder, size, echo):
    """Synthetic data in ``folder`` (made once per size)."""
    marker = folder / "dataset.json"
    if marker.exists() and json.loads(marker.read_text()).get("size") == size:
        return
    echo(f"writing synthetic {size} data to {folder} ...")
    data = make_haxby_like(folder, size=size)
    marker.write_text(json.dumps({"size": size, "shape": data.shape,
                                  "n_volumes": data.n_volumes}))


def score(labels_path, data_dir):
    """Dice of the found ROIs with the planted face and house regions."""
    labels = np.asarray(nib.load(labels_path).dataobj)
    planted = {c: np.asarray(nib.load(data_dir / f"planted_{c}.nii.gz").dataobj) > 0
               for c in CONTRASTED}
    scores = {"+".join(CONTRASTED): dice(labels > 0, planted["face"] | planted["house"])}
    for category, truth in planted.items():
        touching = np.setdiff1d(np.unique(labels[truth]), [0])
        scores[category] = dice(np.isin(labels, touching), truth)
    return scores


def run_demo(output_dir, client, *, size="haxby", force=False, echo=print):
    """Make data, run ``roi_extraction``; return (summary, Dice scores).

    ``client`` is a client factory, as for :func:`roidask.pipeline.runner.run_pipeline`.
    """
    output_dir = Path(output_dir)
    data_dir = output_dir / "data"
    ensure_data(data_dir, size, echo)
    raw = load_config(shipped_config(DEMO_CONFIG), check_files=False).raw
    results = output_dir / "roi_extraction"
    config = validate_config(raw, base_dir=data_dir, output_root=results)
    echo(f"running {DEMO_CONFIG} on a dask cluster ...")
    summary = run_pipeline(config, results, client, force=force)
    scores = {} if summary.failed else score(results / "roi_labels.nii.gz", data_dir)
    return summary, scores
