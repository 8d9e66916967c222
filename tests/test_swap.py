"""A report that cannot lose data: the swap of the report and the processed data (all or
none, rolled back after a kill), the lock per quarter, stale build folders, a full disk on
another filesystem. The report runs five tiny notebooks here, so that each build takes
seconds; the real notebooks run in test_report.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest

from terrlib import config
from terrlib.report import artifacts, swap
from terrlib.report.runner import ReportError, build_report

TINY = """\
import uuid
from terrlib.report import stage
import pandas as pd
run = stage.start({stem!r}, quarter, data_dir, plan_path, processed_dir, seed)
run.save({artifact!r}, pd.DataFrame({{"n": [len(run.data.accounts)], "stage": [{stem!r}]}}))
open(run.processed_dir / "ballast.bin", "ab").write(b"x" * ballast)
run.headline({stem!r} + " ran as " + uuid.uuid4().hex)
"""


@pytest.fixture(scope="module")
def tiny_notebooks(tmp_path_factory) -> Path:
    """Five notebooks named like the stages that each load the data and save one artifact
    (and ``ballast`` bytes, to fill a disk)."""
    folder = tmp_path_factory.mktemp("tiny")
    for stem in config.STAGE_NOTEBOOKS:
        params = nbformat.v4.new_code_cell(
            'quarter = ""\ndata_dir = ""\nplan_path = ""\nprocessed_dir = ""\nseed = 7\nballast = 0'
        )
        params.metadata["tags"] = ["parameters"]
        body = nbformat.v4.new_code_cell(
            TINY.format(stem=stem, artifact=min(artifacts.saves(stem)))
        )
        nb = nbformat.v4.new_notebook(cells=[params, body])
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.write(nb, folder / f"{stem}.ipynb")
    return folder


def _build(small_demo, reports, processed, notebooks, **kwargs):
    return build_report(
        "2026Q3", small_demo, None, reports, processed, notebooks, progress=None, **kwargs
    )


def _marks(reports: Path, processed: Path) -> tuple[str, str]:
    """Which run the report and the processed data come from: each run's headlines carry a
    token of their own, on the index page and in the processed headlines."""
    index = (reports / "2026Q3" / "index.html").read_text()
    headlines = (processed / "2026Q3" / "headlines.json").read_text()
    token = headlines.split("ran as ")[1][:32]
    assert token in index  # the two come from one run
    return index, headlines


def test_report_swaps_in_and_leaves_nothing_behind(small_demo, tiny_notebooks, tmp_path):
    reports, processed = tmp_path / "reports", tmp_path / "processed"
    _build(small_demo, reports, processed, tiny_notebooks)
    assert (reports / "2026Q3" / "index.html").is_file()
    assert 'href="index.html"' in (reports / "2026Q3" / "glossary.html").read_text()
    assert (processed / "2026Q3" / "effort_vs_strategy.csv").is_file()
    # a second run replaces both
    (processed / "2026Q3" / "stale.csv").write_text("from the first run")
    _build(small_demo, reports, processed, tiny_notebooks)
    assert not (processed / "2026Q3" / "stale.csv").exists()
    for root in (reports, processed):
        assert sorted(p.name for p in root.iterdir()) == [".lock-2026Q3", "2026Q3"]
    assert not (reports / "2026Q3" / "executed").exists()


def test_stale_build_folders_are_cleaned(small_demo, tiny_notebooks, tmp_path):
    """What killed runs left is removed at the next run, of this quarter or another one,
    but not the folders of a run still going."""
    reports, processed = tmp_path / "reports", tmp_path / "processed"
    for root in (reports, processed):
        (root / ".build-2026Q3-killed" / "report").mkdir(parents=True)
        (root / ".build-2026Q2-killed").mkdir()
        (root / ".build-2026Q1-running").mkdir()
    with swap.QuarterLock([reports, processed], "2026Q1"):  # a run of 2026Q1 under way
        _build(small_demo, reports, processed, tiny_notebooks)
    for root in (reports, processed):
        assert not (root / ".build-2026Q3-killed").exists()
        assert not (root / ".build-2026Q2-killed").exists()
        assert (root / ".build-2026Q1-running").exists()


def test_another_run_of_the_quarter_is_refused(small_demo, tiny_notebooks, tmp_path):
    reports, processed = tmp_path / "reports", tmp_path / "processed"
    _build(small_demo, reports, processed, tiny_notebooks)
    before = _marks(reports, processed)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from terrlib.report import swap\n"
            f"lock = swap.QuarterLock([Path({str(processed)!r})], '2026Q3').acquire()\n"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ReportError, match="another run is building 2026Q3"):
            _build(small_demo, reports, processed, tiny_notebooks)
    finally:
        holder.kill()
        holder.wait()
    assert _marks(reports, processed) == before
    # the lock dies with its process: the next run goes ahead
    _build(small_demo, reports, processed, tiny_notebooks)
    assert _marks(reports, processed) != before


def test_two_runs_at_once_one_builds(small_demo, tiny_notebooks, tmp_path):
    """Two processes start the same quarter together: one builds, the other is told, and
    the result is one whole report."""
    reports, processed = tmp_path / "reports", tmp_path / "processed"
    script = (
        "import sys\nfrom terrlib.report.runner import build_report, ReportError\n"
        "try:\n"
        f"    build_report('2026Q3', {str(small_demo)!r}, None, {str(reports)!r}, "
        f"{str(processed)!r}, {str(tiny_notebooks)!r}, progress=None)\n"
        "except ReportError as exc:\n    print(exc); sys.exit(3)\n"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    codes = sorted(r.wait(timeout=300) for r in runs)
    out = "".join(r.stdout.read() for r in runs)
    assert codes in ([0, 0], [0, 3]), out  # the second may start after the first is done
    if codes == [0, 3]:
        assert "another run is building 2026Q3" in out
    assert sorted(p.name for p in (reports / "2026Q3").iterdir()) == sorted(
        ["index.html", "glossary.html", "run.json", "downloads"]
        + [f"{s}.html" for s in config.STAGE_NOTEBOOKS]
    )


KILLER = """\
import os, sys
from pathlib import Path
from terrlib.report import artifacts, swap
calls, real = [0], os.rename
def rename(a, b):
    calls[0] += 1
    if calls[0] == int(sys.argv[1]):
        os._exit(9)
    real(a, b)
