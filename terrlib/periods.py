"""Fiscal quarters: parsing, bounds and the latest complete quarter in a data set.

A quarter such as ``"2026Q3"`` is the unit of a run. Fiscal years are named by the calendar
year in which they end (the pandas ``Q-<month>`` convention): with a fiscal year starting in
February, fiscal 2026 runs from February 2025 to January 2026 and ``2026Q1`` is February to
April 2025.

Examples
--------
>>> q = parse_quarter("2026Q3")
>>> str(q.start_time.date()), str(q.end_time.date())
('2026-07-01', '2026-09-30')
>>> str(quarter_of(pd.Timestamp("2026-11-02")))
'2026Q4'
"""

from __future__ import annotations

import re

import pandas as pd

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_QUARTER_RE = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")


def quarter_freq(fiscal_year_start_month: int = 1) -> str:
    """Return the pandas period frequency for a fiscal year starting in the given month.

    Parameters
    ----------
    fiscal_year_start_month : int
        1 for a calendar fiscal year, 2 for February, and so on.

    Returns
    -------
    str
        A frequency such as ``"Q-DEC"``.

    Examples
    --------
    >>> quarter_freq(2)
    'Q-JAN'
    """
    if not 1 <= fiscal_year_start_month <= 12:
        raise ValueError("fiscal_year_start_month must be between 1 and 12")
    return f"Q-{_MONTHS[(fiscal_year_start_month - 2) % 12]}"


def parse_quarter(text: str | pd.Period, fiscal_year_start_month: int = 1) -> pd.Period:
    """Parse ``"2026Q3"`` (or ``"2026-Q3"``) into a quarterly :class:`pandas.Period`.

    Raises
    ------
    ValueError
        With a message naming the expected form when ``text`` is not a quarter.

    Examples
    --------
    >>> str(parse_quarter("2025-q4"))
    '2025Q4'
    """
    freq = quarter_freq(fiscal_year_start_month)
    if isinstance(text, pd.Period):
        return text.asfreq(freq) if text.freqstr != freq else text
    match = _QUARTER_RE.match(str(text))
    if not match:
        raise ValueError(f"quarter {text!r} is not of the form 2026Q3")
    return pd.Period(year=int(match.group(1)), quarter=int(match.group(2)), freq=freq)


def quarter_of(when: pd.Timestamp, fiscal_year_start_month: int = 1) -> pd.Period:
    """Return the fiscal quarter containing a timestamp."""
    return pd.Timestamp(when).to_period(quarter_freq(fiscal_year_start_month))


def quarter_bounds(quarter: str | pd.Period, fiscal_year_start_month: int = 1):
    """Return the first and last day of a quarter as normalised timestamps.

    Examples
    --------
    >>> start, end = quarter_bounds("2026Q1")
    >>> str(start.date()), str(end.date())
    ('2026-01-01', '2026-03-31')
    """
    q = parse_quarter(quarter, fiscal_year_start_month)
    return q.start_time.normalize(), q.end_time.normalize()


def latest_complete_quarter(
    last_date: pd.Timestamp, fiscal_year_start_month: int = 1, grace_days: int = 7
) -> pd.Period:
    """Return the latest quarter the data covers completely.

    A quarter counts as complete when the data reaches its final ``grace_days`` days (CRM
    extracts rarely carry records on the very last day); otherwise the quarter before is taken.

    Examples
    --------
    >>> str(latest_complete_quarter(pd.Timestamp("2026-09-29")))
    '2026Q3'
    >>> str(latest_complete_quarter(pd.Timestamp("2026-08-15")))
    '2026Q2'
    """
    q = quarter_of(last_date, fiscal_year_start_month)
    end = q.end_time.normalize()
    if pd.Timestamp(last_date).normalize() >= end - pd.Timedelta(days=grace_days - 1):
        return q
    return q - 1


def trailing_bounds(quarter: str | pd.Period, n: int, fiscal_year_start_month: int = 1):
    """First and last day of the ``n`` quarters ending with ``quarter``.

    Examples
    --------
    >>> start, end = trailing_bounds("2026Q3", 4)
    >>> str(start.date()), str(end.date())
    ('2025-10-01', '2026-09-30')
    """
    q = parse_quarter(quarter, fiscal_year_start_month)
    return (q - (n - 1)).start_time.normalize(), q.end_time.normalize()
