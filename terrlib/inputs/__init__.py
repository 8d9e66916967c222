"""What comes in: the data contract (:mod:`~terrlib.inputs.schemas`), the plan
(:mod:`~terrlib.inputs.plan`), the coverage model (:mod:`~terrlib.inputs.coverage`), loading and
validating a CRM export (:mod:`~terrlib.inputs.dataset`), the demo company
(:mod:`~terrlib.inputs.demo`), the shapes of other CRMs' exports (:mod:`~terrlib.inputs.shapes`)
and the history each stage needs (:mod:`~terrlib.inputs.history`). Nothing here imports a stage,
the solver or the report."""
