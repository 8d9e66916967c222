"""Wall time and peak memory of `terrlib report` on the default demo company.

Run: ``make benchmark`` (or ``.venv/bin/python benchmarks/report_benchmark.py --runs 3``).
Prints one line per run and the median. Target (issue 2): under 60 s on a 2-core machine.

The runs write into one temporary reports folder, as a quarterly schedule writes into
``reports/``: the first run has no earlier ``run.json`` to order the stages by, the later ones
do (see ``terrlib.report.runner``). ``--workers`` sets how many notebooks run at once (default 2).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from terrlib import config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=config.DEMO_DATA)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    if not (args.data / "accounts.csv").is_file():
        sys.exit(f"no data in {args.data}: run `make demo` first")
    times = []
    workers = [] if args.workers is None else ["--workers", str(args.workers)]
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(1, args.runs + 1):
            began = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "terrlib.cli",
                    "report",
                    "--data",
                    str(args.data),
                    "--out",
                    f"{tmp}/reports",
                    "--processed",
                    f"{tmp}/processed",
                    *workers,
                ],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - began)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(
                f"run {run}: {times[-1]:.1f} s wall, peak RSS of a child process {peak:.0f} MiB",
                flush=True,
            )
    print(
        f"median wall time over {len(times)} runs: {statistics.median(times):.1f} s (target < 60 s)"
    )


if __name__ == "__main__":
    main()
