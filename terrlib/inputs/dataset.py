"""Loading and validating raw data into a :class:`Dataset`.

``load_dataset`` reads the four tables (CSV or Parquet) from a folder, applies the plan's column
map, resolves postal codes to coordinates, parses numbers and dates and checks every rule of the
data contract. It collects *every* problem before it stops, so a user fixes an export in one go:

>>> from terrlib.inputs import demo, dataset as io
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> _ = demo.generate(folder, n_accounts=300, n_reps=8, seed=1)
>>> data = io.load_dataset(folder)
>>> len(data.accounts)
300
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from terrlib.geo import resolve_zip
from terrlib.inputs.plan import DEFAULT_PLAN, Plan, PlanError, find_plan, load_plan
from terrlib.inputs.schemas import ACTIVITY_TYPES, CONTRACT, STAGES, TableSpec, column_schema
from terrlib.periods import latest_complete_quarter, parse_quarter, quarter_bounds, quarter_freq

MAX_EXAMPLES = 5
_CONTROL_OR_TAB = "[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
SUFFIXES = (".csv", ".parquet")


def printable(text: str) -> str:
    r"""``text`` safe to print on a terminal: control characters (escape sequences, NUL,
    bidirectional overrides) shown as ``\xNN`` / ``\uNNNN`` instead of acting.

    Examples
    --------
    >>> print(printable("R\x1b[31mRED"))
    R\x1b[31mRED
    """
    return re.sub(
        _CONTROL_OR_TAB,
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (file, column), what (rule), how often and examples."""

    file: str
    column: str | None
    rule: str
    rows: int = 0
    examples: tuple[str, ...] = ()
    kind: str = "column"

    def __str__(self) -> str:
        return printable(self._text())

    def _text(self) -> str:
        parts = [self.file]
        if self.column:
            parts.append(f"{self.kind} {self.column}")
        parts.append(self.rule)
        if self.rows:
            parts.append(f"{self.rows} row{'s' if self.rows != 1 else ''}")
        text = " · ".join(parts)
        if self.examples:
            text += " · e.g. " + ", ".join(self.examples)
        return text


class DataValidationError(ValueError):
    """Raised when input data breaks the contract; ``problems`` holds every finding."""

    def __init__(self, source: Path | str, problems: list[Problem]):
        self.source = Path(source)
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        """A message for people: one line per problem."""
        n = len(self.problems)
        head = f"Input data in {self.source} has {n} problem{'s' if n != 1 else ''}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


@dataclass(frozen=True)
class Dataset:
    """The four validated tables and the plan.

    Dates are ``datetime64``; ``close_date`` is missing for open opportunities. Use
    :meth:`as_of` before analysing a quarter so nothing dated after it leaks in.
    """

    accounts: pd.DataFrame
    reps: pd.DataFrame
    opportunities: pd.DataFrame
    activities: pd.DataFrame
    plan: Plan
    data_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    cutoff: pd.Timestamp | None = None
    date_readings: dict[str, str] = field(default_factory=dict)
    #: columns filled from the plan's ``defaults:`` (table -> column -> rows filled)
    assumed: dict[str, dict[str, int]] = field(default_factory=dict)
    #: optional tables the data does not have (read as empty)
    absent: tuple[str, ...] = ()

    @property
    def fiscal_start(self) -> int:
        return self.plan.calendar.fiscal_year_start_month

    @property
    def first_date(self) -> pd.Timestamp:
        dates = [self.opportunities["created_date"].min(), self.activities["activity_date"].min()]
        return min(d for d in dates if pd.notna(d))

    @property
    def last_date(self) -> pd.Timestamp:
        dates = [
            self.opportunities["created_date"].max(),
            self.opportunities["close_date"].max(),
            self.activities["activity_date"].max(),
        ]
        return max(d for d in dates if pd.notna(d))

    def latest_complete_quarter(self) -> pd.Period:
        """The latest quarter the activity and opportunity dates cover completely."""
        return latest_complete_quarter(self.last_date, self.fiscal_start)

    def quarter(self, text: str | pd.Period) -> pd.Period:
        """Parse a quarter in this data set's fiscal calendar."""
        return parse_quarter(text, self.fiscal_start)

    def as_of(self, quarter: str | pd.Period) -> Dataset:
        """Return the data as it was known at the end of ``quarter``.

        Records created after the quarter end are dropped; opportunities that closed after it
        are shown as still open (their outcome and close date were not known yet).
        """
        _, end = quarter_bounds(quarter, self.fiscal_start)
        end = end + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        opps = self.opportunities[self.opportunities["created_date"] <= end].copy()
        late = opps["close_date"] > end
        opps.loc[late, "stage"] = "open"
        opps.loc[late, "close_date"] = pd.NaT
        return replace(
            self,
            accounts=self.accounts[self.accounts["created_date"] <= end].copy(),
            opportunities=opps,
            activities=self.activities[self.activities["activity_date"] <= end].copy(),
            cutoff=end.normalize(),
        )

    def realigned(self, assignment: pd.Series) -> Dataset:
        """Return the data with accounts assigned as ``assignment`` says.

        Parameters
        ----------
        assignment : Series
            Territory per account, indexed by ``account_id`` (a proposal's
            ``TerritoryOptimizer.assignment_``). Accounts it does not name keep their territory.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> acc = pd.DataFrame({"account_id": ["A1", "A2"], "territory_id": ["T1", "T1"]})
        >>> data = Dataset(acc, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(),
        ...     SimpleNamespace(), Path("."))
        >>> data.realigned(pd.Series({"A2": "T2"})).accounts["territory_id"].tolist()
        ['T1', 'T2']
        >>> data.accounts["territory_id"].tolist()  # the original is left as it was
        ['T1', 'T1']
        """
        return replace(self, accounts=realign(self.accounts, assignment))

    def summary(self) -> pd.DataFrame:
        """Rows per table and the date range each covers."""
        rows = []
        for name, date_col in (
            ("accounts", "created_date"),
            ("reps", "hire_date"),
            ("opportunities", "created_date"),
            ("activities", "activity_date"),
        ):
            frame = getattr(self, name)
            first, last = frame[date_col].min(), frame[date_col].max()
            rows.append(
                {
                    "table": name + (" (absent)" if name in self.absent else ""),
                    "rows": len(frame),
                    "first date": first.date() if pd.notna(first) else "–",
                    "last date": last.date() if pd.notna(last) else "–",
                }
            )
        return pd.DataFrame(rows).set_index("table")

    def quarters(self) -> list[pd.Period]:
        """Quarters with at least one opportunity or activity."""
        dates = pd.concat(
            [self.opportunities["created_date"], self.activities["activity_date"]]
        ).dropna()
        return sorted(set(dates.dt.to_period(quarter_freq(self.fiscal_start))))

    def input_hashes(self) -> dict[str, str]:
        """sha256 of every input file, for the run manifest."""
        return {p.name: sha256(p) for p in self.files.values()}


def realign(frame: pd.DataFrame, assignment: pd.Series) -> pd.DataFrame:
    """A copy of ``frame`` (with ``account_id`` and ``territory_id``) whose accounts have the
    territory ``assignment`` (indexed by ``account_id``) gives them; accounts it does not
    name keep theirs (:meth:`Dataset.realigned`)."""
    proposed = frame["account_id"].map(assignment)
    return frame.assign(territory_id=proposed.where(proposed.notna(), frame["territory_id"]))


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- reading


def find_table(data_dir: Path, table: str) -> Path | None:
    """Return ``<table>.csv`` or ``<table>.parquet`` in ``data_dir`` (CSV first), or None."""
    for suffix in SUFFIXES:
        path = data_dir / f"{table}{suffix}"
        if path.is_file():
            return path
    return None


def _read_raw(path: Path, problems: list[Problem]) -> pd.DataFrame | None:
    if path.suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any reader failure becomes one message
            problems.append(Problem(path.name, None, f"cannot be read as Parquet ({exc})"))
            return None
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex().upper()
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(
            Problem(
                path.name,
                None,
                f"file is not UTF-8 text (byte 0x{bad} on line {line}); export it as UTF-8",
            )
        )
        return None
    if not text.strip():
        problems.append(Problem(path.name, None, "table is empty (no header, no rows)"))
        return None
    from io import StringIO

    try:
        return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:  # noqa: BLE001
        problems.append(
            Problem(path.name, None, f"cannot be read as CSV ({exc})".replace("\n", " "))
        )
        return None


def _examples(frame: pd.DataFrame, spec: TableSpec, mask) -> tuple[str, ...]:
    """Up to five keys of the rows in ``mask`` (``line N`` where the key itself is missing)."""
    rows = frame[np.asarray(mask, dtype=bool)].head(MAX_EXAMPLES)
    keys = rows[spec.key] if spec.key in rows else pd.Series(pd.NA, index=rows.index)
    return tuple(str(k) if pd.notna(k) else f"line {i + 2}" for i, k in keys.items())


def _flag(
    problems: list[Problem],
    frame: pd.DataFrame,
    spec: TableSpec,
    file: str,
    column: str,
    rule: str,
    mask,
) -> None:
    """Record one problem for the rows in ``mask`` (nothing when no row breaks the rule)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        problems.append(Problem(file, column, rule, int(mask.sum()), _examples(frame, spec, mask)))


_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"
# a zone after a time: 10:00Z, 10:00:00.000+0000, 11:30 PM -0800, 23:30:00 UTC, 23:30+00
_TZ_SUFFIX = (
    r"(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
)
_ISO = r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_NUMERIC_DATE = r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?:[ ,T].*)?"
#: Control characters refused in text (tab, line feed and carriage return are allowed).
_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"


def _parse_numbers(values: pd.Series) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """Numbers from text; also the masks of values refused and why: a comma that is not a
    thousands separator (``44,5`` is not 445) and values that are not finite."""
    if pd.api.types.is_numeric_dtype(values):
        parsed = values.astype(float)
        return parsed, {"not a finite number (inf)": np.isinf(parsed.to_numpy())}
    text = values.astype("string").str.strip()
    commas = text.str.contains(",", regex=False).fillna(False).to_numpy(bool)
    grouped = text.str.fullmatch(_THOUSANDS).fillna(False).to_numpy(bool)
    cleaned = text.mask(grouped, text.str.replace(",", "", regex=False))
    parsed = pd.to_numeric(cleaned.mask(commas & ~grouped), errors="coerce").astype(float)
    rules = {
        "decimal comma or misplaced thousands separator (export numbers with a point as the "
        "decimal separator, e.g. 44.5)": commas & ~grouped,
        "not a finite number (inf)": np.isinf(parsed.to_numpy()),
    }
    return parsed.mask(np.isinf(parsed.to_numpy())), rules


def _to_dates(text: pd.Series, **options) -> pd.Series:
    """``pd.to_datetime`` that gives naive timestamps (the wall-clock time as written) and
    NaT for what it cannot read, whatever the mix of values."""
    try:
        parsed = pd.to_datetime(text, errors="coerce", **options)
    except (TypeError, ValueError, OverflowError):
        parsed = pd.Series(
            [pd.to_datetime(v, errors="coerce", **options) for v in text], index=text.index
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_any_dtype(parsed):
        parsed = pd.Series(
            [
                pd.NaT
                if pd.isna(v)
                else pd.Timestamp(v).tz_localize(None)
                if pd.Timestamp(v).tzinfo
                else pd.Timestamp(v)
                for v in parsed
            ],
            index=text.index,
            dtype="datetime64[ns]",
        )
    return parsed.astype("datetime64[ns]")


def _parse_dates(
    values: pd.Series, fmt: str | None = None
) -> tuple[pd.Series, str, str | None, np.ndarray]:
    """Dates from text, one reading per column.

    ISO dates (``2025-12-31``, with a time and a zone or not) are read as written, the zone
    dropped (the local date the CRM recorded). Numeric dates such as ``31/12/2025`` are read
    day first or month first as the column shows: a first number above 12 means day first, a
    second above 12 month first; a column that shows both, or neither while some dates could
    be read either way, is refused unless the plan's ``date_formats`` gives the format.

    Returns
    -------
    parsed, reading, refusal, bad
        The dates; the reading in words; why the whole column is refused (or None); the rows
        that cannot be read.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_localize(None) if values.dt.tz is not None else values
        return parsed.astype("datetime64[ns]"), "", None, np.zeros(len(values), bool)
    text = values.astype("string").str.strip()
    present = text.notna().to_numpy(bool)
    if fmt:
        try:
            pd.to_datetime(pd.Series(["2000-01-01"]), format=fmt, errors="coerce")
        except ValueError as exc:
            return (
                pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"),
                "",
                f"the plan's date_formats gives {fmt!r}, which is not a date format ({exc})",
                np.zeros(len(values), bool),
            )
        parsed = _to_dates(text, format=fmt)
        return parsed, f"as {fmt} (plan)", None, present & parsed.isna().to_numpy()
    plain = text.str.replace(_TZ_SUFFIX, r"\1", regex=True)  # the time as written, no zone
    iso = plain.str.fullmatch(_ISO).fillna(False).to_numpy(bool)
    parts = plain.str.extract(f"^{_NUMERIC_DATE}$")
    numeric = parts[0].notna().to_numpy(bool)
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if iso.any():
        parsed[iso] = _to_dates(plain[iso], format="ISO8601")
    reading, refusal = ("ISO (YYYY-MM-DD)" if iso.any() else ""), None
    if numeric.any():
        first = parts.loc[numeric, 0].astype(int)
        second = parts.loc[numeric, 2].astype(int)
        day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
        either = bool((first != second).any())
        example = {
            "day": plain[numeric][first.to_numpy() > 12].iloc[0] if day_first else "",
            "month": plain[numeric][second.to_numpy() > 12].iloc[0] if month_first else "",
            "either": plain[numeric][(first != second).to_numpy()].iloc[0] if either else "",
        }
        if day_first and month_first:
            refusal = (
                f"mixes day-first ({example['day']}) and month-first ({example['month']}) "
                "dates; export one format, or set it in the plan's date_formats"
            )
        elif not day_first and not month_first and either:
            refusal = (
                f"dates such as {example['either']} read either day first or month first, and "
                "no date in the column tells which; set the format in the plan, e.g. "
                "date_formats: {table: {column: '%d/%m/%Y'}}"
            )
        else:
            parsed[numeric] = _to_dates(
                plain[numeric].str.replace(",", " ", regex=False),
                format="mixed",
                dayfirst=day_first,
            )
            order = "day first (DD/MM/YYYY)" if day_first else "month first (MM/DD/YYYY)"
            reading = ", ".join(r for r in (reading, order) if r)
    other = present & ~iso & ~numeric
    if other.any():
        parsed[other] = _to_dates(plain[other], format="mixed")
        reading = ", ".join(r for r in (reading, "written out (e.g. 3 March 2025)") if r)
    bad = present & parsed.isna().to_numpy() & (~numeric if refusal else True)
    return parsed, reading, refusal, bad


#: Each table's coordinate columns and the postal code that can stand in for them.
LOCATIONS = {
    "accounts": ("latitude", "longitude", "postal_code"),
    "reps": ("home_latitude", "home_longitude", "home_postal_code"),
}


def _parse_table(
    frame: pd.DataFrame,
    spec: TableSpec,
    file: str,
    problems: list[Problem],
    plan: Plan,
    readings: dict[str, str],
) -> pd.DataFrame:
    out = frame.copy()
    lat, lon, zip_col = LOCATIONS.get(spec.name, (None, None, None))
    for col in spec.text + tuple(c for c in (zip_col,) if c in out):
        text = out[col].astype("string").str.strip()
        out[col] = text.mask(text == "")
    used = set(spec.required) | set(spec.optional)
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            text = out[col].astype("string")
            control = text.str.contains(_CONTROL, regex=True).fillna(False)
            if col not in used:  # a column no analysis reads: cleaned, not refused
                out[col] = text.str.replace(_CONTROL, " ", regex=True).mask(text.isna())
                continue
            _flag(
                problems,
                out,
                spec,
                file,
                str(col),
                "control character in text (NUL, an escape, a bidirectional override or "
                "another non-printing character); remove it from the export",
                control,
            )
    numbers = spec.numbers + tuple(c for c in (lat, lon) if c in out)
    for col in numbers:
        parsed, refused = _parse_numbers(out[col])
        for rule, mask in refused.items():
            shown = ", ".join(repr(v) for v in out.loc[mask, col].astype(str).head(3))
            _flag(problems, out, spec, file, col, f"{rule} (found {shown})", mask)
        bad = parsed.isna() & out[col].notna() & (out[col].astype("string").str.strip() != "")
        bad &= ~np.logical_or.reduce(list(refused.values()))
        _flag(problems, out, spec, file, col, "not a number", bad)
        out[col] = parsed
    formats = plan.date_formats.get(spec.name, {})
    for col in spec.dates:
        parsed, reading, refusal, bad = _parse_dates(out[col], formats.get(col))
        if refusal:
            problems.append(Problem(file, col, refusal))
        if reading and reading != "ISO (YYYY-MM-DD)":
            readings[f"{file} {col}"] = reading
        shown = ", ".join(repr(v) for v in out.loc[bad, col].astype(str).head(3))
        hint = f"the plan's format {formats[col]}" if col in formats else "YYYY-MM-DD"
        _flag(problems, out, spec, file, col, f"unparseable date (e.g. {shown}; use {hint})", bad)
        out[col] = parsed
    return out


def _resolve_locations(
    frame: pd.DataFrame, file: str, problems: list[Problem], table: str = "accounts"
) -> pd.DataFrame:
    """Coordinates from the US ZIP code where the table gives no latitude and longitude."""
    spec = CONTRACT[table]
    lat, lon, zip_col = LOCATIONS[table]
    out = frame.copy()
    for col in (lat, lon):
        if col not in out:
            out[col] = np.nan
    missing = out[lat].isna() | out[lon].isna()
    if zip_col in out:
        has_zip = missing & out[zip_col].notna()
        if has_zip.any():
            found = resolve_zip(out.loc[has_zip, zip_col])
            out.loc[has_zip, [lat, lon]] = found.to_numpy()
            unknown = has_zip & out[lat].isna()
            codes = ", ".join(out.loc[unknown, zip_col].astype(str).head(3))
            _flag(
                problems, out, spec, file, zip_col, f"unknown US ZIP code (e.g. {codes})", unknown
            )
        no_location = missing & out[zip_col].isna()
    else:
        no_location = missing
    _flag(
        problems,
        out,
        spec,
        file,
        f"{lat}/{lon}",
        f"location missing and no {zip_col} to resolve it",
        no_location,
    )
    return out


def _check_columns(frame: pd.DataFrame, spec: TableSpec, file: str, problems: list[Problem]):
    problems_before = len(problems)
    if spec.name in LOCATIONS:
        lat, lon, zip_col = LOCATIONS[spec.name]
        if not {lat, lon} <= set(frame.columns) and zip_col not in frame.columns:
            problems.append(
                Problem(file, f"{lat}, {lon}", f"required columns missing (or give {zip_col})")
            )
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns[:12]))
        problems.append(
            Problem(
                file,
                ", ".join(missing),
                f"required column{'s' if len(missing) > 1 else ''} missing (found: {found}; "
                "map other names in the plan's columns: section)",
            )
        )
    return len(problems) == problems_before


