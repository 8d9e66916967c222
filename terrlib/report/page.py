"""What a stage page needs beyond its cells to be read by everyone: a title that says which
stage, company and quarter it is, and headings in order (a screen reader's outline of the
page), whatever levels the notebook's markdown and the results' displays use.

Examples
--------
>>> import nbformat
>>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Stage 5 · Review")])
>>> page_title(nb, "Acme", "2026Q3")
'Stage 5 · Review — Acme, 2026Q3'
>>> ordered_headings("<h1>A</h1><h4>B</h4><h2>C</h2><h4>D</h4>")
'<h1>A</h1><h2>B</h2><h2>C</h2><h3>D</h3>'
"""

from __future__ import annotations

import re

HEADING = re.compile(r"<(/?)h([1-6])(?=[\s>/])", re.IGNORECASE)


def page_title(nb, company: str = "", quarter: str = "", fallback: str = "Quarterly report") -> str:
    """``<first h1 of the notebook> — <company>, <quarter>``, for the page's ``<title>``
    (``fallback`` when the notebook has no ``#`` heading)."""
    heading = fallback
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        found = re.search(r"^#\s+(.+?)\s*#*\s*$", cell.source, re.MULTILINE)
        if found:
            heading = found.group(1)
            break
    whose = ", ".join(part for part in (company, quarter) if part)
    return f"{heading} — {whose}" if whose else heading


def ordered_headings(page: str) -> str:
    """``page`` with each heading moved up to at most one level below the one before it
    (an ``h4`` right after an ``h2`` becomes an ``h3``), so that no level is skipped; a
    page's first heading becomes an ``h1``. Only the tags change, never the text.

    Headings here are the markup nbconvert writes (from markdown, and from the results'
    HTML displays, whose text from the data is escaped), so they are never nested.
    """
    levels: list[int] = []  # the level each open heading was given
    last = 0

    def renumber(match: re.Match) -> str:
        nonlocal last
        closing, level = match.group(1), int(match.group(2))
        if closing:
            return f"</h{levels.pop() if levels else level}"
        given = min(level, last + 1)
        levels.append(given)
        last = given
        return f"<h{given}"

    return HEADING.sub(renumber, page)


def heading_levels(page: str) -> list[int]:
    """The level of every heading in ``page``, in order."""
    return [int(m.group(2)) for m in HEADING.finditer(page) if not m.group(1)]


STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.DOTALL | re.IGNORECASE)
CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
NOT = re.compile(r":not\([^()]*\)")


def _rules(css: str) -> list[tuple[str, str]]:
    """Top-level ``(prelude, block)`` pairs of a stylesheet (comments dropped); a block is
    the text between the braces, nested rules (``@media``) included."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    rules, depth, start, prelude = [], 0, 0, ""
    for i, ch in enumerate(css):
        if ch == "{":
            if depth == 0:
                prelude, start = css[start:i].strip(), i + 1
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                rules.append((prelude, css[start:i]))
                start = i + 1
    return rules


def _slim(css: str, classes: set[str]) -> str:
    """The rules of ``css`` that can apply to a page using ``classes`` (see :func:`slim_styles`)."""
    kept = []
    for prelude, block in _rules(css):
        if prelude.startswith("@media") or prelude.startswith("@supports"):
            inner = _slim(block, classes)
            if inner:
                kept.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith("@"):
            kept.append(f"{prelude}{{{block}}}")
        elif any(
            set(CLASS.findall(NOT.sub("", s))) <= classes for s in prelude.split(",") if s.strip()
        ):
            kept.append(f"{prelude}{{{block.strip()}}}")
    return "\n".join(kept)


def slim_styles(page: str) -> str:
    """``page`` with its style sheets cut to the rules that can apply to it: a rule is kept
    when one of its selectors names only classes the page uses (classes under ``:not()``
    aside, since their absence is what such a selector asks for), or none; ``@`` rules are
    kept, ``@media`` and ``@supports`` cut the same way inside. nbconvert inlines all of
    JupyterLab's CSS (about 240 kB) into each page, most of it for the application.

    Examples
    --------
    >>> css = ".jp-Cell { margin: 0 } .jp-Toolbar { x: 1 } :root { --a: 1 } p:not(.x) { y: 2 }"
    >>> slim = slim_styles(f'<style>{css}</style><div class="jp-Cell"><p>a</p></div>')
    >>> [rule in slim for rule in (".jp-Cell{", ".jp-Toolbar{", ":root{", "p:not(.x){")]
    [True, False, True, True]
    """
    body = page[page.lower().find("<body") :] if "<body" in page.lower() else page
    classes = {c for attr in re.findall(r'class=["\']([^"\']*)["\']', body) for c in attr.split()}
    return STYLE.sub(lambda m: m.group(1) + _slim(m.group(2), classes) + m.group(3), page)
