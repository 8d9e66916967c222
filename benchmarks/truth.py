"""How well an analysis recovers what the demo generator planted (its ``truth.json``), for
the tests and ``benchmarks/recovery.py``: the same measures in both, over many seeds.

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"rep_id": ["a", "b", "c", "d"], "effect": [0.9, 0.1, -0.2, -0.8],
...     "ci_low": [0.5, -0.3, -0.6, -1.2], "ci_high": [1.3, 0.5, 0.2, -0.4],
...     "rating": ["top performer", "within the range of the team",
...                "within the range of the team", "needs help"]})
>>> truth = {"rep_skill_logit": {"a": 0.8, "b": 0.0, "c": 0.1, "d": -0.9}}
>>> r = rating_recovery(table, truth)
>>> round(r["spearman"], 2), r["coverage"], r["false_tops"], r["false_helps"]
(0.8, 1.0, 0, 0)
"""

from __future__ import annotations

import pandas as pd
from scipy.stats import spearmanr


def rating_recovery(effects: pd.DataFrame, truth: dict) -> dict[str, float]:
    """Rep ratings against the planted skill (``rep_skill_logit``, on the log-odds of winning).

    Parameters
    ----------
    effects : pandas.DataFrame
        ``rep_effects`` table: ``rep_id``, ``effect``, ``ci_low``, ``ci_high``, ``rating``.
    truth : dict
        The demo's ``truth.json``.

    Returns
    -------
    dict
        ``rated`` reps; ``spearman`` between effect and skill; ``coverage``, the share of
        rated reps whose skill lies inside their interval; ``tops`` and ``helps`` flagged and
        of them ``false_tops`` (skill at or below zero) and ``false_helps`` (at or above zero);
        ``strong_above_weak``, whether every planted strong rep's effect is above every planted
        weak rep's.
    """
    skill = pd.Series(truth["rep_skill_logit"], dtype=float)
    rated = effects.dropna(subset=["effect"]).set_index("rep_id")
    sk = skill.reindex(rated.index)
    top = rated["rating"].eq("top performer")
    help_ = rated["rating"].eq("needs help")
    strong = rated["effect"].reindex(truth.get("strong_reps", [])).dropna()
    weak = rated["effect"].reindex(truth.get("weak_reps", [])).dropna()
    return {
        "rated": len(rated),
        "spearman": float(spearmanr(rated["effect"], sk).statistic),
        "coverage": float(((rated["ci_low"] <= sk) & (sk <= rated["ci_high"])).mean()),
        "tops": int(top.sum()),
        "false_tops": int((top & (sk <= 0)).sum()),
        "helps": int(help_.sum()),
        "false_helps": int((help_ & (sk >= 0)).sum()),
        "strong_above_weak": bool(len(strong) and len(weak) and strong.min() > weak.max()),
    }


def icp_recovery(propensity, value, churn, scores, truth: dict) -> dict[str, float]:
    """Stage 3's models against what the demo planted.

    Parameters
    ----------
    propensity, value, churn, scores : Result
        ``icp.propensity_model``, ``icp.value_model``, ``icp.churn_model`` and
        ``icp.icp_scores`` for the same quarter.
    truth : dict
        The demo's ``truth.json``.

    Returns
    -------
    dict
        ``win_odds_ratio`` of the planted high-converting industry against the rest (truth
        ``planted_win_odds_ratio``) and whether its interval covers the truth; ``auc`` of the
        win model and its interval's lower end; ``size_elasticity`` of deal size on employees
        (truth ``deal_size_elasticity_employees``) and whether its interval covers it;
        ``churn_stated``, whether "low engagement precedes churn" is said; ``customers_ratio``
        and ``prospects_ratio``, booked over predicted in the ICP score's check on time.
    """
    import numpy as np

    odds = propensity.table.set_index("term").loc[f"industry: {truth['high_converting_industry']}"]
    size = value.table.set_index("term").loc["log_employees"]
    check = getattr(scores, "check", None)
    ratio = check.table.set_index("group")["ratio"] if check is not None else pd.Series(dtype=float)
    return {
        "win_odds_ratio": float(odds["odds_ratio"]),
        "win_odds_covered": bool(
            odds["ci_low"] <= truth["planted_win_odds_ratio"] <= odds["ci_high"]
        ),
        "auc": float(propensity.auc),
        "auc_low": float(propensity.auc_ci[0]),
        "size_elasticity": float(np.log(size["multiplier"])),
        "size_covered": bool(
            np.log(size["ci_low"])
            <= truth["deal_size_elasticity_employees"]
            <= np.log(size["ci_high"])
        ),
        "churn_stated": "engagement precedes churn" in churn.headline,
        "customers_ratio": float(ratio.get("customers", np.nan)),
        "prospects_ratio": float(ratio.get("prospects", np.nan)),
    }