def _schema_problems(
    frame: pd.DataFrame, spec: TableSpec, file: str, problems: list[Problem]
) -> None:
    try:
        column_schema(spec.name).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
            rule = {
                "not_nullable": "missing value",
                "field_uniqueness": "duplicate key"
                if column == spec.key
                else "reps share a territory (each territory has one rep: give each its own "
                "territory_id)"
                if (spec.name, column) == ("reps", "territory_id")
                else "duplicate value",
            }.get(str(check), str(check))
            index = pd.Index(group["index"].dropna().astype(int).unique())
            mask = frame.index.isin(index)
            examples = _examples(frame, spec, mask)
            if rule.startswith("duplicate"):
                examples = tuple(dict.fromkeys(examples))
            problems.append(Problem(file, str(column), rule, len(index), examples))


def _check_references(
    tables: dict[str, pd.DataFrame], files: dict[str, str], problems: list[Problem]
) -> None:
    refs = [
        ("opportunities", "account_id", "accounts", "account_id"),
        ("opportunities", "rep_id", "reps", "rep_id"),
        ("activities", "account_id", "accounts", "account_id"),
        ("activities", "rep_id", "reps", "rep_id"),
        ("accounts", "territory_id", "reps", "territory_id"),
    ]
    for child, col, parent, pcol in refs:
        if child not in tables or parent not in tables:
            continue
        frame = tables[child]
        if col not in frame or pcol not in tables[parent]:
            continue
        dangling = frame[col].notna() & ~frame[col].isin(tables[parent][pcol].dropna())
        values = ", ".join(frame.loc[dangling, col].astype(str).unique()[:3])
        _flag(
            problems,
            frame,
            CONTRACT[child],
            files[child],
            col,
            f"refers to unknown {pcol} in {files[parent]} (e.g. {values})",
            dangling,
        )


