"""Synthetic fMRIPrep-shaped derivatives, for tests and examples.

:func:`make_fmriprep_like` writes a BIDS derivatives tree as fMRIPrep 23+
does: ``dataset_description.json``; per run a ``desc-preproc_bold.nii.gz``
(written volume by volume, so a large study is made in bounded memory), a
``desc-brain_mask.nii.gz``, a ``desc-confounds_timeseries.tsv`` with
fMRIPrep's column names (``n/a`` in the first row of derivatives, FD and
DVARS) and its ``.json`` sidecar with CompCor metadata; and a raw dataset
beside it (``raw/``) holding each run's ``_events.tsv``. Motion has spikes,
so scrubbing removes volumes.
"""

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from roidask.errors import ParameterError

SPACE = "MNI152NLin2009cAsym"
TR = 2.0


def _expand(table, names, nan_first):
    for name in names:
        deriv = np.r_[np.nan, np.diff(table[name])]
        table[f"{name}_derivative1"] = deriv
        table[f"{name}_power2"] = table[name] ** 2
        table[f"{name}_derivative1_power2"] = deriv ** 2
    return table


def _confounds(n, rng, spikes, n_acompcor, n_tcompcor, n_cosine):
    t = {}
    drift = np.cumsum(rng.normal(0, 0.02, (n, 6)), axis=0)
    jumps = np.zeros((n, 6))
    jumps[spikes] = rng.normal(0, 0.8, (len(spikes), 6))
    motion = drift + np.cumsum(jumps, axis=0) * 0.5 + jumps
    for i, name in enumerate(("trans_x", "trans_y", "trans_z")):
        t[name] = motion[:, i]
    for i, name in enumerate(("rot_x", "rot_y", "rot_z")):
        t[name] = motion[:, 3 + i] * 0.02
    for name in ("global_signal", "csf", "white_matter", "csf_wm"):
        t[name] = 500 + rng.normal(0, 5, n).cumsum() * 0.1 + rng.normal(0, 2, n)
    table = pd.DataFrame(t)
    table = _expand(table, ["global_signal", "csf", "white_matter", "csf_wm"], True)
    table = _expand(table, ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"], True)
    diffs = np.abs(np.diff(motion[:, :3], axis=0)).sum(1) + 50 * np.abs(
        np.diff(motion[:, 3:] * 0.02, axis=0)).sum(1)
    table["framewise_displacement"] = np.r_[np.nan, diffs]
    dvars = 20 + rng.normal(0, 1, n - 1) + 15 * (diffs > 0.5)
    table["dvars"] = np.r_[np.nan, dvars]
    table["std_dvars"] = np.r_[np.nan, dvars / 18.0]
    table["rmsd"] = np.r_[np.nan, diffs * 0.7]
    table["tcompcor"] = rng.normal(0, 1, n)
    meta = {}
    comps = {"c": ("CSF", n_acompcor), "w": ("WM", n_acompcor), "a": ("combined", n_acompcor)}
    for prefix, (mask, count) in comps.items():
        cum = np.cumsum(np.sort(rng.dirichlet(np.ones(count + 3)))[::-1])
        for i in range(count + 2):  # the last ones are dropped components
            name = f"{prefix}_comp_cor_{i:02d}"
            retained = i < count
            if retained:
                table[name] = rng.normal(0, 0.05, n)
            meta[name if retained else f"dropped_{prefix}{i}"] = {
                "CumulativeVarianceExplained": float(cum[i]), "Mask": mask,
                "Method": "aCompCor", "Retained": retained,
                "SingularValue": float(10.0 / (i + 1)),
                "VarianceExplained": float(cum[i] - (cum[i - 1] if i else 0))}
    cum = np.cumsum(np.sort(rng.dirichlet(np.ones(n_tcompcor + 1)))[::-1])
    for i in range(n_tcompcor):
        table[f"t_comp_cor_{i:02d}"] = rng.normal(0, 0.05, n)
        meta[f"t_comp_cor_{i:02d}"] = {
            "CumulativeVarianceExplained": float(cum[i]), "Method": "tCompCor",
            "Retained": True, "SingularValue": float(8.0 / (i + 1)),
            "VarianceExplained": float(cum[i] - (cum[i - 1] if i else 0))}
    frames = np.arange(n) * TR
    for k in range(n_cosine):
        phase = np.pi * (k + 1) * (frames / TR + 0.5) / n
        table[f"cosine{k:02d}"] = np.sqrt(2.0 / n) * np.cos(phase)
    table["non_steady_state_outlier00"] = (np.arange(n) == 0).astype(int)
    fd = table["framewise_displacement"].to_numpy()
    outliers = np.where((fd > 0.5) | (table["std_dvars"].to_numpy() > 1.5))[0]
    for i, v in enumerate(outliers):
        table[f"motion_outlier{i:02d}"] = (np.arange(n) == v).astype(int)
    return table, meta


def _write_bold(path, affine, shape, n_volumes, volumes):
    """Write a float32 4D ``.nii.gz`` volume by volume: one volume in memory at a time."""
    header = nib.Nifti1Header()
    header.set_data_dtype(np.float32)
    header.set_data_shape(tuple(shape) + (n_volumes,))
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_xyzt_units("mm", "sec")
    header["pixdim"][4] = TR
    header["vox_offset"] = 352
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header.binaryblock + b"\0" * 4)  # no extensions
        for volume in volumes:
            f.write(np.asarray(volume, dtype="<f4").tobytes(order="F"))


