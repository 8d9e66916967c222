"""Where the territory optimizer used to live: ``terrlib.optimize.TerritoryOptimizer``,
``from_dataset``, ``proposal`` and ``InfeasibleRequest`` keep working. The solver is
:mod:`terrlib.territory`; the stage-4 functions over it are :mod:`terrlib.stages.balancing`."""

from terrlib.stages.balancing import (  # noqa: F401
    balance_table,
    disruption_curve,
    from_dataset,
    headline,
    moves_result,
    proposal,
    scratch_comparison,
    solve_or_widen,
    travel_change,
    write_workbook,
)
from terrlib.territory.estimator import TerritoryOptimizer  # noqa: F401
from terrlib.territory.problem import InfeasibleRequest, unit_vectors  # noqa: F401
