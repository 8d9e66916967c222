"""Too little data is not bad input: every quarter from the fourth of the history reports,
each model using the history it has, and a section that lacks data says what it needs."""

from __future__ import annotations

import json
import shutil

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from terrlib import config, fitting
from terrlib.report import stage
from terrlib.results import InsufficientData, NotEnoughData, missing

matplotlib.use("Agg")


def run_notebook_code(stem: str, data_dir, quarter: str, processed) -> dict:
    """Execute a stage notebook's code cells in this process (the what-if panel left out),
    with the report's parameters; returns the notebook's namespace."""
    import matplotlib.pyplot as plt

    nb = nbformat.read(config.NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    namespace: dict = {}
    cells = [c for c in nb.cells if c.cell_type == "code"]
    params = (
        f"quarter = {quarter!r}\ndata_dir = {str(data_dir)!r}\nplan_path = ''\n"
        f"processed_dir = {str(processed)!r}\nseed = 7"
    )
    for cell in cells:
        if "parameters" in cell.metadata.get("tags", []):
            source = params
        elif "whatif." in cell.source:
            continue
        else:
            source = cell.source
        exec(compile(source, f"{stem}", "exec"), namespace)
    plt.close("all")
    return namespace


def test_not_enough_data_displays_two_lines_and_stands_in():
    gap = NotEnoughData("Repeat purchase", "50 customers a year back", "16", "More history.")
    page = gap._repr_html_()
    assert "needs 50 customers a year back" in page and "The data has 16" in page
    assert "More history." in page
    assert gap.table is gap and gap.calibration.curve is gap and not gap
    assert missing(1, gap) and not missing(1, "x")
    with pytest.raises(AttributeError):
        gap._private  # noqa: B018 (IPython and copy probe these: they must not be faked)


def test_attempt_records_the_skipped_section(tmp_path):
    run = stage.Stage("03-ideal-customer-profile", pd.Period("2026Q3"), None, tmp_path, 7)

    def thin():
        raise InsufficientData("200 decided opportunities", "195", "A later quarter.")

    assert run.attempt("Propensity to win", lambda: 41) == 41
    gap = run.attempt("Propensity to win", thin)
    assert isinstance(gap, NotEnoughData) and gap.has == "195"
    assert run.save("icp_scores", gap) is None
    assert not (tmp_path / "propensity.csv").exists()
    kept = json.loads((tmp_path / stage.SKIPPED).read_text())
    assert kept == {
        "03-ideal-customer-profile": [
            {
                "title": "Propensity to win",
                "needs": "200 decided opportunities",
                "has": "195",
                "fix": "A later quarter.",
            }
        ]
    }


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_logit_leaves_out_what_the_data_cannot_estimate(seed):
    rng = np.random.default_rng(seed)
    n = 300
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "y": (x + rng.normal(size=n) > 0).astype(int),
            "x": x,
            "flat": 3.0,
            "copy": 2 * x + 1,
            "group": rng.choice(["a", "b"], n),
        }
    )
    frame["same_group"] = frame["group"].map({"a": "p", "b": "q"})
    fit = fitting.logit("y ~ x + flat + copy + C(group) + C(same_group)", frame)
    assert fit.dropped == ["flat", "copy", "C(same_group)"]
    assert "x" in fit.model.params and "flat" in fit.note()
    assert fit.model.params["x"] > 0


def test_logit_says_what_it_needs_instead_of_a_linear_algebra_error():
    frame = pd.DataFrame({"y": [0, 0, 1, 1] * 5, "x": [0.0, 0.1, 1.0, 1.1] * 5})
    with pytest.raises(InsufficientData, match="separate"):
        fitting.logit("y ~ x", frame, "the test model")
    with pytest.raises(InsufficientData, match="both outcomes"):
        fitting.logit("y ~ x", frame.assign(y=1), "the test model")


@pytest.mark.slow
@pytest.mark.parametrize("quarter", ["2024Q4", "2025Q2", "2025Q4", "2026Q2"])
def test_every_stage_runs_from_the_fourth_quarter(small_demo, tmp_path, quarter):
    """The small demo's history starts in 2024Q1: from its fourth quarter on, every stage
    notebook runs; models whose check reaches back before the data skip it and say so."""
    spaces = {
        stem: run_notebook_code(stem, small_demo, quarter, tmp_path)
        for stem in config.STAGE_NOTEBOOKS
    }
    skipped = (
        json.loads((tmp_path / stage.SKIPPED).read_text())
        if (tmp_path / stage.SKIPPED).is_file()
        else {}
    )
    if quarter == "2024Q4":  # a year back is before the data: the potential check waits
        titles = [g["title"] for g in skipped.get("02-segmentation", [])]
        assert titles == ["Potential checked on time"]
        assert "check is made once the data reaches back" in skipped["02-segmentation"][0]["fix"]
    churn = spaces["03-ideal-customer-profile"]["churn"]
    if not missing(churn):
        two_years_back = pd.Period(quarter) - 8 < pd.Period("2024Q1")
        assert ("Not checked on time" in churn.headline) == two_years_back
    opt = spaces["04-workload-balancing"]["opt"]
    assert len(opt.assignment_) == len(spaces["04-workload-balancing"]["data"].accounts)
    assert (tmp_path / "proposed_alignment.csv").is_file()


