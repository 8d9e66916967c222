"""Benchmark and test instances: public reference data used to validate the models on real
behaviour, and generated plans. They live beside the benchmarks, outside the package, because
they read the repository's ``tests/fixtures`` and the read-only ``../shared/benchmarks``;
terrlib itself never reads either.

Examples
--------
>>> cdnow_path().name
'CDNOW_master.txt'

"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np
import pandas as pd

from terrlib.territory.problem import TerritoryProblem


def cdnow_path(sample: bool = False) -> Path:
    """Where the CDNOW master file (Fader & Hardie's 23,570 customers who first bought in
    early 1997, with every purchase to June 1998) sits inside the ``lifetimes`` package, or
    with ``sample`` the 1/10th sample of those customers (2,357) that Fader, Hardie and Lee
    (2005) fitted the BG/NBD model on.

    The file is read directly: the package's own loader needs an old setuptools.

    Raises
    ------
    FileNotFoundError
        When ``lifetimes`` (a development dependency) is not installed.
    """
    name = "CDNOW_sample.txt" if sample else "CDNOW_master.txt"
    try:
        path = Path(distribution("lifetimes").locate_file(f"lifetimes/datasets/{name}"))
    except PackageNotFoundError:
        raise FileNotFoundError(
            "the CDNOW data ships with the lifetimes package: "
            "install the development dependencies (make setup)"
        ) from None
    if not path.is_file():
        raise FileNotFoundError(f"CDNOW file not found at {path}")
    return path


def cdnow_transactions(sample: bool = False) -> pd.DataFrame:
    """CDNOW purchases as ``customer``, ``date``, ``amount`` (one row per purchase line; a
    customer may have several lines on one day), for the whole cohort or, with ``sample``,
    the published 2,357-customer sample (its rows are the master file's rows for those
    customers, under the same master ``customer`` ids).

    Examples
    --------
    >>> sample = cdnow_transactions(sample=True)
    >>> sample["customer"].nunique(), len(sample)
    (2357, 6919)
    """
    if sample:
        names = ["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"]
        raw = pd.read_csv(
            cdnow_path(sample=True),
            sep=r"\s+",
            header=None,
            names=names,
            dtype={"customer_id": str, "date": str},
        )
    else:
        raw = pd.read_csv(cdnow_path(), sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame(
        {
            "customer": raw["customer_id"],
            "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["dollar_value"].astype(float),
        }
    )


#: The Pfizer Turkey case, converted to CSV (see tests/fixtures/README.md).
PFIZER_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
PFIZER_CURRENT = {
    "SR1": [4, 5, 6, 7, 8, 15],
    "SR2": [10, 11, 12, 13, 14],
    "SR3": [9, 16, 17, 18],
    "SR4": [1, 2, 3, 19, 20, 21, 22],
}


def pfizer_case(folder: Path = PFIZER_DIR) -> dict:
    """The Pfizer Turkey territory case as optimizer inputs: 22 bricks (workload index as call
    hours, no travel), 4 reps with equal targets, the brick-to-office distance matrix, the
    current alignment and the known optima per workload band.

    Returns
    -------
    dict
        ``accounts``, ``territories`` (frames for
        :class:`~terrlib.optimize.TerritoryOptimizer`),
        ``distances`` (array) and ``optima`` (band, tolerance, distance).
    """
    dist = pd.read_csv(folder / "pfizer_distances.csv").set_index("brick")
    work = pd.read_csv(folder / "pfizer_workload.csv").set_index("brick")["workload"]
    owner = {b: rep for rep, bricks in PFIZER_CURRENT.items() for b in bricks}
    accounts = pd.DataFrame(
        {
            "account_id": dist.index,
            "latitude": 0.0,
            "longitude": 0.0,
            "calls": 0.0,
            "call_hours": work.reindex(dist.index).to_numpy(),
            "potential": 1.0,
            "territory_id": [owner[b] for b in dist.index],
        }
    )
    territories = pd.DataFrame(
        {"territory_id": dist.columns, "home_latitude": 0.0, "home_longitude": 0.0, "capacity": 1.0}
    )
    return {
        "accounts": accounts,
        "territories": territories,
        "distances": dist.to_numpy(),
        "optima": pd.read_csv(folder / "pfizer_optima.csv"),
    }


#: The project's read-only benchmark folder (see ../shared/benchmarks/README.md).
SHARED_BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"

#: Known optimal (SJC) and best known (p3038) values of the Lorena & Senne instances.
LORENA_SENNE_VALUES = {
    "SJC1": 17288.99,
    "SJC2": 33270.94,
    "SJC3a": 45335.16,
    "SJC3b": 40635.90,
    "SJC4a": 61925.51,
    "SJC4b": 52458.02,
    "p3038_600": 122711.17,
    "p3038_700": 109677.30,
    "p3038_800": 100064.94,
    "p3038_900": 92310.09,
    "p3038_1000": 85854.05,
}


def pmedian_instance(path: Path) -> dict:
    """A capacitated p-median instance, in OR-Library's pmedcap format (``*.txt``: line 1
    ``problem optimum``, line 2 ``n p capacity``, then ``id x y demand``; distances rounded
    down) or Lorena & Senne's (``*.dat``: line 1 ``n p``, then ``x y capacity demand``;
    plain Euclidean).

    Returns
    -------
    dict
        ``name``, ``coords`` (n x 2), ``demand``, ``p``, ``capacity``, ``metric`` (for
        :class:`~terrlib.territory.centres.CentrePlanner`) and ``known`` (optimal or best known
        value).

    Examples
    --------
    >>> case = pmedian_instance(PFIZER_DIR / "pmedcap01.txt")
    >>> case["p"], case["capacity"], case["known"], case["coords"].shape
    (5, 120.0, 713.0, (50, 2))
    """
    path = Path(path)
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    if path.suffix == ".txt":
        n, p, cap = (int(v) for v in lines[1][:3])
        table = np.array(lines[2 : 2 + n], float)
        coords, demand = table[:, 1:3], table[:, 3]
        known, metric = float(lines[0][1]), "euclidean_floor"
    else:
        n, p = (int(v) for v in lines[0][:2])
        table = np.array(lines[1 : 1 + n], float)
        coords, demand, cap = table[:, :2], table[:, 3], table[0, 2]
        known, metric = LORENA_SENNE_VALUES.get(path.stem, float("nan")), "euclidean"
    return {
        "name": path.stem,
        "coords": coords,
        "demand": demand,
        "p": p,
        "capacity": float(cap),
        "metric": metric,
        "known": known,
    }


def generated_plan(n: int, m: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A generated territory plan for benchmarks and tests (issue 5): ``n`` accounts and
    ``m`` rep homes across the continental US.

    Accounts cluster around 30 metro centres of unequal weight (80%) or are spread evenly
    (20%); call hours are lognormal (median 12 a year), calls are 45 minutes, potential is
    call hours times a lognormal factor. Rep homes are drawn from the same distribution, so
    some reps live far from most accounts. Every account's current territory is its nearest
    home's. The same ``seed`` gives the same plan.

    Returns
    -------
    accounts, territories : DataFrame
        In the form :class:`terrlib.territory.estimator.TerritoryOptimizer` takes.

    Examples
    --------
    >>> acc, ter = generated_plan(200, 5, seed=1)
    >>> len(acc), len(ter), acc["territory_id"].isin(ter["territory_id"]).all()
    (200, 5, np.True_)
    """
    rng = np.random.default_rng(seed)
    metros = np.column_stack([rng.uniform(30, 47, 30), rng.uniform(-122, -72, 30)])
    weight = rng.dirichlet(np.ones(30) * 0.7)

    def points(k: int) -> np.ndarray:
        which = rng.choice(30, k, p=weight)
        near = metros[which] + rng.normal(0, 0.35, (k, 2))
        far = np.column_stack([rng.uniform(30, 47, k), rng.uniform(-122, -72, k)])
        return np.where(rng.random((k, 1)) < 0.8, near, far)

    xy = points(n)
    hours = rng.lognormal(2.5, 0.6, n)
    acc = pd.DataFrame(
        {
            "account_id": np.arange(n),
            "latitude": xy[:, 0],
            "longitude": xy[:, 1],
            "calls": hours / 0.75,
            "call_hours": hours,
            "potential": hours * rng.lognormal(0, 0.4, n),
        }
    )
    home = points(m)
    ter = pd.DataFrame(
        {
            "territory_id": [f"T{k:03d}" for k in range(m)],
            "home_latitude": home[:, 0],
            "home_longitude": home[:, 1],
            "capacity": 1.0,
        }
    )
    _, cols = TerritoryProblem.build(acc.assign(territory_id="T000"), ter).nearest(1)
    acc["territory_id"] = ter["territory_id"].to_numpy()[cols]
    return acc, ter


