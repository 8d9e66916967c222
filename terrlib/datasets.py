"""Public reference data used to validate the models on real behaviour.

Examples
--------
>>> cdnow_path().name
'CDNOW_master.txt'

"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pandas as pd


def cdnow_path() -> Path:
    """Where the CDNOW master file (Fader & Hardie's 23,570 customers who first bought in
    early 1997, with every purchase to June 1998) sits inside the ``lifetimes`` package.

    The file is read directly: the package's own loader needs an old setuptools.

    Raises
    ------
    FileNotFoundError
        When ``lifetimes`` (a development dependency) is not installed.
    """
    try:
        path = Path(distribution("lifetimes").locate_file("lifetimes/datasets/CDNOW_master.txt"))
    except PackageNotFoundError:
        raise FileNotFoundError(
            "the CDNOW data ships with the lifetimes package: "
            "install the development dependencies (make setup)"
        ) from None
    if not path.is_file():
        raise FileNotFoundError(f"CDNOW file not found at {path}")
    return path


def cdnow_transactions() -> pd.DataFrame:
    """CDNOW purchases as ``customer``, ``date``, ``amount`` (one row per purchase line)."""
    raw = pd.read_csv(cdnow_path(), sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame(
        {
            "customer": raw["customer_id"],
            "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["dollar_value"].astype(float),
        }
    )
