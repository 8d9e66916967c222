"""One definition per measure the report uses, written as ``glossary.html`` beside the pages
and linked from the index and every stage page.

Each definition says, in business words, what the code computes, so that a number on one
page means what it means on another; where it is computed is in :data:`SOURCES` (shown to an
analyst on hover, not in the text).

Examples
--------
>>> "Utilization" in glossary_html("Demo Co", "2026Q3")
True
"""

from __future__ import annotations

import html

#: Term -> what it is, as the stages compute it.
GLOSSARY: dict[str, str] = {
    "Workload (hours)": "The hours a year the plan's coverage model asks for an account: calls "
    "a year by size band (times its ICP tier's multiplier when stage 3 ran) times minutes per "
    "call, plus travel from the rep's home for the share of calls made in person, by road "
    "(great circle times the plan's circuity, 1.25 by default, as the optimizer counts "
    "it). A territory's workload is the sum over its accounts.",
    "Capacity": "A rep's selling hours a year: the rep's capacity hours less the plan's "
    "admin share.",
    "Utilization": "Workload divided by capacity. 100% means the territory asks exactly the "
    "rep's selling hours; above the plan's over-utilization threshold (115% by default) it is "
    "under-served, below the under-utilization one (80%) over-served. Stages 1 and 4 use the "
    "same workload model, so they give the same figure.",
    "Workload against target (fair share)": "A territory's workload divided by its target, "
    "its fair share of the team's work: the team's total workload split in proportion to "
    "each rep's capacity. It is utilization divided by the team's overall utilization, so "
    "100% means as loaded as the team as a whole; the proposal holds it within the plan's "
    "band (±10% by default). Where the team as a whole is over or under capacity, the two "
    "figures differ by that much.",
    "FTE (full-time equivalent)": "Selling hours divided by those of a full-time rep (the "
    "median rep's capacity less the admin share). A part-time rep counts for less than one; "
    "hires and reductions are stated in FTE.",
    "Potential": "Stage 2's estimate of what an account could spend in a year: what the "
    "top fifth of customers of its size and industry spend (a quantile regression at 0.8 "
    "of spend on employees and industry), so an upper-end "
    "figure, not a forecast. A territory's potential is the sum over its accounts.",
    "White space": "Potential not yet spent: an account's potential less what it spent in the "
    "last four quarters, never below zero.",
    "Penetration": "Bookings of the last four quarters divided by potential.",
    "Bookings": "The amount of won opportunities, counted in the quarter they closed.",
    "Quota and attainment": "Attainment is bookings in the quarter divided by that quarter's "
    "quota; over four quarters, bookings divided by the quota of the quarters the rep held.",
    "Fair share of the team's number, and next quarter's quota": "The team's number is the "
    "last four quarters' bookings grown by the plan's growth goal, a quarter of it. A rep's "
    "fair share of it is half the territory's share of realistic targets (potential at the "
    "penetration the best quarter of territories reach) and half its share of bookings. "
    "The quota to set moves each rep's share of the number from today's toward the fair "
    "share by at most the plan's quota step (25% a quarter by default); on the proposed "
    "alignment, the fair share of the accounts a rep gains or gives up moves at once.",
    "Win rate": "Won opportunities divided by decided ones (won plus lost) closed in the "
    "window; open ones do not count.",
    "Sales cycle": "Days from an opportunity's creation to its close. Stage 3 gives the "
    "median pooled over every opportunity of the group (the whole company for its "
    "headline, never a median of groups' medians), open ones counted as still running; "
    "stage 2's segments (and the rep scorecard's file) give the median "
    "over won deals only, so the figures differ.",
    "Return on cost (ROI)": "Bookings of the last four quarters divided by what selling "
    "cost over those quarters. For a territory or a rep: over the rep's annual cost for the "
    "share of the four quarters they held the territory, so a rep hired six months ago is "
    "set against half a year's cost. Stage 2 counts the bookings of the territory's accounts, "
    "stage 5 those its rep won; they differ only where a rep won deals at accounts of "
    "another territory (one that changed territory during the year, say). For a segment, "
    "which has no rep of its own: over its cost to serve, the coverage model's hours for its "
    "accounts at their rep's loaded hourly cost (annual cost / capacity hours).",
    "ICP score and tier": "The bookings an account is expected to bring in the next four "
    "quarters: the chance it books times what it books when it does, from one model trained "
    "a year back and checked on the year since. Tiers cut the score at the "
    "plan's shares.",
    "Rating and multiplier": "A rep's bookings per decided deal against a typical rep on the "
    "same deals (1.00x = typical), from a model of winning and of deal size with the deals' "
    "industry, size, product, prior ownership and quarter, shrunk toward the team. A rep "
    "is rated top performer or needs help only when the 95% "
    "interval leaves out 1.00x.",
    "Certified gap": "How far the proposed alignment can at most be from the cheapest one "
    "under the same rules: (its cost - a proven lower bound) / its cost.",
    "Reach": "The farthest, by road, a rep's home may be from an account the proposal gives "
    "it, unless the account was already farther from today's rep (default: the distance "
    "within which today's reps serve four in five of their accounts).",
    "Compactness (with nearest rep)": "The share of a territory's accounts whose nearest rep "
    "home is the territory's own.",
    "Mixed in": "The share of a territory's accounts set among another territory's: most of "
    "their six nearest accounts are that territory's, so the rep drives past a colleague's "
    "accounts to reach them; lower is cleaner.",
    "Overlap": "The share of a territory's accounts lying inside the outline (convex hull) of "
    "a neighbouring territory; lower is cleaner, but one far account can stretch an outline.",
}


#: Term -> where the code computes it, for analysts (shown on hover, not in the text).
SOURCES: dict[str, str] = {
    "Workload (hours)": "terrlib.stages.measures.account_workload",
    "Capacity": "terrlib.stages.measures.territory_workload",
    "Utilization": "terrlib.stages.measures.territory_workload",
    "FTE (full-time equivalent)": "terrlib.stages.workload.sizing",
    "Potential": "terrlib.stages.measures.account_potential",
    "Fair share of the team's number, and next quarter's quota": (
        "terrlib.stages.segmentation.next_quarter_quotas, proposed_quotas, glide"
    ),
    "Sales cycle": "terrlib.stages.icp.cycle_survival (Kaplan-Meier)",
    "Return on cost (ROI)": (
        "terrlib.stages.segmentation.territory_economics, terrlib.stages.performance.rep_scorecard"
    ),
    "ICP score and tier": "terrlib.stages.icp.icp_scores",
    "Rating and multiplier": "terrlib.stages.performance.rep_effects",
    "Mixed in": "terrlib.territory.tidy.enclaves",
}


def glossary_html(company: str, quarter: str) -> str:
    """The glossary page of a report: every :data:`GLOSSARY` term with its definition."""
    items = "".join(
        f"<dt>{html.escape(term)}</dt><dd"
        + (
            f' title="Computed by {html.escape(SOURCES[term], quote=True)}"'
            if term in SOURCES
            else ""
        )
        + f">{html.escape(text)}</dd>"
        for term, text in GLOSSARY.items()
    )
    title = f"Glossary — {html.escape(company)}, {html.escape(quarter)}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body{{font-family:sans-serif;max-width:900px;"
        "margin:2em auto;line-height:1.5;font-size:16px}dt{font-weight:bold;margin-top:1em}"
        "dd{margin-left:1.5em}</style></head><body>"
        '<p><a href="index.html">&larr; Quarterly report</a></p>'
        f"<h1>{title}</h1><p>What each measure in this report means, as it is computed.</p>"
        f"<dl>{items}</dl></body></html>"
    )
