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
from collections.abc import Callable
from dataclasses import dataclass
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


def _attainment(frame: pd.DataFrame | None) -> float:
    if frame is None or not {"bookings", "quota"} <= set(frame):
        return np.nan
    quota = _number(frame, "quota").sum()
    return float(_number(frame, "bookings").sum() / quota) if quota > 0 else np.nan


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


@dataclass(frozen=True)
class Measure:
    """One line of a "since last quarter" table: ``label``, read from ``artifact`` (a
    processed file) by ``value`` (NaN when the file lacks what it needs), shown with ``spec``."""

    label: str
    artifact: str
    value: Callable[[pd.DataFrame | None], float]
    spec: str


def _total(column: str) -> Callable[[pd.DataFrame | None], float]:
    def value(frame: pd.DataFrame | None) -> float:
        if frame is None or column not in frame:
            return np.nan
        return float(_number(frame, column).sum())

    return value


def _prospects(tier: str) -> Callable[[pd.DataFrame | None], float]:
    """Accounts in ``tier`` that are not customers yet."""

    def count(frame: pd.DataFrame | None) -> float:
        if frame is None or not {"tier", "customer"} <= set(frame):
            return np.nan
        prospect = frame["customer"].str.lower().isin(["false", "0"])
        return float(((frame["tier"] == tier) & prospect).sum())

    return count


def _rows(value: str, column: str = "status") -> Callable[[pd.DataFrame | None], float]:
    """Rows whose ``column`` is ``value`` (any case)."""

    def count(frame: pd.DataFrame | None) -> float:
        if frame is None or column not in frame:
            return np.nan
        return float((frame[column].str.lower() == value.lower()).sum())

    return count


_UNDER = Measure(
    "Territories under-served (demand above capacity)",
    "territory_servedness",
    _rows("under-served"),
    "{:,.0f}",
)
_OVER = Measure(
    "Territories over-served (capacity idle)",
    "territory_servedness",
    _rows("over-served"),
    "{:,.0f}",
)
_ATTAIN = Measure("Team attainment (bookings / quota)", "rep_scorecard", _attainment, "{:.1%}")
_RATED = [
    Measure(f"Reps rated {label}", "rep_effects", _rows(label, "rating"), "{:,.0f}")
    for label in FLAGGED
]
_MOVED = Measure(
    "Accounts the proposal moves", "proposed_alignment", _rows("true", "moved"), "{:,.0f}"
)

#: What each stage's "since last quarter" section compares (stage 3's, which depends on the
#: plan's top ICP tier, is built by :func:`stage_since`); the index shows :data:`INDEX`.
STAGE_MEASURES: dict[str, list[Measure]] = {
    "01-strategic-alignment": [_UNDER, _OVER],
    "02-segmentation": [
        Measure("Potential of all accounts", "account_scores", _total("potential"), "{:,.0f}"),
        Measure(
            "White space (potential not yet bought)",
            "account_scores",
            _total("white_space"),
            "{:,.0f}",
        ),
        Measure(
            "Quotas for the next quarter", "next_quarter_quotas", _total("quota_next"), "{:,.0f}"
        ),
    ],
    "04-workload-balancing": [
        Measure(
            "Territories overloaded (hours above the plan's limit)",
            "territory_workload",
            _rows("understaffed"),
            "{:,.0f}",
        ),
        Measure(
            "Territories underloaded (hours below the plan's floor)",
            "territory_workload",
            _rows("overstaffed"),
            "{:,.0f}",
        ),
        _MOVED,
    ],
    "05-performance-review": [_ATTAIN, *_RATED],
}
INDEX: list[Measure] = [_UNDER, _OVER, _ATTAIN, *_RATED]


def status_changes(before: pd.DataFrame | None, now: pd.DataFrame | None) -> pd.DataFrame:
    """Territories whose served-ness (stage 1) is not what it was: ``territory_id``,
    ``before``, ``now``.

    Examples
    --------
    >>> before = pd.DataFrame({"territory_id": ["T1", "T2"], "status": ["balanced"] * 2})
    >>> now = pd.DataFrame({"territory_id": ["T1", "T2"], "status": ["balanced", "over-served"]})
    >>> status_changes(before, now).to_dict("records")
    [{'territory_id': 'T2', 'before': 'balanced', 'now': 'over-served'}]
    """
    if before is None or now is None or "status" not in before or "status" not in now:
        return pd.DataFrame(columns=["territory_id", "before", "now"])
    old = before.set_index("territory_id")["status"].rename("before")
    both = now.set_index("territory_id")[["status"]].join(old, how="inner")
    both = both.rename(columns={"status": "now"})[["before", "now"]]
    return both[both["now"] != both["before"]].reset_index()


