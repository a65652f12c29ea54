"""Derived tables: figures computed once per version of a dataset, so queries need not redo them.

Every attainment question starts from each goal's latest actual in its cycle. Computing that
means grouping all of a cycle's KPI actuals (5 million rows per cycle at 200,000 employees),
so it is written once, when the data changes (`gradelens demo`, `gradelens import`, or
`gradelens prepare DIR` after copying files in by hand), to

    _derived/<fingerprint>/goal_end_actuals/cycle_id=<id>/part-0.parquet
        one row per goal with an actual dated within its cycle: the latest (actual, actual_as_of)
    _derived/<fingerprint>/owner_end_attainment/cycle_id=<id>/part-0.parquet
        each owner's weighted attainment at the cycle's end (definitions.sql, owner_attainment)
    _derived/<fingerprint>/owner_month_attainment/cycle_id=<id>/part-0.parquet
        the same at each month end before the cycle's end (attainment_trend's default view)
    _derived/<fingerprint>/graded_people/cycle_id=<id>/part-0.parquet
        grades joined to employees and their units (definitions.sql, graded_people): the start of
        every multi-cycle grade and appeal question
    _derived/<fingerprint>/goal_tree/cycle_id=<id>/part-0.parquet
        each goal's linked parent, top ancestor, depth and path (definitions.sql, cycle_goal_tree)
    _derived/<fingerprint>/goal_cascade_defaults/cycle_id=<id>/part-0.parquet
        goal_cascade's rows for the attainment page's two default views, the cascade and its
        masking list (definitions.sql, cycle_goal_cascade_defaults)
    _derived/<fingerprint>/goal_alignment_counts/cycle_id=<id>/part-0.parquet
        individual goals, linked and broken links per department and region (cycle_goal_alignment_counts)
    _derived/<fingerprint>/unlinked_goal_rows/cycle_id=<id>/part-0.parquet
        the goals without a parent goal of their cycle, as unlinked_goals lists them (cycle_unlinked_goals)
    _derived/<fingerprint>/{people_end_sums,theme_end_sums}/cycle_id=<id>/part-0.parquet
        employees, and goals by strategy theme and owner type, at the cycle's end, counted and
        summed per department and region: what the cycle-level attainment questions add up (definitions.sql,
        "Cycle-level sums"); a few hundred rows per cycle
    _derived/<fingerprint>/team_end_sums/cycle_id=<id>/part-0.parquet
        the same per org unit as well (team_attainment's rows)
    _derived/<fingerprint>/people_month_sums/cycle_id=<id>/part-0.parquet
        employees with an attainment and its sum at each month end, per department and region
        (attainment_trend's points before the last)
    _derived/<fingerprint>/goal_problems/cycle_id=<id>/part-0.parquet
        the goals that break the attainment rules (definitions.sql, cycle_goal_problems)

Each is a view of the same name in definitions.sql that computes the rows from the raw tables;
`attach` replaces the view with a read of the stored rows (STORED lists them). The folder name
is the fingerprint of what they were computed from (the files of the SOURCES tables and the
policy's attainment cap), so a stale copy is never used: when it does not match, the views stay
(correct, slower) and the data page says so. Only attainment as of a cycle's end reads them;
an earlier as-of date reads the actuals themselves, which imports and the demo write
partitioned by their goal's cycle.

The rater-leniency fits of the default role (manager) for every cycle, and the self and manager
scores that self_manager_gap adds up, are stored beside them,

    _derived/<fingerprint>/leniency/<leniency fingerprint>/leniency_{raters,pairs,fits}/cycle_id=<id>/
        (gradelens/analyses/leniency.py, write_stored_fits, says what each holds)
    _derived/<fingerprint>/leniency/<leniency fingerprint>/self_manager_sums/cycle_id=<id>/part-0.parquet
        employees with a self and a manager score, and the sums of both and of the gap, per
        department and region (definitions.sql, cycle_self_manager_sums): what self_manager_gap adds up

in a subfolder with its own fingerprint: the fits also depend on the ratings and the policy's
dimension and rater weights, which the tables above do not, so a new ratings file refits the
leniency model without recomputing the rest. Being inside the folder above, they are also never
used with other actuals, goals, grades, people or cap.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from gradelens.errors import GradelensError
from gradelens.i18n import t

DERIVED = "_derived"
SOURCES = ("cycles", "goals", "kpi_actuals", "employees", "org_units", "grades")
"""The tables the derived ones are computed from; a change to any other leaves them valid."""
FORMAT_VERSION = "9"
"""Part of the fingerprint: bump it when what is derived changes, so old copies are ignored."""
LENIENCY = "leniency"
LENIENCY_SOURCES = ("ratings", "employees", "org_units")
"""What the stored leniency fits depend on besides the attainment tables' sources."""
LENIENCY_FORMAT_VERSION = "3"
"""Part of the leniency fingerprint: bump it when the estimator or the stored tables change."""