def _check_opportunity_dates(opps: pd.DataFrame, file: str, problems: list[Problem]) -> None:
    spec = CONTRACT["opportunities"]
    _flag(
        problems,
        opps,
        spec,
        file,
        "close_date",
        "close date before created date",
        opps["close_date"] < opps["created_date"],
    )
    _flag(
        problems,
        opps,
        spec,
        file,
        "close_date",
        "won or lost opportunity without a close date",
        opps["stage"].isin(["won", "lost"]) & opps["close_date"].isna(),
    )
    _flag(
        problems,
        opps,
        spec,
        file,
        "amount",
        "won or lost opportunity without an amount (open ones may leave it empty)",
        opps["stage"].isin(["won", "lost"]) & opps["amount"].isna(),
    )


#: Tables a company may not have; an absent one is read as empty.
OPTIONAL_TABLES = ("activities",)


def _empty_table(spec: TableSpec) -> pd.DataFrame:
    """A table of the contract with no rows, its columns typed as parsing would type them."""
    columns = {c: pd.Series(dtype="str") for c in spec.text}
    columns |= {c: pd.Series(dtype=float) for c in spec.numbers}
    columns |= {c: pd.Series(dtype="datetime64[ns]") for c in spec.dates}
    return pd.DataFrame(columns)


