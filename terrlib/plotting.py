"""One plotting theme and the stage figures. Every chart function takes ``ax=None`` and returns
the Axes, seaborn style; the map functions that draw several panels return the Figure.

Every figure says what it shows: each function attaches a description with the figure's
content (what is plotted and its key fact, in numbers) that the notebook shows as the
image's alternative text (:func:`figure_png`, installed by :func:`set_theme`), so a reader
who cannot see the image, or a search, gets the finding too. Colours come from
:mod:`terrlib.palette` (safe for colour-blind readers); text is at least :data:`SMALL` points
and figures are drawn at :data:`DPI` dots per inch, sized to show at 100% in the report.

Examples
--------
>>> import pandas as pd
>>> ax = utilization_bars(pd.DataFrame({"territory_id": ["T1", "T2"], "utilization": [1.2, 0.9]}))
>>> ax.get_ylabel()
'demand / capacity'
>>> description(ax.figure)
'Bar chart of demand against capacity for 2 territories, highest first: 1 above 115% \
(understaffed), none below 80% (overstaffed); highest T1 at 120%, lowest T2 at 90%.'
"""

from __future__ import annotations

import base64
import functools
import io
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from terrlib import geo, palette
from terrlib.palette import BAD, BLUE, GOOD, GREY, INK, LIGHT, ORANGE, SKY, VERMILLION
from terrlib.results import missing

DPI = 150  # dots per inch of every figure the report shows
SMALL = 9  # points: the smallest text in any figure
WIDTH = 10.0  # inches: the widest figure, which fits the report's column at 100%
CSS_PX_PER_INCH = 96  # a browser's inch at 100% zoom
CROWDED = 0.3  # inches between area centres on a map below which their labels crowd
_DESCRIPTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def set_theme() -> None:
    """Apply the terrlib theme (seaborn whitegrid, readable fonts, colour-blind-safe colours,
    :data:`DPI`) to the process's matplotlib settings, and in a notebook show each figure
    with its description as alternative text (:func:`show_descriptions`). Importing this
    module changes nothing: each stage notebook calls this once, so the report's figures look
    alike."""
    show_descriptions()  # first: starting the notebook's backend resets some settings
    sns.set_theme(
        style="whitegrid", context="notebook", font_scale=0.95, palette=list(palette.CATEGORICAL)
    )
    plt.rcParams.update(
        {
            "figure.figsize": (WIDTH, 4.5),
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "axes.titleweight": "bold",
            "image.cmap": palette.SEQUENTIAL,
            # names from the data are drawn as they are: a "$" never starts mathtext
            "text.parse_math": False,
        }
    )


