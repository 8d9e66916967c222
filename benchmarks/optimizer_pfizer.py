"""Territory optimizer on the Pfizer Turkey case (22 bricks, 4 reps), whose optima are known.

Run: ``.venv/bin/python benchmarks/optimizer_pfizer.py``. Prints, per workload band, the
optimizer's total distance, its certified lower bound and gap, the known optimum and seconds,
for the LP path alone (relaxation, rounding, local search) and with the MILP check.
"""

from __future__ import annotations

import time

from instances import pfizer_case

from terrlib.territory.estimator import TerritoryOptimizer

CASE = pfizer_case()


def build(tolerance: float) -> TerritoryOptimizer:
    return TerritoryOptimizer(
        CASE["accounts"],
        CASE["territories"],
        tolerance=tolerance,
        disruption=0.0,
        distances=CASE["distances"],
        travel_weight="none",
        balance_potential=False,
        reach_km=float("inf"),  # the published optima have no reach
    )


def main() -> None:
    optima = CASE["optima"]
    print(
        f"{'band':<13}{'path':<10}{'distance':>9}{'bound':>9}{'gap':>7}{'optimum':>9}"
        f"{'vs opt':>8}{'seconds':>9}"
    )
    for row in optima.itertuples():
        for path, exact in (("LP", False), ("LP+MILP", True)):
            began = time.perf_counter()
            opt = build(row.tolerance).solve(exact=exact)
            seconds = time.perf_counter() - began
            print(
                f"{row.band:<13}{path:<10}{opt.objective_:>9.2f}{opt.lower_bound_:>9.2f}"
                f"{opt.gap_:>7.1%}{row.distance:>9.2f}"
                f"{opt.objective_ / row.distance - 1:>8.1%}{seconds:>9.2f}"
            )


if __name__ == "__main__":
    main()
