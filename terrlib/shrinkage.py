"""Empirical-Bayes shrinkage of noisy group estimates, with intervals that carry the
uncertainty of the prior, and flags controlled for the false-sign rate.

The model is the normal-normal one: each group's estimate ``b_i`` (a rep's effect on the
log-odds of winning, say) is its true value ``theta_i`` plus noise of known variance ``s_i^2``
(from the fit that produced it), and the true values spread around ``mu`` with variance
``tau^2``. ``mu`` and ``tau^2`` are estimated by restricted maximum likelihood. The posterior of
``theta_i`` given ``mu`` and ``tau^2`` is normal; plugging in the estimates makes intervals too
narrow when there are few groups, so :func:`shrink` draws from the posterior under
hyperparameters re-estimated on data simulated from the fitted model (the parametric
bootstrap of Laird and Louis, 1987): the mixture of those posteriors gives the intervals.

:func:`false_sign_flags` picks the groups whose sign is credible: those whose local false
sign rate (the posterior probability that the true value has the other sign; Stephens,
2017) is at most ``alpha``. The expected number of wrongly signed flags is the sum of their
rates, and their average rate is at most ``alpha``.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> truth = rng.normal(0, 0.5, 60)
>>> s = np.full(60, 0.3)
>>> fit = shrink(truth + rng.normal(0, s), s, draws=400, seed=2)
>>> 0.2 < fit.tau < 0.8
True
>>> bool(np.mean((fit.low <= truth) & (truth <= fit.high)) > 0.85)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar


@dataclass
class Shrunk:
    """Shrunk estimates of every group, relative to the groups' mean ``mu``.

    Attributes
    ----------
    mu, tau : float
        The estimated mean and spread of the true values.
    mean, low, high : numpy.ndarray
        Posterior mean and 95% interval of ``theta_i - mu`` (mixture over the bootstrap).
    draws : numpy.ndarray
        Posterior draws of ``theta_i - mu``, shape (draws, groups).
    """

    mu: float
    tau: float
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    draws: np.ndarray


def reml(b: np.ndarray, s2: np.ndarray, mu: float | None = None) -> tuple[float, float]:
    """Restricted maximum likelihood ``(mu, tau^2)`` of ``b_i ~ N(mu, tau^2 + s2_i)``; with
    ``mu`` given, the maximum likelihood ``tau^2`` about it.

    Groups with infinite ``s2`` (no estimate) carry no information and are ignored.

    Examples
    --------
    >>> mu, tau2 = reml(np.array([1.0, 1.0, 1.0]), np.array([0.1, 0.1, 0.1]))
    >>> round(mu, 3), round(tau2, 3)
    (1.0, 0.0)
    """
    ok = np.isfinite(s2) & np.isfinite(b)
    b, s2 = b[ok], s2[ok]
    if len(b) < 2:
        return (float(b[0]) if len(b) else 0.0), 0.0

    def mean_for(tau2: float) -> tuple[float, np.ndarray]:
        w = 1.0 / (tau2 + s2)
        return (float(np.sum(w * b) / np.sum(w)) if mu is None else mu), w

    def negloglik(tau2: float) -> float:
        m, w = mean_for(tau2)
        restricted = np.log(np.sum(w)) if mu is None else 0.0
        return 0.5 * (-np.sum(np.log(w)) + restricted + np.sum(w * (b - m) ** 2))

    top = max(float(np.var(b)) * 4, float(np.max(s2)), 1e-8)
    best = minimize_scalar(negloglik, bounds=(0.0, top), method="bounded")
    tau2 = float(best.x)
    if negloglik(0.0) <= best.fun:
        tau2 = 0.0
    return mean_for(tau2)[0], tau2


def _posterior(
    b: np.ndarray, s2: np.ndarray, mu: float, tau2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of ``theta_i`` (a group without an estimate gets the
    prior)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(np.isfinite(s2), tau2 / (tau2 + s2), 0.0)
    weight = np.nan_to_num(weight)
    mean = mu + weight * (np.nan_to_num(b) - mu)
    var = np.where(np.isfinite(s2), weight * np.where(np.isfinite(s2), s2, 0.0), tau2)
    return mean, var


def shrink(
    b: np.ndarray,
    s: np.ndarray,
    draws: int = 2000,
    boot: int = 200,
    seed: int = 0,
    mean: float | None = None,
) -> Shrunk:
    """Empirical-Bayes estimates of every group with bootstrap intervals (see the module
    text).

    Parameters
    ----------
    b, s : numpy.ndarray
        Each group's raw estimate and its standard error; ``s = inf`` for a group without
        an estimate (it gets the prior: the team mean, with the team's spread).
    draws : int
        Posterior draws in all.
    boot : int
        Bootstrap replicates of the hyperparameters (each gives ``draws / boot`` draws).
    seed : int
        Seed of the random draws, so that the same data give the same intervals.
    mean : float, optional
        The groups' mean when it is known (0 for deviations from the groups' own average,
        which sum to zero): then only the spread is estimated and bootstrapped.

    Returns
    -------
    Shrunk
    """
    b, s2 = np.asarray(b, float), np.asarray(s, float) ** 2
    rng = np.random.default_rng(seed)
    mu, tau2 = reml(b, s2, mean)
    known = np.isfinite(s2)
    per = max(1, draws // boot)
    out = []
    for _ in range(boot):
        sim = mu + rng.normal(0, 1, len(b)) * np.sqrt(tau2 + np.where(known, s2, 0.0))
        sim = np.where(known, sim, np.nan)
        mu_b, tau2_b = reml(sim, s2, mean)
        centre, var = _posterior(b, s2, mu_b, tau2_b)
        theta = centre + rng.normal(0, 1, (per, len(b))) * np.sqrt(var)
        out.append(theta - mu_b)
    sims = np.vstack(out)
    low, high = np.quantile(sims, [0.025, 0.975], axis=0)
    return Shrunk(mu, float(np.sqrt(tau2)), sims.mean(axis=0), low, high, sims)


def false_sign_rate(draws: np.ndarray) -> np.ndarray:
    """Local false sign rate of each column of ``draws``: the share of draws on the other
    side of zero from the majority (Stephens, 2017).

    Examples
    --------
    >>> false_sign_rate(np.array([[1.0, -1.0], [2.0, 1.0], [3.0, -2.0], [-1.0, -3.0]]))
    array([0.25, 0.25])
    """
    above = (draws > 0).mean(axis=0)
    below = (draws < 0).mean(axis=0)
    return 1.0 - np.maximum(above, below)


def false_sign_flags(draws: np.ndarray, alpha: float = 0.025) -> tuple[np.ndarray, float]:
    """Which groups to flag as credibly above or below zero, and the expected number of
    flags with the wrong sign.

    A group is flagged when its own false-sign rate is at most ``alpha`` (with 0.025, when its
    95% interval leaves out zero), so the flagged set's average false-sign rate is at most
    ``alpha`` too, and no flag rests on a group whose interval spans zero.

    Parameters
    ----------
    draws : numpy.ndarray
        Posterior draws, shape (draws, groups).
    alpha : float
        The largest false-sign rate of a flagged group.

    Returns
    -------
    flags : numpy.ndarray
        Per group ``+1`` (credibly above), ``-1`` (credibly below) or ``0``.
    expected_false : float
        Sum of the flagged groups' false-sign rates.

    Examples
    --------
    >>> d = np.column_stack([np.full(100, 1.0), np.r_[np.ones(60), -np.ones(40)],
    ...                      np.r_[-np.ones(98), np.ones(2)]])
    >>> flags, expected = false_sign_flags(d)
    >>> flags.tolist(), round(expected, 2)
    ([1, 0, -1], 0.02)
    """
    rate = false_sign_rate(draws)
    chosen = rate <= alpha
    flags = np.where(chosen, np.where(np.median(draws, axis=0) > 0, 1, -1), 0)
    return flags, float(rate[chosen].sum())
