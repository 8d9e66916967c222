"""Command line: ``terrlib demo``, ``terrlib validate`` and ``terrlib report``.

Bad input ends with one clear message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from terrlib import config


def _plan_options(command: argparse.ArgumentParser) -> None:
    """The plan options validate and report share."""
    command.add_argument("--plan", type=Path, default=None, help="plan YAML (default: beside data)")
    command.add_argument(
        "--default-plan",
        action="store_true",
        help="run on the default plan when the data has no plan file (said in the output)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="terrlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate the demo company")
    demo.add_argument("--out", type=Path, default=config.DEMO_DATA, help="output folder")
    demo.add_argument(
        "--force", action="store_true", help="write into a folder that already holds files"
    )
    demo.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    demo.add_argument("--accounts", type=int, default=5000)
    demo.add_argument("--reps", type=int, default=44)
    demo.add_argument(
        "--shape",
        choices=["terrlib", "salesforce"],
        default="terrlib",
        help="export the company as the data contract has it, or as Salesforce does",
    )
    demo.add_argument("--no-activities", action="store_true", help="leave out the activities table")
    demo.add_argument("--zip-homes", action="store_true", help="rep homes as ZIP codes only")
    demo.add_argument(
        "--no-values-map",
        action="store_true",
        help="(Salesforce) leave the CRM values unmapped in the plan, as a first export is",
    )
    demo.add_argument(
        "--history-quarters", type=int, default=None, help="keep only the last N quarters"
    )
    demo.add_argument(
        "--keep-reps",
        type=int,
        default=None,
        help="merge territories until N reps are left (a company smaller than --reps allows)",
    )
    demo.add_argument(
        "--end-quarter",
        default=config.DEFAULT_END_QUARTER,
        help="last quarter of history, e.g. 2026Q3",
    )

    val = sub.add_parser("validate", help="check raw data against the data contract")
    val.add_argument("--data", type=Path, default=config.DEMO_DATA, help="raw data folder")
    _plan_options(val)
    val.add_argument("--quarter", default=None, help="also require data in this quarter")

    rep = sub.add_parser("report", help="build the quarterly report")
    rep.add_argument("--quarter", default=None, help="e.g. 2026Q3 (default: latest complete)")
    rep.add_argument("--data", type=Path, default=config.DEMO_DATA, help="raw data folder")
    _plan_options(rep)
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


def _plan_arg(args: argparse.Namespace) -> Path | str | None:
    from terrlib.inputs.plan import DEFAULT_PLAN

    if args.default_plan and args.plan is not None:
        raise ValueError("give either --plan or --default-plan, not both")
    return DEFAULT_PLAN if args.default_plan else args.plan


def _demo(args: argparse.Namespace) -> int:
    from terrlib.inputs.demo import generate
    from terrlib.inputs.shapes import ExportShape, reshape

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise ValueError(
            f"{out} already holds files; the demo would overwrite them. Choose an empty "
            "folder, or add --force to write into it anyway"
        )
    truth = generate(
        out,
        n_accounts=args.accounts,
        n_reps=args.reps,
        seed=args.seed,
        end_quarter=args.end_quarter,
    )
    shape = ExportShape(
        crm=args.shape,
        activities=not args.no_activities,
        homes="zip" if args.zip_homes else "coordinates",
        values_map=not args.no_values_map,
        quarters=args.history_quarters,
        reps=args.keep_reps,
    )
    if shape != ExportShape():
        reshape(out, shape)
    print(
        f"demo company written to {out} ({truth['n_accounts']} accounts, "
        f"{truth['n_reps']} reps, {truth['quarters'][0]} to {truth['quarters'][-1]})"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from terrlib.inputs.dataset import load_dataset

    data = load_dataset(args.data, _plan_arg(args), args.quarter)
    plan = data.files.get("plan")
    print(f"{args.data}: valid (plan: {plan.name if plan else 'the default plan, no plan file'})")
    print(data.summary().to_string())
    for column, reading in data.date_readings.items():
        print(f"dates in {column}: read {reading}")
    quarters = data.quarters()
    print(
        f"quarters with data: {quarters[0]} to {quarters[-1]} ({len(quarters)}); "
        f"latest complete: {data.latest_complete_quarter()}"
    )
    from terrlib.inputs.history import history_table

    q = data.quarter(args.quarter) if args.quarter else data.latest_complete_quarter()
    print(f"\nhistory each stage needs for full results, for a report of {q}:")
    print(history_table(data, q).to_string(index=False))
    return 0


def _os_message(exc: OSError) -> str:
    """An operating-system error in words: what failed, on which path."""
    what = exc.strerror or str(exc)
    paths = [p for p in (exc.filename, exc.filename2) if p]
    return f"{what}: {' -> '.join(map(str, paths))}" if paths else what


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input, 1 a failed report)."""
    args = _parser().parse_args(argv)
    from terrlib.inputs.dataset import DataValidationError, printable
    from terrlib.inputs.plan import PlanError
    from terrlib.report.runner import ReportError

    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "validate":
            return _validate(args)
        from terrlib.report.runner import build_report

        build_report(
            args.quarter,
            args.data,
            _plan_arg(args),
            args.out,
            args.processed,
            seed=args.seed,
            workers=args.workers,
        )
        return 0
    except PlanError as exc:
        print(printable(f"Plan file {exc.path} is not valid:"), file=sys.stderr)
        for problem in exc.problems:
            print(printable(f"  - {problem}"), file=sys.stderr)
        return 2
    except DataValidationError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    except ReportError as exc:
        print(printable(f"Report failed: {exc}"), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(printable(f"Error: {exc}"), file=sys.stderr)
        return 2
    except OSError as exc:
        print(printable(f"Error: {_os_message(exc)}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Stopped; nothing already in place was changed.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line, never a traceback
        print(
            printable(
                f"Internal error ({type(exc).__name__}: {exc}); nothing already in place was "
                "changed. Please report it with the command you ran."
            ),
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
