"""Planted truth recovered over seeds: stage 5's rep ratings on generated companies.

Run: ``.venv/bin/python benchmarks/recovery.py`` (both demo sizes, seeds 1-3; about two
minutes), or ``--sizes 5000x44 --seeds 1 2 3 4 5``. Each company is generated with
``terrlib.inputs.demo`` (its ``truth.json`` holds every rep's planted skill on the log-odds of
winning) and rated as of 2026Q3 with ``performance.rep_effects``. Prints one row per company
and, per size, the mean and the worst over seeds of each measure of
``terrlib.inputs.truth.rating_recovery``. Issue 21's targets at 5,000 x 44, seeds 1-3: mean
Spearman at least 0.70; in all, at most one top performer with skill at or below zero and one
"needs help" with skill at or above zero; at least 90% of reps' skill inside their interval.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from terrlib.inputs import demo
from terrlib.inputs.dataset import load_dataset
from terrlib.inputs.truth import rating_recovery
from terrlib.stages import measures, performance

QUARTER = "2026Q3"


def rate(folder: Path) -> dict:
    """Rate the company in ``folder`` as of :data:`QUARTER`, scored against its truth."""
    truth = json.loads((folder / "truth.json").read_text())
    data = load_dataset(folder).as_of(QUARTER)
    scores = measures.account_potential(data, QUARTER).table
    panel = performance.rep_quarter_panel(data, QUARTER, scores)
    began = time.perf_counter()
    effects = performance.rep_effects(data, QUARTER, panel)
    row = rating_recovery(effects.table, truth)
    row["seconds"] = time.perf_counter() - began
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["900x20", "5000x44"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            n_accounts, n_reps = (int(x) for x in size.split("x"))
            for seed in args.seeds:
                folder = Path(tmp) / f"{size}-{seed}"
                demo.generate(folder, n_accounts=n_accounts, n_reps=n_reps, seed=seed)
                rows.append({"size": size, "seed": seed, **rate(folder)})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print()
    print(table.round(3).to_string(index=False))
    print()
    measures_ = ["spearman", "coverage"]
    summary = table.groupby("size")[measures_].agg(["mean", "min"]).round(3)
    summary[("false_tops", "sum")] = table.groupby("size")["false_tops"].sum()
    summary[("false_helps", "sum")] = table.groupby("size")["false_helps"].sum()
    summary[("coverage", "pooled")] = (
        (table["coverage"] * table["rated"]).groupby(table["size"]).sum()
        / table.groupby("size")["rated"].sum()
    ).round(3)
    print(summary.to_string())


if __name__ == "__main__":
    main()
