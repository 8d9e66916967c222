"""Geography: great-circle distances and US ZIP code coordinates (from ``zipcodes``).

Examples
--------
>>> round(float(haversine_km(40.7128, -74.0060, 34.0522, -118.2437)))
3936
>>> zip_table().loc["10001", ["latitude", "longitude"]].round(2).tolist()
[40.75, -74.0]
"""

from __future__ import annotations

from functools import lru_cache

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
