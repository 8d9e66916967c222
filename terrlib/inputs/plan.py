"""The plan file: strategy, segments, coverage model, balance rules, calendar, column map.

The plan is YAML validated with pydantic; unknown keys and bad values are errors that name the
key, so a typo never silently falls back to a default.

Examples
--------
>>> plan = Plan.model_validate({"company": "Acme"})
>>> plan.balance.tolerance
0.1
>>> plan.size_band_of(5000)
'Enterprise'
"""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Annotated, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

TABLES = ("accounts", "reps", "opportunities", "activities")
TableName = Literal["accounts", "reps", "opportunities", "activities"]

#: Asks for the default plan where a plan path is expected (``terrlib report --default-plan``).
DEFAULT_PLAN = "(default plan)"
#: Plan files beside the data, in the order they are looked for.
PLAN_NAMES = ("plan.yaml", "plan.yml")
MAX_PLAN_BYTES = 1_000_000
MAX_PLAN_DEPTH = 20
MAX_PLAN_ALIASES = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Strategy(_Strict):
    """Where the strategy points: priority industries and size bands with weights (0-1)."""

    priority_industries: dict[str, float] = Field(default_factory=dict)
    priority_segments: dict[str, float] = Field(default_factory=dict)
    growth_goal: float = Field(0.15, ge=-1, le=5, description="Target revenue growth, year on year")
    quota_step: float | None = Field(
        0.25,
        ge=0,
        le=10,
        description="Largest change of a rep's quota from one quarter to the next, as a share "
        "of the quota today (quotas glide toward their fair share); null: no limit",
    )

    @field_validator("priority_industries", "priority_segments")
    @classmethod
    def _weights_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"weights must lie between 0 and 1, got {bad}")
        return value


class SizeBand(_Strict):
    """A size band: accounts with at least ``min_employees`` employees (the largest band wins)."""

    name: str
    min_employees: int = Field(ge=0)


def _default_bands() -> list[SizeBand]:
    return [
        SizeBand(name="Enterprise", min_employees=1000),
        SizeBand(name="Mid-Market", min_employees=100),
        SizeBand(name="SMB", min_employees=0),
    ]


class Segments(_Strict):
    """Segmentation rules: size bands and the density that separates metro from rural."""

    size_bands: list[SizeBand] = Field(default_factory=_default_bands)
    metro_radius_km: float = Field(25.0, gt=0)
    metro_min_accounts: int = Field(15, ge=1)

    @field_validator("size_bands")
    @classmethod
    def _bands_cover_zero(cls, value: list[SizeBand]) -> list[SizeBand]:
        if not value:
            raise ValueError("at least one size band is needed")
        if min(b.min_employees for b in value) != 0:
            raise ValueError("one size band must start at min_employees: 0")
        names = [b.name for b in value]
        if len(set(names)) != len(names):
            raise ValueError(f"size band names must be unique, got {names}")
        return sorted(value, key=lambda b: -b.min_employees)


class CallPattern(_Strict):
    """How often an account of a band is called, and for how long."""

    calls_per_year: float = Field(ge=0)
    minutes_per_call: float = Field(gt=0)


def _default_coverage() -> dict[str, CallPattern]:
    return {
        "Enterprise": CallPattern(calls_per_year=24, minutes_per_call=90),
        "Mid-Market": CallPattern(calls_per_year=10, minutes_per_call=60),
        "SMB": CallPattern(calls_per_year=4, minutes_per_call=30),
    }


class Coverage(_Strict):
    """The coverage model: call pattern per size band plus travel for in-person visits."""

    by_size_band: dict[str, CallPattern] = Field(default_factory=_default_coverage)
    visit_share: float = Field(0.2, ge=0, le=1, description="Share of calls made in person")
    travel_speed_kmh: float = Field(70.0, gt=0)
    min_travel_minutes: float = Field(10.0, ge=0, description="Floor for a nearby visit, one way")
    admin_share: float = Field(
        0.0, ge=0, lt=1, description="Share of capacity lost to admin before selling"
    )
    tier_multipliers: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {"A": 1.5, "B": 1.0, "C": 0.75, "D": 0.5},
        description="Calls a year x this per ICP tier when stage 3's tiers exist",
    )