def source_fingerprint(dataset_dir: Path, attainment_cap: float) -> str:
    """Names, sizes and modification times of the source tables' files, the cap, and the format version."""
    from gradelens.dataset import files_fingerprint, table_files

    paths = [p for name in SOURCES for p in table_files(dataset_dir, name)]
    return files_fingerprint(dataset_dir, paths, salt=f"{FORMAT_VERSION}|{attainment_cap!r}")


def current_folder(dataset_dir: Path, attainment_cap: float | None = None) -> Path | None:
    """The derived tables for the dataset as it is now, or None when they must be (re)built."""
    if attainment_cap is None:
        from gradelens.policy import load_policy

        attainment_cap = load_policy(dataset_dir).attainment_cap
    folder = dataset_dir / DERIVED / source_fingerprint(dataset_dir, attainment_cap)
    return folder if (folder / "complete").is_file() else None


def stale(dataset) -> bool:
    """Whether a Dataset with any source table, or with ratings, lacks current derived tables (the Data page says so)."""
    attainment = current_folder(dataset.path, dataset.policy.attainment_cap)
    if attainment is None and any(name in dataset.present for name in SOURCES):
        return True
    return "ratings" in dataset.present and leniency_folder(dataset.path, dataset.policy, attainment) is None


def leniency_fingerprint(dataset_dir: Path, policy) -> str:
    """Names, sizes and modification times of LENIENCY_SOURCES' files, the policy's weights, and the format version."""
    from gradelens.dataset import files_fingerprint, table_files

    paths = [p for name in LENIENCY_SOURCES for p in table_files(dataset_dir, name)]
    weights = (sorted(policy.dimension_weights.items()), sorted(policy.rater_role_weights.items()))
    return files_fingerprint(dataset_dir, paths, salt=f"{LENIENCY_FORMAT_VERSION}|{weights!r}")


def leniency_folder(dataset_dir: Path, policy, attainment: Path | None = None) -> Path | None:
    """The stored leniency fits for the dataset as it is now (and this policy), or None;
    `attainment`: current_folder's answer when the caller has it already."""
    attainment = attainment or current_folder(dataset_dir, policy.attainment_cap)
    if attainment is None:
        return None
    folder = attainment / LENIENCY / leniency_fingerprint(dataset_dir, policy)
    return folder if (folder / "complete").is_file() else None


def _files(folder: Path | None, name: str) -> list[str]:
    return [str(f) for f in sorted((folder / name).rglob("*.parquet"))] if folder else []


THEME_COLUMNS = (("strategy_theme", "VARCHAR"), ("owner_type", "VARCHAR"), ("department_id", "VARCHAR"), ("region", "VARCHAR"),
                 ("goals", "BIGINT"), ("goals_with_attainment", "BIGINT"), ("attainment_sum", "DOUBLE"), ("on_track", "BIGINT"),
                 ("at_risk", "BIGINT"), ("off_track", "BIGINT"), ("weighted_attainment", "DOUBLE"), ("weight_sum", "DOUBLE"))
PROBLEM_COLUMNS = (("issue", "VARCHAR"), ("goal_id", "VARCHAR"), ("owner_type", "VARCHAR"), ("owner_id", "VARCHAR"), ("value", "DOUBLE"),
                   ("related_id", "VARCHAR"), ("first_date", "DATE"), ("last_date", "DATE"))
OWNER_COLUMNS = (("owner_type", "VARCHAR"), ("owner_id", "VARCHAR"), ("attainment", "DOUBLE"), ("goals_with_actuals", "BIGINT"))


