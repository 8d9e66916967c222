"""One glossary (issue 22): every measure the report uses defined once, on a page of its own."""

from __future__ import annotations

from terrlib.report.glossary import GLOSSARY, glossary_html


def test_every_term_is_on_the_page_once():
    page = glossary_html("<Demo>", "2026Q3")
    for term in GLOSSARY:
        assert page.count(f"<dt>{term.replace('&', '&amp;')}</dt>") == 1, term
    assert "&lt;Demo&gt;" in page and "<Demo>" not in page
    assert 'href="index.html"' in page


def test_the_measures_the_issue_names_are_defined():
    names = " ".join(GLOSSARY).lower()
    for measure in ("roi", "sales cycle", "fte", "utilization", "attainment", "certified gap"):
        assert measure in names, measure
