"""Every figure can be read by everyone: it says what it shows (its description, the image's
alternative text, with the figure's numbers), its text is at least 9 pt when shown at 100%,
it is drawn at 150 dpi and fits the report's column, and no red is paired with a green (the
palette stays apart for colour-blind readers). The maps label each territory at its centre,
keep a territory's colour on every panel with neighbours in different colours, draw the
regions' borders, ring the accounts that move, and split a dense country by region."""

from __future__ import annotations

import base64
import colorsys
import itertools
import struct

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.text import Text

from terrlib import palette, plotting
from terrlib.geo import haversine_km

COLUMN_PX = 1000  # CSS pixels a figure may take in the report's column (1,100 less padding)

# Machado, Oliveira & Fernandes (2009), severity 1, on linear RGB
CVD = {
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}


def _linear(rgb):
    rgb = np.asarray(rgb, float)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _srgb(linear):
    linear = np.clip(linear, 0, 1)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def seen_by(colour, kind: str) -> tuple[float, float, float]:
    """How a reader with ``kind`` of colour blindness sees ``colour``."""
    return tuple(_srgb(np.asarray(CVD[kind]) @ _linear(to_rgb(colour))))


def hue_name(rgb) -> str | None:
    """ "red" or "green" for a clearly coloured red or green (hue within 15 degrees of red,
    or 75-155 degrees), else None."""
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    if s < 0.3 or v < 0.3:
        return None
    h *= 360
    if h >= 345 or h < 15:
        return "red"
    if 75 <= h < 155:
        return "green"
    return None


def figure_colours(fig) -> set[tuple[float, float, float]]:
    """Every colour a figure draws data in (lines, bars, dots, rings, text, colour maps),
    each as seen on white."""
    seen = set()

    def add(rgba):
        r, g, b, a = to_rgba(rgba)
        seen.add(tuple(round(float(a * c + (1 - a)), 3) for c in (r, g, b)))

    for ax in fig.axes:
        for line in ax.get_lines():
            add(to_rgba(line.get_color(), line.get_alpha()))
        for patch in ax.patches:
            if patch.get_fill():
                add(patch.get_facecolor())
        for coll in ax.collections:
            if isinstance(coll, QuadMesh):
                for v in np.linspace(0, 1, 21):
                    add(coll.cmap(v))
                continue
            for c in [*coll.get_facecolors(), *coll.get_edgecolors()]:
                add(c)
        for image in ax.images:
            for v in np.linspace(0, 1, 21):
                add(image.cmap(v))
        for text in ax.texts:
            add(text.get_color())
    return seen


def small_text(fig) -> list[tuple[str, float]]:
    fig.canvas.draw()
    return [
        (t.get_text(), t.get_fontsize())
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < plotting.SMALL
    ]


# ------------------------------------------------------------------ charts and their data

