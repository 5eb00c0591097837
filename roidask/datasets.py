"""Synthetic fMRI data with known ground truth, shaped like real studies.

:func:`make_haxby_like` writes a 4D int16 ``.nii.gz`` run set shaped like
the Haxby 2001 dataset (40x64x64 voxels of 3.5x3.75x3.75 mm, 12 runs of 121
volumes, TR 2.5 s, 8 categories + rest), a labels file in Haxby's format, a
ventral-temporal (VT) mask and one planted region per category. Each planted
region responds to its own category only, so a face-vs-house t-test finds
exactly the face and house regions.

The image is built as a lazy dask array, one time block per task, each with
its own random seed, and written by the streaming NIfTI writer: sizes larger
than memory (``size="large"`` or any ``shape``/``n_volumes``) write in bounded
memory, and on a distributed cluster the blocks are generated in parallel.

Examples
--------
>>> import tempfile
>>> data = make_haxby_like(tempfile.mkdtemp(), size="tiny")
>>> data.shape, data.n_volumes, data.categories[:2]
((12, 16, 16), 242, ('face', 'house'))
"""

import dataclasses
from pathlib import Path

import dask.array as da
import numpy as np

from roidask.errors import ParameterError
from roidask.grid import new_image
from roidask.io.nifti_write import to_nifti

CATEGORIES = ("face", "house", "cat", "bottle", "scissors", "shoe", "chair", "scrambledpix")
REST = "rest"
VOLUMES_PER_RUN = 121
BASELINE = 1000.0
NOISE_SD = 20.0

SIZES = {
    # name: (shape, voxel size mm, runs, volumes per run, TR s, response)
    # response: fractional signal change of a planted region for its category;
    # 0.4 % is BOLD-like, and the small presets get more to make up for fewer volumes
    "tiny": ((12, 16, 16), (7.0, 7.5, 7.5), 2, VOLUMES_PER_RUN, 2.5, 0.03),
    "small": ((20, 32, 32), (7.0, 7.5, 7.5), 4, VOLUMES_PER_RUN, 2.5, 0.02),
    "haxby": ((40, 64, 64), (3.5, 3.75, 3.75), 12, VOLUMES_PER_RUN, 2.5, 0.004),
    "hcp": ((91, 109, 91), (2.0, 2.0, 2.0), 10, 120, 0.72, 0.004),
    "large": ((91, 109, 91), (2.0, 2.0, 2.0), 80, 120, 0.72, 0.004),
}


@dataclasses.dataclass(frozen=True)
class SyntheticDataset:
    """Paths of a synthetic dataset and its ground truth."""

    func: Path
    labels: Path
    vt_mask: Path
    planted: dict
    atlas: Path
    atlas_names: tuple
    shape: tuple
    n_volumes: int
    t_r: float
    categories: tuple = CATEGORIES


def _design(n_runs, volumes_per_run, rng):
    """Condition of each volume: per run, rest then 8 shuffled category blocks."""
    block = 9 if volumes_per_run >= 121 else max(2, volumes_per_run // 14)
    gap = max(1, (volumes_per_run - len(CATEGORIES) * block) // (len(CATEGORIES) + 1))
    conditions, runs = [], []
    for run in range(n_runs):
        run_conditions = [REST] * volumes_per_run
        position = gap
        for category in rng.permutation(CATEGORIES):
            run_conditions[position:position + block] = [category] * block
            position += block + gap
        conditions += run_conditions[:volumes_per_run]
        runs += [run] * volumes_per_run
    return np.array(conditions), np.array(runs)


def _ellipsoid(shape, center, radii):
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    dist = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, center, radii))
    return dist <= 1.0


def _anatomy(shape):
    """Brain mask, VT mask and one planted region per category (voxel masks)."""
    n = np.asarray(shape, dtype=float)
    brain = _ellipsoid(shape, n / 2 - 0.5, n * 0.42)
    vt = np.zeros(shape, bool)
    sides = (0.3, 0.7)
    for side in sides:  # two ventral-temporal ellipsoids, one per hemisphere
        vt |= _ellipsoid(shape, n * (side, 0.4, 0.3), n * (0.14, 0.22, 0.12))
    vt &= brain
    radius = np.maximum(n * (0.11, 0.05, 0.1), 1.2)
    spots = [(side, y) for y in (0.35, 0.46, 0.24, 0.57) for side in sides[::-1]]
    planted = {}
    for category, (side, y) in zip(CATEGORIES, spots):
        planted[category] = _ellipsoid(shape, n * (side, y, 0.3), radius) & vt
    return brain, vt, planted


def _atlas(brain, planted, blocks=(3, 3, 2)):
    """Labels: the planted regions 1..8, then the rest of the brain cut into blocks."""
    atlas = np.zeros(brain.shape, np.int16)
    names = []
    for value, (category, region) in enumerate(planted.items(), start=1):
        atlas[region] = value
        names.append(f"planted_{category}")
    edges = [np.linspace(0, n, b + 1).astype(int) for n, b in zip(brain.shape, blocks)]
    value = len(names)
    for a0, a1 in zip(edges[0][:-1], edges[0][1:]):
        for b0, b1 in zip(edges[1][:-1], edges[1][1:]):
            for c0, c1 in zip(edges[2][:-1], edges[2][1:]):
                block = np.zeros_like(brain)
                block[a0:a1, b0:b1, c0:c1] = True
                block &= brain & (atlas == 0)
                if block.any():
                    value += 1
                    atlas[block] = value
                    names.append(f"block_{a0}_{b0}_{c0}")
    return atlas, tuple(names)


