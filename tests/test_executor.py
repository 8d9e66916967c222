"""Beyond one process (issue 24): the regions of a large plan go to any
``concurrent.futures.Executor``, a local process pool or a Dask cluster, and the plan is the
one solved in process."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import distributed
import numpy as np
import pandas as pd
import pytest
from instances import generated_plan

from terrlib.territory import regions
from terrlib.territory.estimator import TerritoryOptimizer
from terrlib.territory.regions import solve_by_regions

CALL_HOURS = {"tolerance": 0.05, "disruption": 0.2, "visits_per_call": 0.0, "reach_km": np.inf}


@pytest.fixture(scope="module")
def plan():
    acc, ter = generated_plan(3000, 24, seed=4)
    acc["locked"] = np.arange(len(acc)) % 37 == 0
    return TerritoryOptimizer(acc, ter, **CALL_HOURS)


@pytest.fixture(scope="module")
def in_process(plan):
    return solve_by_regions(plan.problem(), size=6)


class Recording:
    """An executor that runs each task at once and counts them."""

    def __init__(self):
        self.tasks = 0

    def submit(self, fn, *args, **kwargs):
        from concurrent.futures import Future

        self.tasks += 1
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_a_process_pool_gives_the_plan_solved_in_process(plan, in_process):
    with ProcessPoolExecutor(2) as pool:
        spread = solve_by_regions(plan.problem(), size=6, executor=pool)
    assert in_process.regions >= 3
    np.testing.assert_array_equal(spread.assign, in_process.assign)
    assert spread.bound == pytest.approx(in_process.bound, rel=1e-9)


def test_the_optimizer_hands_its_regions_to_the_executor(plan, in_process, monkeypatch):
    monkeypatch.setattr(regions, "REGIONS", 1)  # region by region at this size too
    recording = Recording()
    solved = plan.with_params(time_limit=30.0).solve(executor=recording)
    assert solved.regions_ >= 2 and recording.tasks >= solved.regions_
    baseline = plan.with_params(time_limit=30.0).solve()
    np.testing.assert_array_equal(solved.assign_idx_, baseline.assign_idx_)


def test_a_local_dask_cluster_gives_the_plan_solved_in_process(plan, in_process):
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        spread = solve_by_regions(plan.problem(), size=6, executor=client.get_executor())
    np.testing.assert_array_equal(spread.assign, in_process.assign)
    assert spread.bound == pytest.approx(in_process.bound, rel=1e-9)


def _grid(opt):
    return {
        "the plan": {},
        "±5% workload": {"tolerance": 0.05},
        "one more rep": {"reps": len(opt.territories) + 1},
        "no moves": {"max_moved_share": 0.0},
    }


def test_a_scenario_grid_on_a_dask_cluster_is_the_grid_in_process(small_data):
    """What-if scenarios solved side by side on a local 2-worker Dask cluster give the
    figures solved one after another in process; each scenario keeps its own rules."""
    from terrlib.stages import balancing, whatif

    opt = balancing.from_dataset(small_data)
    grid = _grid(opt)
    here = whatif.scenarios(opt, grid).table.set_index("scenario")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        there = whatif.scenarios(opt, grid, executor=client.get_executor()).table
    there = there.set_index("scenario")
    figures = [c for c in here.columns if c != "seconds"]
    assert list(there.index) == list(grid)
    pd.testing.assert_frame_equal(there[figures], here[figures])
    assert here.loc["no moves", "accounts moved"] == 0
    assert here.loc["one more rep", "reps"] == len(opt.territories) + 1
    assert (here["note"] == "").all()
    assert here.loc["the plan", "accounts moved"] > 0
