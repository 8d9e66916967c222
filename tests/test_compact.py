"""Compact proposals (issue 20): with the plan's default compactness weight, stage 4's
proposal keeps at least today's share of accounts with their nearest rep, most moves do not
take an account farther from its rep, and a green field (no territories today) gives most
accounts their nearest rep. Asserted over the five seeded companies (900 accounts, 20 reps),
where travel weighted by call hours alone failed the first on two seeds of five and the last
on two."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from terrlib.stages import balancing, measures
from terrlib.territory import outcome, tidy
from terrlib.territory.problem import TerritoryProblem


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
        plain = balancing.solve_or_widen(balancing.from_dataset(data, scores, tidy=0.0))
        out.append({"seed": company["seed"], "today": today, "green": green, "plain": plain})
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


def test_an_account_among_another_territorys_is_an_enclave():
    """Six accounts of territory 0 around one of territory 1: that one is set among
    territory 0's; with only three of the six around it, none is (four must agree)."""
    angle = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    lat = np.r_[40.0, 40 + 0.01 * np.sin(angle), 41, 41.01, 41.02, 41.03, 41.04, 41.05]
    lon = np.r_[-100.0, -100 + 0.01 * np.cos(angle), -100, -100, -100, -100, -100, -100]
    acc = pd.DataFrame(
        {"account_id": [f"A{i}" for i in range(13)], "latitude": lat, "longitude": lon}
    ).assign(territory_id="T0", call_hours=1.0, potential=1.0)
    homes = pd.DataFrame(
        {"territory_id": ["T0", "T1"], "home_latitude": [40.5, 41.5],
         "home_longitude": [-100.0, -100.0], "capacity": [1.0, 1.0]}
    )  # fmt: skip
    p = TerritoryProblem.build(acc, homes)
    near = tidy.neighbours(p)
    assign = np.r_[1, np.zeros(6, int), np.ones(6, int)]
    assert tidy.enclaves(assign, near).tolist() == [True] + [False] * 12
    assert tidy.surrounding(assign, near)[0] == 0
    mixed = assign.copy()
    mixed[[1, 3, 5]] = 1  # three of the centre's six neighbours are its own territory's
    assert not tidy.enclaves(mixed, near)[0]


def test_tidying_keeps_every_rule_within_its_budget(solved):
    """On each of the five companies the tidy step, run on the plan solved without it,
    keeps every band, lock, reach and region rule, leaves every customer the plan kept
    with its rep whose move costs more than the average account's, raises the plan's cost
    by at most its 1% budget and never sets more accounts among another territory's; on at
    least four it sets a tenth fewer or better (measured: 138 -> 105, 104 -> 89, 108 -> 91,
    102 -> 88, 112 -> 87)."""
    fewer = 0
    for s in solved:
        plain = s["plain"]
        p, before = plain.problem_, plain.assign_idx_
        after = tidy.tidy(p, before, strength=10.0)
        near = tidy.neighbours(p)
        score, was = p.evaluate(after), p.evaluate(before)
        assert score["breach"] <= 1e-9, s["seed"]
        assert (after[p.locked] == p.current[p.locked]).all(), s["seed"]
        big = (before == p.current) & (p.penalty > p.penalty.mean())
        assert (after[big] == before[big]).all(), s["seed"]  # a big customer stays put
        assert score["objective"] <= was["objective"] * (1 + tidy.BUDGET) + 1e-6, s["seed"]
        n_before, n_after = tidy.enclaves(before, near).sum(), tidy.enclaves(after, near).sum()
        assert n_after <= n_before, (s["seed"], n_before, n_after)
        fewer += n_after <= 0.9 * n_before
    assert fewer >= 4, fewer


def test_the_proposal_mixes_fewer_accounts_among_other_territories(solved):
    """Stage 4's proposal (the plan's tidy weight) sets fewer accounts among another
    territory's than the same plan solved without the tidy step, on at least four of the
    five companies, and its certified gap is at most a point and a half wider."""
    fewer = 0
    for s in solved:
        opt, plain = s["today"], s["plain"]
        share = [outcome.compactness(o.problem_, o.assign_idx_) for o in (opt, plain)]
        mixed = [outcome.nearest_share(t, column="mixed_in") for t in share]
        fewer += mixed[0] < mixed[1]
        assert opt.gap_ <= plain.gap_ + 0.015, (s["seed"], opt.gap_, plain.gap_)
    assert fewer >= 4, fewer


def test_the_page_shows_balance_and_shape_in_two_tables(solved):
    """Stage 4's territory table shows balance and leaves the shape columns to a second
    table; the file has both, and the second's headline is the plan's own shares."""
    for s in solved[:2]:
        opt = s["today"]
        p = opt.problem_
        territories = balancing.territory_table(opt)
        shape = balancing.shape_table(opt, territories)
        balance_html, shape_html = territories._repr_html_(), shape._repr_html_()
        assert "workload proposed" in balance_html.lower()
        assert "mixed in" not in balance_html.lower() and "nearest rep" not in balance_html
        assert "mixed in" in shape_html.lower() and "workload" not in shape_html.lower()
        assert {"mixed in proposed", "workload proposed"} <= set(territories.table)
        moved = int(((opt.assign_idx_ != p.current) & (p.current >= 0)).sum())
        assert f"({moved:,} accounts change rep)" in territories.headline
        for when, a in (("today", p.current), ("proposed", opt.assign_idx_)):
            c = outcome.compactness(p, a)
            mixed = outcome.nearest_share(c, column="mixed_in")
            near = outcome.nearest_share(c)
            assert f"{mixed:.0%} {when}" in shape.headline, (when, shape.headline)
            assert f"{near:.0%} {when}" in shape.headline, (when, shape.headline)


def test_a_green_field_territory_table_says_there_is_no_today(solved):
    opt = solved[0]["green"]
    assert "drawn from scratch" in balancing.territory_table(opt).headline