def show_descriptions(shell=None) -> bool:
    """Have IPython show figures as :func:`figure_png` draws them (with their description as
    alternative text); ``False`` outside IPython.

    The notebook's matplotlib backend is started first, since starting it later would put
    its own way of showing figures back in place of this one.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with the notebooks
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    plt.switch_backend(matplotlib.get_backend())  # the inline backend registers itself now
    shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)
    return True


def figure_png(fig: Figure) -> tuple[str, dict] | None:
    """A figure as the notebook and the report show it: a PNG at :data:`DPI` (256 colours,
    which keeps pages small) in base64, with display metadata: ``alt`` (the figure's
    :func:`description`) and its size in CSS pixels (an inch of figure shows as an inch of
    screen at 100%). ``None`` for a figure with nothing drawn.

    Examples
    --------
    >>> fig, ax = plt.subplots(figsize=(4, 3))
    >>> _ = describe(ax, "A line that rises.")
    >>> data, meta = figure_png(fig)
    >>> meta["alt"], data[:8]
    ('A line that rises.', 'iVBORw0K')
    """
    if not fig.axes:
        return None
    from PIL import Image

    drawn = io.BytesIO()
    fig.savefig(
        drawn,
        format="png",
        dpi=DPI,
        bbox_inches="tight",
        facecolor=fig.get_facecolor(),
        edgecolor=fig.get_edgecolor(),
    )
    image = Image.open(drawn).convert("RGBA")
    flat = Image.new("RGBA", image.size, "white")
    flat.alpha_composite(image)
    small = io.BytesIO()
    flat.convert("RGB").quantize(
        colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    ).save(small, format="png", optimize=True)
    width, height = image.size
    css = CSS_PX_PER_INCH / DPI
    return base64.b64encode(small.getvalue()).decode("ascii"), {
        "alt": description(fig),
        "width": round(width * css),
        "height": round(height * css),
    }


def describe(target, text: str):
    """Say what a figure, or one Axes of it, shows (its alternative text); returns
    ``target``. A figure's own description stands for the whole figure; else the
    descriptions of its Axes are read in order."""
    _DESCRIPTIONS[target] = " ".join(text.split())
    return target


def description(fig: Figure) -> str:
    """What a figure shows, in words: its own description, else its Axes', else their titles
    and axis labels.

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> _ = ax.set(title="Bookings", xlabel="quarter", ylabel="$M")
    >>> description(fig)
    'Chart: Bookings (quarter against $M).'
    """
    if fig in _DESCRIPTIONS:
        return _DESCRIPTIONS[fig]
    said = [_DESCRIPTIONS[ax] for ax in fig.axes if ax in _DESCRIPTIONS]
    if said:
        return " ".join(said)
    parts = []
    for ax in fig.axes:
        axes = " against ".join(t for t in (ax.get_xlabel(), ax.get_ylabel()) if t)
        name = ax.get_title() or fig.get_suptitle() or "chart"
        parts.append(f"{name} ({axes})" if axes else name)
    return "Chart: " + "; ".join(parts) + "."


def _needs_data(plot: Callable) -> Callable:
    """A figure of a section without enough data draws nothing (the section says why)."""

    @functools.wraps(plot)
    def draw(*args, **kwargs):
        if missing(*args, *kwargs.values()):
            return None
        return plot(*args, **kwargs)

    return draw


def _ax(ax, size=(WIDTH, 4.5)):
    """``ax``, or the Axes of a new figure of ``size`` inches."""
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def _pct(value: float) -> str:
    """``0.456`` as ``"46%"``."""
    return f"{value:.0%}"


def _names(values: Sequence[str], most: int = 4) -> str:
    """``a, b and c``; beyond ``most``, ``a, b, c, d and 3 more``."""
    values = [str(v) for v in values]
    if len(values) > most:
        return ", ".join(values[:most]) + f" and {len(values) - most} more"
    if len(values) > 1:
        return ", ".join(values[:-1]) + f" and {values[-1]}"
    return values[0] if values else "none"


def _count(n: int) -> str:
    """A count in words: ``"none"`` or ``"1,234"``."""
    return "none" if n == 0 else f"{n:,}"


@_needs_data
def utilization_bars(workload: pd.DataFrame, ax=None, low: float = 0.8, high: float = 1.15):
    """Demand / capacity per territory, the capacity line at 1 and the plan's thresholds:
    vermillion bars above ``high`` (understaffed), blue below ``low`` (overstaffed)."""
    ax = _ax(ax)
    data = workload.sort_values("utilization", ascending=False)
    u = data["utilization"]
    colours = np.where(u > high, BAD, np.where(u < low, GOOD, GREY))
    ax.bar(data["territory_id"].astype(str), u, color=colours)
    ax.axhline(1.0, color=INK, lw=1, label="capacity")
    ax.axhline(high, color=BAD, lw=1, ls="--", label=f"understaffed > {high:.0%}")
    ax.axhline(low, color=GOOD, lw=1, ls="--", label=f"overstaffed < {low:.0%}")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel("demand / capacity")
    ax.set_xlabel("territory")
    ax.tick_params(axis="x", rotation=90, labelsize=SMALL)
    ax.legend(loc="upper right")
    first, last = data.iloc[0], data.iloc[-1]
    return describe(
        ax,
        f"Bar chart of demand against capacity for {len(data):,} territories, highest first: "
        f"{_count(int((u > high).sum()))} above {high:.0%} (understaffed), "
        f"{_count(int((u < low).sum()))} below {low:.0%} (overstaffed); highest "
        f"{first['territory_id']} at {_pct(first['utilization'])}, lowest "
        f"{last['territory_id']} at {_pct(last['utilization'])}.",
    )


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
        color=INK,
        capsize=3,
    )
    ax.set_yticks(y, data[label].astype(str))
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    words = rate.replace("_", " ")
    ax.set_xlabel(f"{words} (95% interval)")
    top, bottom = data.iloc[-1], data.iloc[0]

    def said(row) -> str:
        return f"{row[label]} {_pct(row[rate])} ({_pct(row[low])} to {_pct(row[high])})"

    return describe(
        ax,
        f"Dot chart of {words} by {label.replace('_', ' ')} with 95% intervals, "
        f"{len(data):,} groups: highest {said(top)}, lowest {said(bottom)}.",
    )


@_needs_data
def attainment_bars(scorecard: pd.DataFrame, ax=None, period: str = ""):
    """Quota attainment per rep, sorted, with the 100% line: blue bars reached quota."""
    ax = _ax(ax)
    data = scorecard.sort_values("attainment", ascending=False)
    made = data["attainment"] >= 1
    ax.bar(data["rep_name"].astype(str), data["attainment"], color=np.where(made, GOOD, GREY))
    ax.axhline(1.0, color=INK, lw=1)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel("quota attainment")
    ax.tick_params(axis="x", rotation=90, labelsize=SMALL)
    first, last = data.iloc[0], data.iloc[-1]
    when = f", {period}" if period else ""
    return describe(
        ax,
        f"Bar chart of quota attainment per rep{when}, highest first: {int(made.sum()):,} of "
        f"{len(data):,} reps at or above 100%; highest {first['rep_name']} at "
        f"{_pct(first['attainment'])}, lowest {last['rep_name']} at {_pct(last['attainment'])}.",
    )


@_needs_data
def segment_bubbles(segments: pd.DataFrame, ax=None):
    """Potential against penetration per segment, bubble size = accounts."""
    ax = _ax(ax, (9, 5.5))
    size = 600 * segments["accounts"] / segments["accounts"].max()
    ax.scatter(
        segments["potential"] / 1e6,
        segments["penetration"],
        s=size,
        alpha=0.6,
        color=SKY,
        edgecolor=INK,
    )
    for _, row in segments.nlargest(12, "potential").iterrows():
        ax.annotate(row["segment"], (row["potential"] / 1e6, row["penetration"]), fontsize=SMALL)
    ax.set_xlabel("annual potential ($M)")
    ax.set_ylabel("penetration (bookings / potential)")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    top = segments.nlargest(1, "potential").iloc[0]
    least = segments.nsmallest(1, "penetration").iloc[0]
    return describe(
        ax,
        f"Bubble chart of {len(segments):,} segments, annual potential against penetration, "
        f"bubble size the number of accounts: most potential {top['segment']} "
        f"(${top['potential'] / 1e6:,.1f}M, {_pct(top['penetration'])} won); least "
        f"penetrated {least['segment']} ({_pct(least['penetration'])} of "
        f"${least['potential'] / 1e6:,.1f}M).",
    )


def _gini(values: np.ndarray) -> float:
    """The Gini coefficient of ``values`` (0: all equal; towards 1: one holds it all)."""
    values = np.sort(np.asarray(values, float))
    total = values.sum()
    if len(values) == 0 or total <= 0:
        return 0.0
    cum = np.cumsum(values) / total
    return float(1 - (2 * cum.sum() - 1) / len(values))


@_needs_data
def lorenz_curves(table: pd.DataFrame, columns: list[str], ax=None):
    """Lorenz curves: cumulative share of each measure against the cumulative share of
    territories, smallest first; the diagonal is perfect balance."""
    ax = _ax(ax, (6.5, 5.5))
    for col, style in zip(columns, ["-", "--", "-.", ":"] * len(columns), strict=False):
        values = np.sort(table[col].to_numpy(float))
        cum = np.r_[0, np.cumsum(values)] / max(values.sum(), 1e-12)
        ax.plot(np.linspace(0, 1, len(cum)), cum, ls=style, lw=2, label=col.replace("_", " "))
    ax.plot([0, 1], [0, 1], color=INK, lw=0.8, ls="--", label="perfect balance")
    ax.set_xlabel("share of territories (smallest first)")
    ax.set_ylabel("cumulative share of the measure")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend()
    ginis = ", ".join(f"{c.replace('_', ' ')} {_gini(table[c]):.2f}" for c in columns)
    return describe(
        ax,
        f"Lorenz curves of {_names([c.replace('_', ' ') for c in columns], 6)} across "
        f"{len(table):,} territories against the diagonal of perfect balance; Gini "
        f"(0 is equal): {ginis}.",
    )


@_needs_data
def white_space_bars(territories: pd.DataFrame, ax=None):
    """Potential per territory split into what is booked and the white space, in $M."""
    ax = _ax(ax)
    data = territories.sort_values("white_space", ascending=False)
    x = data["territory_id"].astype(str)
    ax.bar(x, data["bookings_4q"] / 1e6, color=BLUE, label="booked (last 4 quarters)")
    ax.bar(
        x,
        data["white_space"] / 1e6,
        bottom=data["bookings_4q"] / 1e6,
        color=ORANGE,
        label="white space",
    )
    ax.set_ylabel("annual potential ($M)")
    ax.set_xlabel("territory")
    ax.tick_params(axis="x", rotation=90, labelsize=SMALL)
    ax.legend()
    top = data.iloc[0]
    return describe(
        ax,
        f"Stacked bars of annual potential for {len(data):,} territories, most white space "
        f"first: ${data['bookings_4q'].sum() / 1e6:,.1f}M booked in the last four quarters "
        f"and ${data['white_space'].sum() / 1e6:,.1f}M of white space in all; most white "
        f"space {top['territory_id']} (${top['white_space'] / 1e6:,.1f}M).",
    )


@_needs_data
def affinity_heatmap(lift: pd.DataFrame, ax=None):
    """Lift between products (how much likelier an account owns both than by chance), purple
    above 1 and orange below."""
    ax = _ax(ax, (7.5, 6))
    sns.heatmap(
        lift,
        annot=True,
        fmt=".1f",
        cmap=palette.DIVERGING,
        center=1.0,
        ax=ax,
        cbar_kws={"label": "lift"},
        annot_kws={"fontsize": SMALL + 1},
    )
    ax.set_xlabel("")
    ax.set_ylabel("")
    pairs = lift.where(~np.eye(len(lift), dtype=bool) if lift.shape[0] == lift.shape[1] else True)
    pairs = pairs.stack().dropna()
    if pairs.empty:
        return describe(ax, f"Heatmap of lift between {len(lift):,} products.")
    (a, b), best = pairs.idxmax(), pairs.max()
    (c, d), worst = pairs.idxmin(), pairs.min()
    return describe(
        ax,
        f"Heatmap of lift between {len(lift):,} products (1 is no link): strongest pair "
        f"{a} and {b} at {best:.1f}x, weakest {c} and {d} at {worst:.1f}x.",
    )


def _log_multiplier_axis(axis, set_scale) -> None:
    """A log axis of multipliers, ticked ``0.25x`` to ``4x``."""
    set_scale("log")
    axis.set_major_locator(matplotlib.ticker.FixedLocator([0.25, 0.5, 0.75, 1, 1.5, 2, 4]))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


@_needs_data
def rating_intervals(effects: pd.DataFrame, ax=None):
    """Each rep's adjusted rating (bookings per decided deal against a typical rep on the same
    deals) with its 95% interval; blue for reps rated above the team, vermillion for those
    rated below, grey for those who cannot be told apart (colour-blind safe)."""
    data = effects.dropna(subset=["multiplier"]).sort_values("multiplier")
    ax = _ax(ax, (8, 0.24 * len(data) + 1.5))
    y = np.arange(len(data))
    colours = data["rating"].map({"top performer": GOOD, "needs help": BAD}).fillna(GREY).to_numpy()
    ax.hlines(y, data["multiplier_low"], data["multiplier_high"], color=colours, lw=2)
    ax.scatter(data["multiplier"], y, color=colours, zorder=3, s=18)
    ax.axvline(1.0, color=INK, lw=0.8)
    _log_multiplier_axis(ax.xaxis, ax.set_xscale)
    ax.set_yticks(y, data["rep_name"].astype(str), fontsize=SMALL)
    ax.set_xlabel(
        "bookings per decided deal, against a typical rep on the same deals (95% interval)"
    )
    top = data.loc[data["rating"] == "top performer", "rep_name"][::-1]
    help_ = data.loc[data["rating"] == "needs help", "rep_name"]
    rest = len(data) - len(top) - len(help_)
    return describe(
        ax,
        f"Adjusted rating per rep with 95% intervals, {len(data):,} reps: "
        f"{_count(len(top))} credibly above the team ({_names(top)}), {_count(len(help_))} "
        f"credibly below ({_names(help_)}), {rest:,} that cannot be told apart from it; "
        f"ratings from {data['multiplier'].min():.2f}x to {data['multiplier'].max():.2f}x.",
    )


@_needs_data
def raw_vs_adjusted(effects: pd.DataFrame, ax=None):
    """Raw quota attainment (four quarters) against the adjusted rating, one dot per rep;
    the reps raw attainment misjudges are named, vermillion when it flatters them and blue
    when it hides them."""
    ax = _ax(ax, (8, 5.5))
    data = effects.dropna(subset=["multiplier", "attainment_4q"])
    ax.scatter(data["attainment_4q"], data["multiplier"], color=GREY, s=22)
    says = data["raw_attainment_says"].fillna("").astype(str)
    for row, said in zip(data.itertuples(), says, strict=True):
        if said:
            ax.annotate(
                row.rep_name,
                (row.attainment_4q, row.multiplier),
                fontsize=SMALL,
                color=BAD if said.startswith("flattered") else GOOD,
            )
    ax.axvline(1.0, color=INK, lw=0.8, ls="--")
    ax.axhline(1.0, color=INK, lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([0.1, 0.25, 0.5, 1, 2, 4, 8]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    _log_multiplier_axis(ax.yaxis, ax.set_yscale)
    ax.set_xlabel("raw quota attainment, last four quarters")
    ax.set_ylabel("adjusted rating")
    flattered = data.loc[says.str.startswith("flattered").to_numpy(), "rep_name"]
    hidden = data.loc[((says != "") & ~says.str.startswith("flattered")).to_numpy(), "rep_name"]
    return describe(
        ax,
        f"Scatter of raw quota attainment (four quarters) against the adjusted rating for "
        f"{len(data):,} reps: {_count(len(flattered))} flattered by their territory "
        f"({_names(flattered)}), {_count(len(hidden))} held back by it ({_names(hidden)}).",
    )


@_needs_data
def team_trend(team: pd.DataFrame, ax=None):
    """Team bookings per quarter (bars) and win rate (line)."""
    ax = _ax(ax, (WIDTH, 4))
    quarters = team["quarter"].astype(str)
    ax.bar(quarters, team["bookings"] / 1e6, color=SKY)
    ax.set_ylabel("bookings ($M)")
    twin = ax.twinx()
    twin.plot(quarters, team["win_rate"], color=VERMILLION, marker="o", lw=2)
    twin.set_ylabel("win rate (line)", color=VERMILLION)
    twin.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    twin.grid(False)
    ax.tick_params(axis="x", rotation=45)
    last = team.iloc[-1]
    before = f" against ${team['bookings'].iloc[-2] / 1e6:,.1f}M the quarter before" * (
        len(team) > 1
    )
    return describe(
        ax,
        f"Team bookings per quarter (bars, $M) and win rate (line), {quarters.iloc[0]} to "
        f"{quarters.iloc[-1]}: ${last['bookings'] / 1e6:,.1f}M in {quarters.iloc[-1]}"
        f"{before}; win rate {_pct(last['win_rate'])}, between "
        f"{_pct(team['win_rate'].min())} and {_pct(team['win_rate'].max())} over the period.",
    )


@_needs_data
def calibration_plot(table: pd.DataFrame, ax=None, label: str = "win rate"):
    """Predicted against observed rates per fifth of the holdout; the diagonal is perfect."""
    ax = _ax(ax, (6, 5))
    ax.plot(table["predicted"], table["observed"], marker="o", lw=2, color=BLUE, label="holdout")
    top = max(table["predicted"].max(), table["observed"].max()) * 1.1
    ax.plot([0, top], [0, top], color=INK, lw=0.8, ls="--", label="perfect calibration")
    ax.set_xlabel(f"predicted {label}")
    ax.set_ylabel(f"observed {label}")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend()
    gap = (table["observed"] - table["predicted"]).abs().max()
    return describe(
        ax,
        f"Calibration: predicted against observed {label} for {len(table):,} groups of the "
        f"holdout, with the diagonal of perfect calibration; predicted "
        f"{_pct(table['predicted'].min())} to {_pct(table['predicted'].max())}, observed "
        f"{_pct(table['observed'].min())} to {_pct(table['observed'].max())}, at most "
        f"{gap * 100:.0f} points apart.",
    )


@_needs_data
def survival_curves(curves: pd.DataFrame, ax=None, max_days: int = 365):
    """Kaplan-Meier curves: share of opportunities still undecided after a number of days."""
    ax = _ax(ax, (9, 4.5))
    at = min(90, max_days)
    still = []
    for (name, grp), style in zip(
        curves.groupby("group"), ["-", "--", "-.", ":"] * 9, strict=False
    ):
        ax.step(grp["days"], grp["still_open"], where="post", lw=2, ls=style, label=str(name))
        before = grp.loc[grp["days"] <= at, "still_open"]
        still.append(f"{name} {_pct(before.iloc[-1] if len(before) else 1.0)}")
    ax.set_xlim(0, max_days)
    ax.set_xlabel("days since the opportunity was created")
    ax.set_ylabel("share still undecided")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(ncol=2)
    return describe(
        ax,
        f"Curves of the share of opportunities still undecided by days since "
        f"creation, one per group; still undecided after {at} days: {', '.join(still)}.",
    )


@_needs_data
def retention_plot(table: pd.DataFrame, ax=None):
    """Share of customers still buying k quarters after their first purchase, by segment."""
    ax = _ax(ax, (8, 4.5))
    k = 4 if (table["quarters"] == 4).any() else int(table["quarters"].max())
    kept = []
    for (name, grp), mark in zip(table.groupby("segment"), "osD^v<>p" * 9, strict=False):
        ax.plot(grp["quarters"], grp["retained"], marker=mark, lw=2, label=str(name))
        row = grp.loc[grp["quarters"] == k, "retained"]
        if len(row):
            kept.append(f"{name} {_pct(row.iloc[0])}")
    ax.set_xlabel("quarters since the first purchase")
    ax.set_ylabel("share buying again at or after")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend()
    return describe(
        ax,
        f"Share of customers buying again at least k quarters after their first purchase, "
        f"one line per segment; at {k} quarters: {', '.join(kept) or 'no data'}.",
    )


@_needs_data
def tier_lift(table: pd.DataFrame, ax=None):
    """Average bookings per account by ICP tier against the average account (lift)."""
    ax = _ax(ax, (6, 4))
    ax.bar(table["tier"].astype(str), table["lift"], color=BLUE)
    ax.axhline(1.0, color=INK, lw=0.8)
    ax.set_xlabel("ICP tier")
    ax.set_ylabel("bookings against the average account")
    for x, v in enumerate(table["lift"]):
        ax.annotate(f"{v:.1f}x", (x, v), ha="center", va="bottom", fontsize=SMALL + 1)
    lifts = ", ".join(f"{t} {v:.1f}x" for t, v in zip(table["tier"], table["lift"], strict=True))
    return describe(
        ax,
        f"Bar chart of average bookings per account by ICP tier against the average account "
        f"(1x): {lifts}.",
    )


@_needs_data
def balance_before_after(
    summary: pd.DataFrame, tolerance: float, ax=None, measure: str = "workload"
):
    """Each territory's workload (or potential) against target, today (grey) and proposed
    (blue), with the tolerance band shaded."""
    ax = _ax(ax, (WIDTH, 4.5))
    before, after = f"{measure}_vs_target_before", f"{measure}_vs_target_after"
    data = summary.sort_values(before, ascending=False)
    x = np.arange(len(data))
    ax.axhspan(1 - tolerance, 1 + tolerance, color=SKY, alpha=0.2, label=f"band ±{tolerance:.0%}")
    ax.bar(x - 0.2, data[before], width=0.4, color=LIGHT, label="today")
    ax.bar(x + 0.2, data[after], width=0.4, color=BLUE, label="proposed")
    ax.axhline(1.0, color=INK, lw=0.8)
    ax.set_xticks(x, data["territory_id"].astype(str), rotation=90, fontsize=SMALL)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel(f"{measure} / target")
    ax.set_xlabel("territory (sorted by today's load)")
    ax.legend(loc="upper right")

    def inside(col: str) -> int:
        return int(((data[col] - 1).abs() <= tolerance + 1e-9).sum())

    worst = data.loc[(data[after] - 1).abs().idxmax()]
    return describe(
        ax,
        f"Paired bars of {measure} against target per territory, today and proposed, for "
        f"{len(data):,} territories with a band of ±{tolerance:.0%}: {inside(before):,} within "
        f"the band today, {inside(after):,} proposed; furthest from target when proposed "
        f"{worst['territory_id']} at {_pct(worst[after])}.",
    )


@_needs_data
def disruption_curve_plot(curve: pd.DataFrame, ax=None, proposal: dict | None = None):
    """The tightest workload band found (and the LP's bound on it) and the travel change
    against the cap on the share of accounts moved, with ``proposal`` (the curve result's
    ``proposal``: its cap, accounts moved and band) marked."""
    ax = _ax(ax, (8, 4.5))
    ok = curve.dropna(subset=["workload_tolerance"])
    if ok.empty:
        ax.text(0.5, 0.5, "no cap in the list can be met", ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return describe(ax, "No cap on accounts moved in the list can be met.")
    caps = ok["max_moved_share"]
    ax.plot(caps, ok["workload_tolerance"], "o-", lw=2, color=BLUE, label="workload band found ±")
    ax.plot(caps, ok["tightest_possible"], ":", lw=2, color=BLUE, label="no plan can be tighter")
    ax.plot(caps, ok["travel_vs_today"], "s--", lw=2, color=ORANGE, label="travel vs today")
    ax.axhline(0, color=INK, lw=0.6)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:+.0%}"))
    ax.set_xlabel("cap on accounts moved (100% = no cap)")
    ax.set_ylabel("band (±) and travel change")
    top = float(ok["workload_tolerance"].iloc[1:].max()) if len(ok) > 1 else 0.3
    ceiling = max(0.3, top * 1.3)
    ax.set_ylim(min(-0.05, float(ok["travel_vs_today"].min()) - 0.05), ceiling)
    first = ok.iloc[0]
    if first["workload_tolerance"] > ceiling:
        ax.annotate(
            f"{first['max_moved_share']:.0%} moved: ±{first['workload_tolerance']:.0%}",
            (first["max_moved_share"], ceiling * 0.97),
            fontsize=SMALL, ha="left", va="top",
        )  # fmt: skip
    said = ""
    if proposal is not None:
        at = proposal
        ax.plot(
            [at["max_moved_share"]], [at["workload_tolerance"]], "*", ms=18, color=INK,
            label="the proposal", zorder=5,
        )  # fmt: skip
        ax.annotate(
            f"proposal: {at['accounts_moved']:,.0f} moved, ±{at['workload_tolerance']:.0%}",
            (at["max_moved_share"], at["workload_tolerance"]), xytext=(8, 10),
            textcoords="offset points", fontsize=SMALL,
        )  # fmt: skip
        said = (
            f" The proposal, marked with a star, is at the {at['max_moved_share']:.0%} cap: "
            f"{at['accounts_moved']:,.0f} accounts moved, ±{at['workload_tolerance']:.0%}."
        )
    ax.legend()
    last = ok.iloc[-1]
    return describe(
        ax,
        f"Line chart of the tightest workload band found against the cap on accounts moved, "
        f"{len(ok):,} caps from {first['max_moved_share']:.0%} to "
        f"{last['max_moved_share']:.0%}: ±{first['workload_tolerance']:.0%} at the first, "
        f"±{last['workload_tolerance']:.0%} at the last; travel against today from "
        f"{first['travel_vs_today']:+.0%} to {last['travel_vs_today']:+.0%}." + said,
    )


# ----------------------------------------------------------------------------------- maps


@dataclass
class _Panel:
    """One map: the accounts (coloured by a column), the homes, a title, and the accounts
    to ring (those that change rep)."""

    accounts: pd.DataFrame
    homes: pd.DataFrame
    title: str
    marked: np.ndarray | None = None
    homes_label: str = "rep home"
    closeup: str = ""  # for a close-up, what it shows ("Northeast around New York, NY")


def _keys(frame: pd.DataFrame, by: str) -> np.ndarray:
    """The values of ``by`` as text, missing ones as ``""``."""
    col = frame[by]
    return np.where(col.isna().to_numpy(), "", col.astype(str).to_numpy()).astype(str)


def _plane(lon, lat) -> np.ndarray:
    """Points where a degree east and a degree north are about the same distance."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    middle = float(np.nanmean(lat)) if len(lat) else 0.0
    return np.column_stack([lon * np.cos(np.radians(middle)), lat])


def _neighbours(frames: Sequence[pd.DataFrame], by: str, k: int = 6) -> dict:
    """Pairs of areas (values of ``by``) whose accounts are among each other's ``k``
    nearest, weighted by how many such links they share (their border on the map)."""
    from scipy.spatial import cKDTree

    weights: dict[tuple[str, str], float] = {}
    for frame in frames:
        keys = _keys(frame, by)
        if len(frame) < 2:
            continue
        xy = _plane(frame["longitude"], frame["latitude"])
        _, near = cKDTree(xy).query(xy, k=min(k + 1, len(frame)))
        a = np.repeat(keys, near.shape[1] - 1)
        b = keys[near[:, 1:].ravel()]
        cross = (a != b) & (a != "") & (b != "")
        low, high = np.where(a < b, a, b)[cross], np.where(a < b, b, a)[cross]
        for pair, n in (
            pd.Series(1.0, index=pd.MultiIndex.from_arrays([low, high]))
            .groupby(level=[0, 1])
            .sum()
            .items()
        ):
            weights[pair] = weights.get(pair, 0.0) + n
    return weights


def area_colours(
    frames: Sequence[pd.DataFrame], by: str = "territory_id", order=None
) -> dict[str, str]:
    """One colour per territory (or per value of ``by``) for every map that shows them, in
    which territories that border each other on any of ``frames`` (today's and the proposed
    alignment, say) differ: a colouring of the territories' neighbour graph onto the
    colour-blind-safe palette (:func:`terrlib.palette.colour_graph`). With more than one
    frame, each territory keeps the colour the first frame alone gives it (today's, as on
    stage 1's maps) unless a neighbour on another frame has it.

    Examples
    --------
    >>> import pandas as pd
    >>> towns = pd.DataFrame({"longitude": [0, 0.1, 1, 1.1, 5, 5.1],
    ...                       "latitude": [0, 0, 0, 0, 0, 0],
    ...                       "territory_id": ["a", "a", "b", "b", "c", "c"]})
    >>> colours = area_colours([towns])
    >>> len(set(colours.values())), sorted(colours)
    (3, ['a', 'b', 'c'])
    """
    seen = [v for f in frames for v in _keys(f, by) if v] if order is None else order
    nodes = sorted({str(v) for v in seen})  # one order, so every map colours alike
    if len(frames) < 2:
        return palette.colour_graph(nodes, _neighbours(frames, by))
    # today's colours (as every stage's map of today has them), changed only where a
    # territory would share its colour with a new neighbour on another frame
    today = palette.colour_graph(nodes, _neighbours(frames[:1], by))
    return palette.keep_colours(today, _neighbours(frames, by))


def _account_regions(accounts: pd.DataFrame, homes: pd.DataFrame) -> np.ndarray | None:
    """Each account's region (its own column, else its territory's), or ``None``."""
    if "region" in accounts:
        return _keys(accounts, "region")
    if {"region", "territory_id"} <= set(homes) and "territory_id" in accounts:
        region = dict(zip(_keys(homes, "territory_id"), _keys(homes, "region"), strict=True))
        return np.array([region.get(t, "") for t in _keys(accounts, "territory_id")])
    return None


def _state_regions(accounts: pd.DataFrame, regions: np.ndarray | None) -> dict[str, str]:
    """The region that holds most of each state's accounts (states without any: none)."""
    from matplotlib.path import Path

    if regions is None:
        return {}
    points = accounts[["longitude", "latitude"]].to_numpy(float)
    found = {}
    for state, rings in geo.state_outlines().items():
        inside = np.zeros(len(points), bool)
        for ring in rings:
            (x0, y0), (x1, y1) = ring.min(axis=0), ring.max(axis=0)
            near = (points[:, 0] >= x0) & (points[:, 0] <= x1)
            near &= (points[:, 1] >= y0) & (points[:, 1] <= y1)
            if near.any():
                inside[near] |= Path(ring).contains_points(points[near])
        named = regions[inside]
        named = named[named != ""]
        if len(named):
            found[state] = pd.Series(named).value_counts().index[0]
    return found


def state_lines(ax, state_region: dict[str, str] | None = None) -> None:
    """Draw the contiguous US state outlines (shipped with terrlib, no internet needed), and
    the borders between regions when ``state_region`` gives each state's region."""
    for rings in geo.state_outlines().values():
        for ring in rings:
            ax.plot(ring[:, 0], ring[:, 1], color="#b0b0b0", lw=0.5, zorder=0)
    if not state_region or len(set(state_region.values())) < 2:
        return
    for points, states in geo.state_borders():  # not coasts: between states of two regions
        if len(states) == 2 and len({state_region.get(s) for s in states}) == 2:
            ax.plot(points[:, 0], points[:, 1], color=INK, lw=1.4, alpha=0.8, zorder=1)


def _extent(frames: Sequence[np.ndarray], pad: float = 0.04) -> tuple[float, ...]:
    """``(west, east, south, north)`` around the (longitude, latitude) points given."""
    xy = np.vstack([f for f in frames if len(f)])
    (x0, y0), (x1, y1) = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
    dx, dy = max(x1 - x0, 1.0), max(y1 - y0, 0.8)
    return (x0 - pad * dx, x1 + pad * dx, y0 - pad * dy, y1 + pad * dy)


def _aspect(extent) -> float:
    """Degrees of longitude per degree of latitude, drawn true to shape at ``extent``."""
    return 1 / np.cos(np.radians((extent[2] + extent[3]) / 2))


def _box_ratio(extent) -> float:
    """Height over width of a map of ``extent`` drawn true to shape, within 0.55-1.25."""
    ratio = (extent[3] - extent[2]) * _aspect(extent) / (extent[1] - extent[0])
    return float(np.clip(ratio, 0.55, 1.25))


def _fit(extent, ratio: float) -> tuple[float, ...]:
    """``extent`` widened (east-west or north-south) to a box of height/width ``ratio``."""
    x0, x1, y0, y1 = extent
    aspect = _aspect(extent)
    dx, dy = x1 - x0, y1 - y0
    if dy * aspect / dx < ratio:  # too wide: more latitude
        grow = (ratio * dx / aspect - dy) / 2
        return (x0, x1, y0 - grow, y1 + grow)
    grow = (dy * aspect / ratio - dx) / 2
    return (x0 - grow, x1 + grow, y0, y1)


def _draw(ax, panel: _Panel, by: str, colours: dict, extent, state_region, context=None):
    """One map panel: states (and region borders), other accounts faint, the accounts in
    their area's colour, rings, homes; ``extent`` widened to the panel's shape."""
    state_lines(ax, state_region)
    if context is not None and len(context):
        ax.scatter(context[:, 0], context[:, 1], c=LIGHT, s=4, lw=0, zorder=1)
    acc = panel.accounts
    dots = [colours.get(k, LIGHT) for k in _keys(acc, by)]
    ax.scatter(
        acc["longitude"],
        acc["latitude"],
        c=dots,
        s=10,
        alpha=0.9,
        lw=0,
        zorder=2,
        antialiased=False,
    )  # crisp dots: a third of the bytes, as clear at 150 dpi
    if panel.marked is not None and np.asarray(panel.marked).any():
        m = np.asarray(panel.marked, bool)
        ax.scatter(
            acc["longitude"].to_numpy()[m], acc["latitude"].to_numpy()[m],
            facecolors="none", edgecolors=INK, s=30, lw=0.7, zorder=3, label="changes rep",
        )  # fmt: skip
    homes = panel.homes
    ax.scatter(
        homes["home_longitude"], homes["home_latitude"], marker="X", c=INK,
        edgecolors="white", lw=0.6, s=50, zorder=4, label=panel.homes_label,
    )  # fmt: skip
    box = ax.get_position()
    width, height = ax.figure.get_size_inches()
    x0, x1, y0, y1 = _fit(extent, (box.height * height) / (box.width * width))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(_aspect(extent), adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(panel.title)


def _within(points: np.ndarray, extent) -> np.ndarray:
    """Which (longitude, latitude) ``points`` lie inside ``extent``."""
    x, y = points[:, 0], points[:, 1]
    return (x >= extent[0]) & (x <= extent[1]) & (y >= extent[2]) & (y <= extent[3])


def _crowded(accounts: pd.DataFrame, by: str, extent, width: float, most: int = 2) -> list:
    """The parts of a map ``width`` inches wide where area labels would crowd: extents
    around the largest groups (at most ``most``) of at least three centres within
    :data:`CROWDED` inches of each other, each small enough for a close-up to help."""
    from scipy.sparse.csgraph import connected_components

    centres = _centres(accounts, by)
    if len(centres) < 3:
        return []
    xy = np.array([(x, y) for _, x, y in centres], float)
    inches = width / (extent[1] - extent[0])
    at = np.column_stack([xy[:, 0], xy[:, 1] * _aspect(extent)]) * inches
    close = np.hypot(*(at[:, None, :] - at[None, :, :]).transpose(2, 0, 1)) < CROWDED
    _, group = connected_components(close, directed=False)
    sizes = np.bincount(group)
    zooms = []
    for g in np.argsort(-sizes, kind="stable")[:most]:
        if sizes[g] < 3:
            break
        zoom = _extent([xy[group == g]], pad=0.6)
        if (zoom[1] - zoom[0]) < 0.5 * (extent[1] - extent[0]):
            zooms.append(zoom)
    return zooms


def _centres(accounts: pd.DataFrame, by: str) -> list[tuple[str, float, float]]:
    """Each area's label and centre (the median of its accounts), largest area first."""
    keys = pd.Series(_keys(accounts, by), index=accounts.index)
    groups = accounts.groupby(keys.to_numpy())
    sizes = groups.size().drop("", errors="ignore").sort_values(ascending=False, kind="stable")
    middle = groups[["longitude", "latitude"]].median()
    return [(k, middle.at[k, "longitude"], middle.at[k, "latitude"]) for k in sizes.index]


def _place_labels(ax, items: list[tuple[str, float, float]], size: float = SMALL + 1) -> None:
    """Write each label at its point or, where it would cover a label already written
    (larger areas go first), at the nearest free place around it with a line back."""
    ax.apply_aspect()
    scale = ax.figure.dpi / 72
    frame = ax.get_window_extent()
    placed: list[tuple[float, float, float, float]] = []
    for text, x, y in items:
        px, py = ax.transData.transform((x, y))
        w, h = (0.7 * len(text) * size + 4) * scale, (1.3 * size + 2) * scale
        spots = [(0.0, 0.0)] + [
            (r * np.cos(a) * 1.6, r * np.sin(a))
            for r in h * np.array([1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.5])
            for a in np.radians(np.arange(0, 360, 30))
        ]
        best = spots[0]
        for dx, dy in spots:
            box = (px + dx - w / 2, py + dy - h / 2, px + dx + w / 2, py + dy + h / 2)
            inside = frame.x0 <= box[0] and box[2] <= frame.x1
            inside &= frame.y0 <= box[1] and box[3] <= frame.y1
            free = all(
                box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1] for b in placed
            )
            if inside and free:
                best = (dx, dy)
                break
        dx, dy = best
        placed.append((px + dx - w / 2, py + dy - h / 2, px + dx + w / 2, py + dy + h / 2))
        line = {"arrowstyle": "-", "color": INK, "lw": 0.7, "shrinkA": 2, "shrinkB": 0}
        ax.annotate(
            text, (x, y), xytext=(dx / scale, dy / scale), textcoords="offset points",
            ha="center", va="center", fontsize=size, fontweight="bold", color=INK, zorder=5,
            path_effects=[patheffects.withStroke(linewidth=3, foreground="white")],
            arrowprops=line if (dx, dy) != (0.0, 0.0) else None,
        )  # fmt: skip


def _legend(fig, panels: Sequence[_Panel], borders: bool) -> None:
    """One legend above a figure of maps: homes (or bases), rings, region borders."""
    marks = [
        Line2D([], [], marker="X", ls="", color=INK, markeredgecolor="white", markersize=8,
               label=label)
        for label in dict.fromkeys(p.homes_label for p in panels)
    ]  # fmt: skip
    if any(p.marked is not None and np.asarray(p.marked).any() for p in panels):
        marks.append(
            Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor=INK,
                   markersize=6, label="changes rep")
        )  # fmt: skip
    if borders:
        marks.append(Line2D([], [], color=INK, lw=1.4, label="region border"))
    fig.legend(handles=marks, loc="upper center", ncol=len(marks), frameon=False)


