"""Named queries: one question each, in `queries/<name>.sql` or as a registered Python analysis.

A SQL file opens with a header of comment lines:

    -- How well did each department attain its goals in a cycle?
    -- Any further lines of description.
    -- @param cycle cycle=latest  The performance cycle.
    -- @param stage choice(proposed|final)=final  Which grades to count.
    -- @needs employees, goals, kpi_actuals
    -- @returns department_id, department, employees, attainment
    -- Notes for readers of the SQL (how it is computed, why).

The description is the lines before the first tag. A line after an @param line continues that
parameter's description; lines after the other tags are notes, not part of the description.

Parameter types: `cycle` (a cycle_id of the dataset; default `latest`), `text`, `date`
(YYYY-MM-DD), `int`, `number`, `choice(a|b|...)`. `=null` makes a parameter optional with
no value. Values are bound by DuckDB as `$name`; the SQL's `$names` must be exactly the
declared parameters, checked when the file is loaded.

Statistics that SQL cannot express well live in the package as Python functions over query
results, registered with `python_query`, so the CLI and pages reach them the same way.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import math
import pkgutil
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb
import pandas as pd
import pyarrow as pa

from gradelens.contract import TABLES
from gradelens.dataset import Dataset
from gradelens.errors import DatasetError, QueryError
from gradelens.i18n import Message
from gradelens.privacy import suppress

if TYPE_CHECKING:
    from gradelens.access import Viewer

T = TypeVar("T")

QUERIES_DIR = Path(__file__).resolve().parent.parent / "queries"

# Every module of this package is imported to register its Python-backed named queries.
PYTHON_QUERY_PACKAGE = "gradelens.analyses"

REQUIRED = object()
LATEST = "latest"
MAX_TEXT_LENGTH = 200

_PARAM_LINE = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*)\s+(?P<type>cycle|text|date|int|number|choice\([^)]*\))(?:=(?P<default>\S+))?\s*(?P<description>.*)$")
_SQL_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: object = REQUIRED
    description: str = ""

    @property
    def choices(self) -> tuple[str, ...]:
        if not self.type.startswith("choice("):
            return ()
        return tuple(c.strip() for c in self.type[len("choice(") : -1].split("|") if c.strip())

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @classmethod
    def parse(cls, text: str, where: str) -> Param:
        match = _PARAM_LINE.match(text.strip())
        if not match:
            raise QueryError("errors.param_line", where=where, line=text.strip())
        name, type_, raw_default = match["name"], match["type"], match["default"]
        param = cls(name, type_, REQUIRED, match["description"].strip())
        if raw_default is None:
            return param
        if raw_default == "null":
            default: object = None
        elif type_ == "cycle" and raw_default == LATEST:
            default = LATEST
        else:
            default = param.coerce(raw_default, where)
        return cls(name, type_, default, param.description)

    def coerce(self, value: object, where: str | Message) -> object:
        """Turn a value (often text from a URL or the command line) into this parameter's type."""
        if value is None:
            return None
        if self.type in ("cycle", "text"):
            text = str(value)
            if len(text) > MAX_TEXT_LENGTH:
                raise QueryError("errors.param_too_long", where=where, param=self.name, length=len(text), limit=MAX_TEXT_LENGTH)
            return text
        if self.type == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            if isinstance(value, dt.date):
                return value
            try:
                return dt.date.fromisoformat(str(value))
            except ValueError:
                raise QueryError("errors.param_not_date", where=where, param=self.name, value=repr(value)) from None
        if self.type == "int":
            try:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                return int(value)
            except (TypeError, ValueError):
                raise QueryError("errors.param_not_int", where=where, param=self.name, value=repr(value)) from None
        if self.type == "number":
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                raise QueryError("errors.param_not_number", where=where, param=self.name, value=repr(value))
            return number
        choices = self.choices
        if str(value) not in choices:
            raise QueryError("errors.param_not_choice", where=where, param=self.name, choices=", ".join(choices), value=repr(value))
        return str(value)


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    params: tuple[Param, ...]
    needs: tuple[str, ...]
    returns: tuple[str, ...]
    sql: str | None = None
    function: Callable[..., pd.DataFrame] | None = field(default=None, compare=False)
    # `-- @privacy CLASS [count=COL by=COLS within=COLS]`; no tag = individual (the safe default).
    privacy: str = "individual"
    privacy_options: tuple[tuple[str, str], ...] = ()

    @property
    def summary(self) -> str:
        return self.description.splitlines()[0] if self.description else ""

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)


