"""Shared fixtures: a small demo company generated once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from terrlib.inputs import dataset as io
from terrlib.inputs import demo

SMALL = {"n_accounts": 900, "n_reps": 20, "seed": 4}


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """Folder with a small demo company (900 accounts, 20 reps, 11 quarters)."""
    folder = tmp_path_factory.mktemp("demo")
    demo.generate(folder, **SMALL)
    return folder


@pytest.fixture(scope="session")
def small_truth(small_demo) -> dict:
    return json.loads((small_demo / "truth.json").read_text())


@pytest.fixture(scope="session")
def small_data(small_demo) -> io.Dataset:
    return io.load_dataset(small_demo).as_of("2026Q3")


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory) -> Path:
    """The default demo company (5,000 accounts, 44 reps), generated once."""
    folder = tmp_path_factory.mktemp("demo_default")
    demo.generate(folder)
    return folder


@pytest.fixture
def demo_copy(small_demo, tmp_path) -> Path:
    """A writable copy of the small demo, for tests that break it."""
    target = tmp_path / "data"
    target.mkdir()
    for f in small_demo.iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    return target


#: Seeds of the small companies that planted-truth tests assert rates over.
SEEDS = (1, 2, 3, 4, 5)


@pytest.fixture(scope="session")
def seeded_companies(small_demo, tmp_path_factory) -> list[dict]:
    """Five small demo companies (900 accounts, 20 reps, seeds 1-5; seed 4 is the session's
    small demo), generated once: each a dict with its ``seed``, ``folder``, ``truth`` and
    ``data`` (as of 2026Q3). A planted truth is tested as a rate over these, not on one seed's
    numbers."""
    out = []
    for seed in SEEDS:
        folder = small_demo if seed == SMALL["seed"] else tmp_path_factory.mktemp(f"seed{seed}")
        if seed != SMALL["seed"]:
            demo.generate(folder, n_accounts=SMALL["n_accounts"], n_reps=SMALL["n_reps"], seed=seed)
        out.append(
            {
                "seed": seed,
                "folder": folder,
                "truth": json.loads((folder / "truth.json").read_text()),
                "data": io.load_dataset(folder).as_of("2026Q3"),
            }
        )
    return out
