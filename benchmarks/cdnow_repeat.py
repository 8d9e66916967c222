"""Repeat purchase on the real CDNOW data: terrlib's logistic model against BG/NBD.

Run: ``.venv/bin/python benchmarks/cdnow_repeat.py [--resamples 1000] [--seed 0]`` (under a
minute). Needs the ``lifetimes`` package (a development dependency, unmaintained since
2020), which also ships the data.

Both models see only purchases dated up to 1997-09-30 and predict, for every customer, the
chance of buying again in a window after it; that is the measure they share (AUC, Brier
score, predicted against actual repeat buyers). BG/NBD also predicts how many repeat
transactions each customer makes, where a transaction is a customer-day (several purchase
lines on one day count once), as in Fader, Hardie and Lee (2005, "Counting your customers
the easy way", Marketing Science 24(2)); terrlib's model predicts no counts.

Three designs, each a row pair in the table:

- 13 weeks, the whole cohort (the 23,570 customers who first bought in Q1 1997): who buys
  between 1997-10-01 and 1997-12-30.
- 39 weeks on the published sample (its 2,357 customers, a 1/10th sample of the cohort):
  calibration 1997-01-01 to 1997-09-30, holdout 1997-10-01 to 1998-06-30, as in FHL 2005.
  The BG/NBD fit is printed against the published parameters.
- 39 weeks on the whole cohort: the same windows, ten times the customers.

terrlib's model (:func:`terrlib.stages.icp.repeat_model`) is trained at 1997-06-30 on
whether each customer bought within 13 weeks (labels observed by 1997-09-29, so nothing
after the calibration end is used) and scores customers at 1997-09-30. A 39-week label does
not fit inside a 39-week calibration period, so in the 39-week designs its scores are
13-week probabilities: they rank customers (AUC) but are not 39-week chances, and their
Brier score and sum are not shown. BG/NBD (``lifetimes.BetaGeoFitter``, time in weeks) is
fitted on each data set's calibration history; its chance of buying again in a window of
``t`` weeks is worked out from the fitted parameters (:func:`bgnbd_p_repeat`).

The AUC differences come with percentile intervals from a paired bootstrap over customers
(the fitted models are held fixed, so the intervals cover which customers were scored, not
refitting), with BG/NBD scored by its chance of buying again (the shared measure) and, as
it is usually used to rank, by its expected transactions.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from instances import cdnow_transactions
from scipy.special import betaln, gammaln

from terrlib.stages.icp import auc, repeat_features, repeat_model

CAL_END = pd.Timestamp("1997-09-30")
TRAIN = pd.Timestamp("1997-06-30")
TRAIN_DAYS = 91
#: BG/NBD on the 2,357-customer sample, time in weeks (Fader, Hardie and Lee 2005)
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@dataclass(frozen=True)
class Design:
    """One comparison: a data set and a window after the calibration end."""

    name: str
    sample: bool
    days: int


DESIGNS = (
    Design("13 weeks, whole cohort", sample=False, days=91),
    Design("39 weeks, FHL 2005 sample", sample=True, days=273),
    Design("39 weeks, whole cohort", sample=False, days=273),
)


def calibration_summary(purchases: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """BG/NBD's statistics per customer from purchases up to ``end``, time in weeks.

    Returns
    -------
    DataFrame
        Indexed by ``customer``: ``x`` (repeat transactions, i.e. purchase days after the
        first), ``t_x`` (first to last purchase day) and ``T`` (first purchase to ``end``).

    Examples
    --------
    >>> buys = pd.DataFrame({"customer": ["a", "a", "a", "b"],
    ...                      "date": pd.to_datetime(["1997-01-01", "1997-01-08", "1997-01-08",
    ...                                              "1997-01-15"])})
    >>> calibration_summary(buys, pd.Timestamp("1997-01-29")).to_dict("list")
    {'x': [1, 0], 't_x': [1.0, 0.0], 'T': [4.0, 2.0]}
    """
    g = purchases[purchases["date"] <= end].groupby("customer")["date"]
    first, last = g.min(), g.max()
    return pd.DataFrame(
        {
            "x": g.nunique() - 1,
            "t_x": (last - first).dt.days / 7,
            "T": (end - first).dt.days / 7,
        }
    )


def window_outcome(purchases: pd.DataFrame, end: pd.Timestamp, days: int) -> pd.Series:
    """Repeat transactions (purchase days) per customer in the ``days`` after ``end``,
    for the customers who bought by ``end`` (zero when they did not buy again)."""
    known = purchases.loc[purchases["date"] <= end, "customer"].unique()
    future = purchases[
        (purchases["date"] > end) & (purchases["date"] <= end + pd.Timedelta(days=days))
    ]
    counts = future.groupby("customer")["date"].nunique()
    return counts.reindex(known, fill_value=0).rename_axis("customer")


def _bgnbd_terms(
    params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray, t: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The logs of BG/NBD's two likelihood terms for a history ``(x, t_x, T)`` (FHL 2005,
    eq. 6), still active at ``T`` and dropped out after the last purchase, and of the first
    with ``T + t`` in place of ``T`` (still active and silent for ``t`` more periods)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
    base = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b) + betaln(a, b + x)
    alive = base - (r + x) * np.log(alpha + T)
    silent = base - (r + x) * np.log(alpha + T + t)
    dead = np.full_like(x, -np.inf)
    some = x > 0
    dead[some] = (
        gammaln(r + x[some])
        - gammaln(r)
        + r * np.log(alpha)
        - betaln(a, b)
        + betaln(a + 1, b + x[some] - 1)
        - (r + x[some]) * np.log(alpha + t_x[some])
    )
    return alive, dead, silent


def bgnbd_log_likelihood(
    params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> float:
    """BG/NBD's log-likelihood of the histories (FHL 2005, eq. 6)."""
    alive, dead, _ = _bgnbd_terms(params, x, t_x, T, 0.0)
    return float(np.logaddexp(alive, dead).sum())


