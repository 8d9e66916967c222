"""The quarterly report: run the five stage notebooks with papermill, render HTML with code
hidden, write ``index.html`` and ``run.json``, and move it all into place only on success.

A failing stage raises :class:`ReportError` naming the notebook and the failing cell's error;
the previous ``reports/<quarter>`` and ``data/processed/<quarter>`` stay as they were, and the
failed executed notebook is kept in ``reports/<quarter>.failed/`` for debugging.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager

from terrlib import config
from terrlib.inputs.dataset import load_dataset
from terrlib.inputs.plan import DEFAULT_PLAN
from terrlib.periods import parse_quarter
from terrlib.report import artifacts, downloads, glossary, index, page, since, stage, swap

TEMPLATES = Path(__file__).parent / "templates"
REMOVE_TAGS = {"remove-cell", "parameters", "injected-parameters"}
PACKAGES = (
    "terrlib",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "pandera",
    "pydantic",
    "papermill",
    "nbconvert",
    "matplotlib",
    "seaborn",
    "highspy",
    "zipcodes",
)


class ReportError(RuntimeError):
    """A report could not be built; the message says which notebook and cell failed."""


def render_html(notebook: Path, destination: Path, company: str = "", quarter: str = "") -> None:
    """Render an executed notebook to a self-contained HTML page with code cells hidden,
    titled with its stage, ``company`` and ``quarter`` (:func:`terrlib.report.page.page_title`),
    its headings in order (:func:`~terrlib.report.page.ordered_headings`), each figure's
    description as the image's alternative text (the template reads it from the output) and
    only the style rules it uses (:func:`~terrlib.report.page.slim_styles`)."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = page.page_title(nb, company, quarter)
    remover = TagRemovePreprocessor(remove_cell_tags=REMOVE_TAGS, enabled=True)
    nb, _ = remover.preprocess(nb, {})
    exporter = HTMLExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name="terrlib",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    destination.write_text(page.slim_styles(page.ordered_headings(body)), encoding="utf-8")


def _with_reset(source: Path) -> nbformat.NotebookNode:
    """The notebook with a first (hidden) cell that clears what an earlier notebook left in
    the shared kernel."""
    if not source.is_file():
        raise ReportError(f"notebook {source} not found")
    nb = nbformat.read(source, as_version=4)
    reset = nbformat.v4.new_code_cell(
        "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')"
    )
    reset.metadata["tags"] = ["remove-cell"]
    nb.cells.insert(0, reset)
    return nb


