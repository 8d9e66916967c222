"""Repeat purchase on the real CDNOW data: terrlib's logistic model against BG/NBD.

Run: ``.venv/bin/python benchmarks/cdnow_repeat.py``. Both predict, at 1997-09-30, which
customers buy again in the next 13 weeks, using only purchases dated up to then; terrlib's
model is trained at 1997-06-30 with labels observed by 1997-09-29 (no overlap with the test).
BG/NBD (the ``lifetimes`` package, unmaintained since 2020) is fitted on the same history and
ranks customers by expected purchases in the window.
"""

from __future__ import annotations

import time
import warnings

import pandas as pd
from instances import cdnow_transactions

from terrlib.stages.icp import auc, repeat_model

TRAIN, TEST, HORIZON = pd.Timestamp("1997-06-30"), pd.Timestamp("1997-09-30"), 91


def bgnbd(purchases: pd.DataFrame) -> dict:
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    past = purchases[purchases["date"] <= TEST]
    summary = summary_data_from_transaction_data(
        past, "customer", "date", observation_period_end=TEST, freq="D"
    )
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    expected = model.conditional_expected_number_of_purchases_up_to_time(
        HORIZON, summary["frequency"], summary["recency"], summary["T"]
    )
    future = purchases[
        (purchases["date"] > TEST) & (purchases["date"] <= TEST + pd.Timedelta(days=HORIZON))
    ]
    y = summary.index.isin(future["customer"])
    # BG/NBD counts purchase days: compare its expected count with the actual purchase days
    actual_days = int(future.groupby("customer")["date"].nunique().sum())
    return {
        "auc": auc(y, expected),
        "expected_days": float(expected.sum()),
        "actual_days": actual_days,
        "seconds": time.perf_counter() - began,
    }


def main() -> None:
    purchases = cdnow_transactions()
    began = time.perf_counter()
    ours = repeat_model(purchases, TRAIN, TEST, HORIZON)
    ours_s = time.perf_counter() - began
    theirs = bgnbd(purchases)
    print(
        f"CDNOW: {purchases['customer'].nunique():,} customers, {len(purchases):,} purchase "
        f"lines; predict at {TEST.date()} who buys in the next {HORIZON} days"
    )
    print(f"{'model':<28}{'AUC':>7}   {'predicted / actual':<34}{'seconds':>8}")
    print(
        f"{'terrlib logistic (RFM)':<28}{ours['auc']:>7.3f}   "
        f"{ours['predicted']:>7,.0f} / {ours['actual']:<6,} repeat buyers     {ours_s:>8.1f}"
    )
    print(
        f"{'BG/NBD (lifetimes 0.11.3)':<28}{theirs['auc']:>7.3f}   "
        f"{theirs['expected_days']:>7,.0f} / {theirs['actual_days']:<6,} purchase days     "
        f"{theirs['seconds']:>8.1f}"
    )


if __name__ == "__main__":
    main()
