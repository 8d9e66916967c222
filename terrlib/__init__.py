"""terrlib: sales territory optimization as a notebook-driven analysis package.

Stages (each a module and a notebook): :mod:`terrlib.alignment`, :mod:`terrlib.segmentation`,
:mod:`terrlib.icp`, :mod:`terrlib.workload`, :mod:`terrlib.performance`. Data comes in through
:mod:`terrlib.io` (validated against :mod:`terrlib.schemas`), the plan through
:mod:`terrlib.plan`, and the quarterly report is built by :mod:`terrlib.report`.
"""

__version__ = "0.1.0"