def _map_grid(rows: list[list[tuple[_Panel, tuple, np.ndarray]]], by: str, colours, state_region):
    """A figure of map panels, ``rows`` of (panel, extent, other accounts' longitude and
    latitude, drawn faint), each area labelled at its centre."""
    ncols = max(len(r) for r in rows)
    width = (WIDTH - 0.2) / ncols
    ratios = [max(_box_ratio(extent) for _, extent, _ in row) for row in rows]
    title, top = 0.45, 0.45  # inches: a panel's title, the legend
    height = width * sum(ratios) + title * len(rows) + top
    fig = plt.figure(figsize=(WIDTH, height))
    grid = fig.add_gridspec(
        len(rows), ncols, height_ratios=ratios, left=0.01, right=0.99, bottom=0.005,
        top=1 - top / height, hspace=title / (width * np.mean(ratios)), wspace=0.03,
    )  # fmt: skip
    axes = []
    for r, row in enumerate(rows):
        for c, (panel, extent, context) in enumerate(row):
            ax = fig.add_subplot(grid[r, c])
            _draw(ax, panel, by, colours, extent, state_region, context)
            axes.append((ax, panel))
    for ax, panel in axes:
        _place_labels(ax, _centres(panel.accounts, by))
    _legend(fig, [p for _, p in axes], borders=len(set(state_region.values())) > 1)
    return fig


