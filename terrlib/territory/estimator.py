"""The territory optimizer: a balanced, compact, low-disruption assignment of accounts to reps,
with a certified lower bound so every proposal carries its optimality gap.

Model (``docs/optimizer.md``). Accounts i, territories k with a rep home. ``x_ik`` = 1 when
account i goes to territory k.

* every account assigned once; locked accounts stay where they are;
* workload: ``sum_i h_ik x_ik`` within ±tolerance of territory k's share of the total, where
  ``h_ik`` is the account's hours a year if served from k's home (call time plus travel), so a
  target follows the rep's capacity (a part-time rep gets half);
* potential: ``sum_i p_i x_ik`` within ±tolerance of k's share of total potential;
* reach: no account goes to a rep home farther than its reach (``reach_km``, by default
  derived from today's alignment) unless it is nearer than its rep today, nor out of its
  region when both frames have a ``region`` (unless ``cross_regions``);
* optionally at most ``max_accounts`` accounts in a territory and at most
  ``max_moved_share`` of the accounts (or of the revenue) changing territory;
* minimise ``sum_i w_i d_ik x_ik`` (call hours x distance: travel) plus ``disruption`` x the
  account's revenue weight for every account moved away from its current territory.

Method, one module per step: the problem is built once (:mod:`~terrlib.territory.problem`);
the LP (:mod:`~terrlib.territory.model`) is solved by column generation with its certified
bound (:mod:`~terrlib.territory.relaxation`), on large plans from the arcs an approximate
Lagrangian dual picks (:mod:`~terrlib.territory.dual`); the LP is rounded along a band-shrink
schedule (:mod:`~terrlib.territory.rounding`), repaired and improved by single moves
(:mod:`~terrlib.territory.search`) and polished by MILPs (:mod:`~terrlib.territory.polish`);
when the rules cannot hold, :mod:`~terrlib.territory.diagnose` says why. Very large plans go
region by region (:mod:`~terrlib.territory.regions`). ``gap_`` = (objective - bound) /
objective.

Examples
--------
>>> import pandas as pd
>>> acc = pd.DataFrame({"account_id": list("abcd"), "latitude": [40.0, 40.1, 41.0, 41.1],
...                     "longitude": [-75.0] * 4, "call_hours": [10.0] * 4,
...                     "potential": [1.0] * 4, "territory_id": ["T1", "T1", "T1", "T2"]})
>>> homes = pd.DataFrame({"territory_id": ["T1", "T2"], "home_latitude": [40.0, 41.0],
...                       "home_longitude": [-75.0, -75.0], "capacity": [1.0, 1.0]})
>>> opt = TerritoryOptimizer(acc, homes, tolerance=0.05, travel_speed_kmh=1e9).solve()
>>> opt.assignment_.tolist()
['T1', 'T1', 'T2', 'T2']
>>> round(opt.gap_, 6)
0.0
>>> opt.with_params(tolerance=0.2).get_params()["tolerance"]
0.2
"""

from __future__ import annotations

import inspect
import time
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

from terrlib.results import Result
from terrlib.territory import groups, outcome, pipeline, regions
from terrlib.territory.problem import (  # noqa: F401  (InfeasibleRequest: part of the API)
    SETTINGS,
    InfeasibleRequest,
    TerritoryProblem,
    unit_vectors,
)
from terrlib.territory.relaxation import Workspace


