"""Files written for people (CSV and Excel) that are safe to open in a spreadsheet.

Names in a company's data come from many hands (reps, partners, web forms). A spreadsheet
treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return
before one) as a formula, so an account called ``=HYPERLINK("http://x","y")`` would become a
live link, and ``+cmd|' /C calc'!A0`` a command, in the proposal sales operations opens.
Following OWASP's advice on CSV injection, every text cell that starts with one of those
characters is written with a leading apostrophe, which spreadsheets show as text. Text that
already starts with an apostrophe gets one more, so :func:`read_csv` restores every value
exactly (the round trip between stages keeps the true names). Numbers are written as numbers:
``-2.5`` in a numeric column is not text and is left alone.

Examples
--------
>>> neutralize("=1+1"), neutralize("Acme"), neutralize("'quoted")
("'=1+1", 'Acme', "''quoted")
>>> restore(neutralize("@SUM(A1)"))
'@SUM(A1)'
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: Characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralize(value: object) -> object:
    """``value`` as a spreadsheet shows it as text: a leading apostrophe before a formula
    character (or an apostrophe); anything but text is returned as it is."""
    if isinstance(value, str) and value.startswith((*FORMULA_START, QUOTE)):
        return QUOTE + value
    return value


def restore(value: object) -> object:
    """Undo :func:`neutralize`."""
    if isinstance(value, str) and value.startswith(QUOTE):
        return value[1:]
    return value


def _text_columns(frame: pd.DataFrame) -> list[int]:
    return [
        i
        for i in range(frame.shape[1])
        if not pd.api.types.is_numeric_dtype(frame.iloc[:, i])
        and not pd.api.types.is_datetime64_any_dtype(frame.iloc[:, i])
    ]


def _map_labels(labels: pd.Index, func) -> pd.Index:
    if isinstance(labels, pd.MultiIndex):
        return pd.MultiIndex.from_tuples(
            [tuple(func(v) for v in t) for t in labels], names=labels.names
        )
    if isinstance(labels, pd.RangeIndex):
        return labels
    return pd.Index([func(v) for v in labels], name=labels.name)


def _apply(frame: pd.DataFrame, func) -> pd.DataFrame:
    out = frame.copy()
    for i in _text_columns(out):
        column = out.iloc[:, i]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        out.isetitem(i, column.map(func, na_action="ignore"))
    out.columns = _map_labels(out.columns, func)
    if not isinstance(out.index, pd.RangeIndex):
        out.index = _map_labels(out.index, func)
    return out


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and labels are neutralized for a spreadsheet.

    Examples
    --------
    >>> safe_frame(pd.DataFrame({"name": ["-2+3", "Bo"], "x": [-2.0, 1.0]})).values.tolist()
    [["'-2+3", -2.0], ['Bo', 1.0]]
    """
    return _apply(frame, neutralize)


def restored_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`safe_frame` on a frame read back from a file."""
    return _apply(frame, restore)


def write_csv(frame: pd.DataFrame, path: Path | str, index: bool = False) -> Path:
    """Write ``frame`` as CSV, safe to open in a spreadsheet; returns the path."""
    path = Path(path)
    safe_frame(frame).to_csv(path, index=index)
    return path


def read_csv(path: Path | str) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv`, with every text value as it was.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> frame = pd.DataFrame({"name": ["=1+1", "'x", "Acme"], "n": [-1, 2, 3]})
    >>> read_csv(write_csv(frame, path)).equals(frame)
    True
    """
    return restored_frame(pd.read_csv(path))


def write_typed(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write ``frame`` as Parquet, keeping every column's type (an id ``0012`` stays text, a
    region ``NA`` is not read as missing): the copy later stages read. Text and mixed
    columns are stored as text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    out.attrs = {}  # results may hang models on a table; they are not data
    out.columns = [str(c) for c in out.columns]
    for i in _text_columns(out):
        out.isetitem(i, out.iloc[:, i].astype("string"))
    out.to_parquet(path, index=False)
    return path


def read_typed(path: Path | str) -> pd.DataFrame:
    """Read a frame written by :func:`write_typed`, text columns as pandas' text type.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.parquet")
    >>> frame = pd.DataFrame({"id": ["0012", "NA"], "n": [1.5, -2.0]})
    >>> back = read_typed(write_typed(frame, path))
    >>> back["id"].tolist(), back["n"].tolist()
    (['0012', 'NA'], [1.5, -2.0])
    """
    frame = pd.read_parquet(path)
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.StringDtype):
            frame[col] = frame[col].astype("str")  # as read_csv gives text
        elif pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype("datetime64[ns]")
    return frame


def write_excel(sheets: dict[str, pd.DataFrame], path: Path | str) -> Path:
    """Write one sheet per frame to an Excel workbook, every text cell neutralized as in a
    CSV, so that no cell is a formula (openpyxl stores any text starting with ``=`` as one);
    returns the path."""
    path = Path(path)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            safe_frame(frame).to_excel(xl, sheet_name=name, index=False)
    return path