def _by_region(accounts: pd.DataFrame, homes: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """The regions with their accounts (a mask), by name; one whole-map entry when the
    data has no regions or one."""
    regions = _account_regions(accounts, homes)
    if regions is None or len(set(regions) - {""}) < 2:
        return [("", np.ones(len(accounts), bool))]
    return [(str(name), regions == name) for name in sorted(set(regions) - {""})]


def _home_points(homes: pd.DataFrame) -> np.ndarray:
    """The homes as (longitude, latitude) rows."""
    return homes[["home_longitude", "home_latitude"]].to_numpy(float)


def _cut(panel: _Panel, name: str, mask, extent, homes: pd.DataFrame, every, closeup=""):
    """The part of ``panel`` that ``mask`` keeps, titled ``name: title`` (with the accounts
    that change rep in it counted), on ``extent``, the other accounts faint."""
    marked = None if panel.marked is None else np.asarray(panel.marked, bool)[mask]
    title = f"{name}: {panel.title}" if name else panel.title
    if marked is not None:
        title += f" ({int(marked.sum()):,} change rep)"
    cut = _Panel(panel.accounts[mask], homes, title, marked, panel.homes_label, closeup)
    return cut, extent, every[~mask & _within(every, extent)]


def _place(extent) -> str:
    """The city with the most ZIP codes in the middle of ``extent`` (``"New York, NY"``),
    to name a close-up by; ``""`` where there is none."""
    table = geo.zip_table()
    x0, x1, y0, y1 = extent
    dx, dy = (x1 - x0) / 4, (y1 - y0) / 4
    middle = table[
        table["longitude"].between(x0 + dx, x1 - dx) & table["latitude"].between(y0 + dy, y1 - dy)
    ]
    if middle.empty:
        return ""
    city, state = middle.groupby(["city", "state"]).size().idxmax()
    return f"{city}, {state}"


def _region_rows(panels: Sequence[_Panel], by: str, width: float) -> list[list[tuple]]:
    """Map cells for ``panels`` (alignments of the same accounts): one row per region, each
    followed by a close-up row for each part where its labels would crowd on a map
    ``width`` inches wide (:func:`_crowded`); the whole map when the data has no regions."""
    first = panels[0]
    every = first.accounts[["longitude", "latitude"]].to_numpy(float)
    rows = []
    for region, mask in _by_region(first.accounts, first.homes):
        homes = [p.homes for p in panels]
        if region:
            homes = [h[_keys(h, "region") == region] if "region" in h else h for h in homes]
        extent = _extent([every[mask], *(_home_points(h) for h in homes)])
        rows.append(
            [_cut(p, region, mask, extent, h, every) for p, h in zip(panels, homes, strict=True)]
        )
        for zoom in _crowded(first.accounts[mask], by, extent, width):
            inside = mask & _within(every, zoom)
            near = [p.homes[_within(_home_points(p.homes), zoom)] for p in panels]
            place = _place(zoom)
            name = f"Around {place}" if place else ", ".join(p for p in (region, "close-up") if p)
            part = " ".join(p for p in (region, f"around {place}" if place else "") if p)
            cells = zip(panels, near, strict=True)
            rows.append(
                [_cut(p, name, inside, zoom, h, every, part or "close-up") for p, h in cells]
            )
    return rows


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
    colours: dict[str, str] | None = None,
):
    """Accounts as points coloured by territory (or by ``by``, a column of ``accounts``),
    each territory labelled at its centre, rep homes (labelled ``homes_label``) as black
    crosses, state outlines and the borders between regions. ``colours`` (from
    :func:`area_colours`) keeps each territory's colour from one map to the next; without
    it, neighbouring territories get different colours (``order`` lists the territories
    to colour, when some have no accounts here); ``marked`` (booleans per account) rings
    the accounts it marks, e.g. those that change rep. For many territories,
    :func:`region_maps` draws one map per region."""
    colours = colours or area_colours([accounts], by, order)
    extent = _extent([accounts[["longitude", "latitude"]].to_numpy(float), _home_points(reps)])
    if ax is None:
        height = (WIDTH - 0.2) * _box_ratio(extent) + 0.5
        ax = plt.figure(figsize=(WIDTH, height)).add_axes((0.01, 0.01, 0.98, 1 - 0.45 / height))
    state_region = _state_regions(accounts, _account_regions(accounts, reps))
    panel = _Panel(accounts, reps, title or "Territories today", marked, homes_label)
    _draw(ax, panel, by, colours, extent, state_region)
    handles, _ = ax.get_legend_handles_labels()
    if len(set(state_region.values())) > 1:
        handles.append(Line2D([], [], color=INK, lw=1.4, label="region border"))
    ax.legend(handles=handles, loc="lower left")
    _place_labels(ax, _centres(accounts, by))
    areas = pd.Series(_keys(accounts, by)).value_counts().drop("", errors="ignore")
    ringed = f"; {int(np.sum(marked)):,} accounts ringed" if marked is not None else ""
    kind = "territories" if by == "territory_id" else f"{by.replace('_', ' ')}s"
    return describe(
        ax,
        f"Map of {len(accounts):,} accounts in {len(areas):,} {kind}, each dot an account in "
        f"its area's colour and each area labelled at its centre; crosses are {len(reps):,} "
        f"{homes_label}s{ringed}. Most accounts: {areas.index[0]} ({areas.iloc[0]:,}); "
        f"fewest: {areas.index[-1]} ({areas.iloc[-1]:,}).",
    )