def _map_columns(
    raw: pd.DataFrame,
    mapping: dict[str, str | list[str]],
    file: str,
    plan_file: str,
    problems: list[Problem],
) -> pd.DataFrame:
    """Rename CRM columns to the contract's; a column mapped to a list feeds each of them."""
    unknown = [c for c in mapping if c not in raw.columns]
    if unknown:
        problems.append(
            Problem(
                plan_file,
                "columns",
                f"maps {', '.join(map(repr, unknown))}, but {file} has no such column "
                f"(its columns: {', '.join(map(str, raw.columns[:20]))})",
                kind="key",
            )
        )
    out = {}
    for col in raw.columns:
        targets = mapping.get(col, col)
        for target in [targets] if isinstance(targets, str) else targets:
            out[target] = raw[col]
    return pd.DataFrame(out, index=raw.index)


def _fill_defaults(
    raw: pd.DataFrame, defaults: dict[str, float | str], table: str, assumed: dict
) -> pd.DataFrame:
    """Columns the export lacks (or leaves empty) take the plan's ``defaults:``; how many
    rows each filled is kept, for the pages that use them to say so."""
    if not defaults:
        return raw
    out = raw.copy()
    for col, value in defaults.items():
        if col not in out:
            out[col] = str(value)
            filled = len(out)
        else:
            empty = out[col].isna() | (out[col].astype("string").str.strip() == "")
            out.loc[empty, col] = str(value)
            filled = int(empty.sum())
        if filled:
            assumed.setdefault(table, {})[col] = filled
    return out


