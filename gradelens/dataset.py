"""Dataset access: find a dataset's Parquet tables and expose them to DuckDB as views.

A dataset is a folder holding `<table>.parquet` or `<table>/**/*.parquet` (Hive partitions
such as `cycle_id=2025H2/` allowed) for each table of the contract, and optionally
`policy.toml`. Tables that are absent become empty views with the contract's columns, so
every query runs; `Dataset.missing` says which are absent so pages can explain it.

This module is the only one that opens DuckDB connections. One connection per dataset holds
the views; callers query through `Dataset.cursor()`, since a DuckDB connection is not
thread-safe and Streamlit runs each session in its own thread.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from gradelens import derived
from gradelens.contract import TABLES, Table
from gradelens.errors import DatasetError
from gradelens.policy import Policy, load_policy

DEFINITIONS_SQL = Path(__file__).with_name("definitions.sql")
THREADS_ENV = "GRADELENS_THREADS"


def duckdb_threads() -> int:
    """DuckDB's worker threads: GRADELENS_THREADS when set, else the cores this process may run
    on (a container's CPU quota is not among them: set GRADELENS_THREADS to it)."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise DatasetError("errors.bad_threads", variable=THREADS_ENV, value=value)
    return int(value)


def table_files(dataset_dir: Path, table: str) -> list[Path]:
    """The Parquet files that hold `table` in a dataset folder, sorted; empty when absent."""
    single = dataset_dir / f"{table}.parquet"
    folder = dataset_dir / table
    files = [single] if single.is_file() else []
    if folder.is_dir():
        files += sorted(p for p in folder.rglob("*.parquet") if p.is_file())
    return files


def is_dataset(path: Path) -> bool:
    """A folder counts as a dataset when it holds at least one contract table."""
    return path.is_dir() and any(table_files(path, name) for name in TABLES)


def files_fingerprint(dataset_dir: Path, paths: list[Path], salt: str = "") -> str:
    """A short hash of files' names (relative to the dataset), sizes and mtimes, and a salt."""
    digest = hashlib.sha256(salt.encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.relative_to(dataset_dir)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def fingerprint(dataset_dir: Path) -> str:
    """Changes whenever any table file or the policy changes: names, sizes and mtimes."""
    paths = [p for name in TABLES for p in table_files(dataset_dir, name)]
    policy = dataset_dir / "policy.toml"
    if policy.exists():
        paths.append(policy)
    return files_fingerprint(dataset_dir, paths)


@dataclass
class Dataset:
    """An opened dataset folder: its policy, which tables it has, and a DuckDB connection."""

    path: Path
    policy: Policy
    files: dict[str, list[Path]]
    fingerprint: str
    derived_current: bool = False
    """Whether the derived tables (gradelens/derived.py) are current; set when connecting."""
    _connection: duckdb.DuckDBPyConnection | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def present(self) -> tuple[str, ...]:
        return tuple(name for name in TABLES if self.files[name])

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in TABLES if not self.files[name])

    @property
    def name(self) -> str:
        return self.path.name

    def cursor(self, use_derived: bool = True) -> duckdb.DuckDBPyConnection:
        """A cursor for the calling thread, on the shared connection that holds the views.

        use_derived=False gives a private connection that computes everything from the raw
        tables (derived.build uses it).
        """
        if not use_derived:
            return self._connect(derived_folder=None)
        with self._lock:
            if self._connection is None:
                folder = derived.current_folder(self.path, self.policy.attainment_cap)
                self._connection = self._connect(folder)
                self.derived_current = folder is not None
            return self._connection.cursor()

    def recover(self) -> bool:
        """After a FatalException: replace the shared connection if DuckDB has invalidated it.

        An internal DuckDB error invalidates the whole in-memory database, and every later
        query on it fails. The views are cheap to rebuild, so the next cursor gets a new
        connection. Returns whether it was replaced (another thread may have done it already).
        """
        with self._lock:
            if self._connection is None:
                return False
            try:
                self._connection.execute("SELECT 1").fetchall()
                return False
            except duckdb.Error:
                self._connection = None
                return True

    def _connect(self, derived_folder: Path | None) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": duckdb_threads()})
        for name, table in TABLES.items():
            self._create_table_view(con, table, self.files[name])
        _create_policy_tables(con, self.policy)
        con.execute(DEFINITIONS_SQL.read_text(encoding="utf-8"))
        leniency = derived.leniency_folder(self.path, self.policy, derived_folder) if derived_folder is not None else None
        derived.attach(con, derived_folder, leniency)
        return con

    def _create_table_view(self, con: duckdb.DuckDBPyConnection, table: Table, files: list[Path]) -> None:
        # Columns are cast to the contract's types so a Hive partition like cycle_id=2025
        # stays text; paths go through the relational API, never into SQL text.
        if not files:
            columns = ", ".join(f"CAST(NULL AS {c.duckdb_type}) AS {c.name}" for c in table.columns)
            if table.name == "kpi_actuals":
                columns += ", CAST(NULL AS VARCHAR) AS cycle_id"
            con.execute(f"CREATE VIEW {table.name} AS SELECT {columns} WHERE false")
            return
        try:
            relation = con.read_parquet(
                [str(f) for f in files], hive_partitioning=True, union_by_name=True
            )
        except duckdb.Error as exc:
            raise DatasetError("errors.table_unreadable", path=self.path, table=table.name, problem=_first_line(exc)) from None
        available = set(relation.columns)
        absent = [c.name for c in table.columns if c.name not in available]
        if absent:
            raise DatasetError("errors.table_lacks_columns", path=self.path, table=table.name, columns=", ".join(absent),
                               expected=", ".join(table.column_names))
        columns = ", ".join(f"CAST({c.name} AS {c.duckdb_type}) AS {c.name}" for c in table.columns)
        if table.name != "kpi_actuals":
            relation.project(columns).create_view(table.name)
        elif all(_cycle_partition(f) for f in files):
            # Imports and the demo write actuals under their goal's cycle: a query about one
            # cycle then reads one folder (DuckDB prunes the others by the partition value).
            relation.project(f"{columns}, CAST(cycle_id AS VARCHAR) AS cycle_id").create_view(table.name)
        else:  # a hand-made flat file: the cycle is looked up (every query scans all actuals)
            relation.project(columns).create_view("kpi_actuals_files")
            con.execute(
                "CREATE VIEW kpi_actuals AS SELECT k.*, g.cycle_id FROM kpi_actuals_files AS k "
                "LEFT JOIN (SELECT goal_id, any_value(cycle_id) AS cycle_id FROM goals GROUP BY goal_id) AS g USING (goal_id)"
            )


def _create_policy_tables(con: duckdb.DuckDBPyConnection, policy: Policy) -> None:
    """The policy as small tables, so SQL joins on it rather than having values spliced in."""
    con.execute("CREATE TABLE policy_grades (grade VARCHAR, grade_rank INTEGER, target_share DOUBLE)")
    con.executemany(
        "INSERT INTO policy_grades VALUES ($1, $2, $3)",
        [[g, i, policy.target_shares[g]] for i, g in enumerate(policy.grades)],
    )
    con.execute("CREATE TABLE policy_dimension_weights (dimension VARCHAR, weight DOUBLE)")
    con.executemany("INSERT INTO policy_dimension_weights VALUES ($1, $2)", list(map(list, policy.dimension_weights.items())))
    con.execute("CREATE TABLE policy_rater_weights (rater_role VARCHAR, weight DOUBLE)")
    con.executemany("INSERT INTO policy_rater_weights VALUES ($1, $2)", list(map(list, policy.rater_role_weights.items())))
    con.execute(
        "CREATE TABLE policy_settings (attainment_cap DOUBLE, score_min DOUBLE, score_max DOUBLE,"
        " min_group_size INTEGER, appeal_service_target_days INTEGER)"
    )
    con.execute(
        "INSERT INTO policy_settings VALUES ($1, $2, $3, $4, $5)",
        [policy.attainment_cap, policy.score_min, policy.score_max, policy.min_group_size, policy.appeal_service_target_days],
    )


def _cycle_partition(path: Path) -> bool:
    """Whether a file sits in a `cycle_id=<id>/` folder."""
    return path.parent.name.startswith("cycle_id=")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def open_dataset(path: str | Path) -> Dataset:
    """Open a dataset folder; raises DatasetError with a fix when it is not one."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise DatasetError("errors.no_such_folder", path=path)
    if not path.is_dir():
        raise DatasetError("errors.is_a_file", path=path)
    # Imports move files into place under a lock: list the files outside that moment, and
    # finish an import whose process was killed half-way (gradelens/importing/snapshots.py).
    from gradelens.importing.snapshots import settled

    with settled(path):
        if not is_dataset(path):
            raise DatasetError("errors.not_a_dataset", path=path, tables=", ".join(TABLES))
        files = {name: table_files(path, name) for name in TABLES}
        data_fingerprint = fingerprint(path)
    return Dataset(path=path, policy=load_policy(path), files=files, fingerprint=data_fingerprint)