def _closeups(rows: list[list[tuple]]) -> str:
    """The close-ups among map ``rows``, for a description (``""`` when none)."""
    names = list(dict.fromkeys(r[0][0].closeup for r in rows if r[0][0].closeup))
    return f", with close-ups where labels crowd ({_names(names)})" if names else ""


@_needs_data
def region_maps(accounts: pd.DataFrame, reps: pd.DataFrame, by: str = "territory_id"):
    """Territories today, one map per region two to a row (one map of all when the data
    has no regions), and a close-up where a region's labels would crowd: each territory
    labelled at its centre and coloured so that neighbours differ; crosses are rep homes,
    other regions' accounts are faint."""
    colours = area_colours([accounts], by)
    state_region = _state_regions(accounts, _account_regions(accounts, reps))
    width = (WIDTH - 0.2) / 2
    cells = [row[0] for row in _region_rows([_Panel(accounts, reps, "today")], by, width)]
    fig = _map_grid([cells[i : i + 2] for i in range(0, len(cells), 2)], by, colours, state_region)
    said = [
        f"{region} {len(set(_keys(accounts[mask], by)) - {''}):,} territories and "
        f"{int(mask.sum()):,} accounts"
        for region, mask in _by_region(accounts, reps)
        if region
    ]
    n = len(set(_keys(accounts, by)) - {""})
    return describe(
        fig,
        f"Maps of {len(accounts):,} accounts in {n:,} territories"
        f"{', one per region (' + '; '.join(said) + ')' if said else ''}"
        f"{_closeups([[c] for c in cells])}; each dot an account in its territory's colour, "
        f"each territory labelled at its centre, crosses the {len(reps):,} rep homes"
        f"{', region borders drawn' if said else ''}.",
    )


