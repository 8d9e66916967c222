"""The five stages, one module each (stage 4 has three): :mod:`~terrlib.stages.alignment`,
:mod:`~terrlib.stages.segmentation`, :mod:`~terrlib.stages.icp`, :mod:`~terrlib.stages.workload`
(sizing), :mod:`~terrlib.stages.balancing` (the proposal) and :mod:`~terrlib.stages.whatif`
(the interactive panel), :mod:`~terrlib.stages.performance`. What more than one stage measures
lives in :mod:`~terrlib.stages.measures`; a stage never imports another stage's module (stage 4's
three modules are one stage), and a stage reads another's results only as declared artifacts
(:mod:`terrlib.report.artifacts`)."""
