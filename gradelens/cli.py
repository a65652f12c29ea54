"""The `gradelens` command line: list and run named queries, validate and generate datasets,
import HRIS exports as snapshots, list snapshots and roll back.

Every error a user can cause prints one line on stderr and exits 2; no traceback, ever
(set GRADELENS_DEBUG=1 to see one for a bug report).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

import pandas as pd

from gradelens import audit
from gradelens.access import ADMIN, Viewer, find_access_file, load_access
from gradelens.config import DEMO_DIR, configured_data_dir, ensure_demo_dataset
from gradelens.dataset import open_dataset
from gradelens.errors import GradelensError, QueryError
from gradelens.i18n import LANGUAGES, localise_groups, set_language, t

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage; we print one clear line
        print(f"gradelens: {message}. Run `gradelens --help` for usage.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gradelens", description="Performance-management analytics over Parquet datasets.")
    # --lang is accepted before or after the command: `gradelens --lang zh validate DIR`.
    language = argparse.ArgumentParser(add_help=False)
    language.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS,
                          help="language of reports and messages (default: $GRADELENS_LANG, else en)")
    parser.add_argument("--lang", choices=LANGUAGES, default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, parents: list[argparse.ArgumentParser] = (), **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[language, *parents], **kwargs)  # every command takes --lang

    # Who is asking: without --viewer the CLI runs as an admin (docs/access-control.md).
    viewer = argparse.ArgumentParser(add_help=False)
    viewer.add_argument("--viewer", metavar="EMAIL", help="run as this viewer of the access file (default: as an admin)")
    viewer.add_argument("--access", metavar="FILE", help="access file for --viewer (default: $GRADELENS_ACCESS, else access.toml next to the dataset)")

    listing = command("queries", parents=[viewer], help="list every named query with its parameters")
    listing.add_argument("--data", help="dataset folder whose access.toml names the viewer (default: $GRADELENS_DATA or data/demo)")

    query = command("query", parents=[viewer], help="run a named query and print the result")
    query.add_argument("name")
    query.add_argument("--data", help="dataset folder (default: $GRADELENS_DATA or data/demo)")
    query.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a query parameter; repeat for more")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")

    validate = command("validate", help="check a dataset against the data contract")
    validate.add_argument("data", help="dataset folder")
    validate.add_argument("--limit", type=int, default=50, help="at most this many rows per rule (0: all)")

    imports = command("import", parents=[viewer], help="import HRIS exports (CSV, XLSX, Parquet) into a dataset as a new snapshot")
    imports.add_argument("source", help="an export file, or a folder of files (one per table)")
    imports.add_argument("--into", required=True, metavar="DATASET", help="dataset folder (created if new)")
    imports.add_argument("--mapping", help="mapping TOML (default: files and headers named as in the data contract; see examples/mappings/)")
    imports.add_argument("--cycle", help="the cycle the files are for, when they have no cycle column")
    imports.add_argument("--dry-run", action="store_true", help="check and report only; change nothing")
    imports.add_argument("--report", metavar="FILE", help="also write the validation report to FILE as CSV")
    imports.add_argument("--max-file-mb", type=float, help="refuse source files larger than this (default: $GRADELENS_IMPORT_MAX_MB, else no limit but memory and disk)")

    snapshot_list = command("snapshots", help="list a dataset's snapshots (imports and rollbacks)")
    snapshot_list.add_argument("data", help="dataset folder")

    rollback = command("rollback", parents=[viewer], help="restore a dataset to what it held right after a snapshot")
    rollback.add_argument("data", help="dataset folder")
    rollback.add_argument("snapshot", help="a snapshot id, or its number, from `gradelens snapshots`")

    prepare = command("prepare", help="precompute a dataset's derived tables (import and demo do it; needed after copying files in by hand)")
    prepare.add_argument("data", help="dataset folder")

    demo = command("demo", help="generate the demo company dataset")
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
            raise GradelensError("errors.cli_bad_param", pair=repr(pair))
        params[key.strip()] = value
    return params


def _data_dir(value: str | None) -> Path:
    if value:
        return Path(value)
    path = configured_data_dir()
    if path == DEMO_DIR:
        ensure_demo_dataset(lambda fraction, message: print(t("cli.creating_demo", message=message), file=sys.stderr))
    return path


def _print_frame(frame: pd.DataFrame, fmt: str) -> None:
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif fmt == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", force_ascii=False, indent=2) + "\n")
    elif frame.empty:
        print(t("cli.no_rows", columns=", ".join(frame.columns)))
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(frame.to_string(index=False))


def _viewer(args: argparse.Namespace, dataset_dir: Path | None) -> Viewer | None:
    """The access file's viewer for --viewer; None (an admin) without it."""
    if not args.viewer:
        return None
    path = Path(args.access) if args.access else find_access_file(dataset_dir)
    if path is None:
        raise QueryError("access.cli_no_access_file", viewer=args.viewer, dataset=dataset_dir or ".")
    viewer = load_access(path).viewer(args.viewer)
    if viewer is None:
        raise QueryError("access.cli_not_listed", viewer=args.viewer, path=path)
    return viewer