@_needs_data
def maps_before_after(accounts: pd.DataFrame, proposed: pd.Series, reps: pd.DataFrame):
    """Territory maps today and proposed side by side, one row per region and a close-up
    where a region's labels would crowd: each territory keeps its colour on every map
    (neighbours differ) and is labelled at its centre, and the accounts that change rep are
    ringed on the proposed maps."""
    after = accounts.assign(territory_id=np.asarray(proposed))
    today = _keys(accounts, "territory_id")
    moved = (today != _keys(after, "territory_id")) & (today != "")
    colours = area_colours([accounts, after], order=reps["territory_id"].astype(str).tolist())
    panels = [_Panel(accounts, reps, "today"), _Panel(after, reps, "proposed", moved)]
    rows = _region_rows(panels, "territory_id", (WIDTH - 0.2) / 2)
    state_region = _state_regions(accounts, _account_regions(accounts, reps))
    fig = _map_grid(rows, "territory_id", colours, state_region)
    regions = _account_regions(accounts, reps)
    per = (
        ", ".join(f"{r} {n:,}" for r, n in pd.Series(regions[moved]).value_counts().items())
        if regions is not None and moved.any()
        else ""
    )
    return describe(
        fig,
        f"Territory maps today (left) and proposed (right), one row per region"
        f"{_closeups(rows)}: {int(moved.sum()):,} of {len(accounts):,} accounts change rep, "
        f"ringed on the proposed maps{f' ({per})' if per else ''}; each of the "
        f"{len(colours):,} territories keeps its colour on both and is labelled at its "
        f"centre; crosses are rep homes.",
    )


