"""The files a sales leader acts on, copied beside the report (``reports/<quarter>/downloads/``)
from the processed data, so that the index and the stage pages link them and the report's
atomic swap puts them in place with the pages.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> processed, pages = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
>>> _ = (processed / "rep_scorecard.csv").write_text("rep_id\\nR1\\n")
>>> [name for name, _ in copy_downloads(processed, pages)]
['rep_scorecard.csv']
>>> (pages / "downloads" / "rep_scorecard.csv").read_text()
'rep_id\\nR1\\n'
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: The files copied beside the report, in the order the index lists them, with what each
#: holds. A file a stage did not write (too little data) is left out of the list.
DOWNLOADS: tuple[tuple[str, str], ...] = (
    (
        "proposed_alignment.xlsx",
        "the proposed alignment as a workbook: every account, moves, territories",
    ),
    ("proposed_alignment.csv", "every account's current and proposed territory and rep"),
    ("account_moves.csv", "the accounts the proposal moves, with why"),
    ("territory_changes.csv", "each territory today and proposed"),
    ("staffing_changes.csv", "staffing changes for territories the rules cannot balance"),
    ("sizing.csv", "full-time reps needed by region and segment"),
    ("next_quarter_quotas.csv", "next quarter's quota per rep, with last quarter's attainment"),
    ("proposed_quotas.csv", "next quarter's quota per rep if the proposed alignment is adopted"),
    ("rep_scorecard.csv", "each rep's attainment, pipeline and return"),
    ("rep_effects.csv", "each rep's adjusted rating with its interval"),
    ("cross_sell_leads.csv", "accounts to offer a second product"),
    ("top_prospects.csv", "the best-fitting prospects"),
    ("territory_zip_codes.csv", "postal code to territory, for a CRM's assignment rules"),
    ("territory_associations.csv", "the proposal as Salesforce territory associations"),
    ("territory_servedness.csv", "each territory's workload against capacity and top accounts"),
    ("territory_balance.csv", "each territory's share of accounts, potential and bookings"),
    ("effort_vs_strategy.csv", "each rep's time on the priority segments"),
    ("realignment_verdict.csv", "the territories that need realignment, and why"),
    ("territory_scorecard.csv", "each territory's potential, white space, cost and return"),
    ("territory_workload.csv", "each territory's hours of work against its capacity"),
    ("rep_trends.csv", "each rep's bookings against the quarter before"),
    ("territory_return.csv", "each territory's bookings against its cost"),
)


def copy_downloads(processed: Path, pages: Path) -> list[tuple[str, str]]:
    """Copy the :data:`DOWNLOADS` that ``processed`` holds into ``pages/downloads/``.

    Returns
    -------
    list of (str, str)
        The files copied, with what each holds, for the index.
    """
    target = pages / "downloads"
    copied = []
    for name, what in DOWNLOADS:
        source = processed / name
        if source.is_file():
            target.mkdir(exist_ok=True)
            shutil.copyfile(source, target / name)
            copied.append((name, what))
    return copied