class BalanceWeights(_Strict):
    workload: float = Field(1.0, ge=0)
    potential: float = Field(1.0, ge=0)
    travel: float = Field(1.0, ge=0)
    disruption: float = Field(1.0, ge=0)
    compactness: float = Field(
        2.0,
        ge=0,
        description="Weight of every account's distance to its rep beside call-weighted travel, "
        "in average accounts' call hours: keeps small accounts with a near rep, so balance "
        "is not reached by handing reps their neighbours' small accounts (0: travel only)",
    )
    tidy: float = Field(
        10.0,
        ge=0,
        description="Cost of leaving the territory that surrounds an account (most of its six "
        "nearest accounts), in average accounts' travel, in a last step that may raise the "
        "plan's cost by at most 1%: gives accounts set among a neighbour's accounts to that "
        "neighbour, so reps do not drive past each other's accounts (0: no such step)",
    )


class Balance(_Strict):
    """Balance rules for the territory optimizer and for the balance diagnostics."""

    tolerance: float = Field(0.10, gt=0, le=1, description="Allowed deviation from target, +-")
    weights: BalanceWeights = Field(default_factory=BalanceWeights)
    locked_accounts: list[str] = Field(default_factory=list)
    max_moved_share: float = Field(
        0.15,
        gt=0,
        le=1,
        description="Largest share of accounts the proposal may move (above 0: to keep today's "
        "alignment as it is, lock the accounts instead)",
    )
    potential_tolerance: float | None = Field(
        None, gt=0, le=10, description="Allowed deviation of potential (default: tolerance)"
    )
    reach_km: float | None = Field(
        None,
        gt=0,
        validation_alias=AliasChoices("reach_km", "max_distance_km"),
        description="Farthest (road km) a rep's home may be from an account the proposal gives "
        "it, unless nearer than today's rep (None: the distance within which today's reps "
        "serve four in five of their accounts; max_distance_km is the same setting's old name)",
    )
    circuity: float = Field(
        1.25, ge=1, le=3, description="Road distance against straight line (great circle)"
    )
    cross_regions: bool = Field(
        False, description="Let the proposal move accounts to a territory of another region"
    )
    align_by: Literal["account", "postal_code"] = Field(
        "account",
        description="Align account by account, or by postal code: every account of a postal "
        "code goes to one territory except named accounts (locked, or revenue of at least "
        "named_account_revenue), as assignment rules in a CRM do",
    )
    named_account_revenue: float | None = Field(
        None,
        ge=0,
        description="With align_by postal_code: revenue from which an account is "
        "aligned on its own (None: only locked accounts are)",
    )


