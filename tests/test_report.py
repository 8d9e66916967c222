"""End to end: `terrlib report` into a temporary folder, and a failing run that leaves the
earlier report intact. These execute all five notebooks on the small demo company."""

from __future__ import annotations

import json
import os
import re
import shutil

import nbformat
import pandas as pd
import pytest

from terrlib import cli, config
from terrlib.report.runner import worker_count

pytestmark = pytest.mark.slow


CHDIRS: list[str] = []  # where the report set its working directory


def _last_quarter(demo, folder):
    """A previous quarter's processed files, as its report left them: a proposal that moved
    the first five accounts (the demo's data has not made them) and every territory served."""
    accounts = pd.read_csv(demo / "accounts.csv", dtype=str)
    ids = sorted(accounts["territory_id"].unique())
    aligned = pd.DataFrame(
        {
            "account_id": accounts["account_id"],
            "current_territory": accounts["territory_id"],
            "proposed_territory": accounts["territory_id"],
            "moved": False,
        }
    )
    first = aligned.index[:5]
    aligned.loc[first, "proposed_territory"] = [
        ids[(ids.index(t) + 1) % len(ids)] for t in aligned.loc[first, "current_territory"]
    ]
    aligned.loc[first, "moved"] = True
    folder.mkdir(parents=True)
    aligned.to_csv(folder / "proposed_alignment.csv", index=False)
    pd.DataFrame({"territory_id": ids, "status": "served"}).to_csv(
        folder / "territory_servedness.csv", index=False
    )