@_needs_data
def rollup_map(accounts: pd.DataFrame, proposed: pd.Series, reps: pd.DataFrame, level: str):
    """The proposed alignment coloured by ``level`` (a column of ``reps``: district or
    region), each labelled at its centre, with region borders and rep homes: whether the
    teams stay together on the map."""
    team = dict(zip(_keys(reps, "territory_id"), _keys(reps, level), strict=True))
    after = accounts.assign(**{level: [team.get(t, "") for t in np.asarray(proposed, str)]})
    ax = territory_map(
        after, reps, title=f"Proposed alignment by {level}", by=level,
        order=list(dict.fromkeys(_keys(reps, level))),
    )  # fmt: skip
    sizes = pd.Series(_keys(after, level)).value_counts().drop("", errors="ignore")
    regions = _account_regions(accounts, reps)
    within = f" in {len(set(regions) - {''}):,} regions" if regions is not None else ""
    describe(
        ax.figure,
        f"Map of the proposed alignment coloured by {level}: {len(sizes):,} {level}s{within}, "
        f"region borders drawn, each {level} labelled at its centre, crosses the "
        f"{len(reps):,} rep homes; largest {sizes.index[0]} with {sizes.iloc[0]:,} accounts, "
        f"smallest {sizes.index[-1]} with {sizes.iloc[-1]:,}.",
    )
    return ax.figure


