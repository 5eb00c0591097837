"""Per-volume metadata tables (Haxby's ``labels.txt``) as coordinates on ``t``.

The file is whitespace-separated with a header row and one row per volume;
a file whose first line looks like a volume's row (a column named by a
number, or every name repeated as a value of its column) is refused as
missing its header line.
Haxby's columns ``labels`` and ``chunks`` become the ``condition`` and
``run`` coordinates; other columns keep their names.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from roidask.grid import new_image
>>> path = os.path.join(tempfile.mkdtemp(), "labels.txt")
>>> _ = open(path, "w").write("labels chunks\\nrest 0\\nface 0\\nface 1\\n")
>>> img = attach_volume_labels(new_image(np.zeros((2, 2, 2, 3)), np.eye(4)), path)
>>> img.sel(t=img.condition == "face").sizes["t"]
2
"""

from pathlib import Path

import numpy as np
import pandas as pd

from roidask.errors import InputFileError
from roidask.grid import TIME_DIM

RENAMES = {"labels": "condition", "chunks": "run"}
EXPECTED_HEADER = "labels chunks"


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_header(path, table):
    """Raise when the header row looks like a data row (a file without its header line).

    A header names the columns: a name that is a number, or every name also
    appearing as a value of its own column, means the first line is a volume's row.
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        first = next((line.strip() for line in f if line.strip()), "")
    names = first.split()
    numeric = any(_is_number(name) for name in names)
    repeated = len(table) > 0 and len(names) == table.shape[1] and all(
        name in set(table.iloc[:, i].astype(str)) for i, name in enumerate(names)
    )
    if numeric or repeated:
        raise InputFileError(
            path, f"has no header line: its first line {first!r} looks like a volume's row",
            f"add a first line naming the columns, e.g. {EXPECTED_HEADER!r} (Haxby's; "
            "'labels' becomes the condition coordinate, 'chunks' the run)",
        )


def read_volume_labels(path, n_volumes=None):
    """Read a labels table; check its row count against ``n_volumes``."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such labels file", "check the path")
    try:
        table = pd.read_csv(path, sep=r"\s+", dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputFileError(
            path, f"is not a whitespace-separated table with a header row ({err})"
        ) from None
    if table.shape[1] == 0:
        raise InputFileError(path, "has no columns", "its first row must name the columns")
    _check_header(path, table)
    if n_volumes is not None and len(table) != n_volumes:
        raise InputFileError(
            path, f"has {len(table)} rows but the image has {n_volumes} volumes",
            "give the labels file that belongs to this image (one row per volume)",
        )
    table = table.rename(columns=RENAMES)
    for column in table.columns:
        numeric = pd.to_numeric(table[column], errors="coerce")
        if numeric.notna().all():
            table[column] = numeric
    return table


def attach_volume_labels(img, labels):
    """Add each column of a labels table (path or DataFrame) as a ``t`` coordinate."""
    if TIME_DIM not in img.dims:
        raise InputFileError(
            getattr(labels, "name", labels), "labels were given for a 3D image",
            "per-volume labels need a 4D image",
        )
    n_volumes = img.sizes[TIME_DIM]
    if isinstance(labels, pd.DataFrame):
        table = labels
        if len(table) != n_volumes:
            raise InputFileError(
                "labels", f"has {len(table)} rows but the image has {n_volumes} volumes"
            )
    else:
        table = read_volume_labels(labels, n_volumes)
    coords = {}
    for column in table.columns:
        values = table[column].to_numpy()
        if values.dtype == object:
            values = values.astype(str)
        coords[str(column)] = (TIME_DIM, np.asarray(values))
    return img.assign_coords(coords)