UTIL = pd.DataFrame(
    {"territory_id": [f"T{i}" for i in range(1, 7)], "utilization": [1.3, 1.2, 1.0, 0.9, 0.75, 0.6]}
)
SCORECARD = pd.DataFrame({"rep_name": ["Ana", "Bo", "Cy"], "attainment": [1.4, 1.0, 0.55]})
EFFECTS = pd.DataFrame(
    {
        "rep_name": ["Ana", "Bo", "Cy", "Di"],
        "multiplier": [1.5, 1.0, 0.6, 1.1],
        "multiplier_low": [1.2, 0.8, 0.4, 0.7],
        "multiplier_high": [1.9, 1.3, 0.8, 1.6],
        "rating": ["top performer", "", "needs help", ""],
        "attainment_4q": [0.8, 1.0, 1.3, 2.0],
        "raw_attainment_says": ["hidden by the territory", "", "flattered by the territory", ""],
    }
)
QUARTERS = [str(q) for q in pd.period_range("2025Q1", "2026Q3", freq="Q")]
SUMMARY = pd.DataFrame(
    {
        "territory_id": ["T1", "T2", "T3", "T4"],
        "workload_vs_target_before": [1.4, 1.1, 0.9, 0.6],
        "workload_vs_target_after": [1.08, 1.02, 0.97, 0.93],
    }
)
CHARTS = {
    "utilization_bars": lambda: plotting.utilization_bars(UTIL),
    "rate_with_interval": lambda: plotting.rate_with_interval(
        pd.DataFrame(
            {
                "industry": ["Retail", "Energy", "Health"],
                "win_rate": [0.2, 0.35, 0.5],
                "ci_low": [0.15, 0.3, 0.42],
                "ci_high": [0.25, 0.41, 0.58],
            }
        ),
        "industry",
    ),
    "attainment_bars": lambda: plotting.attainment_bars(SCORECARD, period="2026Q3"),
    "segment_bubbles": lambda: plotting.segment_bubbles(
        pd.DataFrame(
            {
                "segment": ["Retail · SMB", "Energy · Enterprise", "Health · Mid-Market"],
                "potential": [2e6, 12e6, 6e6],
                "penetration": [0.3, 0.08, 0.15],
                "accounts": [400, 40, 120],
            }
        )
    ),
    "lorenz_curves": lambda: plotting.lorenz_curves(
        pd.DataFrame({"accounts": [10, 20, 30, 40], "potential": [1, 1, 1, 7]}),
        ["accounts", "potential"],
    ),
    "white_space_bars": lambda: plotting.white_space_bars(
        pd.DataFrame(
            {"territory_id": ["T1", "T2"], "bookings_4q": [1e6, 2e6], "white_space": [3e6, 1e6]}
        )
    ),
    "affinity_heatmap": lambda: plotting.affinity_heatmap(
        pd.DataFrame(
            [[np.nan, 2.5, 0.6], [2.5, np.nan, 1.1], [0.6, 1.1, np.nan]],
            index=["CRM", "ERP", "BI"],
            columns=["CRM", "ERP", "BI"],
        )
    ),
    "rating_intervals": lambda: plotting.rating_intervals(EFFECTS),
    "raw_vs_adjusted": lambda: plotting.raw_vs_adjusted(EFFECTS),
    "team_trend": lambda: plotting.team_trend(
        pd.DataFrame(
            {
                "quarter": QUARTERS,
                "bookings": np.linspace(2e6, 3e6, len(QUARTERS)),
                "win_rate": np.linspace(0.25, 0.31, len(QUARTERS)),
            }
        )
    ),
    "calibration_plot": lambda: plotting.calibration_plot(
        pd.DataFrame(
            {"predicted": [0.1, 0.2, 0.3, 0.4, 0.5], "observed": [0.12, 0.18, 0.33, 0.4, 0.47]}
        )
    ),
    "survival_curves": lambda: plotting.survival_curves(
        pd.DataFrame(
            {
                "group": ["SMB"] * 3 + ["Enterprise"] * 3 + ["Mid-Market"] * 3 + ["Public"] * 3,
                "days": [0, 60, 120] * 4,
                "still_open": [1, 0.5, 0.2, 1, 0.8, 0.6, 1, 0.6, 0.4, 1, 0.7, 0.5],
            }
        )
    ),
    "retention_plot": lambda: plotting.retention_plot(
        pd.DataFrame(
            {
                "segment": [
                    s for s in ("SMB", "Mid-Market", "Enterprise", "Public") for _ in range(5)
                ],
                "quarters": list(range(1, 6)) * 4,
                "retained": np.tile([0.6, 0.5, 0.45, 0.4, 0.38], 4)
                * np.repeat([1, 0.9, 0.8, 0.7], 5),
            }
        )
    ),
    "tier_lift": lambda: plotting.tier_lift(
        pd.DataFrame({"tier": ["A", "B", "C", "D"], "lift": [6.7, 1.1, 0.4, 0.1]})
    ),
    "balance_before_after": lambda: plotting.balance_before_after(SUMMARY, 0.1),
    "disruption_curve_plot": lambda: plotting.disruption_curve_plot(
        pd.DataFrame(
            {
                "max_moved_share": [0.0, 0.05, 0.1, 0.25, 1.0],
                "workload_tolerance": [0.6, 0.2, 0.12, 0.08, 0.06],
                "tightest_possible": [0.6, 0.15, 0.1, 0.07, 0.05],
                "travel_vs_today": [0.0, -0.02, -0.04, -0.06, -0.08],
                "accounts_moved": [0, 50, 100, 150, 150],
            }
        ),
        proposal={"max_moved_share": 0.1, "accounts_moved": 100, "workload_tolerance": 0.12},
    ),
}


@pytest.fixture(autouse=True)
def _theme():
    with matplotlib.rc_context():
        plotting.set_theme()
        yield
    plt.close("all")


def _figure(drawn):
    return drawn if isinstance(drawn, matplotlib.figure.Figure) else drawn.figure


