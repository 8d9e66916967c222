"""Hostile and faulty input: names that would be markup or formulas, and inputs that used to
be read wrongly without a word. Each is either shown safely or refused with one message."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from hostile import (
    HOSTILE,
    formula_cells_csv,
    formula_cells_xlsx,
    make_hostile,
    markup_from_data,
)

from terrlib import cli, exports
from terrlib.inputs import dataset as io
from terrlib.inputs.plan import DEFAULT_PLAN, PlanError, load_plan
from terrlib.report import stage
from terrlib.results import Result, Summary, format_table
from terrlib.stages import alignment


def run_validate(capsys, folder, *extra) -> tuple[int, str, str]:
    code = cli.main(["validate", "--data", str(folder), *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.out, captured.err


def edit(folder, table, change):
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def set_plan(folder, change):
    import yaml

    path = folder / "plan.yaml"
    plan = yaml.safe_load(path.read_text())
    change(plan)
    path.write_text(yaml.safe_dump(plan))


# ------------------------------------------------------------------ pages: escaped text


def test_checker_finds_live_markup():
    """The page check itself: raw hostile names are found as markup."""
    raw = "".join(f"<td>{name}</td>" for name in HOSTILE)
    assert len(markup_from_data(raw)) >= 3


def test_tables_and_results_escape_every_name():
    frame = pd.DataFrame(
        {"name": list(HOSTILE), "share": np.linspace(0, 1, len(HOSTILE))},
        index=pd.Index(HOSTILE, name="<b data-xss='1'>"),
    )
    frame.columns = ["<img src=x onerror=alert(1)>", "share"]
    page = format_table(frame, {"share": "{:.0%}"})
    assert markup_from_data(page) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "100%" in page
    result = Result("<script>alert(1)</script>", HOSTILE[1], frame.reset_index(), notes=HOSTILE[2])
    assert markup_from_data(result._repr_html_()) == []
    assert markup_from_data(Summary(list(HOSTILE))._repr_html_()) == []


def test_figure_text_is_not_mathtext():
    import matplotlib.pyplot as plt

    from terrlib import plotting

    plotting.set_theme()
    fig, ax = plt.subplots()
    ax.set_title("$x^2$ Holdings and $\\frac{1}{0}$")
    fig.canvas.draw()  # mathtext would render (or fail on) the dollar signs
    assert not ax.title._parse_math
    plt.close(fig)


# ------------------------------------------------------------------ exports: no formula


def test_csv_round_trip_keeps_true_values(tmp_path):
    frame = pd.DataFrame(
        {
            "name": [*HOSTILE, "'already quoted", "plain", None],
            "amount": [-2.5, 1.0, -3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, -1.0, 0.0, 1.5],
        }
    )
    path = exports.write_csv(frame, tmp_path / "t.csv")
    assert formula_cells_csv(path) == []
    back = exports.read_csv(path)
    assert back["name"].tolist()[:-1] == frame["name"].tolist()[:-1]
    assert back["name"].isna().iloc[-1] and back["amount"].tolist() == frame["amount"].tolist()
    # between stages: what one stage saves, the next loads as it was
    q = pd.Period("2026Q3")
    stage.Stage("02-segmentation", q, None, tmp_path, 7).save("account_scores", frame)
    later = stage.Stage("04-workload-balancing", q, None, tmp_path, 7)
    pd.testing.assert_frame_equal(later.load("account_scores"), frame)


def test_checkers_find_formulas(tmp_path):
    """The export checks themselves: a plain pandas export of the names is caught."""
    frame = pd.DataFrame({"name": list(HOSTILE)})
    frame.to_csv(tmp_path / "raw.csv", index=False)
    frame.to_excel(tmp_path / "raw.xlsx", index=False)
    assert len(formula_cells_csv(tmp_path / "raw.csv")) >= 5
    assert len(formula_cells_xlsx(tmp_path / "raw.xlsx")) >= 5


def test_workbook_stores_text_not_formulas(tmp_path):
    frame = pd.DataFrame({"name": list(HOSTILE), "n": range(len(HOSTILE))})
    path = exports.write_excel({"names": frame, "=sheet": frame.head(2)}, tmp_path / "t.xlsx")
    assert formula_cells_xlsx(path) == []
    back = pd.read_excel(path, sheet_name="names")
    assert back["name"].map(exports.restore).tolist() == list(HOSTILE)


@pytest.mark.slow
def test_hostile_names_company_reports_safely(demo_copy, tmp_path):
    """Every name a person reads is markup, a formula or mathtext: the report builds, no
    page holds markup from the data, no CSV or workbook holds a formula, and the names read
    back from the processed data are the true ones."""
    make_hostile(demo_copy)
    reports, processed = tmp_path / "reports", tmp_path / "processed"
    code = cli.main(
        ["report", "--data", str(demo_copy), "--out", str(reports), "--processed", str(processed)]
    )
    assert code == 0
    pages = sorted((reports / "2026Q3").glob("*.html"))
    assert len(pages) == 7  # the index, five stages and the glossary
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert markup_from_data(text) == [], page.name
        # the index and the glossary show no rep or account names, only the escaped company
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text or page.name in (
            "index.html",
            "glossary.html",
        )
    csvs = sorted((processed / "2026Q3").glob("*.csv"))
    assert len(csvs) >= 15
    for path in csvs:
        assert formula_cells_csv(path) == [], path.name
    assert formula_cells_xlsx(processed / "2026Q3" / "proposed_alignment.xlsx") == []
    reps = pd.read_csv(demo_copy / "reps.csv", dtype=str)
    card = exports.read_csv(processed / "2026Q3" / "rep_scorecard.csv")
    assert set(card["rep_name"]) == set(reps["rep_name"].str.strip())
    assert any(name.startswith("=") for name in card["rep_name"])


# ------------------------------------------------------------------ validation refusals


def test_missing_plan_is_refused_unless_the_default_is_asked_for(capsys, demo_copy):
    (demo_copy / "plan.yaml").unlink()
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "plan.yaml" in err and "file not found" in err and "--default-plan" in err
    code, out, _ = run_validate(capsys, demo_copy, "--default-plan")
    assert code == 0 and "the default plan" in out


def test_plan_yml_is_read_and_two_plans_are_refused(capsys, demo_copy):
    shutil.copy(demo_copy / "plan.yaml", demo_copy / "plan.yml")
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "both plan.yaml and plan.yml" in err
    (demo_copy / "plan.yaml").unlink()
    set_plan_path = demo_copy / "plan.yml"
    set_plan_path.write_text(set_plan_path.read_text().replace("tolerance: 0.1", "tolerance: 0.2"))
    data = io.load_dataset(demo_copy)
    assert data.files["plan"].name == "plan.yml" and data.plan.balance.tolerance == 0.2


def test_unreadable_plan_is_one_message(capsys, demo_copy, tmp_path):
    (demo_copy / "plan.yaml").unlink()
    (demo_copy / "plan.yaml").mkdir()
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "not a file" in err
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 1000 + "]" * 1000)
    code, _, err = run_validate(capsys, demo_copy, "--plan", str(deep))
    assert code == 2 and "nested more than 20 levels" in err
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    bomb.write_text("\n".join(lines))
    code, _, err = run_validate(capsys, demo_copy, "--plan", str(bomb))
    assert code == 2 and "aliases" in err
    big = tmp_path / "big.yaml"
    big.write_text("company: " + "x" * 1_100_000)
    code, _, err = run_validate(capsys, demo_copy, "--plan", str(big))
    assert code == 2 and "larger than" in err


def test_yaml_error_does_not_quote_the_file(tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("root:$6$saltsalt$hashhash:19000:0:99999:7:::\n  - : [\n")
    with pytest.raises(PlanError) as info:
        load_plan(secret)
    assert "saltsalt" not in str(info.value) and "line" in str(info.value)


def test_link_out_of_the_data_folder_is_not_read(capsys, demo_copy, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("root:$6$saltsalt$hash:19000\nline two\n")
    (demo_copy / "reps.csv").unlink()
    os.symlink(outside, demo_copy / "reps.csv")
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "outside the data folder" in err and "saltsalt" not in err


def _dates(frame, column, fmt):
    return frame.assign(**{column: pd.to_datetime(frame[column]).dt.strftime(fmt)})


def test_day_first_dates_are_read_day_first(capsys, demo_copy):
    edit(demo_copy, "activities", lambda f: _dates(f, "activity_date", "%d/%m/%Y"))
    code, out, _ = run_validate(capsys, demo_copy)
    assert code == 0 and "activities.csv activity_date: read day first" in out
    before = io.load_dataset(demo_copy)
    dates = pd.read_csv(demo_copy / "activities.csv", dtype=str)["activity_date"]
    truth = pd.to_datetime(dates, format="%d/%m/%Y")
    assert (before.activities["activity_date"].to_numpy() == truth.to_numpy()).all()


def test_mixed_or_ambiguous_dates_are_refused(capsys, demo_copy):
    def mixed(f):
        out = _dates(f, "activity_date", "%d/%m/%Y")
        us = pd.to_datetime(f["activity_date"]).dt.strftime("%m/%d/%Y")
        return out.assign(activity_date=out["activity_date"].where(f.index % 2 == 0, us))

    edit(demo_copy, "activities", mixed)
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "column activity_date · mixes day-first" in err
    edit(
        demo_copy,
        "opportunities",
        lambda f: f.assign(
            created_date=["03/04/2025", "01/02/2025"] * (len(f) // 2)
            + ["05/06/2025"] * (len(f) % 2)
        ),
    )
    code, _, err = run_validate(capsys, demo_copy)
    assert "column created_date · dates such as 03/04/2025 read either day first" in err


def test_plan_date_format_settles_ambiguous_dates(capsys, demo_copy):
    edit(
        demo_copy,
        "reps",
        lambda f: f.assign(hire_date=["03/04/2020"] * len(f)),
    )
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "hire_date" in err
    set_plan(demo_copy, lambda p: p.update(date_formats={"reps": {"hire_date": "%d/%m/%Y"}}))
    data = io.load_dataset(demo_copy)
    assert (data.reps["hire_date"] == pd.Timestamp("2020-04-03")).all()
    set_plan(demo_copy, lambda p: p.update(date_formats={"reps": {"hired": "%d/%m/%Y"}}))
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "'hired' is not a date column of reps" in err


def test_locale_numbers_and_inf_are_refused(capsys, demo_copy):
    def change(f):
        f.loc[0, "capacity_hours"] = "1,234.5"  # a thousands separator: fine
        f.loc[1, "capacity_hours"] = "44,5"
        f.loc[2, "annual_cost"] = "inf"
        return f

    edit(demo_copy, "reps", change)
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2
    assert "column capacity_hours · decimal comma" in err and "'44,5'" in err
    assert "column annual_cost · not a finite number" in err
    assert "1,234.5" not in err


def test_reps_sharing_a_territory_are_refused(capsys, demo_copy):
    edit(
        demo_copy,
        "reps",
        lambda f: f.assign(
            territory_id=f["territory_id"].where(f.index != 1, f.loc[0, "territory_id"])
        ),
    )
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "column territory_id · reps share a territory" in err


@pytest.mark.parametrize("bad", ["Acme\x00Corp", "Acme \u202eCorp", "Acme\x85Corp"])
def test_control_characters_are_refused(capsys, demo_copy, bad):
    """NUL, a bidirectional override (the 'Trojan source' trick) and a C1 control."""
    edit(
        demo_copy,
        "accounts",
        lambda f: f.assign(account_name=f["account_name"].where(f.index > 1, bad)),
    )
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "column account_name · control character" in err and "2 rows" in err


def test_unknown_names_in_the_plan_are_refused(capsys, demo_copy):
    def change(plan):
        plan["strategy"]["priority_industries"] = {"Helthcare": 1.0}
        plan["balance"]["locked_accounts"] = ["A00001", "A99999"]
        plan["coverage"]["tier_multipliers"] = {"A": 1.5, "E": 2.0}

    set_plan(demo_copy, change)
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "coverage.tier_multipliers names 'E'" in err
    set_plan(demo_copy, lambda p: p["coverage"].pop("tier_multipliers"))
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2
    assert "key strategy.priority_industries · names 1 industries" in err
    assert "did you mean 'Healthcare' for 'Helthcare'" in err
    assert "key balance.locked_accounts · names 1 account ids not in the accounts" in err
    assert "'A99999'" in err


def test_bad_plan_values_are_refused(capsys, demo_copy):
    set_plan(demo_copy, lambda p: p["coverage"].update(tier_multipliers={"A": -0.5}))
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "coverage.tier_multipliers.A: Input should be greater than or equal" in err
    set_plan(demo_copy, lambda p: p["coverage"].pop("tier_multipliers"))
    set_plan(demo_copy, lambda p: p["balance"].update(max_moved_share=0))
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "balance.max_moved_share: Input should be greater than 0" in err


def test_too_few_accounts_are_refused(capsys, demo_copy):
    edit(demo_copy, "accounts", lambda f: f.iloc[:1])
    for table in ("opportunities", "activities"):
        edit(demo_copy, table, lambda f: f[f["account_id"] == "A00001"])
    set_plan(demo_copy, lambda p: p["strategy"].update(priority_industries={}))
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "1 account(s) for 20 reps" in err


def test_empty_strategy_names_no_rep_off_strategy(small_data):
    from dataclasses import replace

    plan = small_data.plan.model_copy(deep=True)
    plan.strategy.priority_industries = {}
    data = replace(small_data, plan=plan)
    balance = alignment.territory_balance(data, "2026Q3")
    served = alignment.servedness(data, "2026Q3")
    effort = alignment.effort_vs_strategy(data, "2026Q3")
    verdict = alignment.realignment_verdict(data, balance, served, effort)
    text = " ".join(alignment.summary(balance, served, effort, verdict))
    assert "furthest off strategy" not in text and "not judged" in text
    assert "off strategy" not in " ".join(verdict.table.get("findings", pd.Series([], dtype=str)))
    assert "no priority industries" in effort.headline


def test_default_plan_is_said_on_the_run(small_demo, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(small_demo, data_dir)
    (data_dir / "plan.yaml").unlink()
    data = io.load_dataset(data_dir, DEFAULT_PLAN)
    assert "plan" not in data.files and data.plan.balance.tolerance == 0.1


# ------------------------------------------------------------------ found by a probe


@pytest.mark.parametrize(
    "fmt, expect",
    [
        ("%d/%m/%Y, %H:%M", "read day first"),  # a comma before the time
        ("%Y-%m-%d %H:%M:%S -0800", None),  # zones written with a space or a word
        ("%Y-%m-%d %H:%M:%S UTC", None),
        ("%Y-%m-%d %H:%M:%S+00", None),
        ("%m/%d/%Y %I:%M %p -0800", "read month first"),
    ],
)
def test_dates_with_times_and_zones_read_as_written(capsys, demo_copy, fmt, expect):
    truth = pd.to_datetime(
        pd.read_csv(demo_copy / "activities.csv", dtype=str)["activity_date"]
    ) + pd.Timedelta(hours=23, minutes=30)
    edit(
        demo_copy,
        "activities",
        lambda f: f.assign(activity_date=truth.dt.strftime(fmt).to_numpy()),
    )
    code, out, _ = run_validate(capsys, demo_copy)
    assert code == 0
    if expect:
        assert expect in out
    read = io.load_dataset(demo_copy).activities["activity_date"]
    assert (read.to_numpy() == truth.to_numpy()).all()  # the wall-clock time, zone dropped


def test_ids_that_look_like_numbers_keep_their_value_between_stages(tmp_path):
    frame = pd.DataFrame(
        {
            "account_id": ["5100000000", "0012", "12"],
            "region": ["NA", "null", "None"],
            "potential": [1.5, np.nan, 2.0],
        }
    )
    q = pd.Period("2026Q3")
    stage.Stage("02-segmentation", q, None, tmp_path, 7).save("account_scores", frame)
    back = stage.Stage("04-workload-balancing", q, None, tmp_path, 7).load("account_scores")
    assert back["account_id"].tolist() == frame["account_id"].tolist()
    assert back["region"].tolist() == frame["region"].tolist()
    assert back["potential"].isna().tolist() == [False, True, False]


def test_messages_never_carry_terminal_escapes(capsys, demo_copy):
    edit(
        demo_copy,
        "reps",
        lambda f: f.assign(rep_id=f["rep_id"].where(f.index > 0, "R\x1b[31mRED\x1b[0m")),
    )
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "\x1b" not in err and "R\\x1b[31mRED" in err


def test_control_characters_in_an_unused_column_are_cleaned(demo_copy):
    edit(demo_copy, "accounts", lambda f: f.assign(description="line\x0bbreak"))
    data = io.load_dataset(demo_copy)
    assert (data.accounts["description"] == "line break").all()


def test_a_plan_key_given_twice_is_refused(capsys, demo_copy):
    path = demo_copy / "plan.yaml"
    path.write_text(path.read_text() + "\ncompany: Second name\n")
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "the key 'company' is given twice" in err


def test_a_bad_date_format_in_the_plan_names_it(capsys, demo_copy):
    set_plan(demo_copy, lambda p: p.update(date_formats={"reps": {"hire_date": "%Q%d"}}))
    code, _, err = run_validate(capsys, demo_copy)
    assert code == 2 and "date_formats gives '%Q%d', which is not a date format" in err


def test_tiers_are_listed_top_first_whatever_their_names(small_data):
    from dataclasses import replace

    from terrlib.stages import icp

    plan = small_data.plan.model_copy(deep=True)
    plan.icp.tiers = {"Zinc": 0.1, "Gold": 0.3, "Bronze": 0.6}
    data = replace(small_data, plan=plan)
    propensity = icp.propensity_model(data, "2026Q3")
    value = icp.value_model(data, "2026Q3")
    churn = icp.churn_model(data, "2026Q3")
    scores = icp.icp_scores(data, "2026Q3", propensity, value, churn)
    assert scores.table["tier"].tolist() == ["Zinc", "Gold", "Bronze", "D"]
    assert scores.headline.startswith("Tier Zinc")