def bgnbd_p_repeat(
    params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray, t: float
) -> np.ndarray:
    """BG/NBD's chance that a customer with history ``(x, t_x, T)`` buys at least once in
    the next ``t`` periods.

    A customer who has dropped out never buys; one still active buys unless the Poisson
    process is silent for ``t``. With the likelihood terms ``L_alive``, ``L_dead`` and
    ``L_silent`` of :func:`_bgnbd_terms` the chance is
    ``(L_alive - L_silent) / (L_alive + L_dead)``. Checked against simulated BG/NBD
    customers while writing it: within a point per frequency class.

    Examples
    --------
    With no repeat purchase a customer is active for sure, so the chance is one minus the
    NBD's chance of silence, ``1 - ((alpha + T) / (alpha + T + t))^r``:

    >>> p = dict(r=0.5, alpha=2.0, a=1.0, b=3.0)
    >>> got = bgnbd_p_repeat(p, np.array([0]), np.array([0.0]), np.array([10.0]), 5.0)
    >>> bool(np.isclose(got[0], 1 - (12 / 17) ** 0.5))
    True
    """
    alive, dead, silent = _bgnbd_terms(params, x, t_x, T, t)
    top = np.maximum(alive, dead)  # scale out the largest term: the likelihoods are tiny
    return (np.exp(alive - top) - np.exp(silent - top)) / (np.exp(dead - top) + np.exp(alive - top))


def fit_bgnbd(summary: pd.DataFrame):
    """``lifetimes.BetaGeoFitter`` fitted on a :func:`calibration_summary`."""
    from lifetimes import BetaGeoFitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BetaGeoFitter().fit(summary["x"], summary["t_x"], summary["T"])


def scores(purchases: pd.DataFrame, design: Design, logistic: dict, bgnbd) -> pd.DataFrame:
    """Each customer's outcome in the design's window and both models' predictions.

    Returns
    -------
    DataFrame
        Indexed by customer: ``actual`` (repeat transactions), ``buys`` (0 or 1), ``p_ours``
        (terrlib's chance of buying again, for 13 weeks), ``p_bgnbd`` (BG/NBD's chance for
        the window) and ``e_bgnbd`` (BG/NBD's expected repeat transactions).
    """
    summary = calibration_summary(purchases, CAL_END)
    actual = window_outcome(purchases, CAL_END, design.days)
    if design.days == TRAIN_DAYS:
        test = logistic["test"].set_index("customer")
        ours = test["p_repeat"]
    else:
        test = repeat_features(purchases, CAL_END, design.days).set_index("customer")
        ours = logistic["model"].predict(test)
    if not (test["buys_again"] == actual.reindex(test.index).gt(0)).all():
        raise AssertionError("terrlib's labels and the counted window disagree")
    weeks = design.days / 7
    params = {k: float(v) for k, v in bgnbd.params_.items()}
    frame = pd.DataFrame(
        {
            "actual": actual,
            "buys": actual.gt(0).astype(int),
            "p_ours": ours.reindex(actual.index),
            "p_bgnbd": bgnbd_p_repeat(params, summary["x"], summary["t_x"], summary["T"], weeks),
            "e_bgnbd": bgnbd.conditional_expected_number_of_purchases_up_to_time(
                weeks, summary["x"], summary["t_x"], summary["T"]
            ),
        }
    )
    if frame.isna().any().any():
        raise AssertionError("a customer is missing from one of the models")
    return frame