@pytest.mark.slow
def test_report_for_the_fourth_quarter_lists_what_it_skipped(small_demo, tmp_path):
    from terrlib import cli

    code = cli.main(
        [
            "report",
            "--data",
            str(small_demo),
            "--quarter",
            "2024Q4",
            "--out",
            str(tmp_path / "reports"),
            "--processed",
            str(tmp_path / "processed"),
        ]
    )
    assert code == 0
    index = (tmp_path / "reports" / "2024Q4" / "index.html").read_text()
    assert "Sections without enough data" in index and "Potential checked on time" in index
    manifest = json.loads((tmp_path / "reports" / "2024Q4" / "run.json").read_text())
    assert "02-segmentation" in manifest["skipped"]
    page = (tmp_path / "reports" / "2024Q4" / "02-segmentation.html").read_text()
    assert "terrlib-skipped" in page and "Traceback" not in page


# ------------------------------------------------------------------ CRM exports


@pytest.fixture(scope="module")
def salesforce(small_demo, tmp_path_factory):
    """The small demo exported as Salesforce does, without its values map first."""
    from terrlib.inputs.shapes import ExportShape, reshape

    folder = tmp_path_factory.mktemp("salesforce")
    shutil.copytree(small_demo, folder, dirs_exist_ok=True)
    reshape(folder, ExportShape(crm="salesforce", values_map=False))
    return folder


def test_unmapped_crm_values_are_named_with_their_counts(salesforce, capsys):
    from terrlib import cli

    code = cli.main(["validate", "--data", str(salesforce)])
    err = capsys.readouterr().err
    assert code == 2
    assert "sales_pipeline.csv · column stage · unknown stage" in err
    assert "'Closed Won' (" in err and "'Negotiation/Review' (" in err
    assert "values: {opportunities: {stage: {Closed Lost: lost, Closed Won: won" in err
    assert "Task.csv · column activity_type · unknown activity type" in err and "'Task' (" in err


def test_salesforce_export_loads_through_the_plan(salesforce, small_demo, tmp_path):
    from terrlib.inputs import dataset as io
    from terrlib.inputs.shapes import SALESFORCE_VALUES

    folder = tmp_path / "sf"
    shutil.copytree(salesforce, folder)
    plan = yaml.safe_load((folder / "plan.yaml").read_text())
    plan["values"] = SALESFORCE_VALUES
    (folder / "plan.yaml").write_text(yaml.safe_dump(plan))
    data, ours = io.load_dataset(folder), io.load_dataset(small_demo)
    assert data.opportunities["stage"].value_counts().to_dict() == (
        ours.opportunities["stage"].value_counts().to_dict()
    )
    assert data.opportunities.loc[data.opportunities["stage"] == "open", "amount"].isna().all()
    assert (data.opportunities["created_date"] == ours.opportunities["created_date"]).all()
    # homes from a ZIP code: within a few km of the coordinates they came from
    gap = (data.reps["home_latitude"] - ours.reps["home_latitude"]).abs()
    assert gap.max() < 0.5
    assert set(data.assumed["reps"]) == {"capacity_hours", "quarterly_quota", "annual_cost"}
    import re

    said = stage.assumed_sentence(data, {"capacity_hours"})[0]
    assert (
        re.search(r"capacity hours \d[\d,]* for 20 of 20 reps\.", said)
        and "." not in said[said.index("hours ") : said.index(" for")]
    )
    assert stage.assumed_sentence(data, set()) == []
    assert data.files["opportunities"].name == "sales_pipeline.csv"


def test_plan_files_stay_in_the_data_folder():
    from terrlib.inputs.plan import Plan

    for name in ("../accounts.csv", "/etc/passwd.csv", "sub/accounts.csv", "accounts.txt"):
        with pytest.raises(ValueError, match="files.accounts"):
            Plan.model_validate({"files": {"accounts": name}})


def test_one_column_feeds_two(small_demo, tmp_path):
    from terrlib.inputs import dataset as io

    folder = tmp_path / "d"
    shutil.copytree(small_demo, folder)
    reps = pd.read_csv(folder / "reps.csv", dtype=str)
    reps.drop(columns=["region"]).rename(columns={"territory_id": "Territory"}).to_csv(
        folder / "reps.csv", index=False
    )
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str)
    accounts["region"] = accounts["territory_id"]
    accounts.to_csv(folder / "accounts.csv", index=False)
    plan = yaml.safe_load((folder / "plan.yaml").read_text())
    plan["columns"] = {"reps": {"Territory": ["territory_id", "region"]}}
    (folder / "plan.yaml").write_text(yaml.safe_dump(plan))
    data = io.load_dataset(folder)
    assert (data.reps["region"] == data.reps["territory_id"]).all()


