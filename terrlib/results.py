"""Result objects: a headline in words, a table, ``summary()`` and a notebook HTML display.

Examples
--------
>>> import pandas as pd
>>> r = Result("Demo", "Two rows.", pd.DataFrame({"a": [1, 2]}))
>>> "Two rows." in r._repr_html_()
True
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

NA_REP = "–"


def _cell(value: object, spec) -> str:
    """One cell as display text (not yet escaped): ``spec`` (a format string, or a function
    of the value) applied where it fits."""
    if value is None or (not isinstance(value, (list, tuple, dict)) and pd.isna(value)):
        return NA_REP
    if isinstance(value, bool | np.bool_):  # a yes-or-no column in words
        return "yes" if value else "no"
    if callable(spec):
        return spec(value)
    if spec:
        try:
            return spec.format(value)
        except (ValueError, TypeError):
            pass
    return str(value)


def _escaped(labels: pd.Index) -> pd.Index:
    """Index labels (and level names) as escaped HTML text."""

    def esc(value: object) -> str | None:
        return None if value is None else html.escape(str(value))

    names = [esc(n) for n in labels.names]
    if isinstance(labels, pd.MultiIndex):
        return pd.MultiIndex.from_tuples([tuple(esc(v) for v in t) for t in labels], names=names)
    if isinstance(labels, pd.RangeIndex):
        return labels
    return pd.Index([esc(v) for v in labels], name=names[0], dtype=object)


#: Business words for the column names of the stages' tables, where the rule of
#: :func:`column_label` is not enough (the CSV files keep the names; only pages show these).
COLUMN_LABELS: dict[str, str] = {
    "territory_id": "Territory",
    "rep_id": "Rep ID",
    "rep_name": "Rep",
    "roi": "Return on cost",
    "roi_4q": "Return on cost (last 4 quarters)",
    "ci_low": "Interval low",
    "ci_high": "Interval high",
    "false_sign": "Chance on the other side of the middle",
    "p_top_quartile": "Chance in the top quarter",
    "p_above_median": "Chance above the middle",
    "top_short": "Top accounts left untouched",
    "top_touched": "Top accounts touched",
    "vs_company": "Against the company",
    "bookings_prev": "Bookings, previous quarter",
    "quota_next": "Quota next quarter",
    "quota_fair": "Fair share of the team's number",
    "quota_next_today": "Quota next quarter, today's territories",
    "quota_next_proposed": "Quota next quarter, proposed territories",
    "against_today_territory": "Proposed against today's territories",
    "quota_today": "Quota this quarter",
    "quota_vs_target": "Quota against target",
    "cycle_days": "Days to close (median)",
    "cycle_days_4q": "Days to close (median, last 4 quarters)",
    "avg_deal": "Average deal",
    "avg_deal_4q": "Average deal (last 4 quarters)",
    "also_buys": "Also buys",
    "fte_today": "FTE today",
    "what": "Factor",
    "median_days": "Days until half are decided",
    "p75_days": "Days until three in four are decided",
    "hazard_ratio": "Speed of decision (x)",
    "p_value": "P-value",
    "p_adjusted": "P-value (adjusted)",
    "p_buy": "Chance of booking (next 4 quarters)",
    "value_if_buying": "Bookings when booking",
    "win_propensity": "Win propensity",
    "check_ratio": "Check: booked / predicted",
    "check_low": "Check: interval low",
    "check_high": "Check: interval high",
    "check_lift": "Check: lift then",
    "check_flag": "Check: sample",
}
#: Word pieces of column names shown in full by :func:`column_label`.
_WORDS = {"km": "km", "id": "ID", "avg": "average", "pct": "%", "prev": "previous"}


def column_label(name: object) -> object:
    """The business words a page shows for a column ``name``: :data:`COLUMN_LABELS`, else
    the name with underscores as spaces, ``_4q`` as "(last 4 quarters)" and the first letter
    a capital. A name already in words (with a space) only gets the capital; a non-text name
    is kept.

    Examples
    --------
    >>> column_label("bookings_4q_share"), column_label("territory_id")
    ('Bookings share (last 4 quarters)', 'Territory')
    >>> column_label("workload today"), column_label(3)
    ('Workload today', 3)
    """
    if not isinstance(name, str):
        return name
    if " " in name or "_" not in name and name != name.lower():
        return name[:1].upper() + name[1:]
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    parts = name.split("_")
    window = "4q" in parts
    words = " ".join(_WORDS.get(w, w) for w in parts if w != "4q")
    words = words[:1].upper() + words[1:]
    return f"{words} (last 4 quarters)" if window else words


def notes_in_words(text: str, columns: object) -> str:
    """``text`` (a table's notes) with every column name of ``columns`` that has an
    underscore written as the page shows it (:func:`column_label`): lower case inside a
    sentence, as the label at the start of one.

    Examples
    --------
    >>> notes_in_words("quota_next: the team's number; change: quota_next / quota_today - 1",
    ...                ["quota_next", "quota_today", "change"])
    "Quota next quarter: the team's number; change: quota next quarter / quota this quarter - 1"
    """
    names = sorted({c for c in columns if isinstance(c, str) and "_" in c}, key=len, reverse=True)
    for name in names:
        label = str(column_label(name))
        acronym = len(label) > 1 and label[1].isupper()

        def words(match: re.Match, label: str = label, acronym: bool = acronym) -> str:
            before = match.string[: match.start()].rstrip()
            opens = not before or before[-1] in ".;"
            return label if opens or acronym else label[:1].lower() + label[1:]

        text = re.sub(rf"(?<![\w.]){re.escape(name)}(?![\w(])", words, text)
    return text


#: A table of more rows than this shows its first and last :data:`SHOWN_ROWS` on a page, with
#: a link to the file that has every row (when it has one, see ``Result.download``).
LONG_TABLE = 25
SHOWN_ROWS = 10


def format_table(table: pd.DataFrame, formats: dict | None = None) -> str:
    """HTML of a table with per-column formats (``"{:,.0f}"``, ``"{:.0%}"``...).

    Every cell, column name and index label is turned into text first and escaped as HTML,
    so a name in the data such as ``<script>`` shows as text and never becomes markup.

    Examples
    --------
    >>> html_text = format_table(pd.DataFrame({"name": ["<b>x</b>"], "share": [0.5]}),
    ...                          {"share": "{:.0%}"})
    >>> "&lt;b&gt;x&lt;/b&gt;" in html_text and "<b>" not in html_text and "50%" in html_text
    True
    """
    formats = formats or {}
    columns = [
        [html.escape(_cell(v, formats.get(col))) for v in table.iloc[:, i]]
        for i, col in enumerate(table.columns)
    ]
    shown = pd.DataFrame(
        dict(enumerate(columns)) if columns else {}, index=range(len(table)), dtype=object
    )
    shown.index = _escaped(table.index)
    labels = [column_label(c) for c in table.columns]
    if len(set(labels)) == len(labels):  # business words, unless two names meet in one
        shown.columns = _escaped(pd.Index(labels, dtype=object))
    else:
        shown.columns = _escaped(table.columns)
    styler = shown.style.set_table_attributes('class="terrlib-table"')
    text = [
        i
        for i, _ in enumerate(table.columns)
        if not pd.api.types.is_numeric_dtype(table.iloc[:, i])
    ]
    if text:
        styler = styler.set_properties(
            subset=pd.IndexSlice[:, shown.columns[text].unique()], **{"text-align": "left"}
        )
    if isinstance(table.index, pd.RangeIndex):
        styler = styler.hide(axis="index")
    return styler.to_html()


@dataclass
class Result:
    """An analysis result.

    Attributes
    ----------
    title : str
        What was analysed.
    headline : str
        Two to four sentences with the findings in numbers.
    table : pandas.DataFrame
        The evidence.
    formats : dict
        Display formats per column: a format string, or a function of the value.
    notes : str
        Definitions of the measures.
    hidden : list of str
        Columns kept in the table (and the CSV) but left out of the HTML display (a name the
        table does not have is skipped).
    download : str
        The file beside the report (in ``downloads/``) that holds every row; a table of over
        :data:`LONG_TABLE` rows then shows its first and last :data:`SHOWN_ROWS` and links it.
    """

    title: str
    headline: str
    table: pd.DataFrame
    formats: dict = field(default_factory=dict)
    notes: str = ""
    hidden: list[str] = field(default_factory=list)
    download: str = ""

    def summary(self) -> pd.DataFrame:
        """The result table (a copy)."""
        return self.table.copy()

    def __str__(self) -> str:
        return f"{self.title}\n{self.headline}\n\n{self.table.to_string()}"

    def _repr_html_(self) -> str:
        if isinstance(self.table, NotEnoughData):  # a table from a section without data
            return self.table._repr_html_()
        words = notes_in_words(self.notes, self.table.columns)
        notes = f"<p><small>{html.escape(words)}</small></p>" if self.notes else ""
        table, more = self.table.drop(columns=self.hidden, errors="ignore"), ""
        if self.download and len(table) > LONG_TABLE:
            name = html.escape(self.download)
            more = (
                f'<p class="terrlib-more">The first and last {SHOWN_ROWS} of {len(table):,} '
                f'rows in this order; every row and column: <a href="downloads/{name}">'
                f"{name}</a>.</p>"
            )
            ends = pd.concat([table.head(SHOWN_ROWS), table.tail(SHOWN_ROWS)])
            ranged = isinstance(table.index, pd.RangeIndex)
            table = ends.reset_index(drop=True) if ranged else ends
        return (
            f"<h4>{html.escape(self.title)}</h4><p>{html.escape(self.headline)}</p>"
            f"{format_table(table, self.formats)}{more}{notes}"
        )


@dataclass
class Summary:
    """The few sentences that open a stage page: the findings in numbers.

    Examples
    --------
    >>> Summary(["One.", "Two."])._repr_html_()
    '<div class="terrlib-summary"><p>One.</p><p>Two.</p></div>'
    """

    sentences: list[str]

    def __str__(self) -> str:
        return "\n".join(self.sentences)

    def _repr_html_(self) -> str:
        body = "".join(f"<p>{html.escape(s)}</p>" for s in self.sentences)
        return f'<div class="terrlib-summary">{body}</div>'


#: The kinds of decision the report's index opens with, in its order.
DECISION_TOPICS = (
    "Territories to realign",
    "Hires and reductions",
    "Quotas for next quarter",
    "Reps to recognise or coach",
    "What to watch",
)


@dataclass
class Decision:
    """One line of the report's Decisions: what to decide, and where its evidence is.

    Attributes
    ----------
    topic : str
        One of :data:`DECISION_TOPICS`.
    text : str
        The decision in business words, with its numbers.
    section : str
        The heading, on the stage's page, of the section that holds the evidence.

    Examples
    --------
    >>> Decision("What to watch", "T33 cannot be balanced.", "Proposed alignment").anchor()
    'Proposed-alignment'
    """

    topic: str
    text: str
    section: str

    def __post_init__(self) -> None:
        if self.topic not in DECISION_TOPICS:
            raise ValueError(f"unknown decision topic {self.topic!r}: one of {DECISION_TOPICS}")

    def anchor(self) -> str:
        """The section's id on the rendered page (nbconvert's: spaces become hyphens)."""
        return self.section.replace(" ", "-")


class Decisions(list):
    """A stage's decisions, shown on its page as a list under their topics.

    Examples
    --------
    >>> d = Decisions([Decision("What to watch", "T33 <b>", "Proposed alignment")])
    >>> "T33 &lt;b&gt;" in d._repr_html_()
    True
    """

    def _repr_html_(self) -> str:
        if not self:
            return ""
        items = "".join(
            f"<li><strong>{html.escape(d.topic)}</strong>: {html.escape(d.text)} "
            f'(<a href="#{html.escape(d.anchor())}">{html.escape(d.section)}</a>)</li>'
            for d in self
        )
        head = "<p>Decisions from this stage:</p>"
        return f'<div class="terrlib-summary">{head}<ul>{items}</ul></div>'


class InsufficientData(ValueError):
    """Too little data for an analysis to be honest: not bad input. The stage says what the
    section needs and goes on.

    Attributes
    ----------
    needs : str
        What the analysis needs, e.g. "at least 200 decided opportunities closed before
        2024-07-01".
    has : str
        What the data gives, e.g. "195".
    fix : str
        What would fix it, e.g. "more history: a report for a later quarter".
    """

    def __init__(self, needs: str, has: str = "", fix: str = ""):
        self.needs, self.has, self.fix = needs, has, fix
        super().__init__(f"{needs}; found {has}" if has else needs)


@dataclass
class NotEnoughData:
    """What an analysis returns instead of a result when the data cannot support it.

    It displays as two lines (what the section needs and what the data has, and what would
    fix it). Any public attribute asked of it is itself, so the cells after it (a chart of
    ``result.calibration``, ``run.save`` of ``result.table``) show and write nothing instead
    of failing; the stage's other sections go on.

    Examples
    --------
    >>> gap = NotEnoughData("Repeat purchase", "50 customers a year back", "16", "more history")
    >>> bool(gap), gap.calibration is gap
    (False, True)
    >>> "needs 50 customers a year back" in gap._repr_html_()
    True
    """

    title: str
    needs: str
    has: str = ""
    fix: str = ""

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self

    def __iter__(self):  # ``{c: ... for c in gap.columns}`` is empty
        return iter(())

    @property
    def headline(self) -> str:
        """One sentence for the stage's summary."""
        has = f" (the data has {self.has})" if self.has else ""
        return f"{self.title}: not enough data, it needs {self.needs}{has}."

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame()

    def reason(self) -> dict[str, str]:
        """The gap as a record (for the report's list of skipped sections)."""
        return {"title": self.title, "needs": self.needs, "has": self.has, "fix": self.fix}

    def __str__(self) -> str:
        return self.headline + (f" {self.fix}" if self.fix else "")

    def _repr_html_(self) -> str:
        has = f" The data has {html.escape(self.has)}." if self.has else ""
        fix = f" {html.escape(self.fix)}" if self.fix else ""
        return (
            f'<div class="terrlib-skipped"><h4>{html.escape(self.title)}</h4>'
            f"<p>Not enough data for this section: it needs {html.escape(self.needs)}.{has}"
            f"</p><p>{fix.strip() or 'The rest of the stage goes on without it.'}</p></div>"
        )


def missing(*results: object) -> bool:
    """Whether any of ``results`` is :class:`NotEnoughData`."""
    return any(isinstance(r, NotEnoughData) for r in results)
