"""Compact proposals (issue 20): with the plan's default compactness weight, stage 4's
proposal keeps at least today's share of accounts with their nearest rep, most moves do not
take an account farther from its rep, and a green field (no territories today) gives most
accounts their nearest rep. Asserted over the five seeded companies (900 accounts, 20 reps),
where travel weighted by call hours alone failed the first on two seeds of five and the last
on two."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from terrlib.stages import balancing, measures
from terrlib.territory import outcome


def nearest_share(problem, assign) -> float:
    return outcome.nearest_share(outcome.compactness(problem, assign))


@pytest.fixture(scope="module")
def solved(seeded_companies) -> list[dict]:
    out = []
    for company in seeded_companies:
        data = company["data"]
        scores = measures.account_potential(data, "2026Q3").table
        today = balancing.solve_or_widen(balancing.from_dataset(data, scores))
        green_data = dataclasses.replace(data, accounts=data.accounts.assign(territory_id=None))
        green = balancing.solve_or_widen(balancing.from_dataset(green_data, scores))
        out.append({"seed": company["seed"], "today": today, "green": green})
    return out


def test_proposal_is_at_least_as_compact_as_today(solved):
    for s in solved:
        p = s["today"].problem_
        before, after = nearest_share(p, p.current), nearest_share(p, s["today"].assign_idx_)
        assert after >= before, (s["seed"], before, after)


def test_most_moves_bring_accounts_no_farther(solved):
    """On every company most moves (over half) take an account no farther from its rep, and
    over the five, under a third of them take one farther (about a fifth on four of the
    five; 44% on seed 4, where the territories the rules cannot balance are held at today's
    level and the others fill from farther)."""
    farther_all = moved_all = 0
    for s in solved:
        opt = s["today"]
        p, new = opt.problem_, opt.assign_idx_
        rows = np.arange(p.n)
        moved = (new != p.current) & (p.current >= 0)
        farther = moved & (p.dist(rows, new) > p.dist(rows, np.maximum(p.current, 0)))
        assert moved.any()
        assert farther.sum() < 0.5 * moved.sum(), (s["seed"], farther.sum(), moved.sum())
        farther_all, moved_all = farther_all + farther.sum(), moved_all + moved.sum()
    assert farther_all < moved_all / 3, (farther_all, moved_all)


def test_green_field_gives_most_accounts_their_nearest_rep(solved):
    """Also the case where an account's nearest homes are all another region's (on seed 1
    nine accounts near Washington, in a region whose two homes are far south, had none of
    them among their eight nearest: the LP had no arc for them and the solve stopped)."""
    for s in solved:
        opt = s["green"]
        assert np.isfinite(opt.gap_) and getattr(opt, "widened_", None) is None, s["seed"]
        assert nearest_share(opt.problem_, opt.assign_idx_) > 0.55, s["seed"]
