"""The data contract (DESIGN §3): the four tables, their columns and their rules.

Column-level rules (unique keys, missing values, ranges, allowed categories) are pandera
schemas; rules across columns or tables (close before created, dangling references) live in
:mod:`terrlib.inputs.dataset`, which turns every failure into one
:class:`~terrlib.inputs.dataset.Problem`.

Examples
--------
>>> CONTRACT["opportunities"].key
'opportunity_id'
>>> sorted(STAGES)
['lost', 'open', 'won']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandera.pandas as pa

STAGES = ("open", "won", "lost")
ACTIVITY_TYPES = ("call", "visit", "meeting", "email")


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract.

    Attributes
    ----------
    name : str
        Table name, also the file stem (``accounts.csv`` or ``accounts.parquet``).
    key : str
        Unique key column.
    text, numbers, dates : tuple of str
        Required columns by how they are parsed.
    optional : tuple of str
        Columns that may be absent (``postal_code``; ``latitude``/``longitude`` when a postal
        code is given).
    """

    name: str
    key: str
    text: tuple[str, ...]
    numbers: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    nullable: tuple[str, ...] = field(default=())

    @property
    def required(self) -> tuple[str, ...]:
        return self.text + self.numbers + self.dates


CONTRACT: dict[str, TableSpec] = {
    "accounts": TableSpec(
        name="accounts",
        key="account_id",
        text=("account_id", "account_name", "industry", "region", "territory_id"),
        numbers=("employees", "annual_revenue"),
        dates=("created_date",),
        optional=("latitude", "longitude", "postal_code"),
        nullable=("territory_id",),  # an account with no territory yet (a green field)
    ),
    "reps": TableSpec(
        name="reps",
        key="rep_id",
        text=("rep_id", "rep_name", "territory_id", "region"),
        numbers=("capacity_hours", "quarterly_quota", "annual_cost"),
        dates=("hire_date",),
        optional=("home_latitude", "home_longitude", "home_postal_code", "district", "manager_id"),
    ),
    "opportunities": TableSpec(
        name="opportunities",
        key="opportunity_id",
        text=("opportunity_id", "account_id", "rep_id", "product", "stage"),
        numbers=("amount",),
        dates=("created_date", "close_date"),
        nullable=("close_date", "amount"),
    ),
    "activities": TableSpec(
        name="activities",
        key="activity_id",
        text=("activity_id", "account_id", "rep_id", "activity_type"),
        numbers=("duration_minutes",),
        dates=("activity_date",),
    ),
}


def _nonneg(what: str) -> pa.Check:
    return pa.Check.ge(0, error=f"negative {what} (must be 0 or more)")


def _col(*checks: pa.Check, nullable: bool = False, unique: bool = False) -> pa.Column:
    return pa.Column(None, checks=list(checks), nullable=nullable, unique=unique)


def column_schema(table: str) -> pa.DataFrameSchema:
    """Return the pandera schema of the column-level rules of ``table`` (after parsing)."""
    spec = CONTRACT[table]
    cols: dict[str, pa.Column] = {
        c: _col(nullable=c in spec.nullable, unique=c == spec.key) for c in spec.required
    }
    if table == "accounts":
        cols["employees"] = _col(_nonneg("employee count"))
        cols["annual_revenue"] = _col(_nonneg("revenue"))
        cols["latitude"] = _col(pa.Check.in_range(-90, 90, error="latitude outside -90..90"))
        cols["longitude"] = _col(pa.Check.in_range(-180, 180, error="longitude outside -180..180"))
    elif table == "reps":
        cols["territory_id"] = _col(unique=True)
        cols["home_latitude"] = _col(pa.Check.in_range(-90, 90, error="latitude outside -90..90"))
        cols["home_longitude"] = _col(
            pa.Check.in_range(-180, 180, error="longitude outside -180..180")
        )
        cols["capacity_hours"] = _col(pa.Check.gt(0, error="capacity must be above 0 hours"))
        cols["quarterly_quota"] = _col(_nonneg("quota"))
        cols["annual_cost"] = _col(_nonneg("cost"))
    elif table == "opportunities":
        cols["amount"] = _col(_nonneg("amount"), nullable=True)
        # stages and activity types are checked in terrlib.inputs.dataset, which lists the
        # values found
    elif table == "activities":
        cols["duration_minutes"] = _col(_nonneg("duration"))
    return pa.DataFrameSchema(cols, name=table)
