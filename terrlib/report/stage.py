"""What every stage notebook does first and last: resolve its parameters, load the data as of
the quarter, and write artifacts and headlines to ``data/processed/<quarter>/``.

Examples
--------
>>> from terrlib.inputs import demo
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> _ = demo.generate(folder, n_accounts=300, n_reps=8, seed=5)
>>> run = start("01-strategic-alignment", data_dir=folder, processed_dir=tempfile.mkdtemp())
>>> str(run.quarter)
'2026Q3'
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from terrlib import config
from terrlib.exports import read_csv, read_typed, write_csv, write_typed
from terrlib.inputs.dataset import Dataset, load_dataset
from terrlib.report import artifacts, since
from terrlib.report.artifacts import ArtifactError
from terrlib.results import (
    Decision,
    Decisions,
    InsufficientData,
    NotEnoughData,
    Result,
    Summary,
)

try:
    import fcntl
except ImportError:  # Windows: no lock, so the report runs stages there one at a time
    fcntl = None

HEADLINES = "headlines.json"
DECISIONS = "decisions.json"  # what each stage asks the reader to decide, for the index
SKIPPED = "skipped.json"  # sections without enough data, per stage
UNSAVED = "unsaved.json"  # artifacts a stage had too little data for, per stage, with why
#: set (to "1") in the environment of the report's notebook kernels: there a declared
#: artifact its stage neither saved nor reported as without enough data is an error
REPORT_ENV = "TERRLIB_REPORT"
TYPED = ".typed"  # exact copies of the artifacts (Parquet), which later stages read
T = TypeVar("T")
CAN_LOCK = fcntl is not None  # stages may write their headlines side by side


@dataclass
class Stage:
    """A stage run: its name, the quarter, the data as known at the quarter end, and where its
    artifacts go."""

    name: str
    quarter: pd.Period
    data: Dataset
    processed_dir: Path
    seed: int
    skipped: list[NotEnoughData] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def q(self) -> str:
        """The quarter as text, e.g. ``'2026Q3'``."""
        return str(self.quarter)

    def save(self, name: str, frame: pd.DataFrame | NotEnoughData) -> Path | None:
        """Write artifact ``name`` to ``<processed_dir>/<name>.csv`` (safe to open in a
        spreadsheet: see :mod:`terrlib.exports`) and return the path; a section without
        enough data writes nothing and records why (a later stage that loads it finds
        ``None`` and says so).

        Raises
        ------
        ArtifactError
            When this stage does not declare ``name`` (:mod:`terrlib.report.artifacts`).
        """
        if name not in artifacts.saves(self.name):
            raise ArtifactError(
                f"{self.name} saves {name!r}, which terrlib/report/artifacts.py does not "
                f"declare for it (it declares {sorted(artifacts.saves(self.name))})"
            )
        if isinstance(frame, NotEnoughData):
            self._record(UNSAVED, self._unsaved() | {name: str(frame)})
            return None
        write_typed(frame, self.processed_dir / TYPED / f"{name}.parquet")
        return write_csv(frame, self.processed_dir / f"{name}.csv")

    def _unsaved(self, stage: str | None = None) -> dict[str, str]:
        path = self.processed_dir / UNSAVED
        recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        return recorded.get(stage or self.name, {})

    def load(self, name: str) -> pd.DataFrame | None:
        """Read an artifact an earlier stage saved (its typed copy: ids, missing values and
        names exactly as they were), or ``None`` when it is not there. ``None`` comes with
        a note shown in the notebook (kept in ``notes``) saying what is missing and what
        this stage does without it.

        Raises
        ------
        ArtifactError
            When this stage does not declare that it loads ``name``; and, in the report, when
            the stage that saves it has neither saved it nor recorded that it had too little
            data for it.
        """
        if name not in artifacts.LOADS.get(self.name, ()):
            raise ArtifactError(
                f"{self.name} loads {name!r}, which terrlib/report/artifacts.py does not "
                f"declare for it (it declares {list(artifacts.LOADS.get(self.name, ()))})"
            )
        typed = self.processed_dir / TYPED / f"{name}.parquet"
        if typed.is_file():
            return read_typed(typed)
        path = self.processed_dir / f"{name}.csv"
        if path.is_file():
            return read_csv(path)
        art = artifacts.ARTIFACTS[name]
        why = self._unsaved(art.stage).get(name)
        if why is None and os.environ.get(REPORT_ENV) == "1":
            raise ArtifactError(
                f"{self.name} needs {name!r} ({art.what}) from {art.stage}, which ran before it "
                f"but neither saved it in {self.processed_dir} nor recorded why"
            )
        cause = (
            f"{art.stage} had too little data for it ({why.rstrip('.')})"
            if why
            else f"{art.stage} has not run for {self.q} (run it first to use it)"
        )
        without = f" {art.without[0].upper()}{art.without[1:]}." if art.without else ""
        self._note(f"Not available: {art.what} ({name}), because {cause}.{without}")
        return None

    def _note(self, text: str) -> None:
        """Keep ``text`` in ``notes`` and show it: as a box in a notebook, a warning
        elsewhere."""
        self.notes.append(text)
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display
        except ImportError:  # pragma: no cover - IPython comes with the notebooks
            get_ipython = None
        if get_ipython is not None and get_ipython() is not None:
            display(HTML(f'<div class="terrlib-skipped"><p>{html.escape(text)}</p></div>'))
        else:
            warnings.warn(text, stacklevel=3)

    def headline(self, *sentences: str) -> Summary:
        """Record the stage's headline sentences for the report's index page and return them
        for display at the top of the notebook; a last sentence names the values the plan's
        ``defaults:`` stood in for, where the stage uses them."""
        sentences = [
            *sentences,
            *assumed_sentence(self.data, ASSUMED_BY_STAGE.get(self.name, set())),
        ]
        self._record(HEADLINES, list(sentences))
        return Summary(list(sentences))

    def decide(self, *decisions: Decision) -> Decisions:
        """Record the stage's decisions for the Decisions at the top of the report's index
        (each links to its evidence on this stage's page) and return them for display."""
        kept = Decisions(decisions)
        self._record(DECISIONS, [dataclasses.asdict(d) for d in kept])
        return kept

    def since_last_quarter(self) -> Result | Summary:
        """What changed in this stage's measures since the previous quarter's report (its
        processed folder beside this quarter's, ``<processed root>/<previous quarter>``:
        :func:`terrlib.report.since.stage_since`), or one sentence saying there is none yet.
        Call it after the stage has saved its artifacts."""
        previous = str(self.quarter - 1)
        before = self.processed_dir.resolve().parent / previous
        top = tuple(self.data.plan.tier_names()[:-1])  # the plan's tiers, not the rest
        found = since.stage_since(self.name, self.processed_dir, before, self.q, previous, top)
        if found is not None:
            return found
        return Summary(
            [
                f"There is no report for {previous} beside this one, so nothing to compare "
                "with yet: once the previous quarter has been reported, this section says "
                "what changed since."
            ]
        )

    def attempt(self, title: str, analysis: Callable[..., T], *args, **kwargs) -> T | NotEnoughData:
        """Run ``analysis(*args, **kwargs)``; when the data is too thin for it
        (:class:`~terrlib.results.InsufficientData`), return a
        :class:`~terrlib.results.NotEnoughData` titled ``title`` instead and list the section
        among the stage's skipped ones (the report's index shows them with their reason)."""
        try:
            return analysis(*args, **kwargs)
        except (InsufficientData, np.linalg.LinAlgError) as exc:
            if not isinstance(exc, InsufficientData):  # a singular fit: the data cannot tell
                exc = InsufficientData(  # its factors apart
                    "data in which its factors can be told apart (the fit was singular)",
                    "",
                    "More history, or fewer categories, would fit it.",
                )
            gap = NotEnoughData(title, exc.needs, exc.has, exc.fix)
            self.skipped.append(gap)
            self._record(SKIPPED, [g.reason() for g in self.skipped])
            return gap

    def _record(self, file: str, value: object) -> None:
        """Set this stage's entry of a JSON file the stages share."""
        path = self.processed_dir / file
        # the report may run stages side by side: one at a time reads and rewrites the file
        # (a lock on the folder, so no lock file is left among the artifacts)
        folder = os.open(self.processed_dir, os.O_RDONLY) if fcntl is not None else None
        try:
            if folder is not None:
                fcntl.flock(folder, fcntl.LOCK_EX)
            current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            current[self.name] = value
            path.write_text(json.dumps(current, indent=1, sort_keys=True), encoding="utf-8")
        finally:
            if folder is not None:
                os.close(folder)  # releases the lock


#: Columns each stage's figures rest on, for the note on values the plan assumed.
ASSUMED_BY_STAGE = {
    "01-strategic-alignment": {"capacity_hours"},
    "02-segmentation": {"annual_cost", "capacity_hours"},
    "04-workload-balancing": {"capacity_hours"},
    "05-performance-review": {"quarterly_quota", "annual_cost", "capacity_hours"},
}


def assumed_sentence(data: Dataset | None, columns: set[str] | None = None) -> list[str]:
    """A sentence naming the columns filled from the plan's ``defaults:`` (those in
    ``columns`` only, when given), or nothing."""
    if data is None or not getattr(data, "assumed", None):
        return []
    parts = []
    for table, filled in data.assumed.items():
        defaults = data.plan.defaults.get(table, {})
        for col, rows in filled.items():
            if columns is None or col in columns:
                value = defaults.get(col)
                shown = f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)
                parts.append(
                    f"{col.replace('_', ' ')} {shown} for {rows:,} of "
                    f"{len(getattr(data, table)):,} {table}"
                )
    if not parts:
        return []
    return [
        "Assumed, not from the data (the plan's defaults): " + "; ".join(parts) + ". The figures "
        "that use them are only as good as these values."
    ]


def start(
    name: str,
    quarter: str = "",
    data_dir: str = "",
    plan_path: str = "",
    processed_dir: str = "",
    seed: int = config.DEFAULT_SEED,
) -> Stage:
    """Resolve a notebook's parameters and load its data.

    Empty strings mean the defaults: the demo data, ``plan.yaml`` beside the data, the latest
    complete quarter in the data, and ``data/processed/<quarter>``.
    """
    data_path = Path(data_dir) if data_dir else config.DEMO_DATA
    if not data_dir and not (data_path / "accounts.csv").is_file():
        raise FileNotFoundError(
            f"no demo data in {data_path}: run `make demo` (or `terrlib demo --out {data_path}`)"
        )
    full = load_dataset(data_path, plan_path or None, quarter or None)
    q = full.quarter(quarter) if quarter else full.latest_complete_quarter()
    out = Path(processed_dir) if processed_dir else config.DATA_PROCESSED / str(q)
    out.mkdir(parents=True, exist_ok=True)
    return Stage(name=name, quarter=q, data=full.as_of(q), processed_dir=out, seed=seed)