def pmedian_request(case: dict):
    """A capacitated p-median instance (:func:`pmedian_instance`) as the product's
    free-centre request: every point an account with its demand as call hours, no travel in
    workload, unit weights (the objective is total distance), no potential band, and ``p``
    equal territories whose workload band is ``[0, capacity]`` (tolerance 100% around half
    the capacity: ``totals`` fixes the workload the shares apply to at ``p x capacity / 2``).

    Returns
    -------
    opt, points, start
        The :class:`~terrlib.optimize.TerritoryOptimizer` (its distances are set by
        :func:`~terrlib.territory.scratch.from_scratch` each round), the instance's
        :class:`~terrlib.territory.scratch.Points`, and the first bases
        (:func:`kmeans_start`).
    """
    from terrlib.territory.estimator import TerritoryOptimizer
    from terrlib.territory.scratch import Points

    n, p = len(case["demand"]), case["p"]
    accounts = pd.DataFrame(
        {
            "account_id": np.arange(n),
            "latitude": 0.0,
            "longitude": 0.0,
            "calls": 0.0,
            "call_hours": case["demand"],
            "potential": 1.0,
            "territory_id": "",
        }
    )
    territories = pd.DataFrame(
        {
            "territory_id": [f"C{k:04d}" for k in range(p)],
            "home_latitude": 0.0,
            "home_longitude": 0.0,
            "capacity": 1.0,
        }
    )
    points = Points(case["coords"], case["metric"])
    start = kmeans_start(points, case["demand"], p)
    opt = TerritoryOptimizer(
        accounts,
        territories,
        tolerance=1.0,
        totals=(p * case["capacity"] / 2, None),
        balance_potential=False,
        travel_weight="none",
        visits_per_call=0.0,
        disruption=0.0,
        distances=points.to(start),
        reach_km=float("inf"),  # a p-median has no reach
    )
    return opt, points, start


def kmeans_start(points, demand: np.ndarray, p: int, seed: int = 0, rounds: int = 20):
    """``p`` distinct points to start from: demand-weighted k-means of the plane
    coordinates (k-means++ seeding from ``seed``), each centre moved to its nearest point."""
    xy = np.asarray(points.coords, float)
    rng = np.random.default_rng(seed)
    centres = [xy[rng.integers(len(xy))]]
    near = ((xy - centres[0]) ** 2).sum(1)  # each point's squared distance to its nearest
    for _ in range(p - 1):
        w = near * demand
        centres.append(xy[rng.choice(len(xy), p=w / w.sum())])
        near = np.minimum(near, ((xy - centres[-1]) ** 2).sum(1))
    centres = np.array(centres)
    for _ in range(rounds):
        label = np.argmin(((xy[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        for k in range(p):
            w = demand[label == k]
            if w.sum() > 0:
                centres[k] = (xy[label == k] * w[:, None]).sum(0) / w.sum()
    taken, start = set(), []
    for c in centres:
        for i in np.argsort(((xy - c) ** 2).sum(1)):
            if int(i) not in taken:
                taken.add(int(i))
                start.append(int(i))
                break
    return np.array(start)
