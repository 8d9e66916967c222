"""Colours that stay apart for every reader: the Okabe-Ito palette (safe for the common kinds
of colour blindness), cividis for sequential scales, a purple-orange diverging scale, and
a colouring of neighbouring areas (territories on a map) in which neighbours differ.

No red is paired with a green anywhere: where a figure marks good and bad it uses blue and
vermillion, which a red-green colour-blind reader tells apart by lightness and by hue.

Examples
--------
>>> colour_graph(["a", "b", "c"], {("a", "b"): 5.0, ("b", "c"): 1.0})  # a, c: either side of b
{'b': '#0072B2', 'a': '#E69F00', 'c': '#009E73'}
>>> round(distance(BLUE, ORANGE)), round(distance(BLUE, SKY))
(120, 26)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import matplotlib.colors
import numpy as np

# Okabe & Ito (2008), "Color Universal Design"; black is kept for marks (homes, rings)
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"  # bluish green: never shown with a red
VERMILLION = "#D55E00"
SKY = "#56B4E9"
PURPLE = "#CC79A7"
YELLOW = "#F0E442"
#: categories (lines, territories), in the order they are handed out; not yellow, which
#: small dots and thin lines on white make too faint
CATEGORICAL: tuple[str, ...] = (BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE)
INK = "#222222"  # text and marks
GREY = "#8C8C8C"  # neutral bars: neither good nor bad
LIGHT = "#C8C8C8"  # the "today" or background layer
GOOD, BAD = BLUE, VERMILLION  # above and below a line that matters (quota, capacity)
SEQUENTIAL = "cividis"  # more of one thing
DIVERGING = "PuOr"  # below and above a centre (lift around 1)
CLEAR = 40.0  # delta E (CIE76) at which two neighbours' colours are clearly apart


def lab(colour: str | Sequence[float]) -> np.ndarray:
    """CIELAB coordinates (D65) of a matplotlib colour.

    Examples
    --------
    >>> [round(float(v)) for v in lab("white")], [round(float(v)) for v in lab(BLUE)]
    ([100, 0, 0], [46, -3, -41])
    """
    rgb = np.asarray(matplotlib.colors.to_rgb(colour), float)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = (
        np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
        @ linear
        / np.array([0.95047, 1.0, 1.08883])
    )
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def distance(a: str, b: str) -> float:
    """How far apart two colours look (CIE76 delta E: about 2 is just noticeable)."""
    return float(np.linalg.norm(lab(a) - lab(b)))


def _around(
    nodes: Iterable[str], weights: Mapping[tuple[str, str], float]
) -> dict[str, dict[str, float]]:
    """Each node's neighbours among ``nodes`` with the border it shares with each (pairs
    in either order added up)."""
    around: dict[str, dict[str, float]] = {n: {} for n in nodes}
    for (a, b), w in weights.items():
        if a != b and a in around and b in around:
            around[a][b] = around[a].get(b, 0.0) + float(w)
            around[b][a] = around[b].get(a, 0.0) + float(w)
    return around


def colour_graph(
    nodes: Iterable[str],
    weights: Mapping[tuple[str, str], float],
    palette: Sequence[str] = CATEGORICAL,
    spare: Sequence[str] = (YELLOW,),
) -> dict[str, str]:
    """A colour from ``palette`` for every node such that neighbours (pairs in ``weights``,
    weighted by how much border they share) differ, and, where the palette allows, so do
    the nodes that touch a common neighbour (on a map, the territories on either side of a
    small one, which would otherwise read as one).

    Greedy, busiest node first (Welsh-Powell). Each takes, among the colours none of its
    neighbours has, one that looks clearly unlike all of theirs (delta E of at least
    :data:`CLEAR`; else the most unlike), least used by the nodes two steps away, earliest in
    ``palette``; when every colour is taken around it (more neighbours than colours), a
    ``spare`` colour none of them has (yellow: clear on a map, but faint for small marks,
    so kept for where it is needed), else the one it shares the least border with, counting
    a quarter of the border shared through a common neighbour.

    Parameters
    ----------
    nodes : iterable of str
        The areas (territory ids, district names).
    weights : mapping
        ``(a, b) -> weight`` for neighbouring areas; the order in a pair does not matter.
    palette : sequence of str
        The colours, in the order they are preferred.
    spare : sequence of str
        Colours for the nodes whose neighbours have taken every colour of ``palette``.

    Returns
    -------
    dict
        Node to colour, busiest node first.
    """
    nodes = list(dict.fromkeys(nodes))
    around = _around(nodes, weights)
    rank = {n: i for i, n in enumerate(nodes)}
    order = sorted(nodes, key=lambda n: (-sum(around[n].values()), rank[n]))
    colours: dict[str, str] = {}
    for node in order:
        taken: dict[str, float] = {}
        for other, w in around[node].items():
            if other in colours:
                taken[colours[other]] = taken.get(colours[other], 0.0) + w
        farther: dict[str, float] = {}  # colour -> border shared through a neighbour
        for middle, w in around[node].items():
            for other, v in around[middle].items():
                if other != node and other not in around[node] and other in colours:
                    farther[colours[other]] = farther.get(colours[other], 0.0) + min(w, v)
        free = [c for c in palette if c not in taken]
        if free:
            apart = {c: min((distance(c, t) for t in taken), default=np.inf) for c in free}
            clear = [c for c in free if apart[c] >= CLEAR]
            pick = clear or sorted(free, key=lambda c: -apart[c])[:1]
            colours[node] = min(pick, key=lambda c: farther.get(c, 0.0))
        elif spares := [c for c in spare if c not in taken]:
            colours[node] = spares[0]
        else:
            every = [*palette, *spare]
            colours[node] = min(every, key=lambda c: taken[c] + farther.get(c, 0.0) / 4)
    return colours


def keep_colours(
    colours: Mapping[str, str],
    weights: Mapping[tuple[str, str], float],
    palette: Sequence[str] = CATEGORICAL,
    spare: Sequence[str] = (YELLOW,),
) -> dict[str, str]:
    """``colours`` (of an earlier map) kept wherever they can be on a map whose neighbours
    are ``weights``: only a node that now shares its colour with a neighbour changes, the
    busiest first, to the free colour most unlike its neighbours' (a shared one when none
    is free, the one with the least border).

    Examples
    --------
    >>> keep_colours({"a": BLUE, "b": BLUE, "c": ORANGE}, {("a", "b"): 1.0})["c"] == ORANGE
    True
    >>> out = keep_colours({"a": BLUE, "b": BLUE}, {("a", "b"): 2.0})
    >>> out["a"] != out["b"]
    True
    """
    out = dict(colours)
    around = _around(out, weights)
    for node in sorted(out, key=lambda n: (-sum(around[n].values()), n)):
        if not any(out[o] == out[node] for o in around[node]):
            continue
        taken: dict[str, float] = {}
        for other, w in around[node].items():
            taken[out[other]] = taken.get(out[other], 0.0) + w
        free = [c for c in (*palette, *spare) if c not in taken]
        if free:
            out[node] = max(free, key=lambda c: min(distance(c, t) for t in taken))
        else:
            out[node] = min(taken, key=taken.get)
    return out
