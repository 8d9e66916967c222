"""Model fits that do not crash on thin data: terms the data cannot tell apart are dropped
(and named), and a fit that still fails says what it needs instead of raising a linear
algebra error.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=200)
>>> frame = pd.DataFrame({"y": (x + rng.normal(size=200) > 0).astype(int), "x": x,
...                       "flat": 1.0, "twice": 2 * x})
>>> fit = logit("y ~ x + flat + twice", frame)
>>> fit.dropped
['flat', 'twice']
>>> round(float(fit.model.params["x"]), 1) > 0
True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import patsy
import statsmodels.formula.api as smf

from terrlib.results import InsufficientData


@dataclass
class Fit:
    """A fitted model and the terms left out because the data could not separate them."""

    model: object
    formula: str
    dropped: list[str] = field(default_factory=list)

    def note(self) -> str:
        """A sentence naming the dropped terms, or an empty string."""
        if not self.dropped:
            return ""
        return (
            f" Left out, as the data cannot tell them apart from the rest: "
            f"{', '.join(self.dropped)}."
        )


def estimable_terms(formula: str, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The right-hand terms of ``formula`` that the data can estimate, in order, and those
    it cannot: a term is dropped when one of its columns is constant or a combination of
    the columns kept before it (rank of the design matrix)."""
    desc = patsy.ModelDesc.from_formula(formula)
    _, design = patsy.dmatrices(formula, frame, return_type="dataframe", NA_action="drop")
    info = design.design_info
    matrix = design.to_numpy(float)
    base = [info.column_names.index("Intercept")] if "Intercept" in info.column_names else []
    kept, dropped = [], []
    for term in desc.rhs_termlist:
        name = term.name()
        if name == "Intercept":
            continue
        cols = list(range(design.shape[1]))[info.term_name_slices[name]]
        trial = base + cols
        if np.linalg.matrix_rank(matrix[:, trial]) == len(trial):
            kept.append(name)
            base = trial
        else:
            dropped.append(name)
    return kept, dropped


def logit(formula: str, frame: pd.DataFrame, what: str = "the model") -> Fit:
    """A logistic regression of ``formula`` on ``frame`` that leaves out terms the data
    cannot estimate.

    Raises
    ------
    InsufficientData
        When no term is left, only one outcome occurs, or the fit fails (outcomes separated
        perfectly by the terms).
    """
    outcome = formula.split("~")[0].strip()
    if frame[outcome].nunique() < 2:
        raise InsufficientData(f"both outcomes for {what}", f"only {frame[outcome].iloc[0]!r}")
    kept, dropped = estimable_terms(formula, frame)
    if not kept:
        raise InsufficientData(
            f"at least one factor for {what} that varies", "none", "more varied history"
        )
    reduced = f"{outcome} ~ {' + '.join(kept)}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = smf.logit(reduced, frame).fit(disp=0)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise InsufficientData(
            f"outcomes that its factors do not separate perfectly, for {what}",
            f"a fit that fails ({type(exc).__name__})",
            "more history",
        ) from None
    fitted = np.asarray(model.predict())
    separated = np.all((fitted < 1e-6) | (fitted > 1 - 1e-6))  # every outcome foretold
    if separated or not np.all(np.isfinite(model.bse)):
        raise InsufficientData(
            f"outcomes that its factors do not separate perfectly, for {what}",
            "outcomes its factors foretell exactly" if separated else "no finite standard errors",
            "more history",
        )
    return Fit(model, reduced, dropped)


def predict(model, frame: pd.DataFrame) -> pd.Series:
    """``model.predict(frame)`` for a formula model, where a category the model was not
    fitted on (an industry without a won deal in the training window, say) is scored as
    the category most common in its training data instead of failing.

    Examples
    --------
    >>> import statsmodels.formula.api as smf
    >>> train = pd.DataFrame({"y": [1.0, 2.0, 3.0, 2.5], "g": ["a", "a", "b", "a"]})
    >>> fit = smf.ols("y ~ C(g)", train).fit()
    >>> predict(fit, pd.DataFrame({"g": ["b", "new"]})).round(2).tolist()
    [3.0, 1.83]
    """
    formula = getattr(model.model, "formula", None)
    training = getattr(getattr(model.model, "data", None), "frame", None)
    if formula is None or training is None:
        return model.predict(frame)
    frame = frame.copy()
    for term in patsy.ModelDesc.from_formula(formula).rhs_termlist:
        for factor in term.factors:
            code = factor.name()
            column = code[2:-1].split(",")[0].strip() if code.startswith("C(") else code
            if column not in frame or column not in training:
                continue
            if not code.startswith("C(") and pd.api.types.is_numeric_dtype(training[column]):
                continue
            seen = set(training[column].dropna())
            unseen = frame[column].notna() & ~frame[column].isin(seen)
            if unseen.any():
                frame.loc[unseen, column] = training[column].mode().iloc[0]
    return model.predict(frame)