def _failed_cell(nb_path: Path) -> str:
    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception:  # noqa: BLE001
        return ""
    for number, cell in enumerate(nb.cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {number} ({output.get('ename')}: {output.get('evalue')})"
    return ""


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=config.PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _priorities(needs: dict[str, set[str]], reports: Path) -> dict[str, float]:
    """Each stage's seconds plus those of the longest chain of stages waiting on it, from
    the newest ``run.json`` under ``reports`` (one second each without one): ready stages
    start longest chain first, so the stage that finishes last starts as early as it can."""
    seconds = dict.fromkeys(config.STAGE_NOTEBOOKS, 1.0)
    runs = sorted(reports.glob("*/run.json"), key=lambda p: p.stat().st_mtime)
    if runs:
        try:
            last = json.loads(runs[-1].read_text(encoding="utf-8")).get("seconds", {})
            seconds |= {k: float(v) for k, v in last.items() if k in seconds}
        except (OSError, ValueError, AttributeError):
            pass  # an unreadable manifest only costs the better order
    chain: dict[str, float] = {}
    for stem in reversed(config.STAGE_NOTEBOOKS):
        after = [chain[s] for s in chain if stem in needs[s]]
        chain[stem] = seconds[stem] + max(after, default=0.0)
    return chain


def _run_notebooks(
    notebooks_dir: Path,
    executed: Path,
    pages: Path,
    parameters: dict,
    reports: Path,
    workers: int,
    say: Callable[[str], None],
    company: str = "",
) -> dict[str, float]:
    """Execute and render every stage notebook (its page titled with ``company`` and the
    quarter), ``workers`` at a time, each worker with one
    kernel that serves its notebooks in turn (its namespace reset before each), so the
    scientific stack is imported once per worker; a ready stage with the longest chain
    after it goes first (see :func:`_priorities`, from the runs in ``reports``). Returns
    seconds per notebook, in stage order; raises :class:`ReportError` for the first
    notebook that fails, kept in ``reports/<quarter>.failed/`` (the others that are
    running are allowed to finish, none is started after it)."""
    import papermill as pm
    from papermill.iorw import papermill_io

    # papermill keeps one working folder for its local reads and writes in a global, which
    # notebooks on two threads can leave set after a run; a later run in this process (in
    # another folder) would then chdir the whole process there around each save
    papermill_io.get_handler("local").cwd(None)
    needs = artifacts.stage_needs()
    chain = _priorities(needs, reports)
    failed_dir = reports / f"{parameters['quarter']}.failed"
    stems = sorted(config.STAGE_NOTEBOOKS, key=lambda s: -chain[s])  # stable: stage order
    workers = max(1, min(workers, len(stems)))
    timings: dict[str, float] = {}
    done: set[str] = set()
    started: set[str] = set()
    failures: list[ReportError] = []
    ready = threading.Condition()

    def next_stem() -> str | None:
        """The first stage not started whose needs are done; waits while none is ready."""
        with ready:
            while True:
                if failures:
                    return None
                left = [s for s in stems if s not in started]  # longest chain first
                if not left:
                    return None
                for stem in left:
                    if needs[stem] <= done:
                        started.add(stem)
                        return stem
                ready.wait()

    def run_one(km: KernelManager, stem: str) -> None:
        target = executed / f"{stem}.ipynb"
        began = time.perf_counter()
        try:
            pm.execute_notebook(
                _with_reset(notebooks_dir / f"{stem}.ipynb"),
                str(target),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                # no cwd: papermill would chdir the whole process, and two notebooks on
                # threads could restore each other's folder; the kernel starts in it anyway
                log_output=False,
                km=km,
            )
        except pm.PapermillExecutionError as exc:
            if failed_dir.exists():
                shutil.rmtree(failed_dir)
            failed_dir.mkdir(parents=True)
            shutil.copy2(target, failed_dir / target.name)
            where = _failed_cell(target) or f"cell {exc.exec_count}"
            raise ReportError(
                f"notebook {stem} failed at {where}. The executed notebook is kept in "
                f"{failed_dir / target.name}; the previous report and processed data were "
                "left as they were."
            ) from None
        render_html(target, pages / f"{stem}.html", company, parameters["quarter"])
        timings[stem] = time.perf_counter() - began

    def fail(exc: ReportError) -> None:
        with ready:
            failures.append(exc)
            ready.notify_all()

    def worker() -> None:
        km = KernelManager(kernel_name="python3")
        try:
            env = os.environ | {stage.REPORT_ENV: "1"}  # a missing artifact is an error
            km.start_kernel(cwd=str(notebooks_dir), env=env)
        except Exception as exc:  # noqa: BLE001
            fail(ReportError(f"the notebook kernel would not start: {exc}"))
            return
        try:
            while (stem := next_stem()) is not None:
                try:
                    run_one(km, stem)
                except ReportError as exc:
                    fail(exc)
                    return
                except Exception as exc:  # noqa: BLE001 (the kernel died, say)
                    fail(ReportError(f"notebook {stem} could not run: {exc}"))
                    return
                with ready:
                    done.add(stem)
                    say(f"  [{len(done)}/{len(stems)}] {stem}: {timings[stem]:.1f} s")
                    ready.notify_all()
        finally:
            km.shutdown_kernel(now=True)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return {stem: timings[stem] for stem in config.STAGE_NOTEBOOKS}


def _public(path: Path | str) -> str:
    """A path as the run manifest shows it: relative to the project or the working folder
    when inside one, else only its last part (the report may be shared; absolute paths on
    the machine that built it are not for its readers)."""
    path = Path(path).resolve()
    for base in (config.PROJECT_ROOT.resolve(), Path.cwd().resolve()):
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return path.name


@contextmanager
def _locked(q: str, out_dir: Path, processed_root: Path) -> Iterator[None]:
    """Hold the quarter's lock in both roots, after putting back what a killed run left
    half swapped and removing its build folders."""
    for folder in (out_dir, processed_root):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is a file, not a folder")
    report, data = (out_dir / q).resolve(), (processed_root / q).resolve()
    if report == data or report in data.parents or data in report.parents:
        raise ValueError(
            f"the report ({out_dir / q}) and the processed data ({processed_root / q}) would "
            "share a folder; give --out and --processed folders apart"
        )
    for folder in (out_dir, processed_root):
        folder.mkdir(parents=True, exist_ok=True)
    try:
        lock = swap.QuarterLock([out_dir, processed_root], q).acquire()
    except swap.LockedError as exc:
        raise ReportError(str(exc)) from None
    try:
        _tidy(q, out_dir, processed_root)
        for other in swap.left_behind(out_dir, processed_root) - {q}:
            try:  # another quarter's leftovers, where no run of it is under way
                with swap.QuarterLock([out_dir, processed_root], other):
                    _tidy(other, out_dir, processed_root)
            except swap.LockedError:
                continue
        yield
    finally:
        lock.release()


def _tidy(q: str, out_dir: Path, processed_root: Path) -> None:
    """Roll back a swap of ``q`` that a killed run left half done, and remove its build
    folders (hold the quarter's lock)."""
    swap.recover(swap.journal(out_dir, q))
    for root in (out_dir, processed_root):
        swap.clean_stale(root, q)


def _build(
    q: str,
    data,
    data_dir: Path,
    out_dir: Path,
    processed_root: Path,
    notebooks_dir: Path,
    seed: int,
    workers: int,
    say: Callable[[str], None],
    began: float,
) -> None:
    """Run the notebooks into build folders beside the targets (same filesystem) and swap
    the report and the processed data in together."""
    build = swap.build_folder(out_dir, q)
    processed = swap.build_folder(processed_root, q)
    executed = build / "executed"
    pages = build / "report"
    for folder in (executed, pages):
        folder.mkdir()
    plan_file = data.files.get("plan")
    parameters = {
        "quarter": q,
        "data_dir": str(data_dir.resolve()),
        "plan_path": str(Path(plan_file).resolve()) if plan_file else DEFAULT_PLAN,
        "processed_dir": str(processed.resolve()),
        "seed": seed,
    }
    try:
        timings = _run_notebooks(
            notebooks_dir, executed, pages, parameters, out_dir, workers, say, data.plan.company
        )
        headlines_path = processed / stage.HEADLINES
        headlines = json.loads(headlines_path.read_text()) if headlines_path.is_file() else {}
        skipped_path = processed / stage.SKIPPED
        skipped = json.loads(skipped_path.read_text()) if skipped_path.is_file() else {}
        manifest = {
            "quarter": q,
            "parameters": {
                "quarter": q,
                "data_dir": _public(data_dir),
                "plan_path": _public(plan_file) if plan_file else DEFAULT_PLAN,
                "seed": seed,
            },
            "inputs": data.input_hashes(),
            "versions": _versions(),
            "seconds": {k: round(v, 2) for k, v in timings.items()},
            "workers": workers,
            "wall_seconds": round(time.perf_counter() - began, 1),
            "skipped": skipped,
            "git_commit": _git_commit(),
            "built_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "command": " ".join(
                [Path(sys.argv[0]).name, *(_public(a) if os.sep in a else a for a in sys.argv[1:])]
            ),
        }
        (pages / "run.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        decisions_path = processed / stage.DECISIONS
        decisions = json.loads(decisions_path.read_text()) if decisions_path.is_file() else {}
        files = downloads.copy_downloads(processed, pages)
        (pages / "glossary.html").write_text(
            glossary.glossary_html(data.plan.company, q), encoding="utf-8"
        )
        previous = str(parse_quarter(q, data.plan.calendar.fiscal_year_start_month) - 1)
        changed = since.since_html(
            since.since_last_quarter(processed, processed_root / previous, q, previous)
        )
        (pages / "index.html").write_text(
            index.index_html(
                q, data.plan.company, headlines, timings, manifest, decisions, files, changed
            ),
            encoding="utf-8",
        )
        swap.install(
            [(processed, processed_root / q), (pages, out_dir / q)], swap.journal(out_dir, q)
        )
        failed = out_dir / f"{q}.failed"
        if failed.exists():
            shutil.rmtree(failed)
    finally:
        shutil.rmtree(build, ignore_errors=True)
        shutil.rmtree(processed, ignore_errors=True)


def worker_count(requested: int | None = None) -> int:
    """Notebooks to run at once: ``requested``, else 2 (1 on a one-core machine); 1 where
    stages cannot lock the headlines file they share (no ``fcntl``: Windows), since two
    stages finishing together could each rewrite it without the other's headline."""
    if not stage.CAN_LOCK:
        return 1
    return max(1, requested or min(2, os.cpu_count() or 1))


def build_report(
    quarter: str | None = None,
    data_dir: Path | str | None = None,
    plan_path: Path | str | None = None,
    out_dir: Path | str | None = None,
    processed_root: Path | str | None = None,
    notebooks_dir: Path | str | None = None,
    seed: int = config.DEFAULT_SEED,
    progress: Callable[[str], None] | None = print,
    workers: int | None = None,
) -> Path:
    """Build ``<out_dir>/<quarter>/`` (index.html, one HTML per stage, run.json).

    Parameters
    ----------
    quarter : str, optional
        Quarter to report; the latest complete quarter in the data when omitted.
    data_dir, plan_path : path, optional
        Raw data folder (demo data by default) and plan (``plan.yaml`` beside the data).
    out_dir, processed_root : path, optional
        Report root (``reports/``) and processed-data root (``data/processed/``).
    notebooks_dir : path, optional
        Where the stage notebooks are (``notebooks/``).
    seed : int
        Passed to every notebook.
    progress : callable, optional
        Receives one line per step; ``None`` for silence.
    workers : int, optional
        Notebooks run at once, each in its own kernel, a stage starting once the stages whose
        artifacts it reads are done (see :func:`terrlib.report.artifacts.stage_needs`).
        Default: 2, or 1 on a one-core machine; always 1 where stages cannot lock their
        shared headlines file (Windows). The pages and artifacts do not depend on it.

    Returns
    -------
    pathlib.Path
        The report folder.

    Raises
    ------
    PlanError, DataValidationError
        Bad input, before any notebook runs.
    ReportError
        A notebook failed; nothing already in place was touched.
    """
    began = time.perf_counter()
    say = progress or (lambda _msg: None)
    workers = worker_count(workers)
    data_dir = Path(data_dir) if data_dir else config.DEMO_DATA
    out_dir = Path(out_dir) if out_dir else config.REPORTS
    processed_root = Path(processed_root) if processed_root else config.DATA_PROCESSED
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else config.NOTEBOOKS
    data = load_dataset(data_dir, plan_path, quarter)
    q = str(data.quarter(quarter) if quarter else data.latest_complete_quarter())
    say(
        f"terrlib report {q}: data {data_dir} ({len(data.accounts):,} accounts, "
        f"{len(data.opportunities):,} opportunities, {len(data.activities):,} activities)"
    )

    with _locked(q, out_dir, processed_root):
        _build(q, data, data_dir, out_dir, processed_root, notebooks_dir, seed, workers, say, began)
    say(f"report written to {out_dir / q / 'index.html'}")
    return out_dir / q
