"""Aligning by geography unit: accounts that share a ``group`` (a postal code, say) go to one
territory together, as a CRM's assignment rules align them; an account with no group, or a
locked one, is aligned on its own (a named account).

:func:`grouped` turns a problem over accounts into one over units (a group, or one account):
a unit's calls, hours, potential, revenue and bookings are its members' sums, its distance
to a rep home is its members' mean distance weighted by their trips (so its travel hours are
its members' when no trip is under the floor), its current territory the one that serves
most of its call hours today, and the cap on moves counts its members. The members that
today are not with that territory move whatever the plan (the unit goes to one territory),
so they are taken off the cap first.

Examples
--------
>>> import pandas as pd
>>> acc = pd.DataFrame({"account_id": list("abcd"), "latitude": [40.0, 40.01, 41.0, 41.0],
...                     "longitude": [-75.0] * 4, "call_hours": [10.0] * 4,
...                     "potential": [1.0] * 4, "territory_id": ["T1", "T2", "T2", "T2"],
...                     "group": ["19001", "19001", "", ""]})
>>> homes = pd.DataFrame({"territory_id": ["T1", "T2"], "home_latitude": [40.0, 41.0],
...                       "home_longitude": [-75.0, -75.0], "capacity": [1.0, 1.0]})
>>> units, unit_of = grouped(TerritoryProblem.build(acc, homes, tolerance=0.5))
>>> units.n, unit_of.tolist()
(3, [0, 0, 1, 2])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from terrlib.territory.problem import TerritoryProblem


def _units(problem: TerritoryProblem) -> np.ndarray | None:
    """Each account's unit (0..u-1), or None when no two accounts share a group."""
    acc = problem.accounts
    if "group" not in acc:
        return None
    group = acc["group"].astype("string").fillna("").str.strip().to_numpy(dtype=object)
    own = (group == "") | problem.locked
    key = np.where(own, np.char.add("#", np.arange(problem.n).astype(str)), group)
    unit_of = pd.factorize(key)[0]
    return None if unit_of.max() + 1 == problem.n else unit_of


def _plurality(unit_of: np.ndarray, label: np.ndarray, weight: np.ndarray, u: int) -> np.ndarray:
    """Per unit, the label (codes >= 0; -1 for none) with the most weight among its members."""
    ok = label >= 0
    if not ok.any():
        return np.full(u, -1)
    k = int(label.max()) + 1
    score = np.zeros((u, k))
    np.add.at(score, (unit_of[ok], label[ok]), weight[ok] + 1e-9)
    best = score.argmax(axis=1)
    return np.where(score.max(axis=1) > 0, best, -1)


def grouped(problem: TerritoryProblem) -> tuple[TerritoryProblem, np.ndarray] | None:
    """The problem over units (see the module notes) and each account's unit; None when no
    two accounts share a group."""
    p = problem
    unit_of = _units(p)
    if unit_of is None:
        return None
    u, m = int(unit_of.max()) + 1, p.m
    size = np.bincount(unit_of, minlength=u).astype(float)
    add = lambda w: np.bincount(unit_of, weights=w, minlength=u)  # noqa: E731
    trips = p.trips if p.trips.any() else np.maximum(p.call_time, 1e-9)
    weight = add(trips)
    dist = np.empty((u, m))
    rows = np.arange(p.n)
    for k in range(m):
        dist[:, k] = add(trips * p.dist(rows, np.full(p.n, k))) / np.maximum(weight, 1e-12)
    current = _plurality(unit_of, p.current, p.call_time, u)
    acc = p.accounts
    frame = pd.DataFrame(
        {
            "account_id": [f"unit {j}" for j in range(u)],
            "latitude": add(p.call_time * (p.lat if p.lat is not None else 0))
            / add(p.call_time + 1e-12),
            "longitude": add(p.call_time * (p.lon if p.lon is not None else 0))
            / add(p.call_time + 1e-12),
            "calls": add(acc["calls"].to_numpy(float) if "calls" in acc else p.call_time),
            "call_hours": add(p.call_time),
            "potential": add(p.potential),
            "territory_id": np.where(current >= 0, p.ids[np.maximum(current, 0)], ""),
            "revenue": add(acc["revenue"].to_numpy(float) if "revenue" in acc else np.ones(p.n)),
            "locked": add(p.locked.astype(float)) > 0,
            "account_count": size,
        }
    )
    if "bookings" in acc:
        frame["bookings"] = add(acc["bookings"].fillna(0.0).to_numpy(float))
    if p.acc_region is not None:
        names = p.territories["region"].astype(str).drop_duplicates().to_numpy()
        reg = _plurality(unit_of, p.acc_region, p.call_time, u)
        frame["region"] = np.where(reg >= 0, names[np.maximum(reg, 0)], "")
    settings = dict(p.settings)
    settings.update(distances=dist, reach_km=p.reach, circuity=1.0)
    share = settings["max_moved_share"]
    if share is not None:  # members apart from their unit's territory today move anyway
        apart = float(((p.current >= 0) & (p.current != current[unit_of])).sum())
        settings["max_moved_share"] = max(0.0, share - apart / max(p.n, 1))
    return TerritoryProblem.build(frame, p.territories, **settings), unit_of
