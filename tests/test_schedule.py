"""The report's stage schedule: which stages wait for which, the order ready stages start in,
and headlines written by stages running side by side."""

from __future__ import annotations

import json
import shutil
import threading

import nbformat
import pandas as pd

from terrlib import config
from terrlib.report import stage
from terrlib.report.runner import _priorities, stage_needs, worker_count


def _copy_notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    shutil.copytree(config.NOTEBOOKS, folder)
    return folder


def test_stage_needs_follow_loads_and_saves(tmp_path):
    needs = stage_needs()
    assert needs["01-strategic-alignment"] == set()
    assert needs["04-workload-balancing"] == {"02-segmentation", "03-ideal-customer-profile"}
    assert needs["05-performance-review"] == {"01-strategic-alignment", "02-segmentation"}
    # stage 1 now reads what stage 4 writes: run one after another it finds nothing, so
    # stage 4 must wait for it; and stage 3 now writes what stage 5 reads
    folder = _copy_notebooks(tmp_path)
    first = folder / "01-strategic-alignment.ipynb"
    nb = nbformat.read(first, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("sizing = run.load('sizing')"))
    nbformat.write(nb, first)
    third = folder / "03-ideal-customer-profile.ipynb"
    nb = nbformat.read(third, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('run.save("account_scores", tiers)'))
    nbformat.write(nb, third)
    needs = stage_needs(folder)
    assert "01-strategic-alignment" in needs["04-workload-balancing"]
    assert "03-ideal-customer-profile" in needs["05-performance-review"]
    assert needs["02-segmentation"] == set()


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