@_needs_data
def scratch_maps(opt, plan):
    """Two territory maps side by side, one row per region (and close-ups where labels
    crowd): ``opt``'s proposal from today's rep homes, and ``plan``
    (:func:`terrlib.territory.scratch.from_scratch`) drawn from scratch, with its bases; a
    territory has the same colour here as on :func:`maps_before_after`."""
    proposed = opt.accounts.assign(territory_id=np.asarray(opt.assignment_))
    scratch = opt.accounts.assign(territory_id=np.asarray(plan.optimizer.assignment_))
    ter = opt.territories
    colours = area_colours([opt.accounts, proposed], order=ter["territory_id"].astype(str).tolist())
    bases = plan.bases
    if "region" not in bases and "region" in ter:
        region = dict(zip(_keys(ter, "territory_id"), _keys(ter, "region"), strict=True))
        bases = bases.assign(region=[region.get(t, "") for t in _keys(bases, "territory_id")])
    panels = [
        _Panel(proposed, ter, "proposed, today's homes"),
        _Panel(scratch, bases, "from scratch, new bases", homes_label="base"),
    ]
    rows = _region_rows(panels, "territory_id", (WIDTH - 0.2) / 2)
    state_region = _state_regions(opt.accounts, _account_regions(opt.accounts, ter))
    fig = _map_grid(rows, "territory_id", colours, state_region)
    homes = ter.set_index(ter["territory_id"].astype(str))
    base = bases.set_index(bases["territory_id"].astype(str)).reindex(homes.index)
    moved_km = pd.Series(
        geo.haversine_km(
            homes["home_latitude"], homes["home_longitude"],
            base["home_latitude"], base["home_longitude"],
        ), index=homes.index,
    ).dropna()  # fmt: skip
    far = f"; {int((moved_km > 100).sum()):,} more than 100 km" if len(moved_km) else ""
    median = f"a median {moved_km.median():,.0f} km" if len(moved_km) else "at an unknown distance"
    return describe(
        fig,
        f"Territory maps, proposed from today's rep homes (left) and drawn from scratch with "
        f"each rep at the base where travel is least (right), one row per region"
        f"{_closeups(rows)}; each territory has the same colour on both and is labelled at "
        f"its centre. The bases lie {median} from today's homes{far}.",
    )
