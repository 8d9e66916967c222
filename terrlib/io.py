"""Where :mod:`terrlib.inputs.dataset` used to live: ``terrlib.io.load_dataset`` and the names
around it keep working."""

from terrlib.inputs.dataset import (  # noqa: F401
    Dataset,
    DataValidationError,
    load_dataset,
)