os.rename = rename
root = Path(sys.argv[2])
swap.install(
    [(root / "p" / "new", root / "p" / "2026Q3"), (root / "r" / "new", root / "r" / "2026Q3")],
    root / "r" / ".swap-2026Q3.json",
)
"""


def _versions(root: Path) -> tuple[str, str]:
    return tuple(
        (root / side / "2026Q3" / "v.txt").read_text() if (root / side / "2026Q3").exists() else ""
        for side in ("p", "r")
    )


@pytest.mark.parametrize("kill_at", [1, 2, 3, 4])
def test_kill_during_the_swap_is_rolled_back(tmp_path, kill_at):
    """A run killed at any of the swap's four renames: the next run finds report and
    processed data both from the previous run (never one of each, never none)."""
    for side in ("p", "r"):
        for name, text in (("2026Q3", "old"), ("new", "new")):
            (tmp_path / side / name).mkdir(parents=True)
            (tmp_path / side / name / "v.txt").write_text(text)
    killed = subprocess.run([sys.executable, "-c", KILLER, str(kill_at), str(tmp_path)])
    assert killed.returncode == 9
    assert (tmp_path / "r" / ".swap-2026Q3.json").is_file()
    assert swap.recover(tmp_path / "r" / ".swap-2026Q3.json")
    for side in ("p", "r"):
        swap.clean_stale(tmp_path / side, "2026Q3")
    assert _versions(tmp_path) == ("old", "old")
    assert not (tmp_path / "r" / ".swap-2026Q3.json").exists()
    assert {p.name for p in (tmp_path / "p").iterdir()} <= {"2026Q3", "new"}


def test_kill_during_the_first_swap_leaves_neither(tmp_path):
    """No previous version: a kill half-way leaves neither new folder in place."""
    for side in ("p", "r"):
        (tmp_path / side / "new").mkdir(parents=True)
        (tmp_path / side / "new" / "v.txt").write_text("new")
    subprocess.run([sys.executable, "-c", KILLER, "2", str(tmp_path)])
    assert _versions(tmp_path) == ("new", "")  # processed is in, the report is not
    swap.recover(tmp_path / "r" / ".swap-2026Q3.json")
    assert _versions(tmp_path) == ("", "")


def test_failure_during_the_swap_restores_both(tmp_path, monkeypatch):
    for side in ("p", "r"):
        for name, text in (("2026Q3", "old"), ("new", "new")):
            (tmp_path / side / name).mkdir(parents=True)
            (tmp_path / side / name / "v.txt").write_text(text)
    real, calls = os.rename, []

    def rename(a, b):
        calls.append(a)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        real(a, b)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="No space"):
        swap.install(
            [(tmp_path / s / "new", tmp_path / s / "2026Q3") for s in ("p", "r")],
            tmp_path / "r" / ".swap.json",
        )
    monkeypatch.undo()
    assert _versions(tmp_path) == ("old", "old")
    assert not (tmp_path / "r" / ".swap.json").exists()


@pytest.fixture
def small_disk():
    """A 4 MB filesystem of its own (tmpfs), where this machine lets the tests mount one."""
    where = Path(f"/tmp/terrlib-full-{uuid.uuid4().hex[:8]}")
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip("cannot mount a small filesystem here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


def test_full_disk_on_another_filesystem_keeps_report_and_data(
    small_demo, tiny_notebooks, tmp_path, small_disk
):
    """Processed data on its own small filesystem: a run that fills it fails with one
    message, and the previous report and processed data stay, whole and matching."""
    reports, processed = tmp_path / "reports", small_disk / "processed"
    assert os.stat(tmp_path).st_dev != os.stat(small_disk).st_dev
    _build(small_demo, reports, processed, tiny_notebooks)
    before = _marks(reports, processed)
    files_before = {
        p.name: p.read_bytes() for p in (processed / "2026Q3").rglob("*") if p.is_file()
    }
    notebooks = tmp_path / "notebooks"
    shutil.copytree(tiny_notebooks, notebooks)
    filler = notebooks / "03-ideal-customer-profile.ipynb"
    nb = nbformat.read(filler, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace("ballast = 0", "ballast = 8_000_000")
    nbformat.write(nb, filler)
    with pytest.raises(ReportError, match="03-ideal-customer-profile failed"):
        _build(small_demo, reports, processed, notebooks)
    assert _marks(reports, processed) == before
    assert {
        p.name: p.read_bytes() for p in (processed / "2026Q3").rglob("*") if p.is_file()
    } == files_before
    assert not [p for p in processed.iterdir() if p.name.startswith(".build")]
    assert shutil.disk_usage(small_disk).used < 1_000_000  # the half-written build is gone


def test_processed_on_another_filesystem_is_never_copied(
    small_demo, tiny_notebooks, tmp_path, monkeypatch
):
    """The processed data is built beside its target, so putting it in place is a rename,
    also when it lives on another filesystem than the report (/dev/shm here)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem at /dev/shm")
    processed = shm / f"terrlib-{uuid.uuid4().hex[:8]}"

    def no_copy(*args, **kwargs):
        raise AssertionError("a copy across filesystems")

    monkeypatch.setattr(shutil, "move", no_copy)
    monkeypatch.setattr(shutil, "copytree", no_copy)
    try:
        _build(small_demo, tmp_path / "reports", processed, tiny_notebooks)
        saved = min(artifacts.saves("04-workload-balancing"))  # what the tiny stage 4 saves
        assert (processed / "2026Q3" / f"{saved}.csv").is_file()
    finally:
        shutil.rmtree(processed, ignore_errors=True)


