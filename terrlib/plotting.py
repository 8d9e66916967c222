"""One plotting theme and the stage figures. Every function takes ``ax=None`` and returns the
Axes, seaborn style.

Examples
--------
>>> import pandas as pd
>>> ax = utilization_bars(pd.DataFrame({"territory_id": ["T1"], "utilization": [1.2]}))
>>> ax.get_ylabel()
'demand / capacity'
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns

from terrlib.results import missing

PALETTE = "tab20"


def set_theme() -> None:
    """Apply the terrlib theme (seaborn whitegrid, readable fonts, compact figures) to the
    process's matplotlib settings. Importing this module changes nothing: each stage notebook
    calls this once, so the report's figures look alike."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95)
    plt.rcParams.update(
        {
            "figure.figsize": (10, 4.5),
            "figure.dpi": 90,
            "axes.titleweight": "bold",
            # names from the data are drawn as they are: a "$" never starts mathtext
            "text.parse_math": False,
        }
    )


def _needs_data(plot: Callable) -> Callable:
    """A figure of a section without enough data draws nothing (the section says why)."""

    @functools.wraps(plot)
    def draw(*args, **kwargs):
        if missing(*args, *kwargs.values()):
            return None
        return plot(*args, **kwargs)

    return draw


def _ax(ax, size=(10, 4.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def state_lines(ax) -> None:
    """Draw the contiguous US state outlines (shipped with terrlib, no internet needed)."""
    from terrlib.geo import state_outlines

    for rings in state_outlines().values():
        for ring in rings:
            ax.plot(ring[:, 0], ring[:, 1], color="#b0b0b0", lw=0.5, zorder=0)


@_needs_data
def territory_map(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    ax=None,
    title: str = "",
    homes_label: str = "rep home",
    order=None,
    marked=None,
    by: str = "territory_id",
):
    """Accounts as points coloured by territory (or by ``by``, a column of ``accounts``),
    rep homes (labelled ``homes_label``) as black crosses, state outlines. ``order`` (the
    territories' ids, or the values of ``by``) fixes each one's colour, so that a territory
    keeps its colour from one map to the next; ``marked`` (booleans per account) rings the
    accounts it marks, e.g. those that change rep."""
    ax = _ax(ax, (11, 6.5))
    state_lines(ax)
    ax.grid(False)
    values = accounts[by].astype(str)
    if order is None:
        codes, _ = pd.factorize(values)
    else:
        codes = pd.Categorical(values, categories=[str(v) for v in order]).codes
    colours = plt.get_cmap(PALETTE)(np.maximum(codes, 0) % 20)
    ax.scatter(accounts["longitude"], accounts["latitude"], c=colours, s=4, alpha=0.6, lw=0)
    if marked is not None and np.asarray(marked).any():
        m = np.asarray(marked, bool)
        ax.scatter(
            accounts["longitude"].to_numpy()[m],
            accounts["latitude"].to_numpy()[m],
            facecolors="none",
            edgecolors="black",
            s=16,
            lw=0.5,
            label="changes rep",
        )
    ax.scatter(
        reps["home_longitude"],
        reps["home_latitude"],
        marker="x",
        c="black",
        s=30,
        label=homes_label,
    )
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect(1.25)
    ax.set_xlim(-125.5, -66)
    ax.set_ylim(24, 50)
    ax.legend(loc="lower left")
    ax.set_title(title or "Current territories (colour) and rep homes (x)")
    return ax


@_needs_data
def utilization_bars(workload: pd.DataFrame, ax=None, low: float = 0.8, high: float = 1.15):
    """Demand / capacity per territory, the capacity line at 1 and the plan's thresholds."""
    ax = _ax(ax)
    data = workload.sort_values("utilization", ascending=False)
    colours = np.where(
        data["utilization"] > high,
        "#c0392b",
        np.where(data["utilization"] < low, "#2980b9", "#7f8c8d"),
    )
    ax.bar(data["territory_id"].astype(str), data["utilization"], color=colours)
    ax.axhline(1.0, color="black", lw=1, label="capacity")
    ax.axhline(high, color="#c0392b", lw=0.8, ls="--", label=f"understaffed > {high:.0%}")
    ax.axhline(low, color="#2980b9", lw=0.8, ls="--", label=f"overstaffed < {low:.0%}")
    ax.set_ylabel("demand / capacity")
    ax.set_xlabel("territory")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax.legend(loc="upper right", fontsize=8)
    return ax


@_needs_data
def rate_with_interval(
    table: pd.DataFrame,
    label: str,
    rate: str = "win_rate",
    low: str = "ci_low",
    high: str = "ci_high",
    ax=None,
):
    """Horizontal points with 95% intervals (win rate by industry, for instance)."""
    ax = _ax(ax, (8, 0.35 * len(table) + 1.2))
    data = table.sort_values(rate)
    y = np.arange(len(data))
    ax.errorbar(
        data[rate],
        y,
        xerr=[data[rate] - data[low], data[high] - data[rate]],
        fmt="o",
        color="#34495e",
        capsize=3,
    )
    ax.set_yticks(y, data[label].astype(str))
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(f"{rate.replace('_', ' ')} (95% interval)")
    return ax


@_needs_data
def attainment_bars(scorecard: pd.DataFrame, ax=None):
    """Quota attainment per rep, sorted, with the 100% line."""
    ax = _ax(ax)
    data = scorecard.sort_values("attainment", ascending=False)
    ax.bar(
        data["rep_name"],
        data["attainment"],
        color=np.where(data["attainment"] >= 1, "#27ae60", "#95a5a6"),
    )
    ax.axhline(1.0, color="black", lw=1)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel("quota attainment")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    return ax


@_needs_data
def segment_bubbles(segments: pd.DataFrame, ax=None):
    """Potential against penetration per segment, bubble size = accounts."""
    ax = _ax(ax, (9, 5.5))
    size = 600 * segments["accounts"] / segments["accounts"].max()
    ax.scatter(
        segments["potential"] / 1e6,
        segments["penetration"],
        s=size,
        alpha=0.5,
        color="#16a085",
        edgecolor="black",
    )
    for _, row in segments.nlargest(12, "potential").iterrows():
        ax.annotate(row["segment"], (row["potential"] / 1e6, row["penetration"]), fontsize=7)
    ax.set_xlabel("annual potential ($M)")
    ax.set_ylabel("penetration (bookings / potential)")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    return ax


@_needs_data
def lorenz_curves(table: pd.DataFrame, columns: list[str], ax=None):
    """Lorenz curves: cumulative share of each measure against the cumulative share of
    territories, smallest first; the diagonal is perfect balance."""
    ax = _ax(ax, (6, 5.5))
    for col in columns:
        values = np.sort(table[col].to_numpy(float))
        cum = np.r_[0, np.cumsum(values)] / max(values.sum(), 1e-12)
        ax.plot(np.linspace(0, 1, len(cum)), cum, label=col.replace("_", " "))
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--", label="perfect balance")
    ax.set_xlabel("share of territories (smallest first)")
    ax.set_ylabel("cumulative share of the measure")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(fontsize=8)
    return ax


@_needs_data
def white_space_bars(territories: pd.DataFrame, ax=None):
    """Potential per territory split into what is booked and the white space, in $M."""
    ax = _ax(ax)
    data = territories.sort_values("white_space", ascending=False)
    x = data["territory_id"].astype(str)
    ax.bar(x, data["bookings_4q"] / 1e6, color="#27ae60", label="booked (last 4 quarters)")
    ax.bar(
        x,
        data["white_space"] / 1e6,
        bottom=data["bookings_4q"] / 1e6,
        color="#f5b041",
        label="white space",
    )
    ax.set_ylabel("annual potential ($M)")
    ax.set_xlabel("territory")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax.legend(fontsize=8)
    return ax


@_needs_data
def affinity_heatmap(lift: pd.DataFrame, ax=None):
    """Lift between products (how much likelier an account owns both than by chance)."""
    ax = _ax(ax, (7, 5.5))
    sns.heatmap(
        lift, annot=True, fmt=".1f", cmap="RdYlGn", center=1.0, ax=ax, cbar_kws={"label": "lift"}
    )
    ax.set_xlabel("")
    ax.set_ylabel("")
    return ax


def _log_multiplier_axis(axis, set_scale) -> None:
    set_scale("log")
    axis.set_major_locator(matplotlib.ticker.FixedLocator([0.25, 0.5, 0.75, 1, 1.5, 2, 4]))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


@_needs_data
def rating_intervals(effects: pd.DataFrame, ax=None):
    """Each rep's adjusted rating (bookings per decided deal against a typical rep on the same
    deals) with its 95% interval; blue for reps rated above the team, orange for those rated
    below, grey for those who cannot be told apart (colour-blind safe)."""
    data = effects.dropna(subset=["multiplier"]).sort_values("multiplier")
    ax = _ax(ax, (8, 0.22 * len(data) + 1.5))
    y = np.arange(len(data))
    colours = (
        data["rating"]
        .map({"top performer": "#0072B2", "needs help": "#D55E00"})
        .fillna("#7f8c8d")
        .to_numpy()
    )
    ax.hlines(y, data["multiplier_low"], data["multiplier_high"], color=colours, lw=2)
    ax.scatter(data["multiplier"], y, color=colours, zorder=3, s=18)
    ax.axvline(1.0, color="black", lw=0.8)
    _log_multiplier_axis(ax.xaxis, ax.set_xscale)
    ax.set_yticks(y, data["rep_name"], fontsize=7)
    ax.set_xlabel(
        "bookings per decided deal, against a typical rep on the same deals (95% interval)"
    )
    return ax


@_needs_data
def raw_vs_adjusted(effects: pd.DataFrame, ax=None):
    """Raw quota attainment (four quarters) against the adjusted rating, one dot per rep."""
    ax = _ax(ax, (8, 5.5))
    data = effects.dropna(subset=["multiplier", "attainment_4q"])
    ax.scatter(data["attainment_4q"], data["multiplier"], color="#34495e", s=20)
    for row in data[data["raw_attainment_says"] != ""].itertuples():
        ax.annotate(
            row.rep_name,
            (row.attainment_4q, row.multiplier),
            fontsize=7,
            color="#c0392b" if row.raw_attainment_says.startswith("flattered") else "#27ae60",
        )
    ax.axvline(1.0, color="black", lw=0.8, ls="--")
    ax.axhline(1.0, color="black", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([0.1, 0.25, 0.5, 1, 2, 4, 8]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    _log_multiplier_axis(ax.yaxis, ax.set_yscale)
    ax.set_xlabel("raw quota attainment, last four quarters")
    ax.set_ylabel("adjusted rating")
    return ax


@_needs_data
def team_trend(team: pd.DataFrame, ax=None):
    """Team bookings per quarter (bars) and win rate (line)."""
    ax = _ax(ax, (10, 4))
    ax.bar(team["quarter"].astype(str), team["bookings"] / 1e6, color="#16a085")
    ax.set_ylabel("bookings ($M)")
    twin = ax.twinx()
    twin.plot(team["quarter"].astype(str), team["win_rate"], color="#c0392b", marker="o")
    twin.set_ylabel("win rate", color="#c0392b")
    twin.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    twin.grid(False)
    ax.tick_params(axis="x", rotation=45)
    return ax


@_needs_data
def calibration_plot(table: pd.DataFrame, ax=None, label: str = "win rate"):
    """Predicted against observed rates per fifth of the holdout; the diagonal is perfect."""
    ax = _ax(ax, (5.5, 5))
    ax.plot(table["predicted"], table["observed"], marker="o", color="#16a085")
    top = max(table["predicted"].max(), table["observed"].max()) * 1.1
    ax.plot([0, top], [0, top], color="black", lw=0.8, ls="--", label="perfect calibration")
    ax.set_xlabel(f"predicted {label}")
    ax.set_ylabel(f"observed {label}")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(fontsize=8)
    return ax


@_needs_data
def survival_curves(curves: pd.DataFrame, ax=None, max_days: int = 365):
    """Kaplan-Meier curves: share of opportunities still undecided after a number of days."""
    ax = _ax(ax, (9, 4.5))
    for name, grp in curves.groupby("group"):
        ax.step(grp["days"], grp["still_open"], where="post", label=str(name))
    ax.set_xlim(0, max_days)
    ax.set_xlabel("days since the opportunity was created")
    ax.set_ylabel("share still undecided")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(fontsize=8, ncol=2)
    return ax


@_needs_data
def retention_plot(table: pd.DataFrame, ax=None):
    """Share of customers still buying k quarters after their first purchase, by segment."""
    ax = _ax(ax, (8, 4.5))
    for name, grp in table.groupby("segment"):
        ax.plot(grp["quarters"], grp["retained"], marker="o", label=str(name))
    ax.set_xlabel("quarters since the first purchase")
    ax.set_ylabel("share buying again at or after")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(fontsize=8)
    return ax


@_needs_data
def tier_lift(table: pd.DataFrame, ax=None):
    """Average bookings per account by ICP tier against the average account (lift)."""
    ax = _ax(ax, (6, 4))
    ax.bar(table["tier"].astype(str), table["lift"], color="#16a085")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xlabel("ICP tier")
    ax.set_ylabel("bookings against the average account")
    for x, v in enumerate(table["lift"]):
        ax.annotate(f"{v:.1f}x", (x, v), ha="center", va="bottom", fontsize=8)
    return ax


@_needs_data
def balance_before_after(
    summary: pd.DataFrame, tolerance: float, ax=None, measure: str = "workload"
):
    """Each territory's workload (or potential) against target, today (grey) and proposed
    (colour), with the tolerance band shaded."""
    ax = _ax(ax, (11, 4.5))
    data = summary.sort_values(f"{measure}_vs_target_before", ascending=False)
    x = np.arange(len(data))
    ax.axhspan(
        1 - tolerance, 1 + tolerance, color="#2ecc71", alpha=0.12, label=f"band ±{tolerance:.0%}"
    )
    ax.bar(x - 0.2, data[f"{measure}_vs_target_before"], width=0.4, color="#bdc3c7", label="today")
    ax.bar(
        x + 0.2, data[f"{measure}_vs_target_after"], width=0.4, color="#2c7fb8", label="proposed"
    )
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(x, data["territory_id"].astype(str), rotation=90, fontsize=7)
    ax.set_ylabel(f"{measure} / target")
    ax.set_xlabel("territory (sorted by today's load)")
    ax.legend(loc="upper right", fontsize=8)
    return ax


@_needs_data
def maps_before_after(accounts: pd.DataFrame, proposed: pd.Series, reps: pd.DataFrame):
    """Two territory maps side by side, today and proposed: each territory keeps its
    colour in both, and the accounts that change rep are ringed on the proposed map."""
    fig, axes = plt.subplots(1, 2, figsize=(16, 5.5))
    after = accounts.assign(territory_id=proposed.to_numpy())
    order = reps["territory_id"].astype(str).tolist()
    today = accounts["territory_id"].astype(str).to_numpy()
    moved = (today != after["territory_id"].astype(str).to_numpy()) & (today != "")
    territory_map(accounts, reps, ax=axes[0], title="Today", order=order)
    territory_map(
        after, reps, ax=axes[1], title=f"Proposed ({moved.sum():,} accounts change rep, ringed)",
        order=order, marked=moved,
    )  # fmt: skip
    fig.tight_layout()
    return fig


@_needs_data
def rollup_map(accounts: pd.DataFrame, proposed: pd.Series, reps: pd.DataFrame, level: str):
    """The proposed alignment coloured by ``level`` (a column of ``reps``: district or
    region), rep homes as crosses: whether the teams stay together on the map."""
    fig, ax = plt.subplots(figsize=(11, 6.5))
    team = reps.set_index(reps["territory_id"].astype(str))[level].astype(str)
    after = accounts.assign(**{level: proposed.astype(str).map(team).to_numpy()})
    order = list(dict.fromkeys(reps[level].astype(str)))
    territory_map(after, reps, ax=ax, title=f"Proposed alignment by {level}", order=order, by=level)
    fig.tight_layout()
    return fig


@_needs_data
def scratch_maps(opt, plan):
    """Two territory maps side by side: ``opt``'s proposal from today's rep homes, and
    ``plan`` (:func:`terrlib.territory.scratch.from_scratch`) drawn from scratch, with its bases."""
    fig, axes = plt.subplots(1, 2, figsize=(16, 5.5))
    proposed = opt.accounts.assign(territory_id=opt.assignment_.to_numpy())
    territory_map(proposed, opt.territories, ax=axes[0], title="Proposed, from today's homes")
    scratch = opt.accounts.assign(territory_id=plan.optimizer.assignment_.to_numpy())
    territory_map(
        scratch,
        plan.bases,
        ax=axes[1],
        title="Drawn from scratch, reps at the bases where travel is least",
        homes_label="base",
    )
    fig.tight_layout()
    return fig


@_needs_data
def disruption_curve_plot(curve: pd.DataFrame, ax=None):
    """The tightest workload band found (and the LP's bound on it) and the travel change
    against the cap on the share of accounts moved."""
    ax = _ax(ax, (8, 4))
    ok = curve.dropna(subset=["workload_tolerance"])
    if ok.empty:
        ax.text(0.5, 0.5, "no cap in the list can be met", ha="center", transform=ax.transAxes)
        return ax
    caps = ok["max_moved_share"]
    ax.plot(caps, ok["workload_tolerance"], "o-", color="#2c7fb8", label="workload band found ±")
    ax.plot(
        caps, ok["tightest_possible"], ":", color="#2c7fb8", label="no plan can be tighter than"
    )
    ax.plot(caps, ok["travel_vs_today"], "s--", color="#e67e22", label="travel vs today")
    ax.axhline(0, color="black", lw=0.6)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:+.0%}"))
    ax.set_xlabel("cap on accounts moved (100% = no cap)")
    ax.set_ylabel("band (±) and travel change")
    top = float(ok["workload_tolerance"].iloc[1:].max()) if len(ok) > 1 else 0.3
    ax.set_ylim(min(-0.05, float(ok["travel_vs_today"].min()) - 0.05), max(0.3, top * 1.3))
    if ok["workload_tolerance"].iloc[0] > max(0.3, top * 1.3):
        first = ok.iloc[0]
        ax.annotate(
            f"{first['max_moved_share']:.0%} moved: ±{first['workload_tolerance']:.0%}",
            (first["max_moved_share"], max(0.3, top * 1.3) * 0.97),
            fontsize=8, ha="left", va="top",
        )  # fmt: skip
    ax.legend(fontsize=8)
    return ax