def parse_header(text: str, where: str) -> tuple[str, tuple[Param, ...], tuple[str, ...], tuple[str, ...]]:
    """Read description, parameters, needed tables and returned columns from comment lines."""
    description: list[str] = []
    params: list[Param] = []
    needs: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    section = "description"  # what an untagged line belongs to: then "param" or "notes"
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        body = stripped[2:].strip()
        if body.startswith("@param "):
            params.append(Param.parse(body[len("@param ") :], where))
            section = "param"
            continue
        section = "notes" if body.startswith("@") else section
        if body.startswith("@needs "):
            needs = tuple(t.strip() for t in body[len("@needs ") :].split(",") if t.strip())
        elif body.startswith("@returns "):
            returns = tuple(c.strip() for c in body[len("@returns ") :].split(",") if c.strip())
        elif body.startswith("@privacy"):
            continue  # read by parse_privacy
        elif body.startswith("@"):
            raise QueryError("errors.header_unknown_tag", where=where, tag=body.split()[0])
        elif body and section == "description":
            description.append(body)
        elif body and section == "param":
            params[-1] = replace(params[-1], description=f"{params[-1].description} {body}".strip())
    unknown = [t for t in needs if t not in TABLES]
    if unknown:
        raise QueryError("errors.header_unknown_tables", where=where, tables=", ".join(unknown))
    if not description:
        raise QueryError("errors.header_no_question", where=where)
    return "\n".join(description), tuple(params), needs, returns


def parse_privacy(text: str, where: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The header's `@privacy` class and options; `individual` when the tag is absent."""
    from gradelens.access import privacy_tag

    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break
        body = stripped[2:].strip()
        if body == "@privacy" or body.startswith("@privacy "):
            privacy, options = privacy_tag(body[len("@privacy") :].strip(), where)
            return privacy, tuple(options.items())
    return "individual", ()


# What cannot hold a parameter: a line comment, a block comment, a quoted string or identifier
# (a doubled quote inside stays inside); an unterminated one runs to the end of the text.
_SQL_NOT_CODE = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^']|'')*(?:'|\Z)|\"(?:[^\"]|\"\")*(?:\"|\Z)", re.DOTALL)


def sql_parameter_names(sql: str) -> set[str]:
    """The `$name` parameters a SQL text uses, ignoring comments and string literals."""
    return set(_SQL_PARAM.findall(_SQL_NOT_CODE.sub(" ", sql)))


