"""Where the territory optimizer used to live: ``terrlib.optimize.TerritoryOptimizer``,
``from_dataset``, ``proposal`` and ``InfeasibleRequest`` keep working. The solver is
:mod:`terrlib.territory`; the stage-4 functions over it are :mod:`terrlib.stages.balancing`."""

from terrlib.territory.estimator import (  # noqa: F401
    InfeasibleRequest,
    TerritoryOptimizer,
    balance_table,
    disruption_curve,
    from_dataset,
    headline,
    moves_result,
    proposal,
    solve_or_widen,
    travel_change,
    write_workbook,
)
