"""Geography: great-circle distances and US ZIP code coordinates (from ``zipcodes``).

Examples
--------
>>> round(float(haversine_km(40.7128, -74.0060, 34.0522, -118.2437)))
3936
>>> zip_table().loc["10001", ["latitude", "longitude"]].round(2).tolist()
[40.75, -74.0]
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

EARTH_RADIUS_KM = 6371.0088

#: States of the contiguous US by sales region (a common four-region split).
REGIONS: dict[str, tuple[str, ...]] = {
    "Northeast": ("CT", "DE", "MA", "MD", "ME", "NH", "NJ", "NY", "PA", "RI", "VT", "DC"),
    "Southeast": ("AL", "FL", "GA", "KY", "MS", "NC", "SC", "TN", "VA", "WV", "AR", "LA"),
    "Central": ("IA", "IL", "IN", "KS", "MI", "MN", "MO", "ND", "NE", "OH", "SD", "WI", "OK", "TX"),
    "West": ("AZ", "CA", "CO", "ID", "MT", "NM", "NV", "OR", "UT", "WA", "WY"),
}
STATE_REGION: dict[str, str] = {s: r for r, states in REGIONS.items() for s in states}


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km; arguments broadcast like numpy arrays."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def distance_matrix_km(lat_a, lon_a, lat_b, lon_b) -> np.ndarray:
    """Distances between every point of set A (rows) and of set B (columns), in km."""
    return haversine_km(
        np.asarray(lat_a, float)[:, None],
        np.asarray(lon_a, float)[:, None],
        np.asarray(lat_b, float)[None, :],
        np.asarray(lon_b, float)[None, :],
    )


@lru_cache(maxsize=1)
def zip_table() -> pd.DataFrame:
    """All active US ZIP codes with coordinates, state and city, indexed by 5-digit ZIP."""
    import zipcodes

    rows = [
        (
            z["zip_code"],
            float(z["lat"]),
            float(z["long"]),
            z["state"],
            z["city"],
            z["zip_code_type"],
        )
        for z in zipcodes.list_all()
        if z.get("active") and z.get("lat") and z.get("long")
    ]
    table = pd.DataFrame(
        rows, columns=["zip", "latitude", "longitude", "state", "city", "zip_type"]
    ).drop_duplicates("zip")
    return table.set_index("zip")


def normalize_zip(values: pd.Series) -> pd.Series:
    """Turn postal codes such as ``'2134'``, ``2134.0`` or ``'02134-1234'`` into ``'02134'``."""
    text = values.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    return text.str.split("-").str[0].str.zfill(5)


def resolve_zip(postal_codes: pd.Series) -> pd.DataFrame:
    """Look up latitude and longitude for postal codes; unknown codes give NaN.

    Returns
    -------
    pandas.DataFrame
        Columns ``latitude`` and ``longitude``, aligned with ``postal_codes``.
    """
    table = zip_table()
    z = normalize_zip(postal_codes)
    found = table.reindex(z.to_numpy())[["latitude", "longitude"]]
    found.index = postal_codes.index
    return found


#: US state outlines: us-atlas 3.0.1 (npm, ISC licence), the Census Bureau's 2017 cartographic
#: boundaries as TopoJSON, shipped so maps draw offline.
STATES_TOPOJSON = Path(__file__).parent / "data" / "us-states-10m.json"
NOT_CONTIGUOUS = {
    "Alaska",
    "Hawaii",
    "Puerto Rico",
    "Guam",
    "American Samoa",
    "Commonwealth of the Northern Mariana Islands",
    "United States Virgin Islands",
}


def decode_topojson(topology: dict, name: str) -> dict[str, list[np.ndarray]]:
    """Decode a TopoJSON geometry collection into rings of (longitude, latitude) per feature.

    Arcs are delta-encoded and quantized (TopoJSON spec 2.1); a negative arc index ``~i`` means
    arc ``i`` reversed.

    Examples
    --------
    >>> topo = {"transform": {"scale": [1, 1], "translate": [0, 0]},
    ...         "arcs": [[[0, 0], [1, 0], [0, 1], [-1, 0]]],
    ...         "objects": {"x": {"geometries": [
    ...             {"type": "Polygon", "arcs": [[0]], "properties": {"name": "sq"}}]}}}
    >>> decode_topojson(topo, "x")["sq"][0].tolist()
    [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    """
    arcs = _arcs(topology)

    def ring(indices: list[int]) -> np.ndarray:
        parts = [arcs[i] if i >= 0 else arcs[~i][::-1] for i in indices]
        return np.vstack([parts[0]] + [p[1:] for p in parts[1:]])

    shapes: dict[str, list[np.ndarray]] = {}
    for geom in topology["objects"][name]["geometries"]:
        polygons = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        shapes[geom["properties"]["name"]] = [ring(r) for poly in polygons for r in poly]
    return shapes


def _arcs(topology: dict) -> list[np.ndarray]:
    """A TopoJSON topology's arcs as (longitude, latitude) points (delta-decoded)."""
    scale = np.asarray(topology["transform"]["scale"], float)
    translate = np.asarray(topology["transform"]["translate"], float)
    return [np.cumsum(np.asarray(a, float), axis=0) * scale + translate for a in topology["arcs"]]


@lru_cache(maxsize=1)
def state_borders() -> list[tuple[np.ndarray, tuple[str, ...]]]:
    """Each stretch of border of the contiguous states once, as (longitude, latitude) points,
    with the states on its sides: two names for a border between states, one for a coast or
    the national border. A map draws a region's outline from the stretches whose sides lie
    in different regions.

    Examples
    --------
    >>> sides = dict((names, len(points)) for points, names in state_borders())
    >>> ("New Jersey", "New York") in sides or ("New York", "New Jersey") in sides
    True
    """
    topology = json.loads(STATES_TOPOJSON.read_text(encoding="utf-8"))
    arcs = _arcs(topology)
    sides: dict[int, list[str]] = {}
    for geom in topology["objects"]["states"]["geometries"]:
        name = geom["properties"]["name"]
        if name in NOT_CONTIGUOUS:
            continue
        polygons = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        for ring in (r for poly in polygons for r in poly):
            for i in ring:
                sides.setdefault(i if i >= 0 else ~i, []).append(name)
    return [(arcs[i], tuple(dict.fromkeys(names))) for i, names in sorted(sides.items())]


@lru_cache(maxsize=1)
def state_outlines() -> dict[str, list[np.ndarray]]:
    """Rings of (longitude, latitude) for the 48 contiguous states and DC, by state name."""
    topology = json.loads(STATES_TOPOJSON.read_text(encoding="utf-8"))
    shapes = decode_topojson(topology, "states")
    return {k: v for k, v in shapes.items() if k not in NOT_CONTIGUOUS}