def _viewer_for_import(args: argparse.Namespace, dataset_dir: Path) -> Viewer:
    """The viewer doing an import or rollback (an admin without --viewer); only admins may."""
    viewer = _viewer(args, dataset_dir)
    if viewer is not None and not viewer.may_import:
        audit.record(audit.audit_path(dataset_dir), viewer.id, viewer.role, "denied", args.command,
                     {"dataset": str(dataset_dir), "os_user": _os_user()})
        raise QueryError("access.import_admin_only", viewer=viewer.id, role=viewer.role)
    return viewer or ADMIN


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return ""


def cmd_queries(args: argparse.Namespace) -> int:
    from gradelens.queries import all_queries, refusal

    viewer = _viewer(args, Path(args.data) if args.data else configured_data_dir()) if args.viewer else None
    refused: list[tuple[str, str]] = []
    for query in all_queries().values():
        reason = refusal(query, viewer) if viewer is not None else None
        if reason is not None:
            refused.append((query.name, reason))
            continue
        print(f"{query.name}: {query.summary}")
        for param in query.params:
            default = "required" if param.required else f"default {param.default}"
            print(f"    --param {param.name}=<{param.type}>  ({default}) {param.description}")
    if viewer is not None:
        scope = ", ".join(viewer.departments) if viewer.departments else t("access.cli_all_departments")
        print(t("access.cli_queries_viewer", viewer=viewer.id, role=viewer.role, scope=scope))
        for name, reason in refused:
            print(f"    {name}: {reason.render()}")
        if not refused:
            print(f"    {t('access.cli_none_refused')}")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from gradelens.queries import get_query, run_query

    get_query(args.name)  # an unknown name fails before any dataset work
    params = _parse_params(args.param)
    data_dir = _data_dir(args.data)
    viewer = _viewer(args, data_dir)
    dataset = open_dataset(data_dir)
    _print_frame(localise_groups(run_query(dataset, args.name, params, viewer=viewer)), args.format)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from gradelens.validate import validate

    try:
        dataset = open_dataset(args.data)
    except GradelensError as exc:
        print(f"gradelens: {exc.message()}", file=sys.stderr)
        return 2
    violations = validate(dataset, limit=args.limit or None)
    if dataset.missing:
        print(t("validate.tables_absent", tables=", ".join(dataset.missing)))
    if not violations:
        print(t("validate.valid", path=dataset.path, tables=len(dataset.present)))
        return 0
    for violation in violations:
        print(violation.line())
    print(t("validate.violations", count=len(violations), path=dataset.path) + (t("validate.limited", limit=args.limit) if args.limit else ""))
    return 1