@dataclass(frozen=True)
class StoredTable:
    """A derived table: written per cycle by `build`, read back by `attach` in place of the
    definitions.sql view of the same name (which computes the same rows from the raw tables)."""

    name: str
    columns: tuple[tuple[str, str], ...]
    """Name and DuckDB type of each column after the cycle_id partition, cast so as read back."""
    order: str = ""
    """Sort within a cycle's file when `build` copies the view; empty when `write` is given."""
    write: Callable[[duckdb.DuckDBPyConnection, Path], None] | None = None
    """Writes the table into a folder, for tables that are not a copy of one view."""
    then: str = ""
    """SQL run after the stored rows are attached (the goal tree's macro reads them)."""

    def relation(self, con: duckdb.DuckDBPyConnection, files: list[str]) -> duckdb.DuckDBPyRelation:
        columns = (("cycle_id", "VARCHAR"),) + self.columns
        if not files:  # a cycle of one month has no month end before its end: an empty table is current
            return con.sql("SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns) + " WHERE false")
        return con.read_parquet(files, hive_partitioning=True).project(
            ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in columns))


def attach(con: duckdb.DuckDBPyConnection, folder: Path | None, leniency: Path | None = None) -> None:
    """Point each stored table's view at the derived `folder`'s rows, and each of LENIENCY_STORED
    at the `leniency` folder's; run after definitions.sql.

    Without a current folder the definitions.sql views stay: the same rows, computed."""
    for tables, where in ((STORED, folder), (LENIENCY_STORED, leniency)):
        if where is None:
            continue
        for table in tables:
            if (where / table.name).is_dir():
                _attach_table(con, where, table)


def _attach_table(con: duckdb.DuckDBPyConnection, folder: Path, table: StoredTable) -> None:
    table.relation(con, _files(folder, table.name)).create_view(table.name, replace=True)
    if table.then:
        con.execute(table.then)


def build(dataset_dir: str | Path, progress: Callable[[float, str], None] | None = None) -> Path:
    """Compute the derived tables for the dataset as it is now; returns their folder.

    Written to a temporary folder and renamed into place, so a reader sees all of it or none;
    older versions are removed except the one before (a page still open on it keeps working).
    """
    from gradelens.dataset import open_dataset

    dataset_dir = Path(dataset_dir).resolve()
    report = progress or (lambda fraction, message: None)
    dataset = open_dataset(dataset_dir)
    fingerprint = source_fingerprint(dataset_dir, dataset.policy.attainment_cap)
    root = dataset_dir / DERIVED
    target = root / fingerprint
    if (target / "complete").is_file():
        _build_leniency(dataset_dir, target, report)
        return target
    with _building(root, target, FORMAT_VERSION) as work:
        # Computed from the raw tables only (use_derived=False), never from older derived files.
        with dataset.cursor(use_derived=False) as con:
            for number, table in enumerate(STORED):
                report(0.6 * number / len(STORED), t("derived.computing", table=table.name))
                out = work / table.name
                out.mkdir(parents=True)
                if table.write:
                    table.write(con, out)
                else:
                    _copy_by_cycle(con, f"SELECT * FROM {table.name} ORDER BY cycle_id, {table.order}", out)
                # The tables after it read its rows (the same rows, not computed again): the
                # cycle-level sums start from the end-of-cycle attainment and the goal tree.
                _attach_table(con, work, table)
        report(0.6, t("derived.placing"))
    _remove_old(root, keep=target)
    _build_leniency(dataset_dir, target, report)
    report(1.0, t("derived.done"))
    return target


def _build_leniency(dataset_dir: Path, attainment: Path, report: Callable[[float, str], None]) -> None:
    """Store the leniency fits under the (current) attainment folder, unless current already."""
    from gradelens.analyses.leniency import write_stored_fits
    from gradelens.dataset import open_dataset

    dataset = open_dataset(dataset_dir)  # opened now, so it reads the attainment tables just built
    if "ratings" not in dataset.present:
        return
    root = attainment / LENIENCY
    target = root / leniency_fingerprint(dataset_dir, dataset.policy)
    if (target / "complete").is_file():
        return
    with _building(root, target, LENIENCY_FORMAT_VERSION) as work:
        report(0.7, t("derived.computing", table="leniency_fits"))
        write_stored_fits(dataset, work)
        with dataset.cursor() as con:
            for table in LENIENCY_STORED:
                report(0.9, t("derived.computing", table=table.name))
                (work / table.name).mkdir()
                table.write(con, work / table.name)
    _remove_old(root, keep=target)