@pytest.mark.slow
def test_without_activities_every_stage_runs_and_says_so(small_demo, tmp_path):
    from terrlib.inputs.shapes import ExportShape, reshape

    folder = tmp_path / "data"
    shutil.copytree(small_demo, folder)
    reshape(folder, ExportShape(activities=False))
    spaces = {
        stem: run_notebook_code(stem, folder, "2026Q3", tmp_path / "p")
        for stem in config.STAGE_NOTEBOOKS
    }
    stage1 = spaces["01-strategic-alignment"]
    assert missing(stage1["effort"]) and "activities" in stage1["effort"].needs
    assert "no activity data" in stage1["served"].headline
    assert "top accounts untouched" not in " ".join(stage1["verdict"].table.get("findings", []))
    assert len(spaces["04-workload-balancing"]["opt"].assignment_) == 900


@pytest.mark.slow
def test_salesforce_export_with_eight_quarters_reports(small_demo, tmp_path):
    """A Salesforce-shaped export (its files, names, values, date-times, ZIP homes, no
    capacity, quota or cost) with eight quarters of history reports through its plan; the
    pages say which values were assumed."""
    from terrlib import cli

    folder = tmp_path / "data"
    code = cli.main(
        [
            "demo",
            "--out",
            str(folder),
            "--accounts",
            "900",
            "--reps",
            "20",
            "--seed",
            "4",
            "--shape",
            "salesforce",
            "--history-quarters",
            "8",
        ]
    )
    assert code == 0 and (folder / "sales_pipeline.csv").is_file()
    reports = tmp_path / "reports"
    code = cli.main(
        ["report", "--data", str(folder), "--out", str(reports), "--processed", str(tmp_path / "p")]
    )
    assert code == 0
    index = (reports / "2026Q3" / "index.html").read_text()
    assert "Assumed, not from the data" in index and "capacity hours" in index


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_company_reports_every_stage(tmp_path_factory, seed):
    """A 300-account, 5-rep company (the generator's smallest, territories merged down to
    five), at its latest quarter and at the fourth of its history."""
    from terrlib.inputs import demo
    from terrlib.inputs.shapes import ExportShape, reshape

    folder = tmp_path_factory.mktemp(f"small{seed}")
    demo.generate(folder, n_accounts=300, n_reps=8, seed=seed)
    reshape(folder, ExportShape(reps=5, homes="zip"))
    for quarter in ("2026Q3", "2024Q4"):
        processed = folder / f"p{quarter}"
        spaces = {
            stem: run_notebook_code(stem, folder, quarter, processed)
            for stem in config.STAGE_NOTEBOOKS
        }
        opt, data = spaces["04-workload-balancing"]["opt"], spaces["04-workload-balancing"]["data"]
        assert opt.assignment_.nunique() <= 5 and len(opt.assignment_) == len(data.accounts)
        assert (processed / "rep_scorecard.csv").is_file()


@pytest.mark.slow
def test_green_field_plan_runs_every_stage(small_demo, tmp_path):
    """No account has a territory yet: today's territory sections say so, and stage 4
    assigns every account."""
    folder = tmp_path / "data"
    shutil.copytree(small_demo, folder)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str)
    accounts.assign(territory_id="").to_csv(folder / "accounts.csv", index=False)
    spaces = {
        stem: run_notebook_code(stem, folder, "2026Q3", tmp_path / "p")
        for stem in config.STAGE_NOTEBOOKS
    }
    stage1 = spaces["01-strategic-alignment"]
    assert missing(stage1["balance"], stage1["served"], stage1["verdict"])
    assert "green-field" in stage1["balance"].has
    opt = spaces["04-workload-balancing"]["opt"]
    assert opt.assignment_.notna().all() and opt.assignment_.nunique() == 20
    from terrlib import optimize

    assert optimize.headline(opt).startswith("No account has a territory yet")


def test_some_accounts_without_a_territory_are_said(small_data):
    from dataclasses import replace

    from terrlib.stages import alignment

    accounts = small_data.accounts.copy()
    accounts.loc[accounts.index[:30], "territory_id"] = None
    data = replace(small_data, accounts=accounts)
    balance = alignment.territory_balance(data, "2026Q3")
    served = alignment.servedness(data, "2026Q3")
    effort = alignment.effort_vs_strategy(data, "2026Q3")
    verdict = alignment.realignment_verdict(data, balance, served, effort)
    text = " ".join(alignment.summary(balance, served, effort, verdict, data))
    assert "30 of 900 accounts have no territory yet" in text
