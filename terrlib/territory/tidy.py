"""Tidy a proposal's edges: accounts set among another territory's accounts are given to
that territory where the rules allow it, for a small, bounded rise in cost.

Travel to the rep's home and the cost of moving an account do not see an account's
neighbours. Where two territories meet, the optimizer picks which accounts change rep by
their hours and potential, so it moves scattered ones and leaves a map of salt and pepper: on
the demo's 2026Q3 the proposal set 665 accounts among another territory's (most of their
six nearest accounts in it), against 556 today; tidied, 551. A rep then drives past a
colleague's accounts to reach their own.

The tidy step anchors each such account (an *enclave*) to the territory that holds most of its
neighbours, every other account to its own, and re-solves pairs of neighbouring territories
with a cost for leaving the anchor (:func:`terrlib.territory.polish.regroup`, node-capped MILPs
that keep every rule). A pair's new plan is kept when it has fewer enclaves and the plan's own
cost stays within :data:`BUDGET` of what it was, so the certified gap (measured on the plan's
own cost) rises by at most that much.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import cKDTree

from terrlib.territory import model as lp
from terrlib.territory import polish
from terrlib.territory.problem import TerritoryProblem, unit_vectors

#: an account's nearest accounts that say which territory surrounds it
NEIGHBOURS = 6
#: how many of them must share a territory for it to surround the account
MAJORITY = 4
#: the most the plan's cost may rise, as a share of it
BUDGET = 0.01
#: the cost of leaving an account's anchor, in :meth:`TerritoryProblem.typical_cost` units
STRENGTH = 1.0
#: the most passes over the pairs of territories that share enclaves (it stops at a pass
#: that changes nothing; on the demo's 2026Q3, two passes left 561 enclaves, four 551 in
#: 15 s, and more changed nothing; on the seeded companies passes after the fourth did not)
ROUNDS = 6


def neighbours(problem: TerritoryProblem, k: int = NEIGHBOURS) -> np.ndarray | None:
    """Each account's ``k`` nearest other accounts (rows of positions), by great circle;
    None without coordinates or with fewer than ``k + 1`` accounts."""
    p = problem
    if p.lat is None or p.n <= k:
        return None
    xyz = unit_vectors(p.lat, p.lon)
    _, near = cKDTree(xyz).query(xyz, k=k + 1)
    return np.asarray(near)[:, 1:]


def surrounding(assign: np.ndarray, near: np.ndarray, majority: int = MAJORITY) -> np.ndarray:
    """The territory that holds at least ``majority`` of each account's neighbours
    (``near``, from :func:`neighbours`), or the account's own where none does."""
    t = assign[near]
    count = (t[:, :, None] == t[:, None, :]).sum(axis=2)
    j = count.argmax(axis=1)
    rows = np.arange(len(assign))
    return np.where(count[rows, j] >= majority, t[rows, j], assign)


def enclaves(assign: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Which accounts another territory surrounds (see :func:`surrounding`)."""
    return surrounding(assign, near) != assign


def tidy(
    problem: TerritoryProblem,
    assign: np.ndarray,
    budget: float = BUDGET,
    strength: float = STRENGTH,
    rounds: int = ROUNDS,
    limit: float = 10.0,
) -> np.ndarray:
    """``assign`` with fewer enclaves where the rules allow, its cost at most ``budget``
    (a share) above what it was; ``assign`` itself when there are no coordinates, nothing
    to tidy, or no pair's re-solve helps. Each pair of territories that hold each other's
    enclaves is re-solved once a round (most enclaves first; at most as many pairs as
    there are territories), within ``limit`` seconds and
    :data:`terrlib.territory.polish.POLISH_NODES` nodes a MILP, so the result does not
    depend on the machine's speed."""
    p, m = problem, problem.m
    near = neighbours(p)
    if near is None or m < 2 or budget <= 0:
        return assign
    ceiling = p.evaluate(assign)["objective"] * (1 + budget)
    cost = strength * p.typical_cost()
    # a customer the plan leaves with its rep stays there when moving it costs more than
    # the average account's move: tidying is for the small accounts at the edges, not for
    # a rep's big customers (without this, the demo's 2026Q3 tidy moved 6.3% of the
    # bookings, not 3.8%, and four more of the top tenth of customers)
    kept = (assign == p.current) & (p.penalty > p.penalty.mean())
    p = dataclasses.replace(p, locked=p.locked | kept)
    for _ in range(rounds):
        anchor = surrounding(assign, near)
        out = anchor != assign
        if not out.any():
            break
        pairs = np.zeros((m, m))
        np.add.at(pairs, (assign[out], anchor[out]), 1.0)
        pairs = pairs + pairs.T
        a, b = np.nonzero(np.triu(pairs))
        order = np.lexsort((b, a, -pairs[a, b]))[:m]  # at most as many pairs as territories
        changed = False
        for k, j in zip(a[order], b[order], strict=True):
            anchor = surrounding(assign, near)
            now = int((anchor != assign).sum())  # the enclaves of ``assign``
            pulled = dataclasses.replace(p, anchor=anchor, anchor_cost=cost)
            sc = lp.Scales.of(pulled, np.arange(p.n) * m + assign)
            group = np.array([k, j])
            trial = polish.regroup(
                pulled, sc, assign, group, limit, arcs=2, nodes=polish.POLISH_NODES
            )
            if trial is None or p.evaluate(trial)["objective"] > ceiling:
                continue
            if enclaves(trial, near).sum() < now:
                assign, changed = trial, True
        if not changed:
            break
    return assign
