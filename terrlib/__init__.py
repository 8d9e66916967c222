"""terrlib: sales territory optimization as a notebook-driven analysis package.

Four packages, each depending only on those before it:

* :mod:`terrlib.inputs`: the data contract, the plan, the coverage model, loading and
  validating a CRM export, the demo company;
* :mod:`terrlib.territory`: the territory solver (plain frames in, a proposal with its
  certified gap out);
* :mod:`terrlib.stages`: the five stages, one notebook each, over a loaded dataset;
* :mod:`terrlib.report`: the stage API notebooks use, the declared artifacts stages hand each
  other, the notebook runner and the report's index page.

Beside them, modules every package may use: :mod:`~terrlib.config`, :mod:`~terrlib.geo`,
:mod:`~terrlib.periods`, :mod:`~terrlib.results`, :mod:`~terrlib.exports`,
:mod:`~terrlib.fitting`, :mod:`~terrlib.plotting`; and :mod:`~terrlib.cli`. ``docs/`` says more.
"""

__version__ = "0.1.0"
