"""The report's index page: the Decisions the stages ask for (each linked to its evidence),
the downloads beside the report, the headlines of every stage, the sections that had too
little data, and the run manifest, filled into ``templates/index/index.html`` (every value
from the data escaped)."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from terrlib import config
from terrlib.inputs.plan import DEFAULT_PLAN
from terrlib.results import DECISION_TOPICS, Decision

TEMPLATE = Path(__file__).parent / "templates" / "index" / "index.html"
#: The run's parameters as the index names them (run.json keeps the keys).
PARAMETER_WORDS = {
    "quarter": "Quarter",
    "data_dir": "Data folder",
    "plan_path": "Plan file",
    "seed": "Random seed",
}


def skipped_html(skipped: dict) -> str:
    """The sections that had too little data, stage by stage, with what each needs."""
    items = []
    for stem in config.STAGE_NOTEBOOKS:
        for gap in skipped.get(stem, []):
            has = f" The data has {gap['has']}." if gap.get("has") else ""
            items.append(
                f'<li><a href="{stem}.html">{html.escape(config.STAGE_TITLES[stem])}</a>, '
                f"{html.escape(gap['title'])}: needs {html.escape(gap['needs'])}."
                f"{html.escape(has)} {html.escape(gap.get('fix', ''))}</li>"
            )
    if not items:
        return ""
    return (
        '<section class="skipped"><h2>Sections without enough data</h2><p>These parts of '
        "the report were left out because the data cannot support them yet; the rest of "
        f"each stage is complete.</p><ul>{''.join(items)}</ul></section>"
    )


def decisions_html(decisions: dict) -> str:
    """The Decisions section: every stage's decision lines (``decisions.json``) under their
    topics in :data:`~terrlib.results.DECISION_TOPICS` order, each linked to its evidence.

    Examples
    --------
    >>> page = decisions_html({"05-performance-review": [{"topic": "Reps to recognise or coach",
    ...     "text": "Recognise <R1>.", "section": "Ratings"}]})
    >>> '<h2 id="decisions">Decisions</h2>' in page and "&lt;R1&gt;" in page
    True
    >>> 'href="05-performance-review.html#Ratings"' in page
    True
    """
    by_topic: dict[str, list[str]] = {t: [] for t in DECISION_TOPICS}
    for stem in config.STAGE_NOTEBOOKS:
        for raw in decisions.get(stem, []):
            d = Decision(**raw)
            by_topic[d.topic].append(
                f"<li>{html.escape(d.text)} "
                f'<a href="{stem}.html#{html.escape(d.anchor(), quote=True)}">evidence</a></li>'
            )
    blocks = [
        f"<h3>{html.escape(topic)}</h3><ul>{''.join(lines)}</ul>"
        for topic, lines in by_topic.items()
        if lines
    ]
    if not blocks:
        return ""
    return (
        '<section class="decisions"><h2 id="decisions">Decisions</h2><p>What this quarter\'s '
        "data asks you to decide, each with a link to its evidence.</p>"
        f"{''.join(blocks)}</section>"
    )


def downloads_html(downloads: list[tuple[str, str]]) -> str:
    """The Downloads section: ``(file name in downloads/, what it holds)`` pairs as links.

    Examples
    --------
    >>> "downloads/a.csv" in downloads_html([("a.csv", "the proposal")])
    True
    """
    if not downloads:
        return ""
    items = "".join(
        f'<li><a href="downloads/{html.escape(name, quote=True)}">{html.escape(name)}</a>: '
        f"{html.escape(what)}</li>"
        for name, what in downloads
    )
    return (
        '<section class="downloads"><h2 id="downloads">Downloads</h2><p>The files behind '
        f"the decisions, beside this report (CSV opens in any spreadsheet).</p><ul>{items}</ul>"
        "</section>"
    )


def index_html(
    quarter: str,
    company: str,
    headlines: dict,
    timings: dict,
    manifest: dict,
    decisions: dict | None = None,
    downloads: list[tuple[str, str]] | None = None,
    since: str = "",
) -> str:
    """The index page of a report: ``decisions``, what changed ``since`` last quarter (its
    HTML, :func:`terrlib.report.since.since_html`), ``headlines`` per stage, the
    ``downloads`` beside it, ``timings`` (seconds per notebook) and the run ``manifest``."""
    sections = []
    for stem in config.STAGE_NOTEBOOKS:
        sentences = "".join(f"<p>{html.escape(s)}</p>" for s in headlines.get(stem, []))
        sections.append(
            f'<section><h3 class="stage"><a href="{stem}.html">'
            f"{html.escape(config.STAGE_TITLES[stem])}</a></h3>{sentences}</section>"
        )
    default_plan = (
        '<p class="warn">No plan file was given: this report uses the default plan (no '
        "priority industries, ±10% balance, the standard coverage model). Put your plan.yaml "
        "beside the data for your own rules.</p>"
        if manifest["parameters"]["plan_path"] == DEFAULT_PLAN
        else ""
    )
    params = "".join(
        f"<tr><th>{html.escape(PARAMETER_WORDS.get(k, k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in manifest["parameters"].items()
    )
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        company=html.escape(company),
        quarter=quarter,
        built_at=html.escape(manifest["built_at"]),
        wall_seconds=f"{manifest['wall_seconds']:.0f}",
        default_plan=default_plan,
        decisions=decisions_html(decisions or {}),
        since=since,
        downloads=downloads_html(downloads or []),
        sections="".join(sections),
        skipped=skipped_html(manifest.get("skipped", {})),
        params=params,
        inputs=html.escape(", ".join(f"{k} {v[:12]}" for k, v in manifest["inputs"].items())),
        workers=manifest["workers"],
        timings=html.escape(", ".join(f"{k} {v:.1f}" for k, v in timings.items())),
    )
