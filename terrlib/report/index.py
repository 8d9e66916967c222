"""The report's index page: the headlines of every stage, the sections that had too little
data, and the run manifest, filled into ``templates/index/index.html`` (every value from the
data escaped)."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from terrlib import config
from terrlib.inputs.plan import DEFAULT_PLAN

TEMPLATE = Path(__file__).parent / "templates" / "index" / "index.html"


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


def index_html(quarter: str, company: str, headlines: dict, timings: dict, manifest: dict) -> str:
    """The index page of a report: ``headlines`` per stage, ``timings`` (seconds per
    notebook) and the run ``manifest``."""
    sections = []
    for stem in config.STAGE_NOTEBOOKS:
        sentences = "".join(f"<p>{html.escape(s)}</p>" for s in headlines.get(stem, []))
        sections.append(
            f'<section><h2><a href="{stem}.html">{html.escape(config.STAGE_TITLES[stem])}</a>'
            f"</h2>{sentences}</section>"
        )
    default_plan = (
        '<p class="warn">No plan file was given: this report uses the default plan (no '
        "priority industries, ±10% balance, the standard coverage model). Put your plan.yaml "
        "beside the data for your own rules.</p>"
        if manifest["parameters"]["plan_path"] == DEFAULT_PLAN
        else ""
    )
    params = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in manifest["parameters"].items()
    )
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        company=html.escape(company),
        quarter=quarter,
        built_at=html.escape(manifest["built_at"]),
        wall_seconds=f"{manifest['wall_seconds']:.0f}",
        default_plan=default_plan,
        sections="".join(sections),
        skipped=skipped_html(manifest.get("skipped", {})),
        params=params,
        inputs=html.escape(", ".join(f"{k} {v[:12]}" for k, v in manifest["inputs"].items())),
        workers=manifest["workers"],
        timings=html.escape(", ".join(f"{k} {v:.1f}" for k, v in timings.items())),
    )
