"""The `gradelens` command line: list and run named queries, validate and generate datasets.

Every error a user can cause prints one line on stderr and exits 2; no traceback, ever
(set GRADELENS_DEBUG=1 to see one for a bug report).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd

from gradelens.config import DEMO_DIR, configured_data_dir, ensure_demo_dataset
from gradelens.dataset import open_dataset
from gradelens.errors import GradelensError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage; we print one clear line
        print(f"gradelens: {message}. Run `gradelens --help` for usage.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gradelens", description="Performance-management analytics over Parquet datasets.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("queries", help="list every named query with its parameters")

    query = sub.add_parser("query", help="run a named query and print the result")
    query.add_argument("name")
    query.add_argument("--data", help="dataset folder (default: $GRADELENS_DATA or data/demo)")
    query.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a query parameter; repeat for more")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")

    validate = sub.add_parser("validate", help="check a dataset against the data contract")
    validate.add_argument("data", help="dataset folder")
    validate.add_argument("--limit", type=int, default=50, help="at most this many rows per rule (0: all)")

    demo = sub.add_parser("demo", help="generate the demo company dataset")
    demo.add_argument("--out", required=True, help="folder to write (replaced if it exists)")
    demo.add_argument("--employees", type=int, default=2000)
    demo.add_argument("--cycles", type=int, default=6)
    demo.add_argument("--seed", type=int, default=7)
    return parser


def _parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise GradelensError(f"--param {pair!r} must look like KEY=VALUE, e.g. --param cycle=2025H2.")
        params[key.strip()] = value
    return params


def _data_dir(value: str | None) -> Path:
    if value:
        return Path(value)
    path = configured_data_dir()
    if path == DEMO_DIR:
        ensure_demo_dataset(lambda fraction, message: print(f"creating demo data: {message}", file=sys.stderr))
    return path


def _print_frame(frame: pd.DataFrame, fmt: str) -> None:
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif fmt == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", force_ascii=False, indent=2) + "\n")
    elif frame.empty:
        print(f"(no rows; columns: {', '.join(frame.columns)})")
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(frame.to_string(index=False))


def cmd_queries() -> int:
    from gradelens.queries import all_queries

    for query in all_queries().values():
        print(f"{query.name}: {query.summary}")
        for param in query.params:
            default = "required" if param.required else f"default {param.default}"
            print(f"    --param {param.name}=<{param.type}>  ({default}) {param.description}")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from gradelens.queries import get_query, run_query

    get_query(args.name)  # an unknown name fails before any dataset work
    params = _parse_params(args.param)
    dataset = open_dataset(_data_dir(args.data))
    _print_frame(run_query(dataset, args.name, params), args.format)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from gradelens.validate import validate

    try:
        dataset = open_dataset(args.data)
    except GradelensError as exc:
        print(f"gradelens: {exc}", file=sys.stderr)
        return 2
    violations = validate(dataset, limit=args.limit or None)
    if dataset.missing:
        print(f"note: tables not present (pages that need them explain it): {', '.join(dataset.missing)}")
    if not violations:
        print(f"{dataset.path}: valid ({len(dataset.present)} tables checked).")
        return 0
    for violation in violations:
        print(violation.line())
    print(f"{len(violations)} violation(s) in {dataset.path}" + (f" (at most {args.limit} listed per rule; --limit 0 lists all)" if args.limit else ""))
    return 1


def cmd_demo(args: argparse.Namespace) -> int:
    from gradelens.demo import generate

    if args.employees < 20 or args.cycles < 1:
        raise GradelensError("--employees must be at least 20 and --cycles at least 1.")
    manifest = generate(
        Path(args.out), employees=args.employees, cycles=args.cycles, seed=args.seed,
        progress=lambda fraction, message: print(f"[{fraction:4.0%}] {message}", file=sys.stderr),
    )
    print(f"wrote demo dataset to {Path(args.out).resolve()} ({args.employees} employees, {args.cycles} cycles, seed {args.seed})")
    del manifest
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # usage errors and --help end here, with their exit code
        return int(exit_.code or 0)
    try:
        if args.command == "queries":
            return cmd_queries()
        if args.command == "query":
            return cmd_query(args)
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "demo":
            return cmd_demo(args)
    except GradelensError as exc:
        print(f"gradelens: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gradelens: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("GRADELENS_DEBUG"):
            raise
        print(f"gradelens: internal error ({type(exc).__name__}: {exc}). This is a bug; rerun with GRADELENS_DEBUG=1 and report the traceback.", file=sys.stderr)
        return 3
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
