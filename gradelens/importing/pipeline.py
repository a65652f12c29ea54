"""An import from start to finish: read, convert, stage, check, and commit a snapshot.

    run_import(source, dataset_dir, mapping, cycle)   # what `gradelens import` and the Data page call

1. Read. Each source file is matched to tables by the mapping's file patterns, refused up
   front when it cannot be imported (0 bytes, over the size limit, an XLSX too large for
   memory), then streamed batch by batch through `convert.TableConverter` into a *work*
   file per file and table: contract columns plus `_row`, the source row number. Columns no
   table uses are kept aside (`extra_columns/`), never dropped silently.
2. Stage. For each imported table the new state is written under the workspace
   (`_staging/<work>/tables/`): per-cycle tables as Hive partitions `<table>/cycle_id=<id>/`,
   replacing the imported cycles' partitions. A table still stored as one `<table>.parquet`
   (as the demo writes) is split into partitions in the same step, less the imported
   cycles, so no cycle is ever counted twice. `cycles` and `org_units` are merged by key.
3. Check. A *candidate* dataset holding the imported cycles (new rows and the rows they
   must agree with) is checked with gradelens.validate, the contract's one set of rules;
   each violation is traced back to its file and row through `_row`. Problems in rows that
   were already in the dataset are errors only if this import causes them. Checks that
   need more than one cycle (a goal id used by another cycle, a KPI actual of another
   cycle's goal) and the weights warning are added here.
4. Commit (unless there are errors, or it is a dry run): `snapshots.commit` moves the old
   files to `_history/<id>/previous/` and the new ones into place atomically.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gradelens.contract import TABLES
from gradelens import derived
from gradelens.dataset import is_dataset, open_dataset, table_files
from gradelens.errors import GradelensError
from gradelens.i18n import t
from gradelens.importing import snapshots
from gradelens.importing.convert import ROW, TableConverter, as_text, is_blank, partition_safe
from gradelens.importing.mapping import GRADE_COLUMNS, Mapping, MappingError, default_mapping
from gradelens.importing.readers import FileProblem, SourceFile, check_size, max_bytes_from_env, open_reader, source_files
from gradelens.importing.report import ERROR, WARNING, Report
from gradelens.policy import Policy, load_policy
from gradelens.validate import referenced_tables, row_key_sql, validate
from gradelens.validate import rules as contract_rules

VALIDATE_LIMIT = 500
"""Rows listed per contract rule; the report lists fewer and counts the rest."""
PREVIEW_ROWS = 20
RECORDED_WARNINGS = 200
GLOBAL_TABLES = ("cycles", "org_units")
PER_CYCLE_TABLES = tuple(name for name in TABLES if name not in GLOBAL_TABLES)
NO_GOAL = "_no_goal"
"""The partition for KPI actuals whose goal is in no cycle (kept when a table is split)."""
Progress = Callable[[float, str], None]


class ImportProblem(GradelensError):
    """An import that cannot start: no such source, a target folder that is not a dataset."""


@dataclass(frozen=True)
class TableSummary:
    table: str
    rows: int
    cycles: tuple[str, ...]  # the partitions written; empty for cycles and org_units
    previous_rows: int  # rows those cycles (or, for cycles and org_units, those keys) held before


@dataclass
class ImportResult:
    dataset: Path
    report: Report
    tables: dict[str, TableSummary] = field(default_factory=dict)
    previews: dict[str, pd.DataFrame] = field(default_factory=dict)
    snapshot_id: str | None = None
    dry_run: bool = False

    @property
    def imported(self) -> bool:
        return self.snapshot_id is not None

    @property
    def ok(self) -> bool:
        return not self.report.has_errors


@dataclass
class _Work:
    """The rows one source file gave one table, staged with their row numbers."""

    table: str
    file: str
    path: Path
    rows: int
    converter: TableConverter


def run_import(source: str | Path, dataset_dir: str | Path, mapping: Mapping | None = None, cycle: str | None = None,
               *, dry_run: bool = False, max_file_bytes: int | None = None, progress: Progress | None = None,
               source_label: str | None = None) -> ImportResult:
    """Import SOURCE (a file or a folder of files) into the dataset folder, or only check it.

    Returns the result with its report; a snapshot id when something was imported. Raises
    ImportProblem / MappingError / DatasetError (one line for people) when the import cannot
    start at all; everything about the data itself is in the report.
    """
    source = Path(source).expanduser()
    dataset_dir = Path(dataset_dir).expanduser().resolve()
    if not source.exists():
        raise ImportProblem("data.error_no_source", path=str(source))
    mapping = mapping or default_mapping()
    cycle = _cycle_choice(cycle, mapping)
    created = _prepare_dataset_dir(dataset_dir)
    result = None
    try:
        policy = load_policy(dataset_dir)
        _check_grade_map(mapping, policy)
        with snapshots.operation(dataset_dir) as op:
            result = _Import(op, source, mapping, cycle, policy,
                             max_file_bytes if max_file_bytes is not None else max_bytes_from_env(),
                             progress or (lambda fraction, message: None), source_label or str(source)).run(dry_run)
    finally:
        if created and (result is None or not result.imported):
            shutil.rmtree(dataset_dir, ignore_errors=True)  # a folder made for an import that did not happen
    if result.imported:
        (progress or (lambda fraction, message: None))(0.99, t("data.progress_derived"))
        derived.refresh(dataset_dir)
    return result


def _cycle_choice(cycle: str | None, mapping: Mapping) -> str | None:
    from_mapping = mapping.cycle.cycle_id if mapping.cycle else None
    if cycle and from_mapping and cycle != from_mapping:
        raise ImportProblem("data.error_cycle_conflict", cycle=cycle, mapping_cycle=from_mapping)
    chosen = (cycle or from_mapping or "").strip() or None
    if chosen is not None and not partition_safe(chosen):
        raise ImportProblem("data.error_unsafe_cycle", cycle=chosen)
    return chosen


def _prepare_dataset_dir(dataset_dir: Path) -> bool:
    """Create the target folder when it does not exist; refuse a folder that holds other things."""
    if dataset_dir.exists() and not dataset_dir.is_dir():
        raise ImportProblem("data.error_target_is_file", path=str(dataset_dir))
    if not dataset_dir.exists():
        dataset_dir.mkdir(parents=True)
        return True
    ours = {snapshots.STAGING, snapshots.HISTORY, "policy.toml"}
    if not is_dataset(dataset_dir) and any(not p.name.startswith(".") and p.name not in ours for p in dataset_dir.iterdir()):
        raise ImportProblem("data.error_target_not_dataset", path=str(dataset_dir))
    return False


def _check_grade_map(mapping: Mapping, policy: Policy) -> None:
    maps = [("grades", mapping.grades)] + [
        (f"tables.{m.table}.values.{column}", values) for m in mapping.tables.values()
        for column, values in m.values.items() if column in GRADE_COLUMNS
    ]
    for key, values in maps:
        wrong = sorted({v for v in values.values() if v not in policy.grades})
        if wrong:
            raise MappingError("data.mapping_bad_code", source=mapping.source, setting=key, values=", ".join(wrong),
                                 allowed=", ".join(policy.grades))


class _Import:
    def __init__(self, op: snapshots.Operation, source: Path, mapping: Mapping, cycle: str | None, policy: Policy,
                 max_file_bytes: int | None, progress: Progress, source_label: str):
        self.op, self.source, self.mapping, self.cycle, self.policy = op, source, mapping, cycle, policy
        self.max_file_bytes, self.progress, self.source_label = max_file_bytes, progress, source_label
        self.dataset_dir = op.dataset_dir
        self.report = Report()
        self.works: dict[str, list[_Work]] = {}
        self.work_files: dict[str, str] = {}  # work path -> source file name
        self.files: list[SourceFile] = []
        self.extras: list[tuple[str, str]] = []  # (workspace path, history path)
        self.file_failed = False
        self.affected: dict[str, list[str]] = {}  # table -> cycles whose partitions it replaces
        self.retire: list[str] = []
        self.place: list[str] = []
        self.summaries: dict[str, TableSummary] = {}
        self.unknown_cycles: set[str] = set()  # cycles reported once as missing from the cycles table
        self.kpi_flagged: set[str] = set()  # goal ids of KPI actuals already reported
        self._con: duckdb.DuckDBPyConnection | None = None

    # ------------------------------------------------------------------ the steps

    def run(self, dry_run: bool) -> ImportResult:
        try:
            self._read_all()
            snapshots.checkpoint("read")
            if self.works and not self.file_failed:
                self.progress(0.65, t("data.progress_staging"))
                if self._stage():
                    self.progress(0.8, t("data.progress_checking"))
                    self._check()
            elif self.works:
                self.report.warning("", t("data.rule_checks_skipped"), t("data.fix_checks_skipped"))
            snapshots.checkpoint("validated")
            summaries = {name: self.summaries[name] for name in TABLES if name in self.summaries}
            result = ImportResult(self.dataset_dir, self.report, summaries, self._previews(), dry_run=dry_run)
            if self.report.has_errors or dry_run or not self.works:
                if not self.works and not self.report.has_errors:
                    self.report.error("", t("data.rule_nothing_to_import"), t("data.fix_nothing_to_import"))
                return result
            self.progress(0.92, t("data.progress_committing"))
            record = snapshots.commit(self.op, snapshots.Plan(self.retire, self.place, self._keep()), self._record())
            result.snapshot_id = record["id"]
            self.progress(1.0, t("data.progress_done"))
            return result
        finally:
            if self._con is not None:
                self._con.close()

    def _sql(self, query: str, params: dict[str, object]) -> duckdb.DuckDBPyConnection:
        """Run a query with the parameters it names (DuckDB refuses unused ones)."""
        return self.con.execute(query, {name: value for name, value in params.items() if f"${name}" in query})

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        # The importer's own connection: dataset.py's connections hold views over a dataset,
        # this one writes the staged files and reads work files by path.
        if self._con is None:
            self._con = duckdb.connect(config={"threads": 2, "temp_directory": str(self.op.work_dir / "duckdb")})
        return self._con

    def _read_all(self) -> None:
        self.files = source_files(self.source)
        if not self.files:
            self.report.error(self.source.name, t("data.rule_no_files"), t("data.fix_no_files"))
            return
        matched = [(f, self.mapping.tables_for(f.name)) for f in self.files]
        for file, tables in matched:
            if not tables:
                patterns = "; ".join(f"{m.table}: {', '.join(m.files)}" for m in self.mapping.tables.values())
                self.report.warning(file.name, t("data.rule_file_not_matched"), t("data.fix_file_not_matched", patterns=patterns))
        if not any(tables for _, tables in matched):
            self.report.error("", t("data.rule_nothing_matched"), t("data.fix_nothing_matched"))
            return
        total = sum(f.size for f, tables in matched if tables) or 1
        done = 0
        for index, (file, tables) in enumerate(matched):
            if tables:
                self._read_file(index, file, tables, lambda part: self.progress(0.6 * (done + part) / total,
                                                                              t("data.progress_reading", file=file.name)))
                done += file.size
        self._cycle_row()

    def _cycle_row(self) -> None:
        """The mapping's [cycle] section, staged as one more row of the cycles table."""
        spec = self.mapping.cycle
        if spec is None or spec.name is None:
            return
        cycle_id = spec.cycle_id or self.cycle
        if cycle_id is None:
            raise MappingError("data.mapping_cycle_needs_id", source=self.mapping.source)
        label = t("data.report_mapping_cycle")
        converter = TableConverter(default_mapping().tables["cycles"], {}, TABLES["cycles"].column_names, label, None, self.report)
        row = {"cycle_id": [cycle_id], "name": [spec.name], "start_date": [spec.start_date], "end_date": [spec.end_date], ROW: [None]}
        path = self.op.work_dir / "work" / "cycles-mapping.parquet"
        path.parent.mkdir(exist_ok=True)
        pq.write_table(pa.table(row, schema=converter.schema), path)
        self.work_files[str(path)] = label
        self.works.setdefault("cycles", []).append(_Work("cycles", label, path, 1, converter))

    def _read_file(self, index: int, file: SourceFile, tables, progress: Callable[[int], None]) -> None:
        options = tables[0].read
        if any(m.read != options for m in tables[1:]):
            self._file_error(file, t("data.rule_read_conflict", tables=", ".join(m.table for m in tables)), t("data.fix_read_conflict"))
            return
        try:
            check_size(file, self.max_file_bytes, self.op.work_dir)
            reader = open_reader(file, options)
        except FileProblem as problem:
            self._file_error(file, problem.rule, problem.fix, problem.value)
            return
        for rule, fix in reader.notes:
            self.report.warning(file.name, rule, fix)
        converters = [TableConverter(m, self.mapping.grades, reader.headers, file.name, self.cycle, self.report) for m in tables]
        usable = []
        for converter in converters:
            if converter.missing:
                self._missing_columns(file, reader, converter)
            else:
                usable.append(converter)
        if not usable:
            return
        used = set().union(*(c.used_headers for c in converters))
        extras = [h for h in reader.headers if h not in used]
        if extras:
            kept = f"extra_columns/{index:02d}-{Path(file.name).stem}.parquet"
            self.report.warning(file.name, t("data.rule_extra_columns", columns=", ".join(extras)),
                                t("data.fix_extra_columns", path=f"_history/<snapshot>/{kept}"), value=", ".join(extras))
        work_dir = self.op.work_dir / "work"
        work_dir.mkdir(exist_ok=True)
        writers = {}
        counts = dict.fromkeys(range(len(usable)), 0)
        for i, converter in enumerate(usable):
            path = work_dir / f"{converter.table.name}-{index:03d}.parquet"
            writers[i] = pq.ParquetWriter(path, converter.schema, compression="none")  # read once or twice, then deleted
            self.work_files[str(path)] = file.name
        extra_writer = None
        try:
            for chunk in reader.chunks():
                columns, rows = chunk.columns, chunk.rows
                blank = is_blank(columns, len(rows))
                if blank.any():
                    keep = pa.array(~blank)
                    columns = {h: a.filter(keep) for h, a in columns.items()}
                    rows = rows[~blank]
                if len(rows) == 0:
                    continue
                for i, converter in enumerate(usable):
                    converted = converter.convert(columns, rows)
                    writers[i].write_table(converted)
                    counts[i] += converted.num_rows
                if extras:
                    aside = pa.table({ROW: pa.array(rows, pa.int64()), **{h: as_text(columns[h]) for h in extras}})
                    if extra_writer is None:
                        (self.op.work_dir / "extra_columns").mkdir(exist_ok=True)
                        extra_writer = pq.ParquetWriter(self.op.work_dir / kept, aside.schema)
                    extra_writer.write_table(aside)
                progress(reader.bytes_done)
        except FileProblem as problem:
            self._file_error(file, problem.rule, problem.fix, problem.value)
        finally:
            for writer in writers.values():
                writer.close()
            if extra_writer is not None:
                extra_writer.close()
                self.extras.append((kept, kept))
        for bad in reader.bad_rows:
            self.report.error(file.name, t("data.rule_field_count", found=bad.found, expected=bad.expected),
                              t("data.fix_field_count", delimiter=_show_delimiter(getattr(reader, "delimiter", ","))),
                              row=bad.row if bad.row > 0 else None, value=bad.text)
        for i, converter in enumerate(usable):
            if counts[i] == 0:
                self._file_error(file, t("data.rule_no_rows", table=converter.table.name), t("data.fix_no_rows"))
            else:
                path = work_dir / f"{converter.table.name}-{index:03d}.parquet"
                self.works.setdefault(converter.table.name, []).append(_Work(converter.table.name, file.name, path, counts[i], converter))

    def _file_error(self, file: SourceFile, rule: str, fix: str, value: str = "") -> None:
        self.file_failed = True
        self.report.error(file.name, rule, fix, value=value)

    def _missing_columns(self, file: SourceFile, reader, converter: TableConverter) -> None:
        wanted = ", ".join(f"{' / '.join(headers)} ({column})" for column, headers in converter.missing)
        found = ", ".join(reader.headers[:12]) + (" ..." if len(reader.headers) > 12 else "")
        fix = t("data.fix_missing_columns", found=found, count=len(reader.headers))
        if reader.delimiter_hint:
            delimiter, columns = reader.delimiter_hint
            fix += " " + t("data.fix_try_delimiter", delimiter=_show_delimiter(delimiter), columns=columns, table=converter.table.name)
        elif len(reader.headers) == 1 and getattr(reader, "delimiter", None):
            fix += " " + t("data.fix_one_column", delimiter=_show_delimiter(reader.delimiter))
        self._file_error(file, t("data.rule_missing_columns", columns=wanted, table=converter.table.name), fix, value=found)

    # ------------------------------------------------------------------ staging

    def _paths(self, table: str) -> list[str]:
        return [str(w.path) for w in self.works.get(table, [])]

    def _current(self, table: str) -> list[str]:
        return [_rel(p, self.dataset_dir) for p in table_files(self.dataset_dir, table)]

    def _stage(self) -> bool:
        """Write the new state of each imported table; False when it cannot be staged."""
        kpi_lookup = None
        imported = [name for name in TABLES if name in self.works]
        for table in imported:
            if table in GLOBAL_TABLES:
                continue
            if table == "kpi_actuals":
                kpi_lookup = self._goal_cycles()
                cycles = self._kpi_cycles(kpi_lookup)
            else:
                cycles = [c for (c,) in self.con.execute(
                    "SELECT DISTINCT cycle_id FROM read_parquet($files) WHERE cycle_id IS NOT NULL ORDER BY 1",
                    {"files": self._paths(table)}).fetchall()]
            self.affected[table] = [c for c in cycles if c != NO_GOAL]
            for cycle in (c for c in self.affected[table] if not partition_safe(c)):
                if table == "kpi_actuals":  # the cycle of their goals, which are reported themselves
                    self.report.error("", t("data.rule_unsafe_cycle"), t("data.fix_unsafe_cycle"), value=cycle, table=table)
                    continue
                filename, row = self.con.execute(
                    f"SELECT filename, min({ROW}) FROM read_parquet($files, filename=true) WHERE cycle_id = $cycle GROUP BY ALL LIMIT 1",
                    {"files": self._paths(table), "cycle": cycle}).fetchone()
                self.report.error(self.work_files[filename], t("data.rule_unsafe_cycle"), t("data.fix_unsafe_cycle"), row=row,
                                  column=self.works[table][0].converter.label("cycle_id"), value=cycle, table=table)
        if any(not partition_safe(c) for found in self.affected.values() for c in found):
            return False
        staged = self.op.work_dir / "tables"
        for table in imported:
            if table in GLOBAL_TABLES:
                self._stage_global(table, staged)
            elif not self._stage_partitioned(table, staged, kpi_lookup):
                return False
        self.place = sorted(_rel(p, staged) for p in staged.rglob("*.parquet"))
        return True

    def _columns(self, table: str, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(f"CAST({prefix}{c.name} AS {c.duckdb_type}) AS {c.name}" for c in TABLES[table].columns)

    def _stage_global(self, table: str, staged: Path) -> None:
        key = TABLES[table].key[0]
        current = self._current(table)
        work = self._paths(table)
        staged.mkdir(parents=True, exist_ok=True)
        target = staged / f"{table}.parquet"
        if current:
            files = [str(self.dataset_dir / p) for p in current]
            previous = self.con.execute(
                f"SELECT count(*) FROM read_parquet($current, union_by_name=true) c WHERE CAST(c.{key} AS VARCHAR) IN "
                f"(SELECT {key} FROM read_parquet($work))", {"current": files, "work": work}).fetchone()[0]
            self.con.execute(
                f"COPY (SELECT {self._columns(table, 'c')} FROM read_parquet($current, union_by_name=true) c "
                f"WHERE CAST(c.{key} AS VARCHAR) NOT IN (SELECT {key} FROM read_parquet($work) WHERE {key} IS NOT NULL) "
                f"UNION ALL SELECT {self._columns(table)} FROM read_parquet($work)) TO $target (FORMAT parquet, COMPRESSION zstd)",
                {"current": files, "work": work, "target": str(target)})
        else:
            previous = 0
            self.con.execute(f"COPY (SELECT {self._columns(table)} FROM read_parquet($work)) TO $target (FORMAT parquet, COMPRESSION zstd)",
                             {"work": work, "target": str(target)})
        self.retire += current
        self.summaries[table] = TableSummary(table, sum(w.rows for w in self.works[table]), (), int(previous))

    def _stage_partitioned(self, table: str, staged: Path, kpi_lookup: str | None) -> bool:
        affected = self.affected[table]
        current = self._current(table)
        hive = [p for p in current if _partition(p, table) is not None]
        flat = [p for p in current if _partition(p, table) is None]
        retire = flat + [p for p in hive if _partition(p, table) in affected]
        columns = ", ".join(c.name for c in TABLES[table].columns if c.name != "cycle_id")
        params: dict[str, object] = {"work": self._paths(table), "affected": affected or [""]}
        if table == "kpi_actuals":
            new_rows = f"SELECT {columns}, coalesce(g.cycle_id, '{NO_GOAL}') AS cycle_id FROM read_parquet($work) k LEFT JOIN ({kpi_lookup}) g USING (goal_id)"
            params.update(self._lookup_params())
        else:
            new_rows = f"SELECT {self._columns(table)} FROM read_parquet($work)"
        parts = [new_rows]
        previous = 0
        if flat:
            params["flat"] = [str(self.dataset_dir / p) for p in flat]
            if table == "kpi_actuals" and table_files(self.dataset_dir, "goals"):
                # The existing actuals go to the partition of their goal's cycle in today's goals.
                old_rows = (f"SELECT {self._columns(table, 'k')}, coalesce(g.cycle_id, '{NO_GOAL}') AS cycle_id "
                            "FROM read_parquet($flat, union_by_name=true) k LEFT JOIN (SELECT CAST(goal_id AS VARCHAR) AS goal_id, "
                            "any_value(CAST(cycle_id AS VARCHAR)) AS cycle_id FROM read_parquet($old_goals_all, union_by_name=true, "
                            "hive_partitioning=true) GROUP BY 1) g ON g.goal_id = CAST(k.goal_id AS VARCHAR)")
            elif table == "kpi_actuals":
                old_rows = f"SELECT {self._columns(table, 'k')}, '{NO_GOAL}' AS cycle_id FROM read_parquet($flat, union_by_name=true) k"
            else:
                old_rows = f"SELECT {self._columns(table)} FROM read_parquet($flat, union_by_name=true, hive_partitioning=true)"
            kept_cycles = [c for (c,) in self._sql(f"SELECT DISTINCT cycle_id FROM ({old_rows})", params).fetchall()]
            unsafe = [c for c in kept_cycles if c not in affected and (c is None or not partition_safe(c))]
            if unsafe:  # rows that cannot go to a partition folder: the dataset must be fixed first
                shown = "(empty)" if unsafe[0] is None else unsafe[0]
                self.report.error("", t("data.rule_existing_unsafe_cycle", table=table, cycle=shown),
                                  t("data.fix_existing_unsafe_cycle"), value=shown, table=table)
                return False
            parts.append(f"SELECT * FROM ({old_rows}) WHERE cycle_id NOT IN (SELECT unnest($affected))")
            previous += self._sql(f"SELECT count(*) FROM ({old_rows}) WHERE cycle_id IN (SELECT unnest($affected))", params).fetchone()[0]
        hive_retired = [str(self.dataset_dir / p) for p in hive if _partition(p, table) in affected]
        if hive_retired:
            previous += sum(pq.ParquetFile(p).metadata.num_rows for p in hive_retired)
        target = staged / table
        target.mkdir(parents=True, exist_ok=True)
        query = " UNION ALL ".join(parts)
        if TABLES[table].stored_order:
            # Each partition comes out in this order, save a few rows at the seams between write threads.
            query = f"SELECT * FROM ({query}) ORDER BY {', '.join(TABLES[table].stored_order)}"
        self._sql(f"COPY ({query}) TO $target (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (cycle_id), "
                  "FILENAME_PATTERN 'part-{i}', OVERWRITE_OR_IGNORE true)", {**params, "target": str(target)})
        self.retire += retire
        self.summaries[table] = TableSummary(table, sum(w.rows for w in self.works[table]), tuple(affected), int(previous))
        return True

    def _lookup_params(self) -> dict[str, object]:
        return {"new_goals": self._paths("goals") or [""], "old_goals_all": [str(p) for p in table_files(self.dataset_dir, "goals")] or [""]}

    def _goal_cycles(self) -> str:
        """SQL for goal_id -> cycle_id: goals of this import first, then the dataset's."""
        sources = []
        if self.works.get("goals"):
            sources.append("SELECT goal_id, cycle_id, 0 AS preference FROM read_parquet($new_goals)")
        if table_files(self.dataset_dir, "goals"):
            sources.append("SELECT CAST(goal_id AS VARCHAR) AS goal_id, CAST(cycle_id AS VARCHAR) AS cycle_id, 1 AS preference "
                           "FROM read_parquet($old_goals_all, union_by_name=true, hive_partitioning=true)")
        if not sources:
            return "SELECT CAST(NULL AS VARCHAR) AS goal_id, CAST(NULL AS VARCHAR) AS cycle_id WHERE false"
        return f"SELECT goal_id, arg_min(cycle_id, preference) AS cycle_id FROM ({' UNION ALL '.join(sources)}) GROUP BY goal_id"

    def _kpi_cycles(self, lookup: str) -> list[str]:
        """The cycles of the imported KPI actuals (by their goals); actuals of unknown goals, or
        of another cycle's goals when a cycle was given, are reported here."""
        params = {"work": self._paths("kpi_actuals"), **self._lookup_params()}
        query = (f"SELECT k.goal_id, k.{ROW}, k.filename, g.cycle_id FROM read_parquet($work, filename=true) k "
                 f"LEFT JOIN ({lookup}) g USING (goal_id)")
        label = self.works["kpi_actuals"][0].converter.label("goal_id")
        for goal_id, row, filename, goal_cycle in self._sql(
                f"SELECT * FROM ({query}) WHERE cycle_id IS NULL OR (CAST($cycle AS VARCHAR) IS NOT NULL AND cycle_id <> $cycle) "
                f"ORDER BY filename, {ROW} LIMIT 2000", {**params, "cycle": self.cycle}).fetchall():
            self.kpi_flagged.add(goal_id)
            if goal_cycle is None:
                self.report.error(self.work_files[filename], t("data.rule_kpi_unknown_goal"), t("data.fix_kpi_unknown_goal"),
                                  row=row, column=label, value=goal_id, table="kpi_actuals")
            else:
                self.report.error(self.work_files[filename], t("data.rule_kpi_other_cycle", cycle=goal_cycle, imported=self.cycle),
                                  t("data.fix_kpi_other_cycle"), row=row, column=label, value=goal_id, table="kpi_actuals")
        return [c for (c,) in self._sql(f"SELECT DISTINCT cycle_id FROM ({query}) WHERE cycle_id IS NOT NULL ORDER BY 1", params).fetchall()]

    # ------------------------------------------------------------------ checking

    def _final_files(self, table: str) -> list[tuple[str, Path]]:
        retired = set(self.retire)
        files = [(p, self.dataset_dir / p) for p in self._current(table) if p not in retired]
        staged = self.op.work_dir / "tables"
        files += [(p, staged / p) for p in self.place if Path(p).parts[0] in (table, f"{table}.parquet")]
        return files

    def _check(self) -> None:
        cycles = sorted({c for table, found in self.affected.items() for c in found})
        self._check_cycles_exist(cycles)
        self._check_other_cycles()
        self._check_weights()
        candidate = self._candidate("candidate", self._final_files, cycles)
        violations = validate(open_dataset(candidate), limit=VALIDATE_LIMIT)
        per_rule = defaultdict(int)
        for violation in violations:
            per_rule[(violation.table, violation.rule)] += 1
        for (table, rule), count in per_rule.items():
            if count >= VALIDATE_LIMIT:  # validate() stopped there: say so rather than give a wrong count
                self.report.error("", t("data.rule_more_than_listed", rule=rule, limit=VALIDATE_LIMIT),
                                  t("data.fix_more_than_listed"), table=table)
        present = {name for name in TABLES if table_files(candidate, name)}
        violations = self._relevant(violations, present)
        others = self._trace(violations)
        if others:
            before = set()
            if is_dataset(self.dataset_dir):
                current = self._candidate("before", lambda table: [(p, self.dataset_dir / p) for p in self._current(table)], cycles)
                if is_dataset(current):
                    before = {(v.table, v.row_key, v.rule, v.found) for v in validate(open_dataset(current), limit=VALIDATE_LIMIT)}
            for violation in others:
                where = f"{violation.table} [{violation.row_key}]"
                if (violation.table, violation.row_key, violation.rule, violation.found) in before:
                    self.report.warning(t("data.report_existing_data"), t("data.rule_already_broken", rule=violation.rule_text()),
                                        violation.fix_text(), column=where, value=violation.found, table=violation.table)
                else:
                    self.report.error(t("data.report_existing_data"), t("data.rule_broken_by_import", rule=violation.rule_text()),
                                      t("data.fix_broken_by_import", fix=violation.fix_text()), column=where, value=violation.found,
                                      table=violation.table)

    def _check_cycles_exist(self, cycles: list[str]) -> None:
        final = self._final_files("cycles")
        if not final:
            return
        known = {c for (c,) in self.con.execute("SELECT CAST(cycle_id AS VARCHAR) FROM read_parquet($files, union_by_name=true)",
                                               {"files": [str(p) for _, p in final]}).fetchall()}
        for cycle in cycles:
            if cycle not in known:
                self.unknown_cycles.add(cycle)
                self.report.error("", t("data.rule_unknown_cycle", cycle=cycle), t("data.fix_unknown_cycle", cycle=cycle), value=cycle)

    def _check_other_cycles(self) -> None:
        """Goal and appeal ids are unique across cycles: one used by a cycle this import keeps is an error."""
        for table in ("goals", "appeals"):
            if table not in self.works:
                continue
            key = TABLES[table].key[0]
            others = [str(self.dataset_dir / p) for p in self._current(table)]  # rows of the cycles not imported stay
            if not others:
                continue
            label = self.works[table][0].converter.label(key)
            for key_value, filename, row, cycle in self.con.execute(
                    f"SELECT w.{key}, w.filename, w.{ROW}, e.cycle_id FROM read_parquet($work, filename=true) w JOIN "
                    f"(SELECT DISTINCT CAST({key} AS VARCHAR) AS {key}, CAST(cycle_id AS VARCHAR) AS cycle_id "
                    f"FROM read_parquet($others, union_by_name=true, hive_partitioning=true)) e USING ({key}) "
                    f"WHERE e.cycle_id NOT IN (SELECT unnest($affected)) ORDER BY w.filename, w.{ROW} LIMIT 1000",
                    {"work": self._paths(table), "others": others, "affected": self.affected[table] or [""]}).fetchall():
                self.report.error(self.work_files[filename], t("data.rule_id_in_other_cycle", column=key, cycle=cycle),
                                  t("data.fix_id_in_other_cycle"), row=row, column=label, value=key_value, table=table)

    def _check_weights(self) -> None:
        if "goals" not in self.works:
            return
        label = self.works["goals"][0].converter.label("weight")
        for cycle, owner_type, owner_id, total, filename, row in self.con.execute(
                f"SELECT cycle_id, owner_type, owner_id, sum(weight), arg_min(filename, {ROW}), min({ROW}) "
                "FROM read_parquet($work, filename=true) WHERE weight IS NOT NULL GROUP BY ALL "
                "HAVING abs(sum(weight) - 1) > 0.001 ORDER BY 5, 6", {"work": self._paths("goals")}).fetchall():
            self.report.warning(self.work_files[filename], t("data.rule_weights_sum", owner=f"{owner_type} {owner_id}", cycle=cycle),
                                t("data.fix_weights_sum"), row=row, column=label, value=f"{total:.4g}", table="goals")

    def _candidate(self, name: str, files_of: Callable[[str], list[tuple[str, Path]]], cycles: list[str]) -> Path:
        """A dataset folder holding `cycles` of every per-cycle table (and all of cycles and
        org_units), linked or filtered from `files_of(table)`, for validate() to check."""
        folder = self.op.work_dir / name
        folder.mkdir()
        policy = self.dataset_dir / "policy.toml"
        if policy.exists():
            shutil.copyfile(policy, folder / "policy.toml")
        for table in TABLES:
            files = files_of(table)
            if not files:
                continue
            if table in GLOBAL_TABLES:
                for rel, path in files:
                    _link(path, folder / rel)
                continue
            if all(_partition(rel, table) is not None for rel, _ in files):
                chosen = [(rel, path) for rel, path in files if _partition(rel, table) in cycles]
                for rel, path in chosen:
                    _link(path, folder / rel)
                if not chosen:
                    pq.write_table(_empty(table), folder / f"{table}.parquet")
                continue
            paths = [str(p) for _, p in files]
            if table == "kpi_actuals":
                goals = table_files(folder, "goals")
                if goals:
                    self.con.execute(f"COPY (SELECT {self._columns(table, 'k')} FROM read_parquet($files, union_by_name=true, hive_partitioning=true) k "
                                     "WHERE k.goal_id IN (SELECT goal_id FROM read_parquet($goals, union_by_name=true, hive_partitioning=true))) "
                                     "TO $target (FORMAT parquet)", {"files": paths, "goals": [str(g) for g in goals],
                                                                     "target": str(folder / f"{table}.parquet")})
                else:
                    pq.write_table(_empty(table), folder / f"{table}.parquet")
                continue
            self.con.execute(f"COPY (SELECT {self._columns(table)} FROM read_parquet($files, union_by_name=true, hive_partitioning=true) "
                             "WHERE cycle_id IN (SELECT unnest($cycles))) TO $target (FORMAT parquet)",
                             {"files": paths, "cycles": cycles or [""], "target": str(folder / f"{table}.parquet")})
        return folder

    def _relevant(self, violations, present: set[str]):
        """Leave out what is reported elsewhere: empty required cells (reported per cell while
        reading), unknown cycles (reported once per cycle) and KPI actuals already reported.
        Rules that look rows up in a table the dataset does not have are skipped by validate()
        (the contract allows partial datasets); say which references went unchecked."""
        kept = []
        for violation in violations:
            if violation.table in self.works and violation.key == "not_null":
                continue
            if violation.key == "cycle_exists" and violation.found in self.unknown_cycles:
                continue
            if violation.table == "kpi_actuals" and violation.row_key.split(" / ")[0] in getattr(self, "kpi_flagged", set()):
                continue
            kept.append(violation)
        unchecked = {
            (rule.table, referenced)
            for rule in contract_rules()
            if rule.table in self.works and rule.table in present
            for referenced in referenced_tables(rule) - present - {rule.table}
        }
        for table, referenced in sorted(unchecked):
            self.report.warning("", t("data.rule_reference_unchecked", table=table, referenced=referenced),
                                t("data.fix_reference_unchecked", referenced=referenced), table=table)
        return kept

    def _trace(self, violations) -> list:
        """Report each violation at the source rows it comes from; return those that are not
        about imported rows (rows the dataset already had)."""
        by_table = defaultdict(list)
        for violation in violations:
            by_table[violation.table].append(violation)
        parents = self._parent_cycles(by_table.get("goals", []))
        others = []
        for table, found in by_table.items():
            located = self._locate(table, {v.row_key for v in found}) if table in self.works else {}
            converter = self.works[table][0].converter if table in self.works else None
            for violation in found:
                places = located.get(violation.row_key)
                if not places:
                    others.append(violation)
                    continue
                column = _rule_column(table, violation.rule)
                label = ", ".join(converter.label(c) for c in column) if converter else ""
                rule, fix = violation.rule, violation.fix
                if violation.rule.startswith("parent_goal_id") and parents.get(violation.found):
                    rule = t("data.rule_parent_other_cycle", parent=violation.found, cycle=parents[violation.found])
                    fix = t("data.fix_parent_other_cycle")
                mapped = [c for c in column if converter and converter.mapping.value_map(c, self.mapping.grades)]
                if mapped:
                    own = mapped[0] in converter.mapping.values
                    fix += " " + t("data.fix_extend_value_map", setting=f"tables.{table}.values.{mapped[0]}" if own else "grades")
                value = violation.row_key if rule.startswith("(") or not violation.found else violation.found
                for file, row in places:
                    self.report.error(file, rule, fix, row=row, column=label, value=value, table=table)
        return others

    def _locate(self, table: str, keys: set[str]) -> dict[str, list[tuple[str, int]]]:
        located = defaultdict(list)
        key = row_key_sql(table, "w")
        for row_key, filename, row in self.con.execute(
                f"SELECT {key}, w.filename, w.{ROW} FROM read_parquet($work, filename=true) w "
                f"WHERE {key} IN (SELECT unnest($keys)) ORDER BY w.filename, w.{ROW}",
                {"work": self._paths(table), "keys": sorted(keys)}).fetchall():
            located[row_key].append((self.work_files[filename], row))
        return located

    def _parent_cycles(self, violations) -> dict[str, str]:
        """For goals whose parent is not in their cycle: the cycle the parent is in, if any."""
        parents = sorted({v.found for v in violations if v.rule.startswith("parent_goal_id") and v.found})
        if not parents:
            return {}
        files = [str(p) for p in table_files(self.dataset_dir, "goals")] + self._paths("goals")
        return dict(self.con.execute(
            "SELECT CAST(goal_id AS VARCHAR), any_value(CAST(cycle_id AS VARCHAR)) FROM read_parquet($files, union_by_name=true, hive_partitioning=true) "
            "WHERE CAST(goal_id AS VARCHAR) IN (SELECT unnest($parents)) GROUP BY 1", {"files": files, "parents": parents}).fetchall())

    # ------------------------------------------------------------------ results

    def _previews(self) -> dict[str, pd.DataFrame]:
        previews = {}
        for table in (name for name in TABLES if name in self.works):
            works = self.works[table]
            columns = ", ".join(TABLES[table].column_names)
            preview = self.con.execute(f"SELECT {columns} FROM read_parquet($work) LIMIT {PREVIEW_ROWS}",
                                       {"work": [str(works[0].path)]}).df()
            for column in TABLES[table].columns:
                if column.type == pa.date32():  # dates as dates, as stored, not as timestamps
                    preview[column.name] = [None if pd.isna(v) else v.date() for v in preview[column.name]]
            previews[table] = preview
        return previews

    def _keep(self) -> list[tuple[str, str]]:
        keep = list(self.extras)
        if self.mapping.text:
            (self.op.work_dir / "mapping.toml").write_text(self.mapping.text, encoding="utf-8")
            keep.append(("mapping.toml", "mapping.toml"))
        (self.op.work_dir / "report.csv").write_bytes(self.report.to_csv())
        keep.append(("report.csv", "report.csv"))
        return keep

    def _record(self) -> dict:
        warnings = [asdict(i) for i in self.report.listed() if i.severity == WARNING][:RECORDED_WARNINGS]
        return {
            "kind": "import",
            "source": self.source_label,
            "files": [{"name": f.name, "size": f.size, "sha256": _sha256(f.path)} for f in self.files],
            "mapping": self.mapping.source,
            "cycles": sorted({c for found in self.affected.values() for c in found}),
            "tables": {name: {"rows": s.rows, "cycles": list(s.cycles), "previous_rows": s.previous_rows}
                       for name, s in self.summaries.items()},
            "warning_count": self.report.warning_count,
            "warnings": warnings,
        }


def _rule_column(table: str, rule: str) -> list[str]:
    """The contract column(s) a validate rule is about: its first word, or the key in brackets."""
    first = rule.split(" ", 1)[0]
    if first.startswith("("):
        return [c.strip("(), ") for c in rule.split(")")[0].split(",")]
    return [first] if first in TABLES[table].column_names else []


def _partition(rel: str, table: str) -> str | None:
    """The cycle of a file under `<table>/cycle_id=<cycle>/`, else None."""
    parts = Path(rel).parts
    if len(parts) >= 3 and parts[0] == table and parts[1].startswith("cycle_id="):
        return parts[1].split("=", 1)[1]
    return None


def _empty(table: str) -> pa.Table:
    schema = pa.schema([pa.field(c.name, c.type, nullable=True) for c in TABLES[table].columns])
    return schema.empty_table()


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _rel(path: Path, root: Path) -> str:
    return Path(path).relative_to(root).as_posix()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _show_delimiter(delimiter: str) -> str:
    return {"\t": "tab", ",": ",", ";": ";", "|": "|"}.get(delimiter, delimiter)


__all__ = ["ImportProblem", "ImportResult", "TableSummary", "run_import", "ERROR", "WARNING"]