def auc_difference(
    frame: pd.DataFrame, theirs: str, resamples: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    """terrlib's AUC minus BG/NBD's (scored by the column ``theirs``) and a 95% percentile
    interval from a paired bootstrap over customers (both models scored on the same
    resampled customers)."""
    y, ours, theirs = (frame[c].to_numpy() for c in ("buys", "p_ours", theirs))
    point = auc(y, ours) - auc(y, theirs)
    draws = np.empty(resamples)
    for i in range(resamples):
        pick = rng.integers(0, len(y), len(y))
        draws[i] = auc(y[pick], ours[pick]) - auc(y[pick], theirs[pick])
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(point), float(low), float(high)


def _row(window: str, customers: str, model: str, cells: list[str]) -> str:
    """One line of the table: fixed-width text columns, then right-aligned figures."""
    return f"{window:<27}{customers:>9}  {model:<20}" + "".join(f"{c:>9}" for c in cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args()
    began = time.perf_counter()
    rng = np.random.default_rng(args.seed)

    data, fits = {}, {}
    for sample in (False, True):
        purchases = cdnow_transactions(sample=sample)
        data[sample] = purchases
        fits[sample] = (
            repeat_model(purchases, TRAIN, CAL_END, TRAIN_DAYS),
            fit_bgnbd(calibration_summary(purchases, CAL_END)),
        )
    master, sample = data[False], data[True]
    print(
        f"CDNOW as stored: the whole cohort, {master['customer'].nunique():,} customers "
        f"(first purchases {master.groupby('customer')['date'].min().min().date()} to "
        f"{master.groupby('customer')['date'].min().max().date()}), {len(master):,} purchase "
        f"lines; the FHL 2005 sample, {sample['customer'].nunique():,} of them, "
        f"{len(sample):,} lines, all in the master file"
        f"{'' if sample['customer'].isin(master['customer']).all() else ' (NOT ALL)'}."
    )
    print(
        f"Calibration: purchases to {CAL_END.date()}. A repeat transaction is a purchase day "
        "after the first; a repeat buyer has at least one in the window.\n"
    )
    print(_row("", "", "", ["", "", "buyers", "buyers", "trans.", "trans."]))
    print(
        _row("window", "customers", "model", ["AUC", "Brier", "pred.", "actual", "pred.", "actual"])
    )
    frames = {}
    for design in DESIGNS:
        logistic, bgnbd = fits[design.sample]
        frame = scores(data[design.sample], design, logistic, bgnbd)
        frames[design] = frame
        buyers, trans = f"{frame['buys'].sum():,}", f"{frame['actual'].sum():,}"
        same = design.days == TRAIN_DAYS
        brier = ((frame["p_ours"] - frame["buys"]) ** 2).mean()
        print(
            _row(
                design.name,
                f"{len(frame):,}",
                "terrlib logistic" if same else "terrlib logistic *",
                [
                    f"{auc(frame['buys'], frame['p_ours']):.3f}",
                    f"{brier:.3f}" if same else "-",
                    f"{frame['p_ours'].sum():,.0f}" if same else "-",
                    buyers,
                    "-",
                    trans,
                ],
            )
        )
        print(
            _row(
                "",
                "",
                "BG/NBD",
                [
                    f"{auc(frame['buys'], frame['p_bgnbd']):.3f}",
                    f"{((frame['p_bgnbd'] - frame['buys']) ** 2).mean():.3f}",
                    f"{frame['p_bgnbd'].sum():,.0f}",
                    buyers,
                    f"{frame['e_bgnbd'].sum():,.0f}",
                    trans,
                ],
            )
        )
    print(
        f"* trained on 13-week labels ({TRAIN.date()} + {TRAIN_DAYS} days): its scores rank "
        "customers for the 39-week window but are 13-week chances, so no Brier or sum.\n"
        "BG/NBD ranked by expected transactions instead of its chance of buying again: AUC "
        + ", ".join(f"{auc(f['buys'], f['e_bgnbd']):.3f} ({d.name})" for d, f in frames.items())
        + "\n"
    )

    print(
        f"AUC of terrlib's model minus BG/NBD's, 95% intervals from {args.resamples:,} paired "
        "bootstrap resamples of customers (models held fixed), BG/NBD scored by"
    )
    print(f"  {'':<28}{'its chance of buying again':>30}{'its expected transactions':>30}")
    for design, frame in frames.items():
        cells = []
        for theirs in ("p_bgnbd", "e_bgnbd"):
            point, low, high = auc_difference(frame, theirs, args.resamples, rng)
            cells.append(f"{point:+.3f} ({low:+.3f} to {high:+.3f})")
        print(f"  {design.name:<28}" + "".join(f"{c:>30}" for c in cells))

    print(f"\nBG/NBD parameters, weeks, fitted on purchases to {CAL_END.date()}:")
    print(f"  {'':<28}" + "".join(f"{k:>9}" for k in PUBLISHED) + f"{'-log L':>11}")
    print(f"  {'published (FHL 2005)':<28}" + "".join(f"{v:>9.3f}" for v in PUBLISHED.values()))
    for sample_only, name in ((True, "fitted, FHL sample"), (False, "fitted, whole cohort")):
        model = fits[sample_only][1]
        summary = calibration_summary(data[sample_only], CAL_END)
        params = {k: float(model.params_[k]) for k in PUBLISHED}
        loglik = bgnbd_log_likelihood(params, summary["x"], summary["t_x"], summary["T"])
        print(
            f"  {name:<28}" + "".join(f"{v:>9.3f}" for v in params.values()) + f"{-loglik:>11.1f}"
        )
    print(f"\n{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