def _map_values(
    raw: pd.DataFrame,
    values: dict[str, dict[str, str]],
    file: str,
    plan_file: str,
    problems: list[Problem],
) -> pd.DataFrame:
    """Replace CRM values by the contract's (``Closed Won`` -> ``won``), per column."""
    out = raw.copy()
    for col, mapping in values.items():
        if col not in out:
            problems.append(
                Problem(
                    plan_file,
                    f"values.{col}",
                    f"maps values of {col!r}, but {file} has no such column",
                    kind="key",
                )
            )
            continue
        text = out[col].astype("string").str.strip()
        lower = {str(k).strip().lower(): v for k, v in mapping.items()}
        out[col] = text.map(lambda v, m=lower: m.get(v.lower(), v), na_action="ignore")
    return out


#: The categorical column of each table and the values the contract allows.
CATEGORIES = {
    "opportunities": ("stage", STAGES),
    "activities": ("activity_type", ACTIVITY_TYPES),
}


def _categories(
    frame: pd.DataFrame, table: str, file: str, problems: list[Problem]
) -> pd.DataFrame:
    """The table with its stage or activity type in lower case; a value the contract does
    not know is listed as the export spells it, with its row count and how to map it."""
    col, allowed = CATEGORIES.get(table, (None, ()))
    if col is None or col not in frame:
        return frame
    lower = frame[col].str.lower()
    bad = frame[col].notna() & ~lower.isin(allowed)
    if bad.any():
        counts = frame.loc[bad, col].value_counts()
        found = ", ".join(
            f"{v!r} ({n:,} row{'s' if n != 1 else ''})" for v, n in counts.head(12).items()
        )
        more = f" and {len(counts) - 12} more" if len(counts) > 12 else ""
        example = ", ".join(f"{v}: {_guess(v, allowed)}" for v in counts.index[:3])
        problems.append(
            Problem(
                file,
                col,
                f"unknown {col.replace('_', ' ')} (allowed: {', '.join(allowed)}); found "
                f"{found}{more}. Map them in the plan, e.g. values: {{{table}: {{{col}: "
                f"{{{example}}}}}}}",
                int(bad.sum()),
            )
        )
    return frame.assign(**{col: lower})


