"""Check stage 4's what-if panel in a real JupyterLab in headless Chromium.

Starts JupyterLab on a scratch notebook that shows the panel for a company, runs it, presses
Re-solve, moves the tolerance slider two steps, locks accounts the proposal moved, presses
Re-solve again and saves a screenshot after each step. Not part of the test suite: it needs
Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package, which the project
does not install (``python -m venv /tmp/sel && /tmp/sel/bin/pip install selenium``; run this
script with the project's Python and ``--selenium-python /tmp/sel/bin/python``, or with a
Python that has both).

Usage::

    .venv/bin/python tools/check_panel.py --data data/raw/demo --processed data/processed/2026Q3 \
        --out /tmp/panel
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

SOURCE = """\
import pandas as pd
from terrlib.inputs.dataset import load_dataset
from terrlib.stages import whatif
data = load_dataset({data!r})
scores = pd.read_csv({scores!r}, dtype={{'account_id': str}})
tiers = pd.read_csv({tiers!r}, dtype={{'account_id': str}})
whatif.panel(data, scores, tiers)"""


def notebook(data: str, scores: str, tiers: str) -> dict:
    """The scratch notebook: one cell that shows the panel."""
    cell = {
        "cell_type": "code",
        "id": "panel",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": SOURCE.format(data=data, scores=scores, tiers=tiers),
    }
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return {"cells": [cell], "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}


DRIVER = r"""
import sys, time
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

url, out, lock = sys.argv[1], sys.argv[2], sys.argv[3]
opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1800"):
    opts.add_argument(a)
d = webdriver.Chrome(options=opts)
wait = WebDriverWait(d, 600)

def shot(name):
    d.save_screenshot(f"{out}/{name}.png")
    print("screenshot", name, flush=True)

def status():
    for e in d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output"):
        if "Solved in" in e.text or "Cannot be met" in e.text:
            return e.text
    return ""

def solved(before):
    wait.until(lambda _: status() and status() != before)

d.get(url)
wait.until(lambda _: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook"))
time.sleep(5)
shot("0-opened")
d.find_element(By.XPATH, "//div[contains(@class,'lm-MenuBar-itemLabel') and text()='Run']").click()
time.sleep(1)
d.find_element(
    By.XPATH, "//div[contains(@class,'lm-Menu-itemLabel') and text()='Run All Cells']"
).click()
wait.until(lambda _: d.find_elements(By.XPATH, "//button[contains(., 'Re-solve')]"))
shot("1-panel")
d.find_element(By.XPATH, "//button[contains(., 'Re-solve')]").click()
solved("")
shot("2-first-solve")
SLIDER = ".widget-slider .noUi-handle, .widget-slider .ui-slider-handle"
handle = d.find_elements(By.CSS_SELECTOR, SLIDER)[0]
handle.click()
handle.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
box = d.find_element(By.XPATH, "//input[@placeholder='A00001, A00002']")
box.clear()
box.send_keys(lock)
time.sleep(1)
shot("3-slider-moved")
first = status()
d.find_element(By.XPATH, "//button[contains(., 'Re-solve')]").click()
solved(first)
time.sleep(2)
shot("4-after-change")
texts = [e.text for e in d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")]
print("\n---\n".join(t[:400] for t in texts if t.strip()))
d.quit()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--processed", required=True, help="a quarter's processed folder")
    ap.add_argument("--out", required=True, help="where the screenshots go")
    ap.add_argument("--selenium-python", default=sys.executable)
    ap.add_argument("--lock", default="", help="account ids to lock in the second solve")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    proc = Path(args.processed).resolve()
    lock = args.lock
    if not lock:  # accounts the proposal moved
        import pandas as pd

        moved = pd.read_csv(proc / "proposed_alignment.csv", dtype={"account_id": str})
        lock = ", ".join(moved.loc[moved["moved"], "account_id"].head(30))
    nb = notebook(
        str(Path(args.data).resolve()),
        str(proc / "account_scores.csv"),
        str(proc / "icp_scores.csv"),
    )
    (out / "panel.ipynb").write_text(json.dumps(nb, indent=1), encoding="utf-8")
    port = _free_port()
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root",
         f"--ServerApp.root_dir={out}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )  # fmt: skip
    try:
        time.sleep(8)
        url = f"http://127.0.0.1:{port}/lab/tree/panel.ipynb"
        driver = out / "driver.py"
        driver.write_text(DRIVER, encoding="utf-8")
        return subprocess.call([args.selenium_python, str(driver), url, str(out), lock])
    finally:
        lab.terminate()
        lab.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