def make_fmriprep_like(root, subjects=3, task="rest", runs=1, sessions=None, shape=(10, 12, 8),
                       n_volumes=60, n_spikes=3, n_acompcor=5, n_tcompcor=3, n_cosine=3,
                       seed=0, raw=True):
    """Write an fMRIPrep-shaped derivatives tree (and a raw dataset with events).

    Parameters
    ----------
    root : str or path
        Folder to create; derivatives go in ``root/derivatives/fmriprep``,
        the raw dataset (``events.tsv``) in ``root/raw``.
    subjects : int or list of str
        Number of subjects (labelled ``01``, ``02``, ...) or their labels.
    task : str
        Task label.
    runs : int
        Runs per subject (``run-1`` ...; no run entity when 1).
    sessions : list of str or None
        Session labels, or None for no session level.
    shape : tuple of int
        Voxel grid of each run (small; 2 mm voxels in MNI-like space).
    n_volumes : int
        Volumes per run.
    n_spikes : int
        Motion spikes per run (volumes scrubbing removes).
    n_acompcor, n_tcompcor, n_cosine : int
        Retained aCompCor components per mask, tCompCor components, cosines.
    seed : int
        Random seed.
    raw : bool
        Also write the raw dataset with ``_events.tsv`` files.

    Returns
    -------
    pathlib.Path
        The derivatives folder (``root/derivatives/fmriprep``).

    Examples
    --------
    >>> import tempfile
    >>> deriv = make_fmriprep_like(tempfile.mkdtemp(), subjects=1, n_volumes=20, shape=(4, 4, 3))
    >>> sorted(p.name for p in deriv.rglob("*.tsv"))
    ['sub-01_task-rest_desc-confounds_timeseries.tsv']
    """
    if n_volumes < 10 or min(shape) < 2:
        raise ParameterError("n_volumes/shape", "at least 10 volumes and 2 voxels a side",
                             (n_volumes, shape))
    root = Path(root)
    deriv = root / "derivatives" / "fmriprep"
    labels = ([f"{i + 1:02d}" for i in range(subjects)] if isinstance(subjects, int)
              else list(subjects))
    rng = np.random.default_rng(seed)
    deriv.mkdir(parents=True, exist_ok=True)
    (deriv / "dataset_description.json").write_text(json.dumps({
        "Name": "roidask synthetic fMRIPrep derivatives", "BIDSVersion": "1.9.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "fMRIPrep", "Version": "23.2.0"}]}, indent=2))
    if raw:
        (root / "raw").mkdir(parents=True, exist_ok=True)
        (root / "raw" / "dataset_description.json").write_text(json.dumps({
            "Name": "roidask synthetic raw", "BIDSVersion": "1.9.0", "DatasetType": "raw"}))
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = -np.array(shape) + 1.0
    grid = np.indices(shape).transpose(1, 2, 3, 0) - (np.array(shape) - 1) / 2
    brain = ((grid / (np.array(shape) / 2.0)) ** 2).sum(-1) <= 1.0
    for sub in labels:
        for ses in (sessions or [None]):
            for run in range(1, runs + 1):
                ents = [f"sub-{sub}"] + ([f"ses-{ses}"] if ses else []) + [f"task-{task}"]
                ents += [f"run-{run}"] if runs > 1 else []
                rel = Path(f"sub-{sub}") / (f"ses-{ses}" if ses else "") / "func"
                stem = "_".join(ents)
                folder = deriv / rel
                folder.mkdir(parents=True, exist_ok=True)
                spikes = np.sort(rng.choice(np.arange(5, n_volumes - 2), n_spikes, replace=False))
                table, meta = _confounds(n_volumes, rng, spikes, n_acompcor, n_tcompcor, n_cosine)
                base = 800 + 200 * rng.random(shape)
                prefix = folder / f"{stem}_space-{SPACE}"
                _write_bold(f"{prefix}_desc-preproc_bold.nii.gz", affine, shape, n_volumes,
                            (brain * (base[..., None] + rng.normal(0, 10, shape + (1,))
                                      + 5 * motion)[..., 0]
                             for motion in table["trans_x"].to_numpy()))
                (folder / f"{prefix.name}_desc-preproc_bold.json").write_text(
                    json.dumps({"RepetitionTime": TR, "TaskName": task, "SkullStripped": True}))
                nib.save(nib.Nifti1Image(brain.astype(np.uint8), affine),
                         f"{prefix}_desc-brain_mask.nii.gz")
                conf = folder / f"{stem}_desc-confounds_timeseries"
                table.to_csv(f"{conf}.tsv", sep="\t", index=False, na_rep="n/a")
                Path(f"{conf}.json").write_text(json.dumps(meta, indent=2))
                if raw:
                    raw_folder = root / "raw" / rel
                    raw_folder.mkdir(parents=True, exist_ok=True)
                    onsets = np.arange(0, n_volumes * TR - 10, 10.0)
                    pd.DataFrame({"onset": onsets, "duration": 10.0,
                                  "trial_type": np.resize(["face", "house"], onsets.size)}).to_csv(
                        raw_folder / f"{stem}_events.tsv", sep="\t", index=False)
    return deriv


def make_synthetic_atlas(folder, voxel_size=4.0, extent=48.0):
    """Write ``atlas-synth_dseg.nii.gz`` and its ``.tsv``: 8 octants around the origin.

    An integer label image in the space of :func:`make_fmriprep_like`
    (millimetres, origin at the centre of the brain): label ``1 + x>0 +
    2 (y>0) + 4 (z>0)``, named in a BIDS look-up table (``index``, ``name``),
    on a grid of ``voxel_size`` mm covering ``[-extent, extent]`` mm.

    Examples
    --------
    >>> import tempfile
    >>> nii, tsv = make_synthetic_atlas(tempfile.mkdtemp())
    >>> pd.read_csv(tsv, sep="\\t")["name"].tolist()[:2]
    ['left_posterior_inferior', 'right_posterior_inferior']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = int(round(2 * extent / voxel_size))
    centres = -extent + voxel_size / 2 + voxel_size * np.arange(n)
    x, y, z = np.meshgrid(centres, centres, centres, indexing="ij")
    labels = (1 + (x > 0) + 2 * (y > 0) + 4 * (z > 0)).astype(np.int16)
    affine = np.diag([voxel_size] * 3 + [1.0])
    affine[:3, 3] = centres[0]
    nii = folder / "atlas-synth_dseg.nii.gz"
    nib.save(nib.Nifti1Image(labels, affine), nii)
    names = [f"{'right' if i & 1 else 'left'}_{'anterior' if i & 2 else 'posterior'}_"
             f"{'superior' if i & 4 else 'inferior'}" for i in range(8)]
    tsv = folder / "atlas-synth_dseg.tsv"
    pd.DataFrame({"index": np.arange(1, 9), "name": names}).to_csv(tsv, sep="\t", index=False)
    return nii, tsv
