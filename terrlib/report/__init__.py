"""The quarterly report: the stage API notebooks use (:mod:`~terrlib.report.stage`), the
artifacts stages hand each other (:mod:`~terrlib.report.artifacts`), the notebook runner and
schedule (:mod:`~terrlib.report.runner`), the index page (:mod:`~terrlib.report.index`) and the
all-or-nothing swap of a finished report into place (:mod:`~terrlib.report.swap`)."""
