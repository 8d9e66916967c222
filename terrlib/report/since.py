"""Since last quarter: what changed against the previous quarter's report, read from the two
quarters' processed files (balance, attainment, ratings, and whether last quarter's proposed
moves were made in the CRM).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> since_last_quarter(root / "2026Q3", root / "2026Q2", "2026Q3", "2026Q2") is None
True
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from terrlib.results import Result, format_table

#: The labels stage 5 gives the reps it can tell apart from the middle of the team.
FLAGGED = ("top performer", "needs help")


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / f"{name}.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file() else None


def _number(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce")


def _status_count(frame: pd.DataFrame | None, status: str) -> float:
    if frame is None or "status" not in frame:
        return np.nan
    return float((frame["status"] == status).sum())


def _attainment(frame: pd.DataFrame | None) -> float:
    if frame is None or not {"bookings", "quota"} <= set(frame):
        return np.nan
    quota = _number(frame, "quota").sum()
    return float(_number(frame, "bookings").sum() / quota) if quota > 0 else np.nan


def _flagged(frame: pd.DataFrame | None, label: str) -> float:
    if frame is None or "rating" not in frame:
        return np.nan
    return float((frame["rating"] == label).sum())


def moves_made(before: pd.DataFrame | None, now: pd.DataFrame | None) -> dict[str, int] | None:
    """Of the moves last quarter's proposal made (``before``: its ``proposed_alignment``), how
    many accounts now sit in the proposed territory (``made``), are still in the one they were
    in (``not_made``) or are elsewhere (``elsewhere``), by this quarter's current territories
    (``now``: this quarter's ``proposed_alignment``); None without both files.

    Examples
    --------
    >>> before = pd.DataFrame({"account_id": ["a", "b", "c"], "current_territory": ["T1"] * 3,
    ...                        "proposed_territory": ["T2", "T2", "T1"],
    ...                        "moved": ["True", "True", "False"]})
    >>> now = pd.DataFrame({"account_id": ["a", "b", "c"],
    ...                     "current_territory": ["T2", "T1", "T1"]})
    >>> moves_made(before, now)
    {'proposed': 2, 'made': 1, 'not_made': 1, 'elsewhere': 0, 'gone': 0}
    """
    if before is None or now is None:
        return None
    moved = before[before["moved"].astype(str).str.lower() == "true"]
    today = now.set_index("account_id")["current_territory"]
    where = moved["account_id"].map(today)
    made = where == moved["proposed_territory"]
    stayed = where == moved["current_territory"]
    gone = where.isna()
    return {
        "proposed": len(moved),
        "made": int(made.sum()),
        "not_made": int(stayed.sum()),
        "elsewhere": int((~made & ~stayed & ~gone).sum()),
        "gone": int(gone.sum()),
    }


def rating_changes(before: pd.DataFrame | None, now: pd.DataFrame | None) -> pd.DataFrame:
    """Reps whose rating (stage 5) is not what it was: ``rep_name``, ``before``, ``now``."""
    if before is None or now is None or "rating" not in before or "rating" not in now:
        return pd.DataFrame(columns=["rep_name", "before", "now"])
    old = before.set_index("rep_id")["rating"]
    new = now.set_index("rep_id")[["rep_name", "rating"]]
    both = new.join(old.rename("before"), how="inner").rename(columns={"rating": "now"})
    changed = both[both["now"] != both["before"]]
    return changed[["rep_name", "before", "now"]].reset_index()


def since_last_quarter(now: Path, before: Path, quarter: str, previous: str) -> Result | None:
    """What changed from ``previous``'s processed files (``before``) to ``quarter``'s
    (``now``): territories under- and over-served, team attainment, reps flagged by their
    rating and whether last quarter's proposed moves were made. None when the previous
    quarter has no processed files (no report was made for it)."""
    if not before.is_dir() or not any(before.glob("*.csv")):
        return None
    files = {
        name: (_read(before, name), _read(now, name))
        for name in ("territory_servedness", "rep_scorecard", "rep_effects", "proposed_alignment")
    }
    served, card, rated, aligned = (files[k] for k in files)
    under = [_status_count(f, "under-served") for f in served]
    over = [_status_count(f, "over-served") for f in served]
    rows = [
        ("Territories under-served (demand above capacity)", *under, "{:,.0f}"),
        ("Territories over-served (capacity idle)", *over, "{:,.0f}"),
        ("Team attainment (bookings / quota)", *[_attainment(f) for f in card], "{:.0%}"),
    ] + [
        (f"Reps rated {label}", *[_flagged(f, label) for f in rated], "{:,.0f}")
        for label in FLAGGED
    ]
    table = pd.DataFrame(
        [
            {"measure": m, previous: _fmt(a, spec), quarter: _fmt(b, spec)}
            for m, a, b, spec in rows
            if pd.notna(a) or pd.notna(b)
        ]
    )
    sentences = []
    for m, a, b, spec in rows:
        if pd.notna(a) and pd.notna(b) and _fmt(a, spec) != _fmt(b, spec):
            sentences.append(f"{m.split(' (')[0].lower()} {_fmt(a, spec)} → {_fmt(b, spec)}")
    moves = moves_made(*aligned)
    if moves is not None and moves["proposed"]:
        sentences.append(
            f"of the {moves['proposed']:,} moves proposed in {previous}, {moves['made']:,} "
            f"were made in the CRM, {moves['not_made']:,} accounts are still with their rep"
            + (f" and {moves['elsewhere']:,} went to another one" if moves["elsewhere"] else "")
        )
    changes = rating_changes(*rated)
    if len(changes):
        names = ", ".join(
            f"{r.rep_name} ({r.before} → {r.now})" for r in changes.head(5).itertuples()
        )
        more = f" and {len(changes) - 5} more" if len(changes) > 5 else ""
        sentences.append(f"ratings changed for {names}{more}")
    headline = (
        f"Since {previous}: " + "; ".join(sentences) + "."
        if sentences
        else f"Since {previous}: no change in these measures."
    )
    result = Result(f"Since last quarter ({previous})", headline, table)
    result.rating_changes = changes
    result.moves = moves
    return result


def _fmt(value: float, spec: str) -> str:
    return "–" if pd.isna(value) else spec.format(value)


def since_html(result: Result | None) -> str:
    """The index's "Since last quarter" section (empty without a previous report)."""
    if result is None:
        return ""
    return (
        f'<section id="since"><h2>{html.escape(result.title)}</h2>'
        f"<p>{html.escape(result.headline)}</p>{format_table(result.table)}</section>"
    )