def cmd_demo(args: argparse.Namespace) -> int:
    from gradelens.demo import generate

    if args.employees < 20 or args.cycles < 1:
        raise GradelensError("errors.cli_demo_size")
    manifest = generate(
        Path(args.out), employees=args.employees, cycles=args.cycles, seed=args.seed,
        progress=lambda fraction, message: print(f"[{fraction:4.0%}] {message}", file=sys.stderr),
    )
    print(t("cli.demo_written", path=Path(args.out).resolve(), employees=args.employees, cycles=args.cycles, seed=args.seed))
    del manifest
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from gradelens.importing.mapping import load_mapping
    from gradelens.importing.pipeline import run_import

    viewer = _viewer_for_import(args, Path(args.into))
    mapping = load_mapping(args.mapping) if args.mapping else None
    if args.max_file_mb is not None and args.max_file_mb <= 0:
        raise GradelensError("errors.cli_max_file_mb")
    shown = {"step": -1, "message": ""}

    def progress(fraction: float, message: str) -> None:
        step = int(fraction * 20)
        if step != shown["step"] or message != shown["message"]:
            shown.update(step=step, message=message)
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    log = audit.audit_path(Path(args.into))
    try:
        result = run_import(Path(args.source), Path(args.into), mapping, args.cycle, dry_run=args.dry_run,
                            max_file_bytes=None if args.max_file_mb is None else int(args.max_file_mb * (1 << 20)),
                            progress=progress)
    except GradelensError as exc:
        if not args.dry_run:
            audit.record(log, viewer.id, viewer.role, "import", str(args.source),
                         audit.import_details(args.source, args.into, error=str(exc), os_user=_os_user()))
        raise
    if not args.dry_run:  # a dry run changes nothing and is not logged
        audit.record(log, viewer.id, viewer.role, "import", str(args.source),
                     audit.import_details(args.source, result.dataset, result, os_user=_os_user()))
    for issue in result.report.listed():
        print(issue.line())
    if args.report:
        Path(args.report).write_bytes(result.report.to_csv())
    tables = t("cli.table_separator").join(
        t("cli.table_rows", table=s.table, rows=f"{s.rows:,}") + (t("cli.table_cycles", cycles=", ".join(s.cycles)) if s.cycles else "")
        for s in result.tables.values()
    )
    summary = result.report.summary()
    if result.report.has_errors:
        print(t("cli.import_blocked", summary=summary, dataset=result.dataset))
        return 1
    if result.imported:
        print(t("cli.imported", dataset=result.dataset, snapshot=result.snapshot_id, tables=tables, summary=summary))
    else:
        print(t("cli.dry_run", dataset=result.dataset, tables=tables, summary=summary))
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from gradelens import derived

    dataset = open_dataset(args.data)  # a clear error when it is not a dataset
    folder = derived.build(dataset.path, progress=lambda fraction, message: print(f"[{fraction:4.0%}] {message}", file=sys.stderr))
    print(t("derived.current", path=dataset.path, folder=folder.relative_to(dataset.path)))
    return 0


def cmd_snapshots(args: argparse.Namespace) -> int:
    from gradelens.importing.snapshots import list_snapshots, snapshot_frame

    path = Path(args.data).expanduser().resolve()
    if not path.is_dir():
        raise GradelensError("errors.cli_no_dataset_folder", path=path)
    records = list_snapshots(path)
    if not records:
        print(t("cli.no_snapshots", path=path))
        return 0
    _print_frame(snapshot_frame(records), "table")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from gradelens.importing.snapshots import rollback

    viewer = _viewer_for_import(args, Path(args.data))
    log = audit.audit_path(Path(args.data))
    try:
        record = rollback(Path(args.data), args.snapshot)
    except GradelensError as exc:
        audit.record(log, viewer.id, viewer.role, "rollback", str(args.data),
                     {"snapshot": args.snapshot, "outcome": "failed", "error": str(exc), "os_user": _os_user()})
        raise
    audit.record(log, viewer.id, viewer.role, "rollback", str(args.data),
                 {"snapshot": args.snapshot, "restored": record["restored"], "recorded_as": record["id"],
                  "outcome": "rolled_back", "os_user": _os_user()})
    print(t("cli.rolled_back", path=Path(args.data).resolve(), restored=record["restored"], snapshot=record["id"]))
    if not record["dataset_rows"]:
        print(t("cli.rolled_back_empty"))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # usage errors and --help end here, with their exit code
        return int(exit_.code or 0)
    set_language(args.lang or os.environ.get("GRADELENS_LANG", "en"))
    try:
        if args.command == "queries":
            return cmd_queries(args)
        if args.command == "query":
            return cmd_query(args)
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "import":
            return cmd_import(args)
        if args.command == "snapshots":
            return cmd_snapshots(args)
        if args.command == "prepare":
            return cmd_prepare(args)
        if args.command == "rollback":
            return cmd_rollback(args)
    except GradelensError as exc:
        print(f"gradelens: {exc.message()}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"gradelens: {t('cli.interrupted')}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gradelens query ... | head` closed the pipe: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("GRADELENS_DEBUG"):
            raise
        print(f"gradelens: {t('cli.internal_error', error=f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return 3
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