def _guess(value: str, allowed: tuple[str, ...]) -> str:
    """The contract value a CRM value most likely means, for the example in a message."""
    words = {
        "won": "won",
        "lost": "lost",
        "call": "call",
        "phone": "call",
        "mail": "email",
        "meet": "meeting",
        "visit": "visit",
    }
    text = str(value).lower()
    return next((v for k, v in words.items() if k in text and v in allowed), allowed[0])


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, links followed, lies in ``folder``."""
    return path.resolve().is_relative_to(folder.resolve())


def _check_plan_names(
    plan: Plan, tables: dict[str, pd.DataFrame], plan_file: str, problems: list[Problem]
) -> None:
    """Names the plan uses that the data does not have: a typo is never silently ignored."""
    accounts = tables.get("accounts")
    if accounts is None:
        return
    checks = [
        (
            "strategy.priority_industries",
            list(plan.strategy.priority_industries),
            accounts["industry"].dropna(),
            "industries",
        ),
        (
            "balance.locked_accounts",
            plan.balance.locked_accounts,
            accounts["account_id"].dropna(),
            "account ids",
        ),
    ]
    for key, names, values, what in checks:
        known = set(values.astype(str))
        unknown = [n for n in dict.fromkeys(names) if n not in known]
        if unknown:
            common = ", ".join(map(repr, values.value_counts().index[:8].astype(str)))
            close = {
                n: m[0] for n in unknown if (m := difflib.get_close_matches(n, known, 1, 0.75))
            }
            hint = (
                "; did you mean "
                + ", ".join(f"{m!r} for {n!r}" for n, m in list(close.items())[:MAX_EXAMPLES])
                if close
                else ""
            )
            problems.append(
                Problem(
                    plan_file,
                    key,
                    f"names {len(unknown)} {what} not in the accounts "
                    f"(e.g. {', '.join(map(repr, unknown[:MAX_EXAMPLES]))}){hint}; the data has "
                    f"{len(known):,} {what}, e.g. {common}. Correct or remove them",
                    kind="key",
                )
            )
    for table, formats in plan.date_formats.items():
        for column in formats:
            if column not in CONTRACT[table].dates:
                problems.append(
                    Problem(
                        plan_file,
                        f"date_formats.{table}",
                        f"{column!r} is not a date column of {table} (its date columns: "
                        f"{', '.join(CONTRACT[table].dates)})",
                        kind="key",
                    )
                )


def validate_data(
    data_dir: Path | str,
    plan: Plan | None = None,
    quarter: str | None = None,
    plan_file: str = "plan",
) -> Dataset:
    """Read and check every table in ``data_dir``; return the :class:`Dataset`.

    Parameters
    ----------
    data_dir : path
        Folder holding ``accounts``, ``reps``, ``opportunities`` and ``activities`` as CSV or
        Parquet.
    plan : Plan, optional
        Supplies the column map and fiscal calendar; the default plan when omitted.
        Names it uses (priority industries, locked accounts) must be in the data.
    quarter : str, optional
        When given, it must contain at least one opportunity or activity.
    plan_file : str
        The plan's file name, for the messages about it.

    Raises
    ------
    DataValidationError
        Listing every problem found (file, column, rule, row count, up to five example keys).
    """
    data_dir = Path(data_dir)
    plan = plan or Plan()
    problems: list[Problem] = []
    if not data_dir.is_dir():
        raise DataValidationError(data_dir, [Problem(str(data_dir), None, "folder not found")])
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    paths: dict[str, Path] = {}
    readings: dict[str, str] = {}
    assumed: dict[str, dict[str, int]] = {}
    absent: list[str] = []
    for name, spec in CONTRACT.items():
        path = _table_file(name, data_dir, plan, problems)
        if path is None and name in OPTIONAL_TABLES and name not in plan.files:
            tables[name] = _empty_table(spec)  # the sections built on it say so
            files[name] = f"{name}.csv (absent)"
            absent.append(name)
            continue
        if path is None:
            continue
        files[name], paths[name] = path.name, path
        parsed = _read_table(name, path, data_dir, plan, plan_file, problems, readings, assumed)
        if parsed is not None:
            tables[name] = parsed
    _check_references(tables, files, problems)
    _check_plan_names(plan, tables, plan_file, problems)
    if "accounts" in tables and "reps" in tables and len(tables["accounts"]) < len(tables["reps"]):
        problems.append(
            Problem(
                files["accounts"],
                None,
                f"{len(tables['accounts'])} account(s) for {len(tables['reps'])} reps: a "
                "territory plan needs at least one account per rep",
            )
        )
    if "opportunities" in tables:
        _check_opportunity_dates(tables["opportunities"], files["opportunities"], problems)
    if problems:
        raise DataValidationError(data_dir, problems)
    data = Dataset(
        accounts=tables["accounts"].reset_index(drop=True),
        reps=tables["reps"].reset_index(drop=True),
        opportunities=tables["opportunities"].reset_index(drop=True),
        activities=tables["activities"].reset_index(drop=True),
        plan=plan,
        data_dir=data_dir,
        files=paths,
        date_readings=readings,
        assumed=assumed,
        absent=tuple(absent),
    )
    if quarter is not None:
        _check_quarter(data, quarter)
    return data


def _table_file(name: str, data_dir: Path, plan: Plan, problems: list[Problem]) -> Path | None:
    """The file of table ``name``: the one the plan's ``files:`` names, else ``<name>.csv`` or
    ``.parquet``. None when there is none (a problem is recorded, except for an optional table
    the plan does not name)."""
    if name in plan.files:
        path = data_dir / plan.files[name]
        if path.is_file():
            return path
        problems.append(
            Problem(plan.files[name], None, f"file missing (the plan's files: names it for {name})")
        )
        return None
    path = find_table(data_dir, name)
    if path is None and name not in OPTIONAL_TABLES:
        problems.append(Problem(f"{name}.csv", None, "file missing (expected CSV or Parquet)"))
    return path


def _read_table(
    name: str,
    path: Path,
    data_dir: Path,
    plan: Plan,
    plan_file: str,
    problems: list[Problem],
    readings: dict[str, str],
    assumed: dict[str, dict[str, int]],
) -> pd.DataFrame | None:
    """Table ``name`` read from ``path`` through the plan's maps, parsed and checked; None
    when it cannot be read far enough to check (the problems say why)."""
    spec = CONTRACT[name]
    if not _inside(path, data_dir):
        problems.append(
            Problem(
                path.name,
                None,
                "is a link to a file outside the data folder, which is not read (copy "
                "the file into the folder)",
            )
        )
        return None
    raw = _read_raw(path, problems)
    if raw is None:
        return None
    raw = raw.rename(columns=lambda c: str(c).strip())
    raw = _map_columns(raw, plan.columns.get(name, {}), path.name, plan_file, problems)
    raw = _fill_defaults(raw, plan.defaults.get(name, {}), name, assumed)
    raw = _map_values(raw, plan.values.get(name, {}), path.name, plan_file, problems)
    if raw.empty:
        problems.append(Problem(path.name, None, "table is empty (header only, no rows)"))
        return None
    if not _check_columns(raw, spec, path.name, problems):
        return None
    parsed = _parse_table(raw, spec, path.name, problems, plan, readings)
    parsed = _categories(parsed, name, path.name, problems)
    if name in LOCATIONS:
        parsed = _resolve_locations(parsed, path.name, problems, name)
    _schema_problems(parsed, spec, path.name, problems)
    return parsed


def _check_quarter(data: Dataset, quarter: str) -> None:
    """Refuse a quarter with no opportunity or activity in it."""
    q = data.quarter(quarter)
    start, end = quarter_bounds(q, data.fiscal_start)
    in_q = (
        data.activities["activity_date"].between(start, end).any()
        or data.opportunities["created_date"].between(start, end).any()
    )
    if not in_q:
        raise DataValidationError(
            data.data_dir,
            [
                Problem(
                    "(all tables)",
                    None,
                    f"quarter {q} has no opportunities or activities; the data covers "
                    f"{data.first_date.date()} to {data.last_date.date()}",
                )
            ],
        )


def load_dataset(
    data_dir: Path | str,
    plan_path: Path | str | None = None,
    quarter: str | None = None,
) -> Dataset:
    """Load the plan and the data.

    ``plan_path`` is the plan file; when it is omitted, ``plan.yaml`` (or ``plan.yml``)
    beside the data, which must then be there; :data:`terrlib.inputs.plan.DEFAULT_PLAN` asks for
    the default plan.

    Raises
    ------
    PlanError, DataValidationError
        With a message for people; see :func:`validate_data`.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataValidationError(data_dir, [Problem(str(data_dir), None, "folder not found")])
    if plan_path is None:
        plan_path = find_plan(data_dir)
    plan = load_plan(plan_path)
    data = validate_data(data_dir, plan, quarter, Path(str(plan_path)).name)
    if str(plan_path) != DEFAULT_PLAN:
        data.files["plan"] = Path(plan_path)
    return data


__all__ = [
    "DataValidationError",
    "Dataset",
    "PlanError",
    "Problem",
    "load_dataset",
    "validate_data",
]
