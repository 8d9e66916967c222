"""Planted truth recovered over seeds: stage 5's rep ratings and stage 3's models on
generated companies.

Run: ``.venv/bin/python benchmarks/recovery.py`` (both demo sizes, seeds 1-3; about five
minutes), or ``--sizes 5000x44 --seeds 1 2 3 4 5``. Each company is generated with
``terrlib.inputs.demo`` (its ``truth.json`` holds what was planted: every rep's skill on the
log-odds of winning, the high-converting industry's odds ratio, the elasticity of deal size
on employees) and analysed as of 2026Q3. Prints one row per company and, per size, the truth,
the mean and the worst over seeds of each measure of ``truth.rating_recovery`` and
``truth.icp_recovery`` (``benchmarks/truth.py``, which the tests use too). Issue 21's targets
at 5,000 x 44, seeds 1-3: mean Spearman at least 0.70; in all, at most one top performer
with skill at or below zero and one "needs help" with skill at or above zero; at least 90%
of reps' skill inside their interval.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
from truth import icp_recovery, rating_recovery

from terrlib.inputs import demo
from terrlib.inputs.dataset import load_dataset
from terrlib.stages import icp, measures, performance

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
    propensity = icp.propensity_model(data, QUARTER)
    value = icp.value_model(data, QUARTER)
    churn = icp.churn_model(data, QUARTER)
    scores = icp.icp_scores(data, QUARTER, propensity, value, churn)
    row |= icp_recovery(propensity, value, churn, scores, truth)
    row["truth_odds_ratio"] = truth["planted_win_odds_ratio"]
    row["truth_elasticity"] = truth["deal_size_elasticity_employees"]
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
    print(
        table.drop(columns=["truth_odds_ratio", "truth_elasticity"]).round(3).to_string(index=False)
    )
    print()
    lines = []
    for size, part in table.groupby("size", sort=False):
        pooled = (part["coverage"] * part["rated"]).sum() / part["rated"].sum()
        for name, truth, values, worst in (
            ("rating: Spearman with planted skill", "-", part["spearman"], part["spearman"].min()),
            ("rating: skill inside its interval", "95%", part["coverage"], part["coverage"].min()),
            (
                "rating: false top performers (sum)",
                "0",
                part["false_tops"],
                part["false_tops"].max(),
            ),
            ("rating: false needs-help (sum)", "0", part["false_helps"], part["false_helps"].max()),
            (
                "win odds ratio, planted industry",
                f"{part['truth_odds_ratio'].mean():.2f}",
                part["win_odds_ratio"],
                part["win_odds_ratio"].min(),
            ),
            (
                "  its interval covers the truth",
                "yes",
                part["win_odds_covered"],
                part["win_odds_covered"].min(),
            ),
            ("win model AUC", "-", part["auc"], part["auc"].min()),
            ("  lower end of its interval", "> 0.5", part["auc_low"], part["auc_low"].min()),
            (
                "deal size elasticity on employees",
                f"{part['truth_elasticity'].mean():.2f}",
                part["size_elasticity"],
                part["size_elasticity"].min(),
            ),
            (
                "  its interval covers the truth",
                "yes",
                part["size_covered"],
                part["size_covered"].min(),
            ),
            (
                "'low engagement precedes churn' said",
                "planted",
                part["churn_stated"],
                part["churn_stated"].min(),
            ),
            (
                "ICP check: customers booked / predicted",
                "1",
                part["customers_ratio"],
                part["customers_ratio"].min(),
            ),
            (
                "ICP check: prospects booked / predicted",
                "1",
                part["prospects_ratio"],
                part["prospects_ratio"].min(),
            ),
        ):
            summed = name.endswith("(sum)")
            lines.append(
                {
                    "size": size,
                    "measure": name,
                    "truth": truth,
                    "mean": float(values.sum() if summed else values.astype(float).mean()),
                    "worst": float(worst),
                }
            )
        lines.append(
            {
                "size": size,
                "measure": "rating: pooled coverage",
                "truth": "95%",
                "mean": pooled,
                "worst": float(part["coverage"].min()),
            }
        )
    print(pd.DataFrame(lines).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