@contextmanager
def _building(root: Path, target: Path, version: str) -> Iterator[Path]:
    """A temporary folder in `root` to write into; when the block ends without an error it is
    marked complete and renamed to `target`, so a reader sees all of it or none (dropped if
    someone else built `target` meanwhile); on an error it is removed."""
    root.mkdir(exist_ok=True)
    work = root / f".building-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        yield work
        (work / "complete").write_text(f"format {version}\n", encoding="utf-8")  # the folder name is the fingerprint
        if not target.exists():
            work.rename(target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _write_month_attainment(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """owner_month_attainment: owner_attainment at each month end, one call per cycle and date.

    One date at a time is owner_attainment itself (so the figures are the ones an as-of date
    gives) and holds one hash table of the cycle's goals: 1 s per date at 200,000 employees,
    against 8 s per cycle for definitions.sql's view over all dates at once (its list
    aggregation) and 8.5 GB at 1M for the ASOF join it replaced.
    """
    points = con.execute("SELECT cycle_id, list(until_date ORDER BY until_date) FROM cycle_month_ends GROUP BY cycle_id ORDER BY cycle_id").fetchall()
    con.execute("CREATE TEMP TABLE month_rows AS SELECT * FROM owner_month_attainment_computed WHERE false")
    try:
        for cycle, dates in points:
            for until_date in dates:
                con.execute("INSERT INTO month_rows SELECT $cycle, $until_date, owner_type, owner_id, attainment, goals_with_actuals "
                            "FROM owner_attainment($cycle, $until_date)", {"cycle": cycle, "until_date": until_date})
            _copy_by_cycle(con, "SELECT * FROM month_rows ORDER BY until_date, owner_type, owner_id", out)
            con.execute("DELETE FROM month_rows")
    finally:
        con.execute("DROP TABLE month_rows")


def _goal_cycles(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("SELECT DISTINCT cycle_id FROM goals WHERE cycle_id IS NOT NULL ORDER BY 1").fetchall()]


def _write_goal_tree(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """goal_tree: one walk per cycle, so the macro's filter on the cycle reaches into the recursion."""
    for cycle in _goal_cycles(con):
        _copy_by_cycle(con, "SELECT $cycle AS cycle_id, * FROM cycle_goal_tree_computed($cycle) ORDER BY goal_id", out, {"cycle": cycle})


def _write_goal_cascade_defaults(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """goal_cascade_defaults: goal_cascade's default views, computed one cycle and view at a time."""
    for cycle in _goal_cycles(con):
        for view in GOAL_CASCADE_VIEWS:
            _copy_by_cycle(con, "SELECT $cycle AS cycle_id, * FROM goal_cascade_defaults_computed($cycle, $view)", out,
                           {"cycle": cycle, "view": view}, pattern=f"{view}-{{i}}")


def _rating_cycles(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute("SELECT DISTINCT cycle_id FROM ratings WHERE cycle_id IS NOT NULL ORDER BY 1").fetchall()]


def _per_cycle(macro: str, order: str, cycles: Callable[[duckdb.DuckDBPyConnection], list[str]] = _goal_cycles,
               ) -> Callable[[duckdb.DuckDBPyConnection, Path], None]:
    """A write function copying a definitions.sql table macro of one cycle, for every cycle of
    `cycles` (the goals' by default)."""
    def write(con: duckdb.DuckDBPyConnection, out: Path) -> None:
        for cycle in cycles(con):
            _copy_by_cycle(con, f"SELECT $cycle AS cycle_id, * FROM {macro}($cycle) ORDER BY {order}", out, {"cycle": cycle})
    return write


def _read_per_cycle(macro: str, table: str) -> str:
    """The `then` of a table written by _per_cycle: the macro reads the stored rows of one cycle."""
    return f"CREATE OR REPLACE MACRO {macro}(for_cycle) AS TABLE SELECT * EXCLUDE (cycle_id) FROM {table} WHERE cycle_id = for_cycle"


GOAL_CASCADE_VIEWS = ("all", "masks_shortfall")
"""goal_cascade's stored default views (definitions.sql, goal_cascade_default_view)."""
GOAL_CASCADE_COLUMNS = (
    ("default_view", "VARCHAR"), ("goal_id", "VARCHAR"), ("parent_goal_id", "VARCHAR"), ("parent_issue", "VARCHAR"),
    ("top_goal_id", "VARCHAR"), ("depth", "INTEGER"), ("owner_type", "VARCHAR"), ("owner_id", "VARCHAR"), ("owner_name", "VARCHAR"),
    ("department_id", "VARCHAR"), ("department", "VARCHAR"), ("region", "VARCHAR"), ("title", "VARCHAR"), ("kpi", "VARCHAR"),
    ("strategy_theme", "VARCHAR"), ("direction", "VARCHAR"), ("target", "DOUBLE"), ("actual", "DOUBLE"), ("actual_as_of", "DATE"),
    ("weight", "DOUBLE"), ("attainment", "DOUBLE"), ("children", "BIGINT"), ("children_with_attainment", "BIGINT"),
    ("children_attainment", "DOUBLE"), ("status", "VARCHAR"), ("children_status", "VARCHAR"), ("masks_shortfall", "BOOLEAN"),
    ("in_scope", "BOOLEAN"), ("left_out_children", "BIGINT"), ("left_out_goals", "BIGINT"), ("left_out_attainment", "DOUBLE"),
    ("detail", "VARCHAR"))


def _write_people_month_sums(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """people_month_sums, one cycle at a time: all at once joins every cycle's month rows (88M at 1M employees)."""
    for cycle in _goal_cycles(con):
        _copy_by_cycle(con, "SELECT * FROM people_month_sums WHERE cycle_id = $cycle ORDER BY until_date, department_id, region",
                       out, {"cycle": cycle})


def _write_theme_sums(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """theme_end_sums: cycle_theme_sums at each cycle's end, one cycle at a time (the goal tree is per cycle)."""
    for cycle in _goal_cycles(con):
        _copy_by_cycle(con, "SELECT $cycle AS cycle_id, * FROM cycle_theme_sums($cycle, NULL) "
                            "ORDER BY strategy_theme, owner_type, department_id, region", out, {"cycle": cycle})


def _copy_by_cycle(con: duckdb.DuckDBPyConnection, select: str, out: Path, params: dict | None = None, pattern: str = "part-{i}") -> None:
    """Write a query's rows (with a cycle_id column) into `out`, one Parquet folder per cycle
    (files named by `pattern`: several calls for one cycle need different names)."""
    con.execute(
        f"COPY ({select}) TO $target "
        f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (cycle_id), FILENAME_PATTERN '{pattern}', OVERWRITE_OR_IGNORE true)",
        {**(params or {}), "target": str(out)},
    )


STORED = (
    StoredTable("goal_end_actuals", (("goal_id", "VARCHAR"), ("actual", "DOUBLE"), ("actual_as_of", "DATE")), order="goal_id"),
    StoredTable("owner_end_attainment", OWNER_COLUMNS, order="owner_type, owner_id"),
    StoredTable("graded_people", tuple((name, "VARCHAR") for name in (
        "employee_id", "name", "proposed_grade", "final_grade", "proposed_by", "department_id", "department", "region", "job_level", "manager_id")),
        order="employee_id"),
    StoredTable("owner_month_attainment", (("until_date", "DATE"),) + OWNER_COLUMNS, write=_write_month_attainment),
    StoredTable("goal_tree", (("goal_id", "VARCHAR"), ("linked_parent_id", "VARCHAR"), ("parent_issue", "VARCHAR"),
                              ("top_goal_id", "VARCHAR"), ("depth", "INTEGER"), ("path", "VARCHAR[]")),
                write=_write_goal_tree,
                then="CREATE OR REPLACE MACRO cycle_goal_tree(for_cycle) AS TABLE "
                     "SELECT goal_id, linked_parent_id, parent_issue, top_goal_id, depth, path FROM goal_tree WHERE cycle_id = for_cycle"),
    StoredTable("goal_cascade_defaults", GOAL_CASCADE_COLUMNS, write=_write_goal_cascade_defaults,
                then="CREATE OR REPLACE MACRO cycle_goal_cascade_defaults(for_cycle, for_view) AS TABLE "
                     "SELECT * EXCLUDE (cycle_id, default_view) FROM goal_cascade_defaults "
                     "WHERE cycle_id = for_cycle AND default_view = for_view"),
    StoredTable("goal_alignment_counts", (("department_id", "VARCHAR"), ("department", "VARCHAR"), ("region", "VARCHAR"),
                                          ("individual_goals", "BIGINT"), ("linked_goals", "BIGINT"), ("broken_links", "BIGINT")),
                write=_per_cycle("cycle_goal_alignment_counts_computed", "department_id, department, region"),
                then=_read_per_cycle("cycle_goal_alignment_counts", "goal_alignment_counts")),
    StoredTable("unlinked_goal_rows", (("goal_id", "VARCHAR"), ("owner_type", "VARCHAR"), ("owner_id", "VARCHAR"), ("owner_name", "VARCHAR"),
                                       ("department_id", "VARCHAR"), ("department", "VARCHAR"), ("region", "VARCHAR"), ("title", "VARCHAR"),
                                       ("kpi", "VARCHAR"), ("weight", "DOUBLE"), ("parent_goal_id", "VARCHAR"), ("reason", "VARCHAR")),
                write=_per_cycle("cycle_unlinked_goals_computed", "goal_id"),
                then=_read_per_cycle("cycle_unlinked_goals", "unlinked_goal_rows")),
    # Cycle-level sums at each cycle's end (definitions.sql, "Cycle-level sums"): the attainment
    # questions add up a few hundred rows of these instead of a cycle's goals and employees.
    StoredTable("team_end_sums", (("unit_id", "VARCHAR"), ("unit_name", "VARCHAR"), ("department_id", "VARCHAR"), ("department", "VARCHAR"),
                                  ("region", "VARCHAR"), ("employees", "BIGINT"), ("employees_with_attainment", "BIGINT"),
                                  ("attainment_sum", "DOUBLE")),
                order="department_id, unit_id, region"),
    StoredTable("people_end_sums", (("department_id", "VARCHAR"), ("department", "VARCHAR"), ("region", "VARCHAR"),
                                    ("employees", "BIGINT"), ("employees_with_attainment", "BIGINT"), ("attainment_sum", "DOUBLE")),
                order="department_id, department, region",
                then="CREATE OR REPLACE MACRO cycle_department_counts(for_cycle) AS TABLE "
                     "SELECT department_id, department, CAST(sum(employees) AS BIGINT) AS employees FROM people_end_sums "
                     "WHERE cycle_id = for_cycle AND department_id IS NOT NULL GROUP BY department_id, department"),
    StoredTable("people_month_sums", (("until_date", "DATE"), ("department_id", "VARCHAR"), ("region", "VARCHAR"),
                                      ("employees_with_attainment", "BIGINT"), ("attainment_sum", "DOUBLE")),
                write=_write_people_month_sums),
    StoredTable("theme_end_sums", THEME_COLUMNS, write=_write_theme_sums,
                then="CREATE OR REPLACE MACRO cycle_theme_sums(for_cycle, until_date) AS TABLE "
                     f"SELECT {', '.join(name for name, _ in THEME_COLUMNS)} FROM theme_end_sums "
                     "WHERE cycle_id = for_cycle AND until_date IS NULL "
                     "UNION ALL SELECT * FROM cycle_theme_sums_computed(for_cycle, until_date) WHERE until_date IS NOT NULL"),
    StoredTable("goal_problems", PROBLEM_COLUMNS, write=_per_cycle("cycle_goal_problems_computed", "issue, owner_type, owner_id, goal_id"),
                then=_read_per_cycle("cycle_goal_problems", "goal_problems")),
)
"""What `build` writes and `attach` reads, in the order they are computed."""


LENIENCY_STORED = (
    StoredTable("self_manager_sums", (("department_id", "VARCHAR"), ("department", "VARCHAR"), ("region", "VARCHAR"),
                                      ("employees", "BIGINT"), ("self_sum", "DOUBLE"), ("manager_sum", "DOUBLE"), ("gap_sum", "DOUBLE")),
                write=_per_cycle("cycle_self_manager_sums_computed", "department_id, department, region", cycles=_rating_cycles),
                then=_read_per_cycle("cycle_self_manager_sums", "self_manager_sums")),
)
"""Stored in the leniency folder (they depend on the ratings and the policy's dimension weights)
and attached from it when current, besides the fits gradelens/analyses/leniency.py reads."""


def refresh(dataset_dir: str | Path) -> bool:
    """After an import or rollback: rebuild, but never fail the change that was just made.

    Queries stay correct without the derived tables (they read the raw ones), so a failure
    here (a full disk, a table that cannot be read) is reported by the data page, not raised.
    """
    try:
        build(dataset_dir)
    except (OSError, duckdb.Error, GradelensError):
        return False
    return True


def _remove_old(root: Path, keep: Path) -> None:
    """Keep `keep` and the newest other version; drop the rest and builds abandoned an hour ago."""
    versions = sorted((p for p in root.iterdir() if p.is_dir() and p != keep and not p.name.startswith(".")),
                      key=lambda p: p.stat().st_mtime, reverse=True)
    abandoned = [p for p in root.glob(".building-*") if time.time() - p.stat().st_mtime > 3600]
    for old in versions[1:] + abandoned:
        shutil.rmtree(old, ignore_errors=True)