def _checks(fig) -> None:
    """What every figure of the report must meet."""
    said = plotting.description(fig)
    assert said and not said.startswith("Chart:") and any(ch.isdigit() for ch in said), said
    assert small_text(fig) == []
    assert fig.get_size_inches()[0] <= plotting.WIDTH and fig.dpi == plotting.DPI
    data, meta = plotting.figure_png(fig)
    png = base64.b64decode(data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert meta["alt"] == said
    # 150 dots per inch, shown an inch to an inch at 100% (96 CSS pixels), within the column
    assert meta["width"] == round(width * 96 / plotting.DPI) <= COLUMN_PX
    pad = matplotlib.rcParams["savefig.pad_inches"]
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    assert abs(width - (box.width + 2 * pad) * plotting.DPI) <= 3
    kinds = {hue_name(c) for c in figure_colours(fig)}
    assert not {"red", "green"} <= kinds, f"red with green in {sorted(figure_colours(fig))}"


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_is_readable_by_everyone(name):
    _checks(_figure(CHARTS[name]()))


def test_descriptions_state_the_figures_numbers():
    said = {name: plotting.description(_figure(draw())) for name, draw in CHARTS.items()}
    assert "2026Q3, highest first: 2 of 3 reps at or above 100%" in said["attainment_bars"]
    assert "highest Ana at 140%, lowest Cy at 55%" in said["attainment_bars"]
    assert "2 above 115% (understaffed), 2 below 80% (overstaffed)" in said["utilization_bars"]
    assert "1 credibly above the team (Ana), 1 credibly below (Cy)" in said["rating_intervals"]
    assert "flattered by their territory (Cy), 1 held back by it (Ana)" in said["raw_vs_adjusted"]
    assert (
        "strongest pair CRM and ERP at 2.5x, weakest CRM and BI at 0.6x" in said["affinity_heatmap"]
    )
    assert "A 6.7x, B 1.1x, C 0.4x, D 0.1x" in said["tier_lift"]
    assert "2 within the band today, 4 proposed" in said["balance_before_after"]
    assert "Gini (0 is equal): accounts 0.25, potential 0.45" in said["lorenz_curves"]
    assert (
        "The proposal, marked with a star, is at the 10% cap: 100 accounts moved, ±12%"
        in said["disruption_curve_plot"]
    )
    assert len(set(said.values())) == len(said)


def test_the_old_palette_fails_the_checks():
    """The checks can fail: red and green bars, RdYlGn, tab20 and small text are caught."""
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [1, 2], color=["#27ae60", "#c0392b"])
    assert {"red", "green"} <= {hue_name(c) for c in figure_colours(fig)}
    fig, ax = plt.subplots()
    ax.pcolormesh(np.arange(9).reshape(3, 3), cmap="RdYlGn")
    assert {"red", "green"} <= {hue_name(c) for c in figure_colours(fig)}
    tab20 = [matplotlib.colormaps["tab20"](i) for i in range(20)]
    assert {"red", "green"} <= {hue_name(to_rgb(c)) for c in tab20}
    fig, ax = plt.subplots()
    ax.tick_params(labelsize=7)
    assert small_text(fig)
    assert plotting.description(fig).startswith("Chart:")  # nothing said: a generic text


def test_palette_stays_apart_for_colour_blind_readers():
    categorical = [*palette.CATEGORICAL, palette.YELLOW]  # yellow: the maps' spare colour
    assert not {"red", "green"} <= {hue_name(to_rgb(c)) for c in categorical}
    for kind in CVD:
        for a, b in itertools.combinations(categorical, 2):
            apart = palette.distance(seen_by(a, kind), seen_by(b, kind))
            assert apart >= 15, (kind, a, b, apart)
        for a, b in [(palette.GOOD, palette.BAD), (palette.GOOD, palette.GREY)]:
            assert palette.distance(seen_by(a, kind), seen_by(b, kind)) >= 25, (kind, a, b)
    for name in (palette.SEQUENTIAL, palette.DIVERGING):
        samples = [matplotlib.colormaps[name](v)[:3] for v in np.linspace(0, 1, 21)]
        assert not {"red", "green"} <= {hue_name(c) for c in samples}, name
    assert plt.rcParams["image.cmap"] == palette.SEQUENTIAL
    cycle = [to_rgb(c["color"]) for c in plt.rcParams["axes.prop_cycle"]]
    assert cycle == [to_rgb(c) for c in palette.CATEGORICAL]


