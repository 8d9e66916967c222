"""The plan's coverage model: calls a year and hours per account.

Hours per account per year = calls per year x (minutes per call + share of calls made in
person x round-trip travel) / 60, where travel is the distance from the rep's home at the plan's
speed, with a floor for nearby accounts.

Examples
--------
>>> import numpy as np
>>> from terrlib.inputs.plan import Plan
>>> hours = call_hours(Plan(), np.array([5000, 50]), np.array([0.0, 70.0]))
>>> [round(float(h), 1) for h in hours]
[37.6, 3.6]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from terrlib.inputs.plan import Plan


def _band_index(plan: Plan, employees: np.ndarray) -> tuple[list, np.ndarray]:
    """The plan's size bands from smallest up, and each account's position among them."""
    bands = sorted(plan.segments.size_bands, key=lambda b: b.min_employees)
    which = np.searchsorted([b.min_employees for b in bands], employees, side="right") - 1
    return bands, np.clip(which, 0, len(bands) - 1)


def call_pattern(plan: Plan, employees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calls per year and minutes per call for accounts of the given sizes."""
    cov = plan.coverage
    bands, which = _band_index(plan, employees)
    calls = np.array([cov.by_size_band[b.name].calls_per_year for b in bands])[which]
    minutes = np.array([cov.by_size_band[b.name].minutes_per_call for b in bands])[which]
    return calls, minutes


def coverage_calls(
    plan: Plan, accounts: pd.DataFrame, tiers: pd.DataFrame | None = None, frequency: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Calls a year and minutes per call for each of ``accounts`` (``account_id``,
    ``employees``): the plan's pattern for its size band, times the plan's
    ``tier_multipliers`` for stage 3's ICP tier when ``tiers`` (``account_id``, ``tier``) is
    given (accounts without a tier keep the band's calls), times ``frequency`` (a what-if on
    the whole coverage model)."""
    calls, minutes = call_pattern(plan, accounts["employees"].to_numpy())
    if tiers is not None and "tier" in tiers:
        tier = tiers.set_index("account_id")["tier"].reindex(accounts["account_id"])
        calls = calls * tier.map(plan.coverage.tier_multipliers).fillna(1.0).to_numpy(float)
    return calls * frequency, minutes


def _hours(plan: Plan, calls, minutes, distance_km) -> np.ndarray:
    """Hours a year of ``calls`` of ``minutes`` each, a share of them in person at
    ``distance_km`` from the rep's home."""
    cov = plan.coverage
    one_way = np.maximum(
        np.asarray(distance_km, float) / cov.travel_speed_kmh * 60, cov.min_travel_minutes
    )
    return calls * (minutes + cov.visit_share * 2 * one_way) / 60


def call_hours(plan: Plan, employees: np.ndarray, distance_km: np.ndarray) -> np.ndarray:
    """Hours per year (call time plus travel) for accounts of the given sizes at the given
    distance from the rep's home."""
    calls, minutes = call_pattern(plan, employees)
    return _hours(plan, calls, minutes, distance_km)


def size_bands(plan: Plan, employees: pd.Series) -> pd.Series:
    """Size band name per account."""
    bands, which = _band_index(plan, employees.to_numpy())
    return pd.Series(np.array([b.name for b in bands])[which], index=employees.index)
