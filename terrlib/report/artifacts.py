"""The artifacts stages hand each other, declared in one place.

Each stage saves its tables to ``data/processed/<quarter>/`` and may load what an earlier
stage saved; which stage saves and loads what is declared here, not found in the notebooks.
:func:`stage_needs` reads the report's schedule from these declarations, and
:class:`~terrlib.report.stage.Stage` refuses to save or load an artifact its stage does not
declare.

Examples
--------
>>> sorted(stage_needs()["04-workload-balancing"])
['02-segmentation', '03-ideal-customer-profile']
>>> sorted(stage_needs()["01-strategic-alignment"])
['03-ideal-customer-profile']
>>> ARTIFACTS["icp_scores"].stage
'03-ideal-customer-profile'
"""

from __future__ import annotations

from dataclasses import dataclass

from terrlib import config


@dataclass(frozen=True)
class Artifact:
    """A table a stage saves: its name (the file's stem), the stage that saves it, what it
    holds (for messages), and what a stage that loads it does without it."""

    name: str
    stage: str
    what: str
    without: str = ""


_S1, _S2, _S3, _S4, _S5 = config.STAGE_NOTEBOOKS

#: Every artifact, by name.
ARTIFACTS: dict[str, Artifact] = {
    a.name: a
    for a in (
        Artifact("territory_balance", _S1, "each territory's bookings, potential and workload"),
        Artifact(
            "territory_servedness",
            _S1,
            "each territory's workload against its rep's capacity",
            "the territory return goes on without workload",
        ),
        Artifact(
            "effort_vs_strategy",
            _S1,
            "where reps' time goes against the strategy",
            "the decisions do not say whose time is furthest off the strategy",
        ),
        Artifact("realignment_verdict", _S1, "whether the territories need realigning"),
        Artifact(
            "account_scores",
            _S2,
            "each account's potential and white space",
            "potential is the account's annual revenue instead",
        ),
        Artifact("segments", _S2, "segments by industry and size"),
        Artifact("segments_geography", _S2, "segments by metro and rural"),
        Artifact("territory_scorecard", _S2, "each territory's cost to serve against potential"),
        Artifact("next_quarter_quotas", _S2, "next quarter's quota per rep"),
        Artifact("product_affinity", _S2, "which products sell together"),
        Artifact("cross_sell_leads", _S2, "accounts to offer a second product"),
        Artifact(
            "icp_scores",
            _S3,
            "each account's ideal-customer score and tier",
            "calls follow the plan's coverage by size band, without ICP tiers",
        ),
        Artifact("icp_tiers", _S3, "win rate and value by ICP tier"),
        Artifact("top_prospects", _S3, "the best-fitting prospects"),
        Artifact("win_rate_industry", _S3, "win rate by industry"),
        Artifact("territory_workload", _S4, "each territory's hours against capacity"),
        Artifact("sizing", _S4, "reps needed by region and segment"),
        Artifact("proposed_quotas", _S4, "next quarter's quota per rep on the proposal"),
        Artifact("proposed_alignment", _S4, "the proposed owner of every account"),
        Artifact("account_moves", _S4, "the accounts the proposal moves, with why"),
        Artifact("territory_changes", _S4, "each territory today and proposed, with compactness"),
        Artifact("disruption_curve", _S4, "the tightest balance each cap on moves allows"),
        Artifact("staffing_changes", _S4, "staffing changes for territories out of balance"),
        Artifact("territory_zip_codes", _S4, "postal code to territory, for assignment rules"),
        Artifact(
            "territory_associations", _S4, "the proposal as Salesforce territory associations"
        ),
        Artifact("rep_scorecard", _S5, "each rep's attainment"),
        Artifact("rep_effects", _S5, "each rep's rating with its interval"),
        Artifact("rep_trends", _S5, "each rep's change on the year"),
        Artifact("territory_return", _S5, "each territory's bookings per hour of cost"),
    )
}

#: The artifacts each stage loads (from earlier stages).
LOADS: dict[str, tuple[str, ...]] = {
    _S1: ("icp_scores",),
    _S2: (),
    _S3: (),
    _S4: ("account_scores", "icp_scores"),
    _S5: ("account_scores", "territory_servedness", "effort_vs_strategy"),
}


def saves(stage: str) -> set[str]:
    """The artifacts ``stage`` saves."""
    return {a.name for a in ARTIFACTS.values() if a.stage == stage}


def stage_needs() -> dict[str, set[str]]:
    """The stages each stage must wait for: those that save an artifact it loads.

    Stages that load nothing another stage saves run as soon as a worker is free; any
    order that respects these gives the same pages and artifacts. Stage 1 loads stage 3's ICP
    tiers (so that stages 1, 4 and 5 give each territory one workload), so the report runs
    stage 3 first; run in JupyterLab before stage 3, stage 1 says that its calls follow the
    plan's size bands instead.
    """
    return {stage: {ARTIFACTS[name].stage for name in LOADS[stage]} for stage in LOADS}


class ArtifactError(RuntimeError):
    """A stage saved or loaded an artifact it does not declare, or, in the report, loaded one
    its producing stage neither saved nor reported as without enough data."""