def test_swap_journal_survives_a_half_written_journal(tmp_path):
    journal = tmp_path / ".swap-2026Q3.json"
    journal.write_text('[{"new": ')  # killed while writing it: nothing was renamed
    assert swap.recover(journal) and not journal.exists()


def test_lock_is_released_and_refuses_a_second_holder(tmp_path):
    with swap.QuarterLock([tmp_path], "2026Q3"):
        with pytest.raises(swap.LockedError, match="another run is building 2026Q3"):
            swap.QuarterLock([tmp_path], "2026Q3").acquire()
        swap.QuarterLock([tmp_path], "2026Q2").acquire().release()  # other quarters go on
    swap.QuarterLock([tmp_path], "2026Q3").acquire().release()


def test_report_into_a_file_is_one_message(small_demo, tmp_path, capsys):
    from terrlib import cli

    (tmp_path / "afile").write_text("x")
    for flag in ("--out", "--processed"):
        code = cli.main(["report", "--data", str(small_demo), flag, str(tmp_path / "afile")])
        err = capsys.readouterr().err
        assert code == 2 and "is a file" in err and "Traceback" not in err
    code = cli.main(
        ["report", "--data", str(small_demo), "--out", str(tmp_path / "afile" / "under")]
    )
    err = capsys.readouterr().err
    assert code in (1, 2) and "Traceback" not in err and "afile" in err


def test_demo_refuses_a_folder_with_files(tmp_path, capsys):
    from terrlib import cli

    (tmp_path / "accounts.csv").write_text("real data")
    args = ["demo", "--out", str(tmp_path), "--accounts", "300", "--reps", "8"]
    assert cli.main(args) == 2
    assert "already holds files" in capsys.readouterr().err
    assert (tmp_path / "accounts.csv").read_text() == "real data"
    assert cli.main([*args, "--force"]) == 0
    assert (tmp_path / "accounts.csv").read_text() != "real data"


def test_default_plan_is_said_on_the_index(small_demo, tiny_notebooks, tmp_path):
    from terrlib.inputs.plan import DEFAULT_PLAN, PlanError

    data = tmp_path / "data"
    shutil.copytree(small_demo, data)
    (data / "plan.yaml").unlink()
    with pytest.raises(PlanError, match="file not found"):
        build_report("2026Q3", data, None, tmp_path / "r", tmp_path / "p", tiny_notebooks)
    build_report(
        "2026Q3", data, DEFAULT_PLAN, tmp_path / "r", tmp_path / "p", tiny_notebooks, progress=None
    )
    assert "uses the default plan" in (tmp_path / "r" / "2026Q3" / "index.html").read_text()


def test_report_and_processed_in_one_folder_are_refused(small_demo, tmp_path, capsys):
    from terrlib import cli

    nest = tmp_path / "nest"
    for processed in (nest / "2026Q3", nest):
        code = cli.main(
            ["report", "--data", str(small_demo), "--out", str(nest), "--processed", str(processed)]
        )
        err = capsys.readouterr().err
        assert code == 2 and "would share a folder" in err
    assert not (nest / "2026Q3").exists()