def _listed(changes: pd.DataFrame, name: str, what: str) -> str:
    if not len(changes):
        return ""
    names = ", ".join(
        f"{getattr(r, name)} ({r.before} → {r.now})" for r in changes.head(5).itertuples()
    )
    more = f" and {len(changes) - 5} more" if len(changes) > 5 else ""
    return f"{what} changed for {names}{more}"


def compare(
    now: Path, before: Path, quarter: str, previous: str, measures: list[Measure]
) -> Result | None:
    """What changed from ``previous``'s processed files (``before``) to ``quarter``'s
    (``now``) in ``measures``, with the territories whose served-ness changed, whether last
    quarter's proposed moves were made and whose rating changed, where ``measures`` read
    those files. None when the previous quarter has no processed files (no report was made
    for it)."""
    if not before.is_dir() or not any(before.glob("*.csv")):
        return None
    names = {m.artifact for m in measures}
    files = {name: (_read(before, name), _read(now, name)) for name in names}
    rows = [(m.label, *(m.value(f) for f in files[m.artifact]), m.spec) for m in measures]
    table = pd.DataFrame(
        [
            {"measure": m, previous: _fmt(a, spec), quarter: _fmt(b, spec)}
            for m, a, b, spec in rows
            if pd.notna(a) or pd.notna(b)
        ],
        columns=["measure", previous, quarter],
    )
    sentences = []
    for m, a, b, spec in rows:
        if pd.notna(a) and pd.notna(b) and _fmt(a, spec) != _fmt(b, spec):
            sentences.append(f"{_lower(m.split(' (')[0])} {_fmt(a, spec)} → {_fmt(b, spec)}")
    served = status_changes(*files["territory_servedness"]) if _UNDER in measures else None
    moves = None
    if "proposed_alignment" in names:
        moves = moves_made(*files["proposed_alignment"])
        if moves is not None and moves["proposed"]:
            sentences.append(
                f"of the {moves['proposed']:,} moves proposed in {previous}, {moves['made']:,} "
                f"were made in the CRM, {moves['not_made']:,} accounts are still with their rep"
                + (f" and {moves['elsewhere']:,} went to another one" if moves["elsewhere"] else "")
            )
            made = f"{moves['made']:,} of {moves['proposed']:,}"
            row = {"measure": f"Moves proposed in {previous} made in the CRM", previous: "–"}
            table = pd.concat([table, pd.DataFrame([row | {quarter: made}])], ignore_index=True)
    changes = rating_changes(*files["rep_effects"]) if "rep_effects" in names else None
    for listed in (
        _listed(served, "territory_id", "served-ness") if served is not None else "",
        _listed(changes, "rep_name", "ratings") if changes is not None else "",
    ):
        if listed:
            sentences.append(listed)
    if changes is not None and changes.empty and files["rep_effects"][0] is not None:
        sentences.append("no rep's rating changed")
    headline = (
        f"Since {previous}: " + "; ".join(sentences) + "."
        if sentences
        else f"Since {previous}: no change in these measures."
    )
    result = Result(f"Since last quarter ({previous})", headline, table)
    result.rating_changes = changes
    result.status_changes = served
    result.moves = moves
    return result


def since_last_quarter(now: Path, before: Path, quarter: str, previous: str) -> Result | None:
    """The index's comparison (:func:`compare` on :data:`INDEX` and last quarter's proposal):
    territories under- and over-served, team attainment, reps flagged by their rating and
    whether last quarter's proposed moves were made."""
    return compare(now, before, quarter, previous, [*INDEX, _MOVED])


def stage_since(
    stem: str,
    now: Path,
    before: Path,
    quarter: str,
    previous: str,
    tiers: tuple[str, ...] = ("A", "B"),
) -> Result | None:
    """Stage ``stem``'s "since last quarter" section (:func:`compare` on its
    :data:`STAGE_MEASURES`; for stage 3, the accounts in each of the plan's ``tiers``), or
    None without a previous report."""
    measures = STAGE_MEASURES.get(stem) or [
        Measure(
            "Bookings expected over the next four quarters (all accounts' ICP scores)",
            "icp_scores",
            _total("score"),
            "{:,.0f}",
        ),
        *[
            Measure(
                f"Prospects in ICP tier {tier} (not yet customers)",
                "icp_scores",
                _prospects(tier),
                "{:,.0f}",
            )
            for tier in tiers[:1]
        ],
    ]
    return compare(now, before, quarter, previous, measures)


def _lower(label: str) -> str:
    """A measure's label inside a sentence: its first letter in lower case."""
    return label[:1].lower() + label[1:]


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
