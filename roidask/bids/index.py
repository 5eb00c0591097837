"""Find the runs of a BIDS (fMRIPrep derivatives) dataset, with bids2table.

bids2table parses every file name by the BIDS schema into an Arrow table (one
row per data file, one column per entity); :func:`find_runs` filters it by
entities and pairs each preprocessed BOLD run with its brain mask, confounds
and (from the raw dataset) events, by the BIDS inheritance of entities.
"""

from pathlib import Path

import pandas as pd

from roidask.errors import InputFileError, ParameterError

ENTITIES = ("sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "echo", "space", "res", "den")


def _index(root):
    from bids2table import index_dataset

    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "no such BIDS dataset folder", "give the dataset's root")
    table = index_dataset(root).to_pandas()
    table["file"] = [str(Path(r) / p) for r, p in zip(table["root"], table["path"])]
    return table.astype({"run": "Int64"}) if "run" in table else table


def _as_list(value):
    return None if value is None else [value] if isinstance(value, (str, int)) else list(value)


def _select(table, column, value):
    values = _as_list(value)
    if values is None:
        return table
    if column == "run":
        return table[table[column].isin([int(v) for v in values])]
    return table[table[column].isin([str(v) for v in values])]


def _match(rows, entities, **fixed):
    """Files (row dicts) sharing ``entities`` (a missing entity in the file is
    inherited) and ``fixed``; the most specific (fewest inherited entities) win."""
    wanted = {k: v for k, v in entities.items() if v is not None}
    found = [r for r in rows if all(r.get(k) == v for k, v in fixed.items())
             and all(r.get(k) is None or r.get(k) == v for k, v in wanted.items())]
    if len(found) > 1:
        inherited = [sum(r.get(k) is None for k in wanted) for r in found]
        found = [r for r, n in zip(found, inherited) if n == min(inherited)]
    return sorted(r["file"] for r in found)


def _by_subject(table):
    """A function giving the files (row dicts, None for a missing entity) of one
    subject and those without a subject (inherited by all), so matching a run's
    files looks at its subject's files only."""
    columns = [c for c in (*ENTITIES, "desc", "suffix", "ext", "file") if c in table]
    rows = [{k: (None if pd.isna(v) else int(v) if k == "run" else v) for k, v in row.items()}
            for row in table[columns].to_dict("records")]
    groups = {}
    for row in rows:
        groups.setdefault(row.get("sub"), []).append(row)
    shared = groups.pop(None, [])
    return lambda sub: groups.get(sub, []) + shared


def find_runs(root, task=None, space=None, desc="preproc", session=None, run=None,
              subjects="all", raw_root=None):
    """Per-run records of a BIDS derivatives dataset, matched by entities.

    Parameters
    ----------
    root : str or path
        fMRIPrep derivatives dataset (holding ``dataset_description.json``).
    task, space, session, run : str, int, list or None
        Keep only these entity values (None keeps all).
    desc : str
        ``desc`` of the BOLD images (``preproc`` for fMRIPrep).
    subjects : "all" or list of str
        Subject labels (without ``sub-``).
    raw_root : str or path or None
        Raw BIDS dataset holding the ``_events.tsv`` files (events are also
        looked for in ``root``).

    Returns
    -------
    list of dict
        One per BOLD run, sorted by file: ``entities`` (non-empty entities of
        the run), ``bold``, ``mask``, ``confounds``, ``confounds_json`` and
        ``events`` (paths as str, or None when absent).

    Examples
    --------
    >>> import tempfile
    >>> from roidask.bids.synthetic import make_fmriprep_like
    >>> top = tempfile.mkdtemp()
    >>> deriv = make_fmriprep_like(top, subjects=2, n_volumes=12, shape=(3, 3, 2))
    >>> runs = find_runs(deriv, task="rest", subjects=["02"], raw_root=f"{top}/raw")
    >>> [r["entities"]["sub"] for r in runs], Path(runs[0]["events"]).name
    (['02'], 'sub-02_task-rest_events.tsv')
    """
    table = _index(root)
    events_table = table if raw_root is None else _index(raw_root)
    return runs_of(table, events_table, task=task, space=space, desc=desc, session=session,
                   run=run, subjects=subjects)


def runs_of(table, events_table, task=None, space=None, desc="preproc", session=None, run=None,
            subjects="all"):
    """:func:`find_runs` on index tables already made (``_index``) of the dataset and events."""
    if subjects != "all":
        if isinstance(subjects, str):
            raise ParameterError("subjects", '"all" or a list of labels', subjects)
        subjects = [s.removeprefix("sub-") for s in subjects]
    bold = table[(table["suffix"] == "bold") & (table["ext"] == ".nii.gz")
                 & (table["desc"] == desc)]
    for column, value in (("task", task), ("space", space), ("ses", session), ("run", run),
                          ("sub", None if subjects == "all" else subjects)):
        bold = _select(bold, column, value)
    records = []
    of_subject = _by_subject(table)
    events_of_subject = of_subject if events_table is table else _by_subject(events_table)
    for _, row in bold.sort_values("file").iterrows():
        entities = {k: (int(row[k]) if k == "run" else row[k])
                    for k in ENTITIES if k in row and pd.notna(row[k])}
        base = {k: v for k, v in entities.items() if k != "space"}
        files, events_files = of_subject(row["sub"]), events_of_subject(row["sub"])

        def one(files, what, row=row):
            if len(files) > 1:
                raise InputFileError(row["file"], f"more than one {what} matches: {files}")
            return files[0] if files else None

        mask = one(_match(files, entities, suffix="mask", desc="brain", ext=".nii.gz"), "mask")
        conf = one(_match(files, base, suffix="timeseries", desc="confounds", ext=".tsv"),
                   "confounds file")
        raw_entities = {k: v for k, v in base.items() if k not in ("res", "den")}
        events = one(_match(events_files, raw_entities, suffix="events", ext=".tsv"),
                     "events file")
        json_file = None if conf is None else conf[: -len(".tsv")] + ".json"
        records.append({"entities": entities, "bold": row["file"], "mask": mask,
                        "confounds": conf,
                        "confounds_json": (json_file if json_file and Path(json_file).is_file()
                                           else None),
                        "events": events})
    return records