class TerritoryOptimizer:
    """Balanced, compact, low-disruption assignment of accounts to territories.

    Parameters are stored as given; :meth:`solve` builds the problem from them each time, so
    changing one (or :meth:`with_params`) and solving again is a new request.

    Parameters
    ----------
    accounts : DataFrame
        ``account_id``, ``latitude``, ``longitude``, ``calls`` (a year), ``call_hours`` (call
        time a year, without travel), ``potential`` and ``territory_id`` (current); optional
        ``revenue`` (weight of moving it, default 1), ``bookings`` (what it bought in the
        last year: moving it weighs the mean of its revenue weight and its bookings weight)
        and ``locked`` (bool).
    territories : DataFrame
        ``territory_id``, ``home_latitude``, ``home_longitude`` and ``capacity`` (relative
        size: targets are shares of the totals in proportion to it); optional
        ``max_accounts``.
    tolerance : float
        Allowed deviation of each territory's workload from its target, ±.
    potential_tolerance : float, optional
        The same for potential (default: ``tolerance``).
    disruption : float
        Cost of moving an account, in units of the average account's travel cost to its
        nearest home, scaled by its revenue weight (with ``bookings``, by the mean of its
        revenue and bookings weights).
    max_moved_share : float, optional
        At most this share of accounts (or of revenue, see ``cap_by``) may change territory.
    reach_km : float, optional
        The farthest (in km, see ``circuity``) a rep home may be from an account it is given,
        so that no rep is handed an account on the other side of the country to even out the
        numbers. An account already farther from today's rep may go to any nearer one; one
        with no territory today may always go to its region's two nearest homes; its
        current territory is always allowed. Default (None):
        :func:`~terrlib.territory.problem.default_reach`, the distance within which today's
        reps serve four in five of their accounts; ``inf`` for no limit.
    circuity : float
        Road distance against great circle (1.25 is typical of road networks); distances
        from coordinates are great-circle km times this. Not applied to ``distances``.
    cross_regions : bool
        Let accounts go to a territory of another region (when both frames have a
        ``region`` column; without one, regions do not restrict moves).
    territory_tolerance : dict, optional
        ``territory_id`` -> a wider tolerance for that territory (one for workload and
        potential, or a (workload, potential) pair; a value below the plan's keeps the
        plan's), for territories that cannot be balanced within reach (see
        :func:`terrlib.territory.unbalanced.unbalanced`); the rest keep ``tolerance``.
    cap_by : {"accounts", "revenue"}
        What ``max_moved_share`` counts.
    visits_per_call, travel_speed_kmh, min_travel_minutes : float
        The coverage model's travel: share of calls made in person, speed and a floor per trip.
    candidates : int
        Nearest homes offered to each account before pricing adds any other arc.
    distances : array, optional
        Distances (accounts x territories, km) to use instead of great-circle distances.
    travel_weight : {"call_hours", "none"}
        Weight of each account's distance in the travel objective.
    compactness : float
        Weight of every account's distance to its rep on top of its travel, as a multiple
        of the average account's travel weight: the objective is then travel plus
        ``compactness`` x the average call hours x the sum of accounts' distances. Travel
        weighted by call hours alone makes a far small account nearly free to hand to a
        rep, so balancing pads territories with their neighbours' small accounts; this
        term keeps every account, large or small, with a near rep (0: travel only, as the
        published benchmark problems are posed; the plan's default is 2).
    tidy : float
        A last step that gives accounts set among another territory's accounts to that
        territory where every rule still holds and the plan's cost rises by at most 1%
        (:mod:`terrlib.territory.tidy`): the cost of leaving the territory around an
        account, in average accounts' travel (0: no such step, as the published benchmark
        problems are posed; the plan's default is 10). Not in quick solves, nor in plans
        solved region by region.
    balance_potential : bool
        Also keep potential within its tolerance (default True).
    time_limit : float
        Seconds allowed to each MILP solve. The MILPs stop on counts of nodes and solves
        instead, so the same request gives the same proposal on any machine; this is only a
        safety net, set well above what they take on a busy machine (the report runs two
        notebooks at once).
    totals : (float or None, float or None), optional
        Total workload hours and potential that the territories' shares apply to, instead
        of the assignment's own totals (None keeps those): fixed targets, for a region of a
        larger plan.

    Attributes
    ----------
    problem_ : TerritoryProblem
        The problem the last solve built (accounts and territories as arrays).
    assignment_ : Series
        Proposed ``territory_id`` per ``account_id``; ``assign_idx_`` the same as positions.
    objective_, lower_bound_, gap_ : float
        Travel plus compactness and disruption cost, the certified lower bound, and the gap
        between them.
    travel_, travel_before_ : float
        Call-hour kilometres of the proposal and of today's alignment.
    summary_, moves_ : DataFrame
        Per territory before and after, and one row per moved account with its reason.
    method_ : str
        How the proposal was found. ``seconds_``: how long the solve took.
    prices_ : dict
        The LP's multipliers per territory row (for a region's part in a Lagrangian bound).
    regions_ : int
        Regions solved, when the plan was solved region by region.
    widened_ : (float, str)
        Set by :func:`terrlib.stages.balancing.solve_or_widen` when the tolerance asked for
        could not be met: that tolerance and why.
    """

    def __init__(
        self,
        accounts: pd.DataFrame,
        territories: pd.DataFrame,
        tolerance: float = 0.10,
        potential_tolerance: float | None = None,
        disruption: float = 1.0,
        max_moved_share: float | None = None,
        reach_km: float | None = None,
        circuity: float = 1.0,
        cross_regions: bool = False,
        territory_tolerance: dict | None = None,
        cap_by: str = "accounts",
        visits_per_call: float = 0.2,
        travel_speed_kmh: float = 70.0,
        min_travel_minutes: float = 10.0,
        candidates: int = 8,
        distances: np.ndarray | None = None,
        travel_weight: str = "call_hours",
        compactness: float = 0.0,
        tidy: float = 0.0,
        balance_potential: bool = True,
        time_limit: float = 30.0,
        totals: tuple[float | None, float | None] | None = None,
    ):
        self.accounts = accounts
        self.territories = territories
        self.tolerance = tolerance
        self.potential_tolerance = potential_tolerance
        self.disruption = disruption
        self.max_moved_share = max_moved_share
        self.reach_km = reach_km
        self.circuity = circuity
        self.cross_regions = cross_regions
        self.territory_tolerance = territory_tolerance
        self.cap_by = cap_by
        self.visits_per_call = visits_per_call
        self.travel_speed_kmh = travel_speed_kmh
        self.min_travel_minutes = min_travel_minutes
        self.candidates = candidates
        self.distances = distances
        self.travel_weight = travel_weight
        self.compactness = compactness
        self.tidy = tidy
        self.balance_potential = balance_potential
        self.time_limit = time_limit
        self.totals = totals
        self._workspace = Workspace()  # a warm start for the next solve, not a result

    # ------------------------------------------------------------------ parameters

    @classmethod
    def _param_names(cls) -> list[str]:
        return [n for n in inspect.signature(cls.__init__).parameters if n != "self"]

    def get_params(self) -> dict[str, Any]:
        """Every constructor parameter as currently set (the two frames included)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def with_params(self, **changes: Any) -> TerritoryOptimizer:
        """A new, unsolved optimizer with these parameters changed and the rest as here.

        Raises
        ------
        TypeError
            For a name that is not a parameter.
        """
        unknown = set(changes) - set(self._param_names())
        if unknown:
            raise TypeError(f"not parameters of TerritoryOptimizer: {sorted(unknown)}")
        return type(self)(**(self.get_params() | changes))

    def warm_from(self, other: TerritoryOptimizer) -> TerritoryOptimizer:
        """Start the next solve from ``other``'s last LP (its arcs and basis) when it has one
        and the plan has the same size; the proposal is then found faster, from the same
        certified bound. Returns self."""
        if other._workspace.warm is not None:
            self._workspace.warm = other._workspace.warm
        return self

    def changed(self, locked_accounts=None, **changes: Any) -> TerritoryOptimizer:
        """A new, unsolved optimizer with ``changes`` (any parameters) warm from this one;
        ``locked_accounts`` (account ids) replaces the accounts' locks. The warm start is
        this optimizer's last LP, reused only where it is valid for the new request: arcs
        that a new lock, a shorter reach or another region rule forbids are dropped (and the
        basis with them), so a lock always holds."""
        return self.with_changes(locked_accounts, **changes).warm_from(self)

    def with_changes(self, locked_accounts=None, **changes: Any) -> TerritoryOptimizer:
        """A new, unsolved optimizer with ``changes`` (any parameters), not warm from this
        one; ``locked_accounts`` (account ids) replaces the accounts' locks."""
        if locked_accounts is not None:
            accounts = changes.get("accounts", self.accounts).copy()
            accounts["locked"] = accounts["account_id"].isin(list(locked_accounts)).to_numpy()
            changes["accounts"] = accounts
        return self.with_params(**changes)

    def resolve(self, quick: bool = True, locked_accounts=None, **changes: Any):
        """A new optimizer with ``changes`` (see :meth:`changed`), solved warm from this one
        (``quick`` by default, as the what-if panel does; ``quick=False`` polishes as the
        proposal does). This optimizer is left as it was.

        Raises
        ------
        InfeasibleRequest
            When the changed request cannot be met.
        """
        return self.changed(locked_accounts, **changes).solve(quick=quick)

    def problem(self) -> TerritoryProblem:
        """The problem these parameters describe."""
        settings = {k: getattr(self, k) for k in SETTINGS}
        return TerritoryProblem.build(self.accounts, self.territories, **settings)

    # ------------------------------------------------------------------ solve

    def solve(
        self,
        exact: bool | None = None,
        time_limit: float | None = None,
        quick: bool = False,
        rounding_only: bool = False,
        explain: bool = True,
        executor: Executor | None = None,
    ):
        """Solve; sets the fitted attributes (see the class notes). Returns self.

        ``exact`` (by default when accounts x territories is at most 5,000) hands every
        account to the MILP, on every arc, so its bound is global; otherwise only the
        neighbourhood of the LP's split and cheaply movable accounts is free. ``quick``
        keeps the first feasible rounding instead of also polishing it with MILPs (for
        interactive re-solves; the gap says what that costs). Plans of 20,000,000 accounts x
        territories or more whose workload is call hours, with rep-home coordinates and no
        cap on moves, are solved region by region
        (:func:`terrlib.territory.regions.solve_by_regions`) unless ``exact``.
        ``rounding_only`` takes the LP's first rounding that keeps every rule, and fails at
        once (without a diagnosis) when there is none: the fast test the trade-off curve
        bisects with. Without ``explain`` an infeasible request is not diagnosed (the
        diagnosis solves a series of LPs or MILPs): for callers that go on to
        :func:`terrlib.territory.unbalanced.unbalanced` anyway. A plan solved region by
        region sends its regions to ``executor`` (any ``concurrent.futures.Executor``, such
        as a Dask cluster's ``Client(...).get_executor()``; default: in process); the plan
        is the same either way.

        Raises
        ------
        InfeasibleRequest
            When no assignment meets the rules, naming the rule and the tightest tolerance
            that can be met.
        """
        began = time.perf_counter()
        limit = self.time_limit if time_limit is None else time_limit
        problem = self.problem()
        exact_given = exact
        if exact is None:
            exact = problem.n * problem.m <= pipeline.EXACT
        self.__dict__.pop("regions_", None)
        units = groups.grouped(problem)
        if units is not None:  # accounts that share a group go together: solve the units
            unit_problem, unit_of = units
            if exact_given is None:
                exact = unit_problem.n * unit_problem.m <= pipeline.EXACT
            solution = pipeline.solve(
                unit_problem, self._workspace, exact and not rounding_only, limit, quick,
                rounding_only, explain,
            )  # fmt: skip
            self._finish(problem, solution, unit_problem, unit_of)
        elif not exact and not rounding_only and regions.suits(problem):
            solution = regions.solve_by_regions(problem, self._workspace, limit, executor=executor)
            self.regions_ = solution.regions
            self._finish(problem, solution)
        else:
            solution = pipeline.solve(
                problem, self._workspace, exact and not rounding_only, limit, quick,
                rounding_only, explain,
            )  # fmt: skip
            self._finish(problem, solution)
        self.seconds_ = time.perf_counter() - began
        return self

    def adopt(self, assign: np.ndarray, method: str, bound: float | None = None):
        """Set the fitted attributes from a given assignment (territory positions per
        account) instead of solving, with ``bound`` as its lower bound (its own cost when
        None: for a plan that is the only one the rules allow, such as today's alignment
        under a cap of no moves). Returns self."""
        problem = self.problem()
        assign = np.asarray(assign, int)
        cost = problem.evaluate(assign)["objective"]
        self._finish(
            problem,
            pipeline.Solution(assign, cost if bound is None else bound, method, {}, None),
        )
        self.seconds_ = 0.0
        return self

    def _finish(self, problem: TerritoryProblem, solution, units=None, unit_of=None) -> None:
        """Set the fitted attributes from ``solution``; of the ``units`` problem when
        accounts were grouped (``unit_of``: each account's unit), whose gap it keeps."""
        assign = solution.assign if unit_of is None else solution.assign[unit_of]
        score = problem.evaluate(assign)
        self.problem_ = problem
        self.prices_ = solution.prices
        self.method_ = solution.method
        self.assign_idx_ = assign
        self.assignment_ = pd.Series(
            problem.ids[assign], index=problem.accounts["account_id"], name="territory_id"
        )
        self.objective_ = score["objective"]
        if units is None:
            self.lower_bound_ = min(solution.bound, self.objective_)  # rounding noise only
        else:
            # the gap of the plan over units (their distances); the bound in account terms
            own = units.evaluate(solution.assign)["objective"]
            unit_gap = max(0.0, 1 - solution.bound / max(own, 1e-12))
            self.lower_bound_ = self.objective_ * (1 - unit_gap)
            self.method_ += f" (over {units.n:,} units: groups of accounts that go together)"
        self.gap_ = max(0.0, (self.objective_ - self.lower_bound_) / max(self.objective_, 1e-12))
        self.travel_ = score["travel"]
        known = np.flatnonzero(problem.current >= 0)
        before = problem.arc_values(known, problem.current[known])
        self.travel_before_ = float(before["travel"].sum())
        self.summary_ = outcome.territory_summary(problem, assign)
        self.moves_ = outcome.moved_accounts(problem, assign, self.summary_)

    def evaluate(self, assign: np.ndarray) -> dict[str, float]:
        """Objective, travel, moved weight and total band breach of an assignment given as
        territory positions (0..m-1) per account; ``breach`` is 0 when every band holds."""
        problem = getattr(self, "problem_", None) or self.problem()
        return problem.evaluate(assign)

    # ------------------------------------------------------------------ results

    def summary(self) -> Result:
        """The solve as a result: per territory before and after, and a headline with the
        objective, its certified bound and gap, the accounts moved and the method."""
        if not hasattr(self, "summary_"):
            return Result(
                "Territory optimizer (not solved)",
                f"{len(self.accounts):,} accounts, {len(self.territories):,} territories, "
                f"workload within ±{self.tolerance:.0%}; call solve().",
                pd.DataFrame(),
            )
        return Result(
            "Territory optimizer",
            f"Objective {self.objective_:,.0f} against a certified lower bound of "
            f"{self.lower_bound_:,.0f} (gap {self.gap_:.2%}); {len(self.moves_):,} of "
            f"{self.problem_.n:,} accounts move. Method: {self.method_}.",
            self.summary_,
            formats={c: "{:.0%}" for c in self.summary_ if "_vs_target_" in c}
            | {c: "{:,.0f}" for c in self.summary_ if c.startswith(("hours_", "travel_km_"))},
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()