def load_sql_query(path: Path) -> NamedQuery:
    """The named query of a SQL file, parsed once per version of the file: every run of a query
    looks its definition up, and parsing every file each time cost ~40 ms a query."""
    stat = path.stat()
    return _load_sql_file(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _load_sql_file(path: Path, mtime_ns: int, size: int) -> NamedQuery:
    # mtime and size are only the cache key: an edited file is read afresh.
    text = path.read_text(encoding="utf-8")
    where = f"queries/{path.name}"
    description, params, needs, returns = parse_header(text, where)
    declared = {p.name for p in params}
    used = sql_parameter_names(text)
    if used != declared:
        raise QueryError("errors.sql_params_differ", where=where, used=", ".join(sorted(used)) or "-",
                         declared=", ".join(sorted(declared)) or "-")
    privacy, options = parse_privacy(text, where)
    return NamedQuery(path.stem, description, params, needs, returns, sql=text, privacy=privacy, privacy_options=options)


_PYTHON_QUERIES: dict[str, NamedQuery] = {}


def python_query(header: str) -> Callable[[Callable[..., pd.DataFrame]], Callable[..., pd.DataFrame]]:
    """Register `function(dataset, **params) -> DataFrame` as a named query.

    `header` uses the same comment syntax as a SQL file's header; the function's name is
    the query's name.
    """

    def register(function: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        where = f"{function.__module__}.{function.__name__}"
        description, params, needs, returns = parse_header(header, where)
        privacy, options = parse_privacy(header, where)
        _PYTHON_QUERIES[function.__name__] = NamedQuery(
            function.__name__, description, params, needs, returns, function=function,
            privacy=privacy, privacy_options=options,
        )
        return function

    return register


def all_queries() -> dict[str, NamedQuery]:
    """Every named query, SQL files and Python analyses, by name."""
    package = importlib.import_module(PYTHON_QUERY_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{PYTHON_QUERY_PACKAGE}.{module.name}")
    queries = {path.stem: load_sql_query(path) for path in sorted(QUERIES_DIR.glob("*.sql"))}
    clash = set(queries) & set(_PYTHON_QUERIES)
    if clash:
        raise QueryError("errors.query_defined_twice", names=", ".join(sorted(clash)))
    queries.update(_PYTHON_QUERIES)
    return dict(sorted(queries.items()))


def get_query(name: str) -> NamedQuery:
    queries = all_queries()
    if name not in queries:
        close = [q for q in queries if name.lower() in q or q in name.lower()]
        if close:
            raise QueryError("errors.unknown_query_close", name=name, close=", ".join(close))
        raise QueryError("errors.unknown_query", name=name)
    return queries[name]


def bind_params(dataset: Dataset, query: NamedQuery, given: Mapping[str, object], viewer: Viewer | None = None) -> dict[str, object]:
    """Check and convert parameters: unknown names, missing required ones and bad values fail.

    With a department-scoped `viewer`, a `department` outside their scope fails too, and an
    empty one becomes their single department (see `scoped_runs` for several)."""
    declared = {p.name for p in query.params}
    unknown = sorted(set(given) - declared)
    if unknown:
        if not declared:
            raise QueryError("errors.query_takes_no_params", query=query.name, unknown=", ".join(unknown))
        raise QueryError("errors.unknown_params", query=query.name, unknown=", ".join(unknown), takes=", ".join(sorted(declared)))
    where = Message("errors.where_query", {"query": query.name})
    bound: dict[str, object] = {}
    for param in query.params:
        if param.name in given and given[param.name] not in ("", None):
            value = param.coerce(given[param.name], where)
        elif param.required:
            raise QueryError("errors.param_required", query=query.name, param=param.name, about=param.description or param.type)
        else:
            value = param.default
        if param.type == "cycle" and value is not None:
            value = resolve_cycle(dataset, value, where)
        bound[param.name] = value
    if viewer is not None:
        check_viewer(query, bound, viewer)
        if viewer.department_scoped and query.privacy != "public" and bound.get("department") is None and len(viewer.departments) == 1:
            bound["department"] = viewer.departments[0]
    return bound


def refusal(query: NamedQuery, viewer: Viewer) -> Message | None:
    """Why the viewer may not run this query at all (None: they may, within their scope)."""
    if viewer.role == "executive" and query.privacy == "individual":
        return Message("access.refused_individual", {"query": query.name})
    if viewer.department_scoped and query.privacy != "public" and not any(p.name == "department" for p in query.params):
        return Message("access.refused_unscoped", {"query": query.name, "departments": ", ".join(viewer.departments)})
    return None


def check_viewer(query: NamedQuery, bound: Mapping[str, object], viewer: Viewer) -> None:
    """Refuse a query or parameters the viewer's role and scope do not allow."""
    reason = refusal(query, viewer)
    if reason is not None:
        raise QueryError("access.refused", reason=reason)
    if not viewer.department_scoped or query.privacy == "public":
        return
    department = bound.get("department")
    if department is not None and department not in viewer.departments:
        raise QueryError("access.refused_out_of_scope", query=query.name, department=repr(str(department)[:40]),
                         departments=", ".join(viewer.departments))


def cycle_ids(dataset: Dataset) -> list[str]:
    """The dataset's cycles, oldest first.

    Without a cycles table (a grades-only export, say) the cycle ids found in the other
    tables stand in, in id order.
    """
    return recovering(dataset, lambda: _cycle_ids(dataset), "cycle_ids")


def _cycle_ids(dataset: Dataset) -> list[str]:
    con = dataset.cursor()
    if "cycles" in dataset.present:
        return [r[0] for r in con.execute("SELECT cycle_id FROM cycles ORDER BY start_date, cycle_id").fetchall()]
    with_cycle = [t for t in dataset.present if "cycle_id" in TABLES[t].column_names]
    if not with_cycle:
        return []
    union = " UNION ".join(f"SELECT DISTINCT cycle_id FROM {t}" for t in with_cycle)  # contract table names
    return [r[0] for r in con.execute(f"SELECT cycle_id FROM ({union}) WHERE cycle_id IS NOT NULL ORDER BY cycle_id").fetchall()]


def resolve_cycle(dataset: Dataset, value: object, where: str | Message) -> str:
    known = cycle_ids(dataset)
    if not known:
        raise DatasetError("errors.no_cycles", path=dataset.path, where=where)
    if value == LATEST:
        return known[-1]
    if value not in known:
        raise QueryError("errors.unknown_cycle", where=where, cycle=repr(value), known=", ".join(known))
    return str(value)


def run_query(dataset: Dataset, name: str, params: Mapping[str, object] | None = None, viewer: Viewer | None = None) -> pd.DataFrame:
    """Run a named query on a dataset with checked, bound parameters.

    Without a viewer (the CLI, tests, other queries) it runs with full access. With one, the
    viewer's role and department scope are enforced here: department-scoped viewers get
    their departments forced into the `department` parameter (and rows of other departments
    dropped); executives only run aggregate queries, whose small groups are suppressed.
    """
    return recovering(dataset, lambda: _run_query(dataset, name, params, viewer), name)


def recovering(dataset: Dataset, work: Callable[[], T], name: str) -> T:
    """`work()`, once more on a new connection if DuckDB invalidated the dataset's database.

    DuckDB 2.0.0 raised a FatalException once in a concurrency run ("dict-surviving cache:
    global dictionary column ... changed identity"), after which every query on that
    connection failed until a restart. Its views are cheap to rebuild (Dataset.recover).
    """
    try:
        return work()
    except duckdb.FatalException:
        dataset.recover()
        try:
            return work()
        except duckdb.Error as exc:
            raise query_failed(dataset, name, exc) from None


# DuckDB warns that Arrow from an executed statement "makes an extra copy of the rows": a copy of
# the numbers, where the Python strings of .df() are what cost. Set once for the process: the
# warnings module's catch_warnings is not thread-safe, and pages run queries on two threads.
# con.sql(...).to_arrow_table() does not warn, but took twice as long for attainment_snapshot.
warnings.filterwarnings("ignore", "Arrow output on a DB-API result", UserWarning)


def result_frame(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> pd.DataFrame:
    """The rows of `sql` as DuckDB's .df() gives them, converted from Arrow.

    .df() makes a Python string of every text value, which pandas then turns into its
    Arrow-backed text column: 0.6 of rater_pair_scores' 1.3 s at 1M employees (a million rows,
    three text columns). pandas builds the same column from Arrow's directly. The frame is the
    one .df() gives (tests/test_query_layer.py compares them for every named query).
    """
    table = con.execute(sql, dict(params)).to_arrow_table()
    names = table.column_names
    columns = [_as_df_column(table.column(i)) for i in range(table.num_columns)]
    if len(set(names)) < len(names) or any(c is None for c in columns):  # a type not mapped below: DuckDB's own conversion
        return con.from_arrow(table).df()
    return pd.DataFrame(dict(zip(names, columns)), index=pd.RangeIndex(table.num_rows))


_NULLABLE_INTEGERS = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
                      pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(), pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype()}


def _as_df_column(column: pa.ChunkedArray) -> pd.Series | None:
    """A column as DuckDB's .df() makes it: integers and booleans nullable only when a value is
    missing, dates as datetime64[us], text without any value as object; None for other types."""
    kind, rows, missing = column.type, len(column), column.null_count
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.to_pandas() if missing < rows else pd.Series([None] * rows, dtype=object)
    if pa.types.is_floating(kind) or ((pa.types.is_integer(kind) or pa.types.is_boolean(kind)) and not missing):
        return column.to_pandas()
    if pa.types.is_integer(kind) and kind in _NULLABLE_INTEGERS:
        return column.to_pandas(types_mapper={kind: _NULLABLE_INTEGERS[kind]}.get)
    if pa.types.is_boolean(kind):
        return column.to_pandas(types_mapper={kind: pd.BooleanDtype()}.get)
    if pa.types.is_date32(kind):
        return column.cast(pa.timestamp("us")).to_pandas()
    return None


def query_failed(dataset: Dataset, name: str, exc: duckdb.Error) -> DatasetError:
    """The message for a query DuckDB could not run: its first line, with the query and the dataset."""
    return DatasetError("errors.query_failed", query=name, path=dataset.path, problem=str(exc).strip().splitlines()[0])


def _run_query(dataset: Dataset, name: str, params: Mapping[str, object] | None, viewer: Viewer | None) -> pd.DataFrame:
    query = get_query(name)
    if viewer is None or viewer.role == "admin":
        return _run_unscoped(dataset, query, params)
    bind_params(dataset, query, params or {}, viewer)  # refuses what the viewer may not run
    given = dict(params or {})
    if viewer.department_scoped and query.privacy != "public" and given.get("department") in ("", None):
        frames = [_run_unscoped(dataset, query, {**given, "department": d}) for d in viewer.departments]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    else:
        frame = _run_unscoped(dataset, query, given)
    if viewer.department_scoped and "department_id" in frame.columns:
        frame = frame[frame["department_id"].isin(viewer.departments)].reset_index(drop=True)
    if not viewer.sees_individuals and query.privacy == "aggregate":
        frame = suppress_for_query(dataset, query, frame)
    return frame


def suppress_for_query(dataset: Dataset, query: NamedQuery, frame: pd.DataFrame) -> pd.DataFrame:
    options = dict(query.privacy_options)
    split = lambda key: [c.strip() for c in options[key].split(",") if c.strip()] if key in options else None  # noqa: E731
    within = split("within")
    if within is None:
        within = [c for c in ("cycle_id",) if c in frame.columns]
    return suppress(frame, options["count"], dataset.policy.min_group_size, by=split("by"), within=within)


def _run_unscoped(dataset: Dataset, query: NamedQuery, params: Mapping[str, object] | None) -> pd.DataFrame:
    name = query.name
    missing = [t for t in query.needs if t in dataset.missing]
    if missing:
        raise DatasetError("errors.query_needs_tables", query=name, tables=", ".join(missing), path=dataset.path)
    bound = bind_params(dataset, query, params or {})
    try:
        if query.function is not None:
            return query.function(dataset, **bound)
        return result_frame(dataset.cursor(), query.sql, bound)
    except duckdb.FatalException:
        raise  # run_query recovers from it
    except duckdb.Error as exc:
        # Reading a damaged file or a value that breaks a cast surfaces here, not at open.
        raise query_failed(dataset, name, exc) from None