class Thresholds(_Strict):
    """Thresholds that turn diagnostics into verdicts."""

    over_utilization: float = Field(1.15, gt=0, description="Demand / capacity above: understaffed")
    under_utilization: float = Field(0.80, gt=0, description="Demand / capacity below: overstaffed")
    top_account_coverage: float = Field(
        0.5, ge=0, le=1, description="Share of top-tier accounts to touch each quarter"
    )
    top_tier_share: float = Field(
        0.10, gt=0, le=1, description="Top share of accounts by potential that counts as top tier"
    )
    effort_shortfall: float = Field(
        0.4,
        gt=0,
        le=1,
        description="Flag a rep whose priority effort index is this far below the company's",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.under_utilization >= self.over_utilization:
            raise ValueError("under_utilization must be below over_utilization")
        return self


class Icp(_Strict):
    """Ideal-customer-profile settings: tier cut-offs (cumulative share of accounts ranked by
    expected value; the rest are tier D) and the least data a model may be fitted on."""

    tiers: dict[str, float] = Field(default_factory=lambda: {"A": 0.10, "B": 0.30, "C": 0.60})
    min_training_opportunities: int = Field(200, ge=20)
    holdout_quarters: int = Field(2, ge=1, le=8)

    @field_validator("tiers")
    @classmethod
    def _increasing(cls, value: dict[str, float]) -> dict[str, float]:
        shares = list(value.values())
        if not value or any(not 0 < v < 1 for v in shares) or shares != sorted(set(shares)):
            raise ValueError("tier cut-offs must be increasing shares between 0 and 1")
        return value


class Calendar(_Strict):
    fiscal_year_start_month: int = Field(1, ge=1, le=12)


class Plan(_Strict):
    """A territory plan. See ``data/raw/demo/plan.yaml`` for a commented example."""

    company: str = "Company"
    currency: str = "USD"
    strategy: Strategy = Field(default_factory=Strategy)
    segments: Segments = Field(default_factory=Segments)
    coverage: Coverage = Field(default_factory=Coverage)
    balance: Balance = Field(default_factory=Balance)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    icp: Icp = Field(default_factory=Icp)
    calendar: Calendar = Field(default_factory=Calendar)
    columns: dict[TableName, dict[str, str | list[str]]] = Field(
        default_factory=dict,
        description="CRM column name -> contract column (or a list: one column feeding two)",
    )
    files: dict[TableName, str] = Field(
        default_factory=dict,
        description="file name of a table in the data folder, e.g. {opportunities: "
        "sales_pipeline.csv}",
    )
    values: dict[TableName, dict[str, dict[str, str]]] = Field(
        default_factory=dict,
        description="CRM values -> contract values per column, e.g. {opportunities: {stage: "
        "{Closed Won: won}}}",
    )
    defaults: dict[TableName, dict[str, float | str]] = Field(
        default_factory=dict,
        description="values for columns the export does not have (or leaves empty), e.g. "
        "{reps: {capacity_hours: 1300}}; the pages that use them say they are assumed",
    )

    @field_validator("files")
    @classmethod
    def _plain_file_names(cls, value: dict[str, str]) -> dict[str, str]:
        for table, name in value.items():
            path = PurePath(name)
            if path.is_absolute() or ".." in path.parts or len(path.parts) != 1:
                raise ValueError(
                    f"files.{table}: {name!r} must be a file name in the data folder (no "
                    "folders, no ..)"
                )
            if path.suffix.lower() not in (".csv", ".parquet"):
                raise ValueError(f"files.{table}: {name!r} must end in .csv or .parquet")
        return value

    date_formats: dict[TableName, dict[str, str]] = Field(
        default_factory=dict,
        description="strftime format per date column, e.g. {activities: {activity_date: "
        "'%d/%m/%Y'}}, for exports whose dates read either day or month first",
    )

    @model_validator(mode="after")
    def _coverage_matches_bands(self) -> Plan:
        bands = {b.name for b in self.segments.size_bands}
        missing = bands - set(self.coverage.by_size_band)
        if missing:
            raise ValueError(
                f"coverage.by_size_band has no call pattern for size band(s) {sorted(missing)}"
            )
        return self

    @model_validator(mode="after")
    def _names_are_known(self) -> Plan:
        """A name the plan uses must exist: a typo is an error, never silently ignored."""
        bands = [b.name for b in self.segments.size_bands]
        tiers = self.tier_names()
        given = self.coverage.model_fields_set  # defaults that do not fit are not a typo
        checks = [
            ("strategy.priority_segments", self.strategy.priority_segments, bands, "size bands"),
            *[
                (f"coverage.{key}", getattr(self.coverage, key), known, what)
                for key, known, what in (
                    ("by_size_band", bands, "size bands"),
                    ("tier_multipliers", tiers, "ICP tiers"),
                )
                if key in given
            ],
        ]
        problems = []
        for key, given, known, what in checks:
            unknown = [name for name in given if name not in known]
            if unknown:
                problems.append(
                    f"{key} names {', '.join(map(repr, unknown))}, not among the plan's {what} "
                    f"({', '.join(known)})"
                )
        for table, formats in self.date_formats.items():
            for column, fmt in formats.items():
                if "%" not in fmt:
                    problems.append(
                        f"date_formats.{table}.{column}: {fmt!r} is not a date format "
                        "(write it with strftime codes, e.g. '%d/%m/%Y')"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def tier_names(self) -> list[str]:
        """The ICP tiers: the plan's cut-offs and the tier of the rest (``D``)."""
        tiers = list(self.icp.tiers)
        return [*tiers, "D" if "D" not in tiers else "rest"]

    def size_band_of(self, employees: float) -> str:
        """Name the size band of an account with ``employees`` employees."""
        for band in self.segments.size_bands:
            if employees >= band.min_employees:
                return band.name
        return self.segments.size_bands[-1].name


class PlanError(ValueError):
    """A plan file that cannot be read or does not validate; ``problems`` lists each issue."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = Path(path)
        self.problems = problems
        super().__init__(f"{self.path}: " + "; ".join(problems))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the
    last silently: a second ``balance:`` section would replace the first)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_yaml_shape(text: str) -> str | None:
    """Why a YAML text is refused before it is built (too deep or too many aliases, which
    would exhaust the stack or the memory), or None."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_PLAN_DEPTH:
                return f"nested more than {MAX_PLAN_DEPTH} levels deep"
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_PLAN_ALIASES:
                return f"more than {MAX_PLAN_ALIASES} aliases (*name)"
    return None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong and where, without quoting the file (it may not be a plan at all)."""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{problem}{where}"


def load_plan(path: Path | str | None) -> Plan:
    """Read and validate a plan file; ``None`` or :data:`DEFAULT_PLAN` gives the default plan.

    Raises
    ------
    PlanError
        When the file is missing or unreadable, is not YAML, is larger than 1 MB or nested
        more than 20 levels, or has unknown keys or bad values; each problem is named by its
        dotted key, e.g. ``balance.tolerance: Input should be greater than 0``.
    """
    if path is None or str(path) == DEFAULT_PLAN:
        return Plan()
    path = Path(path)
    if not path.is_file():
        raise PlanError(path, ["file not found" if not path.exists() else "not a file"])
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise PlanError(path, [f"file is larger than {MAX_PLAN_BYTES:,} bytes"])
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PlanError(path, ["file is not UTF-8 text"]) from None
    except OSError as exc:
        raise PlanError(path, [f"cannot be read ({exc.strerror or exc})"]) from None
    try:
        shape = _check_yaml_shape(text)
        if shape:
            raise PlanError(path, [shape])
        raw = yaml.load(text, Loader=_UniqueKeyLoader) or {}  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise PlanError(path, [f"not valid YAML ({_yaml_problem(exc)})"]) from None
    except RecursionError:
        raise PlanError(path, [f"nested more than {MAX_PLAN_DEPTH} levels deep"]) from None
    if not isinstance(raw, dict):
        raise PlanError(path, ["the plan must be a mapping of keys to values"])
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{where}: {msg}")
        raise PlanError(path, problems) from None


def find_plan(data_dir: Path | str) -> Path:
    """The plan file beside the data: ``plan.yaml`` or ``plan.yml``.

    Raises
    ------
    PlanError
        When there is none (the default plan is never taken silently) or both.
    """
    data_dir = Path(data_dir)
    found = [data_dir / name for name in PLAN_NAMES if (data_dir / name).exists()]
    if len(found) > 1:
        raise PlanError(
            found[0], [f"both {' and '.join(p.name for p in found)} are here: keep one"]
        )
    if not found:
        raise PlanError(
            data_dir / PLAN_NAMES[0],
            [
                "file not found: put the plan beside the data, give its path with --plan, "
                "or run on the default plan with --default-plan (the report then says so)"
            ],
        )
    return found[0]


def dump_plan(plan: Plan, path: Path | str, header: str = "") -> None:
    """Write a plan as YAML (with an optional comment header)."""
    text = yaml.safe_dump(plan.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    Path(path).write_text(header + text, encoding="utf-8")
