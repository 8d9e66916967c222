"""Command line: ``terrlib demo``, ``terrlib validate`` and ``terrlib report``.

Bad input ends with one clear message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from terrlib import config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="terrlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate the demo company")
    demo.add_argument("--out", type=Path, default=config.DEMO_DATA, help="output folder")
    demo.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    demo.add_argument("--accounts", type=int, default=5000)
    demo.add_argument("--reps", type=int, default=44)
    demo.add_argument(
        "--end-quarter",
        default=config.DEFAULT_END_QUARTER,
        help="last quarter of history, e.g. 2026Q3",
    )

    val = sub.add_parser("validate", help="check raw data against the data contract")
    val.add_argument("--data", type=Path, default=config.DEMO_DATA, help="raw data folder")
    val.add_argument("--plan", type=Path, default=None, help="plan YAML (default: beside data)")
    val.add_argument("--quarter", default=None, help="also require data in this quarter")

    rep = sub.add_parser("report", help="build the quarterly report")
    rep.add_argument("--quarter", default=None, help="e.g. 2026Q3 (default: latest complete)")
    rep.add_argument("--data", type=Path, default=config.DEMO_DATA, help="raw data folder")
    rep.add_argument("--plan", type=Path, default=None, help="plan YAML (default: beside data)")
    rep.add_argument("--out", type=Path, default=config.REPORTS, help="report root folder")
    rep.add_argument(
        "--processed", type=Path, default=config.DATA_PROCESSED, help="processed-data root folder"
    )
    rep.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    rep.add_argument(
        "--workers",
        type=int,
        default=None,
        help="notebooks run at once (default 2, or 1 on a one-core machine; always 1 on Windows)",
    )
    return parser


def _validate(args: argparse.Namespace) -> int:
    from terrlib.io import load_dataset

    data = load_dataset(args.data, args.plan, args.quarter)
    print(f"{args.data}: valid")
    print(data.summary().to_string())
    quarters = data.quarters()
    print(
        f"quarters with data: {quarters[0]} to {quarters[-1]} ({len(quarters)}); "
        f"latest complete: {data.latest_complete_quarter()}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input, 1 a failed report)."""
    args = _parser().parse_args(argv)
    # nbformat's schema checker (jsonschema) imports rfc3987-syntax when it is installed (it
    # comes with JupyterLab), which compiles a grammar for 3 s; notebooks never use the IRI
    # formats it checks, so this process goes without it
    sys.modules.setdefault("rfc3987_syntax", None)
    from terrlib.io import DataValidationError
    from terrlib.plan import PlanError
    from terrlib.report import ReportError

    try:
        if args.command == "demo":
            from terrlib.demo import generate

            truth = generate(
                args.out,
                n_accounts=args.accounts,
                n_reps=args.reps,
                seed=args.seed,
                end_quarter=args.end_quarter,
            )
            print(
                f"demo company written to {args.out} ({truth['n_accounts']} accounts, "
                f"{truth['n_reps']} reps, {truth['quarters'][0]} to {truth['quarters'][-1]})"
            )
            return 0
        if args.command == "validate":
            return _validate(args)
        from terrlib.report import build_report

        build_report(
            args.quarter,
            args.data,
            args.plan,
            args.out,
            args.processed,
            seed=args.seed,
            workers=args.workers,
        )
        return 0
    except PlanError as exc:
        print(f"Plan file {exc.path} is not valid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except DataValidationError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    except ReportError as exc:
        print(f"Report failed: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