def test_colour_graph_separates_neighbours():
    ring = [f"n{i}" for i in range(9)]
    weights = {(a, b): 1.0 for a, b in itertools.pairwise([*ring, ring[0]])}
    weights |= {("n0", "n4"): 3.0, ("n2", "n7"): 2.0}
    colours = palette.colour_graph(ring, weights)
    assert all(colours[a] != colours[b] for a, b in weights)
    assert palette.YELLOW not in colours.values()  # the spare colour only where needed
    # more neighbours than colours: seven areas that all touch take the six colours and the
    # spare; an eighth shares the colour of the neighbour it shares the least border with
    clique = {(a, b): 1.0 for a, b in itertools.combinations("abcdefgh", 2)} | {("g", "h"): 0.1}
    colours = palette.colour_graph("abcdefgh", clique)
    assert set(colours.values()) == {*palette.CATEGORICAL, palette.YELLOW}
    assert colours["g"] == colours["h"] == palette.YELLOW


@pytest.fixture(scope="module")
def alignment(small_data):
    """The small demo today, and a proposal that moves one account in ten to the nearest
    other rep of its region."""
    acc, reps = small_data.accounts.reset_index(drop=True), small_data.reps
    rng = np.random.default_rng(3)
    homes = reps.set_index("territory_id")
    proposed = acc["territory_id"].astype(str).copy()
    for i in rng.choice(len(acc), len(acc) // 10, replace=False):
        same = homes[(homes["region"] == acc.at[i, "region"]) & (homes.index != proposed[i])]
        far = haversine_km(
            acc.at[i, "latitude"],
            acc.at[i, "longitude"],
            same["home_latitude"],
            same["home_longitude"],
        )
        proposed[i] = same.index[int(np.argmin(far))]
    return acc, reps, proposed


def _panels(fig):
    """Each map panel: its title, its accounts' dots (longitude, latitude, colour), its
    labels and whether it rings accounts."""
    out = []
    for ax in fig.axes:
        dots = next(c for c in ax.collections if c.get_zorder() == 2)
        rings = [c for c in ax.collections if c.get_zorder() == 3]
        labels = {t.get_text() for t in ax.texts}
        colours = [matplotlib.colors.to_hex(c, keep_alpha=False) for c in dots.get_facecolors()]
        out.append((ax.get_title(), np.asarray(dots.get_offsets()), colours, labels, rings))
    return out


def _where(acc: pd.DataFrame, territory: pd.Series) -> dict[tuple[float, float], str]:
    """Territory by an account's position (positions that two territories share left out)."""
    at = pd.DataFrame({"x": acc["longitude"], "y": acc["latitude"], "t": territory.to_numpy()})
    one = at.groupby(["x", "y"])["t"].agg(lambda t: t.iloc[0] if t.nunique() == 1 else None)
    return one.dropna().to_dict()


def test_maps_before_after(alignment):
    acc, reps, proposed = alignment
    fig = plotting.maps_before_after(acc, proposed, reps)
    _checks(fig)
    today = _where(acc, acc["territory_id"].astype(str))
    after = _where(acc, proposed)
    titles = [title for title, *_ in _panels(fig)]
    regions = sorted(acc["region"].unique())
    for region in regions:  # a row (today, proposed) per region
        assert f"{region}: today" in titles
        assert any(t.startswith(f"{region}: proposed (") for t in titles)
    moved = (acc["territory_id"].astype(str) != proposed).to_numpy()
    colour_of: dict[str, set[str]] = {}
    ringed = 0
    for title, xy, colours, labels, rings in _panels(fig):
        where = after if "proposed" in title else today
        keys = [where.get((x, y)) for x, y in xy]
        for key, colour in zip(keys, colours, strict=True):
            if key is not None:
                colour_of.setdefault(key, set()).add(colour)
        # each territory with accounts on the panel is labelled there
        assert set(keys) - {None} <= labels, (title, set(keys) - labels)
        shown = len(rings[0].get_offsets()) if rings else 0
        if "proposed" in title:
            assert f"({shown:,} change rep)" in title
            ringed += shown * title.startswith(tuple(f"{r}:" for r in regions))  # not close-ups
        else:
            assert rings == []
    assert ringed == moved.sum()  # every account that changes rep is ringed, once
    # one colour per territory on every panel, neighbours in different colours
    assert all(len(c) == 1 for c in colour_of.values()), colour_of
    frames = [acc, acc.assign(territory_id=proposed)]
    colours = plotting.area_colours(frames, order=reps["territory_id"].astype(str).tolist())
    assert {k: next(iter(v)) for k, v in colour_of.items()} == {
        k: v.lower() for k, v in colours.items() if k in colour_of
    }
    weights = plotting._neighbours(frames, "territory_id")
    assert weights and all(colours[a] != colours[b] for a, b in weights)
    # the regions' borders are drawn, as heavier lines than the states'
    assert any(line.get_linewidth() > 1 for ax in fig.axes for line in ax.get_lines())
    said = plotting.description(fig)
    assert f"{moved.sum():,} of {len(acc):,} accounts change rep" in said


def test_region_maps_split_a_dense_country(alignment):
    acc, reps, _ = alignment
    fig = plotting.region_maps(acc, reps)
    _checks(fig)
    panels = _panels(fig)
    regions = sorted(acc["region"].unique())
    titles = [t for t, *_ in panels]
    assert [t for t in titles if not t.startswith("Around ")] == [f"{r}: today" for r in regions]
    labelled = set().union(*(labels for *_, labels, _ in panels))
    assert labelled == set(reps["territory_id"].astype(str)) & set(acc["territory_id"].astype(str))
    for region in regions:
        assert f"{region} " in plotting.description(fig)


def test_rollup_map(alignment):
    acc, reps, proposed = alignment
    fig = plotting.rollup_map(acc, proposed, reps, "district")
    _checks(fig)
    ((_, xy, colours, labels, _),) = _panels(fig)
    district = reps.set_index("territory_id")["district"].astype(str)
    assert labels == set(district)
    where = _where(acc, proposed.map(district))
    colour_of = pd.Series(colours).groupby([where.get((x, y)) for x, y in xy]).nunique()
    assert (colour_of == 1).all()
    colours = dict(zip([where.get((x, y)) for x, y in xy], colours, strict=True))
    weights = plotting._neighbours([acc.assign(district=proposed.map(district))], "district")
    assert weights and all(colours[a] != colours[b] for a, b in weights)


def test_labels_do_not_cover_each_other():
    """Many territories at one place: their labels are moved apart, each with a line back."""
    rng = np.random.default_rng(0)
    acc = pd.DataFrame(
        {
            "longitude": rng.normal(-74, 0.05, 400),
            "latitude": rng.normal(40.7, 0.05, 400),
            "territory_id": [f"T{i % 8}" for i in range(400)],
        }
    )
    reps = pd.DataFrame(
        {
            "territory_id": [f"T{i}" for i in range(8)],
            "home_latitude": 40.7,
            "home_longitude": -74.0,
        }
    )
    ax = plotting.territory_map(acc, reps)
    fig = ax.figure
    fig.canvas.draw()
    boxes = [Text.get_window_extent(t) for t in ax.texts]  # the text, not its line
    assert len(boxes) == 8
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    assert sum(t.arrow_patch is not None for t in ax.texts) >= 6


def test_a_territory_keeps_its_colour_unless_a_new_neighbour_has_it():
    """Stage 4's maps keep each territory's colour from today's map (stage 1's) except where
    a neighbour on the proposal shares it; a territory that must change takes a colour none
    of its neighbours has whenever one is free."""
    from terrlib import palette

    rng = np.random.default_rng(0)
    changed = kept = 0
    for _ in range(20):
        nodes = [f"T{k:02d}" for k in range(30)]
        today = {
            (nodes[i], nodes[j]): 1.0
            for i in range(30)
            for j in range(i + 1, 30)
            if abs(i - j) <= 2 and rng.random() < 0.8
        }
        extra = {(nodes[i], nodes[j]): 1.0 for i, j in rng.integers(0, 30, (6, 2)) if i != j}
        first = palette.colour_graph(nodes, today)
        both = today | extra
        again = palette.keep_colours(first, both)
        around = {n: set() for n in nodes}
        for a, b in both:
            around[a].add(b)
            around[b].add(a)
        for node in nodes:
            clashed = any(first[o] == first[node] for o in around[node])
            if not clashed:
                assert again[node] == first[node]
                kept += 1
            else:
                changed += again[node] != first[node]
            choices = len((*palette.CATEGORICAL, palette.YELLOW))
            if len({again[o] for o in around[node]}) < choices - 1:
                assert all(again[o] != again[node] for o in around[node]), node
    assert kept > 10 * changed
