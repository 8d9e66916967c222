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
from dataclasses import dataclass, field

import pandas as pd


def format_table(table: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    """HTML of a table with per-column formats (``"{:,.0f}"``, ``"{:.0%}"``...)."""
    styler = table.style.format(formats or {}, na_rep="–")
    styler = styler.format_index(lambda v: str(v)).set_table_attributes('class="terrlib-table"')
    text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
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
        Display formats per column.
    notes : str
        Definitions of the measures.
    hidden : list of str
        Columns kept in the table (and the CSV) but left out of the HTML display.
    """

    title: str
    headline: str
    table: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    notes: str = ""
    hidden: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """The result table (a copy)."""
        return self.table.copy()

    def __str__(self) -> str:
        return f"{self.title}\n{self.headline}\n\n{self.table.to_string()}"

    def _repr_html_(self) -> str:
        notes = f"<p><small>{html.escape(self.notes)}</small></p>" if self.notes else ""
        return (
            f"<h4>{html.escape(self.title)}</h4><p>{html.escape(self.headline)}</p>"
            f"{format_table(self.table.drop(columns=self.hidden), self.formats)}{notes}"
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