def _haxby_affine(shape, voxel):
    """Affine with a flipped x axis and the origin at the volume center, like Haxby's."""
    affine = np.diag([-voxel[0], voxel[1], voxel[2], 1.0])
    affine[:3, 3] = -affine[:3, :3] @ ((np.asarray(shape) - 1) / 2.0)
    return affine


def _block_values(block_info, brain, planted, conditions, seed, response):
    """Voxel values of one time block: baseline + planted responses + noise."""
    start, stop = block_info[None]["array-location"][3]
    rng = np.random.default_rng([seed, start])
    count = stop - start
    baseline = np.where(brain, BASELINE, 50.0).astype(np.float32)
    values = np.repeat(baseline[..., None], count, axis=3)
    values += rng.standard_normal(values.shape, dtype=np.float32) * NOISE_SD
    for category, region in planted.items():
        for volume in np.flatnonzero(conditions[start:stop] == category):
            values[..., volume][region] += BASELINE * response  # in place, one volume
    return np.clip(np.rint(values), -32768, 32767).astype(np.int16)


def make_haxby_like(out_dir, *, size="haxby", shape=None, n_volumes=None, subject=0, seed=0,
                    compressed=True):
    """Write a Haxby-shaped synthetic dataset with planted regions.

    Parameters
    ----------
    out_dir : str or Path
        Folder for the files (created if needed).
    size : {"tiny", "small", "haxby", "hcp", "large"}
        Preset shape and volume count; "large" is ~95 GB uncompressed.
    shape : tuple of 3 ints, optional
        Overrides the preset's volume shape.
    n_volumes : int, optional
        Overrides the preset's number of volumes (runs of 121 volumes).
    subject, seed : int
        Subject number (changes the noise and block order) and base seed.
    compressed : bool
        Write ``func.nii.gz`` (default) or an uncompressed ``func.nii``.

    Returns
    -------
    SyntheticDataset
        Paths of ``func.nii.gz``, ``labels.txt``, ``vt_mask.nii.gz`` and the
        planted region masks ``planted_<category>.nii.gz``, an atlas
        ``atlas.nii.gz`` (the planted regions 1-8, then blocks of the rest of
        the brain) with its region names, plus shape, volume count and TR.

    Examples
    --------
    >>> import tempfile, roidask
    >>> data = make_haxby_like(tempfile.mkdtemp(), size="tiny")
    >>> img = roidask.load_img(data.func, labels=data.labels)
    >>> int((img.condition == "face").sum())
    18
    """
    if size not in SIZES:
        raise ParameterError("size", f"one of {sorted(SIZES)}", size)
    preset_shape, voxel, n_runs, per_run, t_r, response = SIZES[size]
    shape = tuple(int(n) for n in (shape or preset_shape))
    if len(shape) != 3 or min(shape) < 8:
        raise ParameterError("shape", "3 sizes of at least 8 voxels", shape)
    if n_volumes is not None:
        if int(n_volumes) < 2:
            raise ParameterError("n_volumes", "at least 2", n_volumes)
        n_runs = max(1, -(-int(n_volumes) // per_run))
    total = int(n_volumes) if n_volumes is not None else n_runs * per_run
    rng = np.random.default_rng([seed, subject])
    conditions, runs = _design(n_runs, per_run, rng)
    conditions, runs = conditions[:total], runs[:total]
    brain, vt, planted = _anatomy(shape)
    affine = _haxby_affine(shape, voxel)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    volume_bytes = int(np.prod(shape)) * 4
    per_block = max(1, min(total, (32 * 2**20) // volume_bytes))
    data = da.map_blocks(
        _block_values, brain=brain, planted=planted, conditions=conditions,
        seed=int(rng.integers(2**31)), response=response, dtype=np.int16,
        chunks=tuple((n,) for n in shape) + (da.core.normalize_chunks(per_block, (total,))[0],),
    )
    func = out_dir / ("func.nii.gz" if compressed else "func.nii")
    header = {"xyz_units": "mm", "t_r": t_r}
    to_nifti(new_image(data, affine, header=header), func)

    labels = out_dir / "labels.txt"
    lines = ["labels chunks"] + [f"{c} {r}" for c, r in zip(conditions, runs)]
    labels.write_text("\n".join(lines) + "\n")
    vt_path = out_dir / "vt_mask.nii.gz"
    to_nifti(new_image(vt.astype(np.uint8), affine), vt_path)
    planted_paths = {}
    for category, region in planted.items():
        planted_paths[category] = out_dir / f"planted_{category}.nii.gz"
        to_nifti(new_image(region.astype(np.uint8), affine), planted_paths[category])
    atlas, names = _atlas(brain, planted)
    atlas_path = out_dir / "atlas.nii.gz"
    to_nifti(new_image(atlas, affine), atlas_path)
    (out_dir / "atlas_names.txt").write_text("\n".join(names) + "\n")
    return SyntheticDataset(func, labels, vt_path, planted_paths, atlas_path, names, shape,
                            total, t_r)
