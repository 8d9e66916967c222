"""The report's stage schedule: which stages wait for which, the order ready stages start in,
and headlines written by stages running side by side."""

from __future__ import annotations

import json
import re
import threading

import nbformat
import pandas as pd
import pytest

from terrlib import config
from terrlib.report import artifacts, stage
from terrlib.report.artifacts import ArtifactError, stage_needs
from terrlib.report.runner import _priorities, worker_count
from terrlib.results import NotEnoughData


def test_stage_needs_follow_the_declared_artifacts():
    needs = stage_needs()
    assert needs["01-strategic-alignment"] == {"03-ideal-customer-profile"}
    assert needs["03-ideal-customer-profile"] == set()
    assert needs["04-workload-balancing"] == {"02-segmentation", "03-ideal-customer-profile"}
    assert needs["05-performance-review"] == {"01-strategic-alignment", "02-segmentation"}
    done: set[str] = set()  # the needs have no cycle: some order runs every stage after its own
    while len(done) < len(needs):
        ready = {s for s, n in needs.items() if s not in done and n <= done}
        assert ready, needs
        done |= ready


_CALL = re.compile(r"""\brun\.(load|save)\(\s*['"]([\w.-]+)['"]""")


def test_notebooks_save_and_load_what_they_declare():
    for stem in config.STAGE_NOTEBOOKS:
        nb = nbformat.read(config.NOTEBOOKS / f"{stem}.ipynb", as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        calls = _CALL.findall(code)
        assert {n for verb, n in calls if verb == "save"} == artifacts.saves(stem), stem
        assert {n for verb, n in calls if verb == "load"} == set(artifacts.LOADS[stem]), stem


def test_undeclared_and_missing_artifacts_are_said(tmp_path, monkeypatch):
    q = pd.Period("2026Q3")
    third = stage.Stage("03-ideal-customer-profile", q, None, tmp_path, config.DEFAULT_SEED)
    fourth = stage.Stage("04-workload-balancing", q, None, tmp_path, config.DEFAULT_SEED)
    with pytest.raises(ArtifactError, match="'sizing', which .* does not declare"):
        fourth.load("sizing")
    with pytest.raises(ArtifactError, match="'icp_scores', which .* does not declare"):
        fourth.save("icp_scores", pd.DataFrame({"a": [1]}))
    # in JupyterLab: stage 3 has not run, so stage 4 goes on without tiers and says so
    monkeypatch.delenv(stage.REPORT_ENV, raising=False)
    with pytest.warns(UserWarning, match="has not run for 2026Q3"):
        assert fourth.load("icp_scores") is None
    assert "without ICP tiers" in fourth.notes[-1]
    # in the report the stage that saves it has run: a missing artifact is an error
    monkeypatch.setenv(stage.REPORT_ENV, "1")
    with pytest.raises(ArtifactError, match="neither saved it"):
        fourth.load("icp_scores")
    # unless that stage had too little data for it: then the reason is passed on
    gap = NotEnoughData("ICP scores", "40 won deals", "12", "More history.")
    assert third.save("icp_scores", gap) is None
    with pytest.warns(UserWarning, match="too little data"):
        assert fourth.load("icp_scores") is None
    assert "40 won deals" in fourth.notes[-1]
    third.save("icp_scores", pd.DataFrame({"account_id": ["A1"], "tier": ["A"]}))
    assert fourth.load("icp_scores")["tier"].tolist() == ["A"]


def test_longest_chain_starts_first(tmp_path):
    needs = stage_needs()
    even = _priorities(needs, tmp_path)  # no earlier run: one second per stage
    assert even["02-segmentation"] == even["03-ideal-customer-profile"] == 2.0
    seconds = {
        "01-strategic-alignment": 14.0,
        "02-segmentation": 4.0,
        "03-ideal-customer-profile": 6.0,
        "04-workload-balancing": 28.0,
        "05-performance-review": 8.0,
    }
    (tmp_path / "2026Q2").mkdir()
    (tmp_path / "2026Q2" / "run.json").write_text(json.dumps({"seconds": seconds}))
    chain = _priorities(needs, tmp_path)
    assert chain["03-ideal-customer-profile"] == 34.0  # 6 + 28 (stage 4 waits for it)
    assert chain["01-strategic-alignment"] == 22.0  # 14 + 8 (stage 5)
    order = sorted(config.STAGE_NOTEBOOKS, key=lambda s: -chain[s])
    assert order[:2] == ["03-ideal-customer-profile", "02-segmentation"]
    (tmp_path / "2026Q2" / "run.json").write_text("not json")
    assert _priorities(needs, tmp_path) == even


def test_headlines_of_stages_side_by_side_all_kept(tmp_path):
    data = None
    names = [f"stage-{k:02d}" for k in range(24)]
    runs = [
        stage.Stage(name, pd.Period("2026Q3"), data, tmp_path, config.DEFAULT_SEED)
        for name in names
    ]
    threads = [
        threading.Thread(target=run.headline, args=(f"{run.name} says {k}",))
        for k, run in enumerate(runs)
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = json.loads((tmp_path / stage.HEADLINES).read_text())
    assert sorted(kept) == names
    assert kept["stage-05"] == ["stage-05 says 5"]
    assert [p.name for p in tmp_path.iterdir()] == [stage.HEADLINES]


def test_one_notebook_at_a_time_where_headlines_cannot_be_locked(monkeypatch):
    monkeypatch.setattr(stage, "CAN_LOCK", True)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert (worker_count(), worker_count(3), worker_count(0)) == (2, 3, 2)
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert worker_count() == 1
    monkeypatch.setattr(stage, "CAN_LOCK", False)  # no fcntl (Windows)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert (worker_count(), worker_count(3)) == (1, 1)
