"""Project paths and run defaults, defined once (cookiecutter-data-science style).

Every path the library, the notebooks and the CLI use comes from here, so a notebook opened
from any folder finds the data the same way the scheduled report does.

Examples
--------
>>> from terrlib import config
>>> config.DEMO_DATA.name
'demo'
"""

from __future__ import annotations

import os
from pathlib import Path

#: Root of the checkout (the folder holding ``pyproject.toml``). ``TERRLIB_ROOT`` overrides it.
PROJECT_ROOT: Path = Path(os.environ.get("TERRLIB_ROOT", Path(__file__).resolve().parents[1]))
NOTEBOOKS: Path = PROJECT_ROOT / "notebooks"
DATA_RAW: Path = PROJECT_ROOT / "data" / "raw"
DATA_PROCESSED: Path = PROJECT_ROOT / "data" / "processed"
REPORTS: Path = PROJECT_ROOT / "reports"
DEMO_DATA: Path = DATA_RAW / "demo"
DEMO_PLAN: Path = DEMO_DATA / "plan.yaml"

#: The five stage notebooks, in the order the report runs them.
STAGE_NOTEBOOKS: tuple[str, ...] = (
    "01-strategic-alignment",
    "02-segmentation",
    "03-ideal-customer-profile",
    "04-workload-balancing",
    "05-performance-review",
)

#: Human titles of the stages, keyed like :data:`STAGE_NOTEBOOKS`.
STAGE_TITLES: dict[str, str] = {
    "01-strategic-alignment": "1 · Strategic alignment",
    "02-segmentation": "2 · Segmentation",
    "03-ideal-customer-profile": "3 · Ideal customer profile",
    "04-workload-balancing": "4 · Workload balancing",
    "05-performance-review": "5 · Performance review",
}

DEFAULT_SEED: int = 7
DEFAULT_END_QUARTER: str = "2026Q3"