@pytest.fixture(scope="module")
def built(small_demo, tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    _last_quarter(small_demo, root / "processed" / "2026Q2")
    with pytest.MonkeyPatch.context() as mp:
        # the data as `make report` gives it, relative to the working directory
        mp.chdir(small_demo.parent)
        chdir = os.chdir
        mp.setattr(os, "chdir", lambda path: (CHDIRS.append(str(path)), chdir(path))[1])
        code = cli.main(
            [
                "report",
                "--quarter",
                "2026Q3",
                "--data",
                small_demo.name,
                "--out",
                str(root / "reports"),
                "--processed",
                str(root / "processed"),
            ]
        )
    assert code == 0
    return root


def test_report_keeps_the_working_directory(built, small_demo):
    """Notebooks run side by side on threads; a change of the process's working directory
    by one (papermill's ``cwd``) could be undone to the wrong folder by the other, and the
    relative data path then no longer resolved. (papermill still sets it, to where it is,
    around every save.)"""
    assert set(CHDIRS) <= {str(small_demo.parent)}


def test_report_pages(built):
    folder = built / "reports" / "2026Q3"
    names = {p.name for p in folder.iterdir()}
    assert {"index.html", "run.json", *(f"{s}.html" for s in config.STAGE_NOTEBOOKS)} <= names
    index = (folder / "index.html").read_text()
    for stem in config.STAGE_NOTEBOOKS:
        assert f'href="{stem}.html"' in index
    assert "hours a year" in index  # a headline sentence with numbers
    for stem in config.STAGE_NOTEBOOKS:
        page = (folder / f"{stem}.html").read_text()
        assert (
            "Traceback" not in page
            and "Error" not in page.split("<body")[1][:200000].split("terrlib-nav")[0]
        )
        assert not re.search(r'<(script|link)[^>]+(src|href)="https?:', page)  # opens offline
        assert "stage.start(" not in page  # code hidden
    assert "data:image/png;base64" in (folder / "01-strategic-alignment.html").read_text()


def test_index_opens_with_decisions_linked_to_evidence(built):
    """The index's first section is Decisions, with a line under every topic the stages
    decide on; each line's link goes to a heading that exists on the stage's page."""
    folder = built / "reports" / "2026Q3"
    index = (folder / "index.html").read_text()
    body = index.split("<body>")[1]
    assert body.index('<h2 id="decisions">Decisions</h2>') < body.index("Stage by stage")
    for topic in (
        "Territories to realign",
        "Hires and reductions",
        "Quotas for next quarter",
        "Reps to recognise or coach",
    ):
        assert f"<h3>{topic}</h3>" in index, topic
    links = re.findall(r'href="(0\d-[\w-]+\.html)#([^"]+)">evidence</a>', index)
    assert len(links) >= 5
    for page, anchor in set(links):
        assert f'id="{anchor}"' in (folder / page).read_text(), (page, anchor)


def test_glossary_is_linked_from_every_page(built):
    folder = built / "reports" / "2026Q3"
    assert "Return on cost" in (folder / "glossary.html").read_text()
    for page in [folder / "index.html", *(folder / f"{s}.html" for s in config.STAGE_NOTEBOOKS)]:
        assert 'href="glossary.html"' in page.read_text(), page.name


def test_index_says_what_changed_since_last_quarter(built):
    index = (built / "reports" / "2026Q3" / "index.html").read_text()
    assert "Since last quarter (2026Q2)" in index
    assert "of the 5 moves proposed in 2026Q2, 0 were made in the CRM, 5 accounts" in index
    assert "territories under-served 0 →" in index  # every territory was served in 2026Q2
    assert (built / "processed" / "2026Q2" / "proposed_alignment.csv").is_file()  # untouched
    folder = built / "reports" / "2026Q3"
    for stem in config.STAGE_NOTEBOOKS:  # every stage has the section; these two have data
        assert "Since last quarter" in (folder / f"{stem}.html").read_text(), stem
    assert (
        "of the 5 moves proposed in 2026Q2" in (folder / "04-workload-balancing.html").read_text()
    )
    assert "Territories under-served" in (folder / "01-strategic-alignment.html").read_text()


def test_downloads_sit_beside_the_report_and_are_linked(built):
    folder = built / "reports" / "2026Q3"
    index = (folder / "index.html").read_text()
    for name in (
        "proposed_alignment.xlsx",
        "proposed_alignment.csv",
        "account_moves.csv",
        "next_quarter_quotas.csv",
        "proposed_quotas.csv",
        "rep_scorecard.csv",
        "cross_sell_leads.csv",
    ):
        assert (folder / "downloads" / name).is_file(), name
        assert f'href="downloads/{name}"' in index, name
    assert (
        'href="downloads/next_quarter_quotas.csv"' in (folder / "02-segmentation.html").read_text()
    )
    moves = pd.read_csv(folder / "downloads" / "account_moves.csv")
    assert moves["moved"].all()
    for page in folder.glob("*.html"):  # every link to a download resolves
        for name in re.findall(r'href="downloads/([^"]+)"', page.read_text()):
            assert (folder / "downloads" / name).is_file(), (page.name, name)


def test_stages_agree_on_each_territory(built):
    """One workload model: stage 1's utilization of each territory today is stage 4's, and
    next quarter's quotas add up to the team's number."""
    processed = built / "processed" / "2026Q3"
    one = pd.read_csv(processed / "territory_servedness.csv").set_index("territory_id")
    four = pd.read_csv(processed / "territory_workload.csv").set_index("territory_id")
    diff = (one["utilization"] - four["utilization"].reindex(one.index)).abs()
    assert diff.max() <= 0.02, diff.sort_values().tail()
    # stage 5's territory return uses stage 1's workload and stage 2's return on cost
    five = pd.read_csv(processed / "territory_return.csv").set_index("territory_id")
    pd.testing.assert_series_equal(
        five["utilization"], one["utilization"].reindex(five.index), check_names=False
    )
    two = pd.read_csv(processed / "territory_scorecard.csv").set_index("territory_id")
    same = two["bookings_4q"].round(2) == five["bookings_4q"].reindex(two.index).round(2)
    assert same.mean() >= 0.9  # the demo's reps win their own accounts' deals
    pd.testing.assert_series_equal(
        two.loc[same, "roi"], five["roi_4q"].reindex(two.index)[same], check_names=False
    )
    quotas = pd.read_csv(processed / "next_quarter_quotas.csv")
    assert quotas["quota_next"].notna().all() and (quotas["quota_next"] > 0).all()
    # the quotas on the proposal split the same team number
    proposed = pd.read_csv(processed / "proposed_quotas.csv")
    assert proposed["quota_next_proposed"].sum() == pytest.approx(quotas["quota_next"].sum())


def test_run_manifest(built, small_demo):
    manifest = json.loads((built / "reports" / "2026Q3" / "run.json").read_text())
    assert manifest["quarter"] == "2026Q3"
    assert set(manifest["inputs"]) >= {
        "accounts.csv",
        "reps.csv",
        "opportunities.csv",
        "activities.csv",
        "plan.yaml",
    }
    assert len(manifest["inputs"]["accounts.csv"]) == 64
    assert set(manifest["seconds"]) == set(config.STAGE_NOTEBOOKS)
    # as many notebooks at a time as the machine allows (two on two cores or more); side by
    # side the build takes less than the notebooks' seconds added up
    assert manifest["workers"] == worker_count()
    assert 0 < manifest["wall_seconds"]
    if manifest["workers"] > 1:
        assert manifest["wall_seconds"] < sum(manifest["seconds"].values())
    assert "pandas" in manifest["versions"]
    # the report may be shared: no path of the machine that built it
    text = json.dumps(manifest)
    assert str(small_demo.parent) not in text and str(config.PROJECT_ROOT) not in text
    assert manifest["parameters"]["data_dir"] == small_demo.name


def test_processed_artifacts(built):
    processed = built / "processed" / "2026Q3"
    for name in (
        "territory_workload.csv",
        "account_scores.csv",
        "territory_scorecard.csv",
        "cross_sell_leads.csv",
        "realignment_verdict.csv",
        "territory_servedness.csv",
        "segments.csv",
        "win_rate_industry.csv",
        "sizing.csv",
        "rep_scorecard.csv",
        "headlines.json",
    ):
        assert (processed / name).is_file(), name


def test_failing_notebook_keeps_previous_report(built, small_demo, tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(config.NOTEBOOKS, notebooks)
    broken = notebooks / "03-ideal-customer-profile.ipynb"
    nb = nbformat.read(broken, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('planted failure')"))
    nbformat.write(nb, broken)
    reports = built / "reports"
    before = (reports / "2026Q3" / "index.html").read_bytes()
    processed_before = (built / "processed" / "2026Q3" / "rep_scorecard.csv").read_bytes()

    from terrlib.report.runner import ReportError, build_report

    with pytest.raises(ReportError, match="03-ideal-customer-profile failed at cell .*planted"):
        build_report(
            "2026Q3", small_demo, None, reports, built / "processed", notebooks, progress=None
        )
    assert (reports / "2026Q3" / "index.html").read_bytes() == before
    assert (built / "processed" / "2026Q3" / "rep_scorecard.csv").read_bytes() == processed_before
    assert (reports / "2026Q3.failed" / "03-ideal-customer-profile.ipynb").is_file()
    assert not [p for p in reports.iterdir() if p.name.startswith(".build")]


def test_bad_data_stops_report_with_message(demo_copy, tmp_path, capsys):
    (demo_copy / "reps.csv").unlink()
    code = cli.main(
        [
            "report",
            "--data",
            str(demo_copy),
            "--out",
            str(tmp_path / "r"),
            "--processed",
            str(tmp_path / "p"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "reps.csv · file missing" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "2026Q3").exists()


def test_one_at_a_time_gives_the_same_artifacts(built, small_demo, tmp_path):
    """The report runs stages side by side; one after another they give the same files."""
    from terrlib.report.runner import build_report

    build_report(
        "2026Q3",
        small_demo,
        None,
        tmp_path / "reports",
        tmp_path / "processed",
        progress=None,
        workers=1,
    )
    side_by_side = built / "processed" / "2026Q3"
    one_by_one = tmp_path / "processed" / "2026Q3"
    names = sorted(p.name for p in side_by_side.iterdir() if p.suffix in {".csv", ".json"})
    assert names == sorted(p.name for p in one_by_one.iterdir() if p.suffix in {".csv", ".json"})
    for name in names:
        assert (side_by_side / name).read_bytes() == (one_by_one / name).read_bytes(), name
