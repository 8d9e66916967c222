"""Validation: every rule gives one clear message (file, column, rule, rows, examples)."""

from __future__ import annotations

import pandas as pd
import pytest

from terrlib import cli
from terrlib.inputs import dataset as io


def run_validate(capsys, folder, *extra) -> tuple[int, str]:
    code = cli.main(["validate", "--data", str(folder), *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


def edit(folder, table, change):
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = change(frame)
    frame.to_csv(path, index=False)


def test_valid_demo_passes(capsys, small_demo):
    code = cli.main(["validate", "--data", str(small_demo)])
    out = capsys.readouterr().out
    assert code == 0
    assert "opportunities" in out and "2024Q1 to 2026Q3" in out and "latest complete: 2026Q3" in out


def test_missing_file(capsys, demo_copy):
    (demo_copy / "reps.csv").unlink()
    code, err = run_validate(capsys, demo_copy)
    assert code == 2
    assert "reps.csv · file missing" in err


def test_missing_column(capsys, demo_copy):
    edit(demo_copy, "opportunities", lambda f: f.drop(columns=["amount"]))
    code, err = run_validate(capsys, demo_copy)
    assert code == 2 and "opportunities.csv · column amount · required column missing" in err


def test_duplicate_key(capsys, demo_copy):
    edit(demo_copy, "accounts", lambda f: pd.concat([f, f.iloc[[0, 1]]]))
    code, err = run_validate(capsys, demo_copy)
    assert "accounts.csv · column account_id · duplicate key · 4 rows · e.g. A00001, A00002" in err


@pytest.mark.parametrize(
    "table, column, value, expect",
    [
        ("opportunities", "account_id", "A99999", "refers to unknown account_id in accounts.csv"),
        ("opportunities", "rep_id", "R999", "refers to unknown rep_id in reps.csv"),
        ("activities", "account_id", "A99999", "refers to unknown account_id in accounts.csv"),
        ("activities", "rep_id", "R999", "refers to unknown rep_id in reps.csv"),
        ("accounts", "territory_id", "T99", "refers to unknown territory_id in reps.csv"),
    ],
)
def test_dangling_reference(capsys, demo_copy, table, column, value, expect):
    def change(f):
        f.loc[f.index[:3], column] = value
        return f

    edit(demo_copy, table, change)
    code, err = run_validate(capsys, demo_copy)
    assert code == 2
    assert f"{table}.csv · column {column} · {expect} (e.g. {value}) · 3 rows" in err


def test_latitude_out_of_range(capsys, demo_copy):
    edit(demo_copy, "accounts", lambda f: f.assign(latitude=f["latitude"].where(f.index > 1, "95")))
    code, err = run_validate(capsys, demo_copy)
    assert "column latitude · latitude outside -90..90 · 2 rows · e.g. A00001, A00002" in err


def test_missing_location_without_postal_code(capsys, demo_copy):
    def change(f):
        f.loc[f.index[:2], ["latitude", "longitude", "postal_code"]] = ""
        return f

    edit(demo_copy, "accounts", change)
    code, err = run_validate(capsys, demo_copy)
    assert "location missing and no postal_code to resolve it · 2 rows" in err


def test_postal_code_resolves_location(demo_copy):
    edit(demo_copy, "accounts", lambda f: f.drop(columns=["latitude", "longitude"]))
    data = io.load_dataset(demo_copy)
    assert data.accounts["latitude"].notna().all()
    assert data.accounts["latitude"].between(24, 50).all()


def test_unknown_zip(capsys, demo_copy):
    def change(f):
        f = f.drop(columns=["latitude", "longitude"])
        f.loc[f.index[:2], "postal_code"] = "00000"
        return f

    edit(demo_copy, "accounts", change)
    code, err = run_validate(capsys, demo_copy)
    assert "column postal_code · unknown US ZIP code (e.g. 00000, 00000) · 2 rows" in err


def test_negative_amount_and_duration(capsys, demo_copy):
    edit(
        demo_copy, "opportunities", lambda f: f.assign(amount=f["amount"].where(f.index > 0, "-5"))
    )
    edit(
        demo_copy,
        "activities",
        lambda f: f.assign(duration_minutes=f["duration_minutes"].where(f.index > 0, "-1")),
    )
    code, err = run_validate(capsys, demo_copy)
    assert "opportunities.csv · column amount · negative amount" in err
    assert "activities.csv · column duration_minutes · negative duration" in err


def test_close_before_created(capsys, demo_copy):
    def change(f):
        closed = f.index[f["close_date"] != ""][:2]
        f.loc[closed, "close_date"] = "2000-01-01"
        return f

    edit(demo_copy, "opportunities", change)
    code, err = run_validate(capsys, demo_copy)
    assert "column close_date · close date before created date · 2 rows" in err


def test_unknown_categories(capsys, demo_copy):
    edit(
        demo_copy, "opportunities", lambda f: f.assign(stage=f["stage"].where(f.index > 0, "maybe"))
    )
    edit(
        demo_copy,
        "activities",
        lambda f: f.assign(activity_type=f["activity_type"].where(f.index > 0, "fax")),
    )
    code, err = run_validate(capsys, demo_copy)
    assert "column stage · unknown stage (allowed: open, won, lost); found 'maybe' (1 row)" in err
    assert "column activity_type · unknown activity type" in err and "'fax' (1 row)" in err


def test_unparseable_date(capsys, demo_copy):
    edit(
        demo_copy,
        "activities",
        lambda f: f.assign(activity_date=f["activity_date"].where(f.index > 0, "yesterday")),
    )
    code, err = run_validate(capsys, demo_copy)
    assert (
        "column activity_date · unparseable date (e.g. 'yesterday'; use YYYY-MM-DD) · 1 row" in err
    )


def test_empty_table(capsys, demo_copy):
    header = (demo_copy / "activities.csv").read_text().splitlines()[0]
    (demo_copy / "activities.csv").write_text(header + "\n")
    code, err = run_validate(capsys, demo_copy)
    assert "activities.csv · table is empty" in err


def test_not_utf8(capsys, demo_copy):
    text = (demo_copy / "accounts.csv").read_text()
    (demo_copy / "accounts.csv").write_bytes(text.replace("Inc", "Caf\u00e9", 1).encode("latin-1"))
    code, err = run_validate(capsys, demo_copy)
    assert code == 2 and "accounts.csv · file is not UTF-8 text (byte 0xE9 on line" in err


def test_plan_unknown_key_and_bad_value(capsys, demo_copy):
    (demo_copy / "plan.yaml").write_text("balance:\n  tolerance: -0.1\ncolour: blue\n")
    code, err = run_validate(capsys, demo_copy)
    assert code == 2
    assert "balance.tolerance: Input should be greater than 0" in err
    assert "colour: unknown key" in err


def test_quarter_with_no_data(capsys, small_demo):
    code, err = run_validate(capsys, small_demo, "--quarter", "2019Q2")
    assert code == 2 and "quarter 2019Q2 has no opportunities or activities" in err


def test_many_problems_reported_together(capsys, demo_copy):
    (demo_copy / "reps.csv").unlink()
    edit(
        demo_copy, "opportunities", lambda f: f.assign(amount=f["amount"].where(f.index > 0, "-5"))
    )
    code, err = run_validate(capsys, demo_copy)
    assert "has 2 problems" in err


def test_column_map_loads_crm_export(demo_copy):
    edit(
        demo_copy,
        "accounts",
        lambda f: f.rename(columns={"account_id": "Id", "postal_code": "BillingPostalCode"}),
    )
    plan = (demo_copy / "plan.yaml").read_text()
    plan = plan.replace(
        "columns: {}", "columns:\n  accounts: {Id: account_id, BillingPostalCode: postal_code}"
    )
    (demo_copy / "plan.yaml").write_text(plan)
    data = io.load_dataset(demo_copy)
    assert "account_id" in data.accounts and "postal_code" in data.accounts


def test_parquet_loads(demo_copy):
    frame = pd.read_csv(demo_copy / "reps.csv", parse_dates=["hire_date"])
    frame.to_parquet(demo_copy / "reps.parquet")
    (demo_copy / "reps.csv").unlink()
    data = io.load_dataset(demo_copy)
    assert len(data.reps) == len(frame)
    assert pd.api.types.is_datetime64_any_dtype(data.reps["hire_date"])


def test_as_of_hides_later_outcomes(small_demo):
    full = io.load_dataset(small_demo)
    past = full.as_of("2025Q2")
    end = pd.Timestamp("2025-06-30")
    assert past.opportunities["created_date"].max() <= end
    assert (past.opportunities["close_date"].dropna() <= end).all()
    assert past.activities["activity_date"].max() <= end
    # an opportunity that closed after the cut-off shows as open
    late = full.opportunities[
        (full.opportunities["created_date"] <= end) & (full.opportunities["close_date"] > end)
    ]
    assert len(late) > 0
    shown = past.opportunities.set_index("opportunity_id").loc[late["opportunity_id"], "stage"]
    assert (shown == "open").all()
