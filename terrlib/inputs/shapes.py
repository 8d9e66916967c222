"""The demo company in the shapes real exports come in, so that the tests (and a new user)
see what a CRM gives: Salesforce's column names, values and date formats, its own file
names, rep homes as a ZIP code only, no capacity, quota or cost columns, no activities table,
a short history.

:func:`reshape` rewrites a folder made by :func:`terrlib.inputs.demo.generate`; for Salesforce
the plan gains the ``files:``, ``columns:``, ``values:`` and ``defaults:`` sections that load
it, so the folder reports as it is.

Examples
--------
>>> import tempfile
>>> from terrlib.inputs import demo, dataset as io
>>> folder = tempfile.mkdtemp()
>>> _ = demo.generate(folder, n_accounts=300, n_reps=8, seed=2)
>>> reshape(folder, ExportShape(crm="salesforce", activities=False))
>>> data = io.load_dataset(folder)
>>> sorted(data.opportunities["stage"].unique()), len(data.activities)
(['lost', 'open', 'won'], 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from scipy.spatial import cKDTree

#: Salesforce's open stages, given to the demo's open opportunities in turn.
OPEN_STAGES = ("Prospecting", "Qualification", "Negotiation/Review")
SALESFORCE_FILES = {
    "accounts": "Account.csv",
    "reps": "sales_teams.csv",
    "opportunities": "sales_pipeline.csv",
    "activities": "Task.csv",
}
SALESFORCE_COLUMNS = {
    "accounts": {
        "account_id": "Id",
        "account_name": "Name",
        "industry": "Industry",
        "employees": "NumberOfEmployees",
        "annual_revenue": "AnnualRevenue",
        "postal_code": "BillingPostalCode",
        "region": "Region__c",
        "territory_id": "Territory__c",
        "created_date": "CreatedDate",
    },
    "reps": {
        "rep_id": "Id",
        "rep_name": "Name",
        "territory_id": "Territory__c",
        "region": "Region__c",
        "home_postal_code": "HomePostalCode__c",
        "hire_date": "HireDate__c",
    },
    "opportunities": {
        "opportunity_id": "Id",
        "account_id": "AccountId",
        "rep_id": "OwnerId",
        "product": "Product__c",
        "created_date": "CreatedDate",
        "close_date": "CloseDate",
        "stage": "StageName",
        "amount": "Amount",
    },
    "activities": {
        "activity_id": "Id",
        "account_id": "WhatId",
        "rep_id": "OwnerId",
        "activity_date": "ActivityDate",
        "activity_type": "Type",
        "duration_minutes": "DurationInMinutes",
    },
}
SALESFORCE_VALUES = {
    "opportunities": {
        "stage": {"Closed Won": "won", "Closed Lost": "lost", **dict.fromkeys(OPEN_STAGES, "open")}
    },
    "activities": {
        "activity_type": {
            "Call": "call",
            "Email": "email",
            "Meeting": "meeting",
            "In Person Visit": "visit",
            "Task": "call",
        }
    },
}
#: Columns Salesforce exports keep as date-times (the rest are dates).
DATETIMES = {"CreatedDate"}


@dataclass(frozen=True)
class ExportShape:
    """How a copy of the demo company is exported.

    Attributes
    ----------
    crm : {"terrlib", "salesforce"}
        The contract's own names and values, or Salesforce's.
    activities : bool
        Whether there is an activities table.
    homes : {"coordinates", "zip"}
        Rep homes as latitude and longitude, or as a ZIP code only.
    values_map : bool
        Whether the plan maps the CRM's values (``Closed Won`` -> ``won``); without it,
        validation names the values it does not know. Files, columns and defaults are
        always mapped.
    quarters : int or None
        Keep only the last this many quarters of opportunities and activities.
    reps : int or None
        Merge territories until this many reps are left (a smaller company than the
        generator makes: a rep that goes hands its accounts, deals and activities to the
        nearest rep that stays).
    """

    crm: Literal["terrlib", "salesforce"] = "terrlib"
    activities: bool = True
    homes: Literal["coordinates", "zip"] = "coordinates"
    values_map: bool = True
    quarters: int | None = None
    reps: int | None = None


def _merge_reps(tables: dict[str, pd.DataFrame], keep: int) -> None:
    """Merge the territories of ``tables`` until ``keep`` reps are left, in place."""
    reps = tables["reps"]
    lat = reps["home_latitude"].astype(float).to_numpy()
    lon = reps["home_longitude"].astype(float).to_numpy()
    staying = np.arange(min(keep, len(reps)))
    leaving = np.arange(len(staying), len(reps))
    tree = cKDTree(np.c_[lat[staying], lon[staying]])
    heir = staying[tree.query(np.c_[lat[leaving], lon[leaving]])[1]]
    rep_to = dict(zip(reps["rep_id"].iloc[leaving], reps["rep_id"].iloc[heir], strict=True))
    terr_to = dict(
        zip(reps["territory_id"].iloc[leaving], reps["territory_id"].iloc[heir], strict=True)
    )
    region_of = dict(zip(reps["territory_id"], reps["region"], strict=True))
    acc = tables["accounts"]
    acc["territory_id"] = acc["territory_id"].replace(terr_to)
    acc["region"] = acc["territory_id"].map(region_of)
    for name in ("opportunities", "activities"):
        tables[name]["rep_id"] = tables[name]["rep_id"].replace(rep_to)
    tables["reps"] = reps.iloc[staying].reset_index(drop=True)


def _nearest_zip(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    from terrlib.geo import zip_table

    table = zip_table()
    standard = table[table["zip_type"] == "STANDARD"]
    tree = cKDTree(np.c_[standard["latitude"], standard["longitude"]])
    return standard.index.to_numpy()[tree.query(np.c_[lat, lon])[1]]


def _salesforce_dates(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col.endswith("Date") or col.endswith("Date__c"):
            dates = pd.to_datetime(out[col])
            fmt = "%Y-%m-%dT%H:%M:%S.000+0000" if col in DATETIMES else "%Y-%m-%d"
            out[col] = dates.dt.strftime(fmt).where(dates.notna(), "")
    return out


def reshape(folder: Path | str, shape: ExportShape) -> None:
    """Rewrite the demo company in ``folder`` into ``shape`` (see :class:`ExportShape`)."""
    folder = Path(folder)
    tables = {
        name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in SALESFORCE_COLUMNS
    }
    if shape.quarters is not None:
        last = pd.Period(pd.to_datetime(tables["opportunities"]["created_date"]).max(), "Q")
        start = (last - shape.quarters + 1).start_time
        opps = tables["opportunities"]
        tables["opportunities"] = opps[pd.to_datetime(opps["created_date"]) >= start]
        acts = tables["activities"]
        tables["activities"] = acts[pd.to_datetime(acts["activity_date"]) >= start]
    if shape.reps is not None:
        _merge_reps(tables, shape.reps)
    plan_path = folder / "plan.yaml"
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    reps = tables["reps"]
    if shape.homes == "zip" or shape.crm == "salesforce":
        reps["home_postal_code"] = _nearest_zip(
            reps["home_latitude"].astype(float).to_numpy(),
            reps["home_longitude"].astype(float).to_numpy(),
        )
        tables["reps"] = reps = reps.drop(columns=["home_latitude", "home_longitude"])
    if shape.crm == "salesforce":
        defaults = {
            col: float(reps[col].astype(float).median())
            for col in ("capacity_hours", "quarterly_quota", "annual_cost")
        }
        tables["reps"] = reps.drop(columns=list(defaults))
        tables["accounts"] = tables["accounts"].drop(columns=["latitude", "longitude"])
        opps = tables["opportunities"].copy()
        is_open = opps["stage"] == "open"
        opps.loc[is_open, "amount"] = ""  # Salesforce leaves open deals' amount to the rep
        opps["stage"] = opps["stage"].map({"won": "Closed Won", "lost": "Closed Lost"})
        opps.loc[is_open, "stage"] = [OPEN_STAGES[i % 3] for i in range(int(is_open.sum()))]
        tables["opportunities"] = opps
        acts = tables["activities"].copy()
        kinds = {"call": "Call", "email": "Email", "meeting": "Meeting", "visit": "In Person Visit"}
        acts["activity_type"] = acts["activity_type"].map(kinds)
        acts.loc[acts.index % 7 == 0, "activity_type"] = "Task"
        tables["activities"] = acts
        for name in list(tables):
            tables[name] = _salesforce_dates(
                tables[name].rename(columns=SALESFORCE_COLUMNS[name])[
                    list(SALESFORCE_COLUMNS[name].values())
                ]
            )
        files = dict(SALESFORCE_FILES)
        plan["files"] = files
        plan["columns"] = {
            name: {crm: ours for ours, crm in cols.items()}
            for name, cols in SALESFORCE_COLUMNS.items()
        }
        plan["defaults"] = {"reps": defaults}
        if shape.values_map:
            plan["values"] = SALESFORCE_VALUES
    else:
        files = {name: f"{name}.csv" for name in tables}
    for name in SALESFORCE_COLUMNS:
        (folder / f"{name}.csv").unlink()
    if not shape.activities:
        del tables["activities"]
        files.pop("activities")
        if "files" in plan:
            plan["files"].pop("activities", None)
    for name, frame in tables.items():
        frame.to_csv(folder / files[name], index=False)
    plan_path.write_text(
        "# Reshaped by terrlib.inputs.shapes.reshape\n" + yaml.safe_dump(plan, sort_keys=False),
        encoding="utf-8",
    )
