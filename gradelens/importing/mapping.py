"""Mappings: how an HRIS export's files, headers and values become the data contract's.

A mapping is a TOML file (docs/importing.md documents every key; examples/mappings/ holds
worked examples, one for an export with Chinese headers):

    [read]                                  # how to read every file (a table may override)
    encoding = "auto"                       # auto: UTF-8 (with or without BOM), UTF-16 with BOM, else GBK
    delimiter = "auto"                      # auto: the one of , ; tab | that splits the header most
    date_formats = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"]

    [cycle]                                 # optional: the cycle this export is for
    id = "2026H1"
    name = "2026 上半年"
    start_date = 2026-01-01
    end_date = 2026-06-30

    [grades]                                # source grade -> policy grade, for every grade column
    "优秀" = "S"

    [tables.ratings]
    files = ["*评分*"]                       # file-name patterns
    [tables.ratings.columns]                # contract column = source header (or a list of alternatives)
    ratee_id = "被评价人编号"
    [tables.ratings.values.rater_role]      # source value -> contract code
    "上级" = "manager"
    [tables.ratings.dimensions]             # a wide export: one score column per dimension
    results = "业绩得分"
    [tables.ratings.scale.score]            # a linear change of scale
    from = [0, 100]
    to = [1, 5]

Without a mapping file, `default_mapping()` reads `<table>.csv|xlsx|parquet` files whose
headers are the contract's column names.
"""

from __future__ import annotations

import codecs
import datetime as dt
import fnmatch
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from gradelens.contract import (
    APPEAL_STATUSES,
    DIMENSIONS,
    DIRECTIONS,
    OWNER_TYPES,
    RATER_ROLES,
    TABLES,
    UNIT_TYPES,
)
from gradelens.errors import GradelensError
from gradelens.i18n import Message, t

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "examples" / "mappings"

DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
DEFAULT_NULL_VALUES = ("", "-", "—", "N/A", "n/a", "NULL", "null", "None")
GRADE_COLUMNS = ("proposed_grade", "final_grade", "grade_before", "grade_after")
ALLOWED_CODES: dict[str, tuple[str, ...]] = {
    "unit_type": UNIT_TYPES,
    "owner_type": OWNER_TYPES,
    "direction": DIRECTIONS,
    "rater_role": RATER_ROLES,
    "dimension": DIMENSIONS,
    "status": APPEAL_STATUSES,
}
"""Columns whose values come from a fixed list in the contract."""

_DATE_DIRECTIVES = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{1,2})", "d": r"(?P<d>\d{1,2})", "y": r"(?P<y>\d{2})"}
_TIME_DIRECTIVES = {"H": r"\d{1,2}", "M": r"\d{1,2}", "S": r"\d{1,2}(?:\.\d+)?"}
_OPTIONAL_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"


class MappingError(GradelensError):
    """A mapping file that cannot be used: bad TOML, unknown tables or columns, bad formats."""


@dataclass(frozen=True)
class ReadOptions:
    encoding: str = "auto"
    delimiter: str = "auto"
    sheet: str | int | None = None  # XLSX: a sheet name or 1-based index; None: the first sheet
    header_row: int = 1
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    null_values: tuple[str, ...] = DEFAULT_NULL_VALUES
    decimal: str = "."


@dataclass(frozen=True)
class Scale:
    """A linear change of scale: `source` (low, high) onto `target` (low, high)."""

    source: tuple[float, float]
    target: tuple[float, float]
    decimals: int | None = None

    def describe(self) -> str:
        return f"{_num(self.source[0])}-{_num(self.source[1])} -> {_num(self.target[0])}-{_num(self.target[1])}"


@dataclass(frozen=True)
class CycleSpec:
    cycle_id: str | None
    name: str | None
    start_date: dt.date | None
    end_date: dt.date | None


@dataclass(frozen=True)
class TableMapping:
    table: str
    files: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]  # contract column -> accepted source headers
    constants: dict[str, object] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    scales: dict[str, Scale] = field(default_factory=dict)
    dimensions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # ratings only
    read: ReadOptions = ReadOptions()

    def matches(self, file_name: str) -> bool:
        name = file_name.casefold()
        return any(fnmatch.fnmatchcase(name, pattern.casefold()) for pattern in self.files)

    def source_columns(self) -> dict[str, tuple[str, ...]]:
        """Contract column -> headers to look for, including the wide score columns."""
        return dict(self.columns)

    def required_columns(self, cycle_given: bool) -> list[str]:
        """Contract columns that must come from a header in the file."""
        contract = TABLES[self.table]
        skip = set(self.constants)
        if cycle_given:
            skip.add("cycle_id")
        if self.dimensions:
            skip |= {"dimension", "score"}
        return [c.name for c in contract.columns if not c.nullable and c.name not in skip]

    def value_map(self, column: str, grades: dict[str, str]) -> dict[str, str] | None:
        if column in self.values:
            return self.values[column]
        if column in GRADE_COLUMNS and grades:
            return grades
        return None


@dataclass(frozen=True)
class Mapping:
    tables: dict[str, TableMapping]
    cycle: CycleSpec | None = None
    grades: dict[str, str] = field(default_factory=dict)
    source: str = "(default)"  # where the mapping came from, for the snapshot record
    text: str = ""  # the TOML text, kept with the snapshot

    def tables_for(self, file_name: str) -> list[TableMapping]:
        return [m for m in self.tables.values() if m.matches(file_name)]


def normalise_header(header: str) -> str:
    """Headers match ignoring case, surrounding spaces, full-width forms and a BOM."""
    text = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").strip().casefold()
    return re.sub(r"\s+", " ", text)


def default_mapping() -> Mapping:
    """Files named after the contract's tables, with the contract's column names as headers."""
    tables = {
        name: TableMapping(
            table=name,
            files=tuple(f"{name}.{ext}" for ext in ("csv", "tsv", "txt", "xlsx", "xlsm", "xls", "parquet")),
            columns={c.name: (c.name,) for c in table.columns},
        )
        for name, table in TABLES.items()
    }
    return Mapping(tables=tables, source="(default)", text="")


def example_mappings() -> dict[str, Path]:
    """The documented example mappings shipped in examples/mappings/, by file stem."""
    if not EXAMPLES_DIR.is_dir():
        return {}
    return {path.stem: path for path in sorted(EXAMPLES_DIR.glob("*.toml"))}


def load_mapping(path: str | Path) -> Mapping:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MappingError("data.mapping_not_found", path=str(path)) from None
    except UnicodeDecodeError:
        raise MappingError("data.mapping_not_utf8", path=str(path)) from None
    return parse_mapping(text, source=str(path))


def parse_mapping(text: str, source: str = "mapping") -> Mapping:
    """Parse and check a mapping's TOML text; raises MappingError naming the bad key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError("data.mapping_bad_toml", source=source, problem=str(exc)) from None
    _only(raw, {"read", "cycle", "grades", "tables"}, source, "")
    defaults = _read_options(raw.get("read", {}), ReadOptions(), source, "read")
    grades = _string_map(raw.get("grades", {}), source, "grades")
    cycle = _cycle(raw.get("cycle"), source)
    tables_raw = raw.get("tables", {})
    if not isinstance(tables_raw, dict) or not tables_raw:
        raise MappingError("data.mapping_no_tables", source=source, tables=", ".join(TABLES))
    tables = {}
    for name, spec in tables_raw.items():
        if name not in TABLES:
            raise MappingError("data.mapping_unknown_table", source=source, name=name, tables=", ".join(TABLES))
        tables[name] = _table_mapping(name, spec, defaults, source)
    return Mapping(tables=tables, cycle=cycle, grades=grades, source=source, text=text)


def _table_mapping(name: str, spec: object, defaults: ReadOptions, source: str) -> TableMapping:
    where = f"tables.{name}"
    if not isinstance(spec, dict):
        raise MappingError("data.mapping_bad_value", source=source, setting=where, expected=Message("data.expected_table"))
    read_keys = {"encoding", "delimiter", "sheet", "header_row", "date_formats", "null_values", "decimal"}
    _only(spec, {"files", "columns", "constants", "values", "scale", "dimensions"} | read_keys, source, where)
    contract = TABLES[name]
    files = spec.get("files", [f"{name}.*"])
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
        raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.files", expected=Message("data.expected_file_patterns"))

    columns = {}
    for column, headers in spec.get("columns", {}).items():
        _known_column(name, column, source, f"{where}.columns")
        if isinstance(headers, str):
            headers = [headers]
        if not isinstance(headers, list) or not headers or not all(isinstance(h, str) and h.strip() for h in headers):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.columns.{column}", expected=Message("data.expected_headers"))
        columns[column] = tuple(headers)

    constants = {}
    for column, value in spec.get("constants", {}).items():
        _known_column(name, column, source, f"{where}.constants")
        if not isinstance(value, (str, int, float, dt.date)) or isinstance(value, bool):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.constants.{column}", expected=Message("data.expected_constant"))
        constants[column] = value

    values = {}
    for column, table in spec.get("values", {}).items():
        _known_column(name, column, source, f"{where}.values")
        if str(contract.column(column).type) != "string":
            raise MappingError("data.mapping_values_on_non_text", source=source, setting=f"{where}.values.{column}")
        values[column] = _string_map(table, source, f"{where}.values.{column}")
    for column, mapped in values.items():
        allowed = ALLOWED_CODES.get(column)
        wrong = sorted({v for v in mapped.values() if allowed and v not in allowed})
        if wrong:
            raise MappingError("data.mapping_bad_code", source=source, setting=f"{where}.values.{column}",
                                 values=", ".join(wrong), allowed=", ".join(allowed))

    scales = {}
    for column, scale in spec.get("scale", {}).items():
        _known_column(name, column, source, f"{where}.scale")
        if str(contract.column(column).type) != "double":
            raise MappingError("data.mapping_scale_on_non_number", source=source, setting=f"{where}.scale.{column}")
        scales[column] = _scale(scale, source, f"{where}.scale.{column}")

    dimensions = {}
    if "dimensions" in spec:
        if name != "ratings":
            raise MappingError("data.mapping_dimensions_only_ratings", source=source, setting=f"{where}.dimensions")
        for dimension, headers in spec["dimensions"].items():
            if dimension not in DIMENSIONS:
                raise MappingError("data.mapping_bad_code", source=source, setting=f"{where}.dimensions",
                                     values=dimension, allowed=", ".join(DIMENSIONS))
            if isinstance(headers, str):
                headers = [headers]
            if not isinstance(headers, list) or not headers or not all(isinstance(h, str) and h.strip() for h in headers):
                raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.dimensions.{dimension}", expected=Message("data.expected_headers"))
            dimensions[dimension] = tuple(headers)
        if not dimensions or {"dimension", "score"} & (set(columns) | set(constants)):
            raise MappingError("data.mapping_dimensions_conflict", source=source, setting=f"{where}.dimensions")

    read = _read_options({k: v for k, v in spec.items() if k in read_keys}, defaults, source, where)
    if not columns and not dimensions:
        columns = {c: (c,) for c in contract.column_names}
    return TableMapping(name, tuple(files), columns, constants, values, scales, dimensions, read)


def _read_options(raw: object, defaults: ReadOptions, source: str, where: str) -> ReadOptions:
    if not isinstance(raw, dict):
        raise MappingError("data.mapping_bad_value", source=source, setting=where, expected=Message("data.expected_table"))
    _only(raw, {"encoding", "delimiter", "sheet", "header_row", "date_formats", "null_values", "decimal"}, source, where)
    options = {}
    if "encoding" in raw:
        encoding = raw["encoding"]
        if not isinstance(encoding, str) or (encoding != "auto" and not _codec_exists(encoding)):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.encoding", expected=Message("data.expected_encoding"))
        options["encoding"] = encoding
    if "delimiter" in raw:
        delimiter = raw["delimiter"]
        if not isinstance(delimiter, str) or (delimiter != "auto" and len(delimiter) != 1):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.delimiter", expected=Message("data.expected_delimiter"))
        options["delimiter"] = delimiter
    if "sheet" in raw:
        sheet = raw["sheet"]
        if isinstance(sheet, bool) or not isinstance(sheet, (str, int)) or (isinstance(sheet, int) and sheet < 1):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.sheet", expected=Message("data.expected_sheet"))
        options["sheet"] = sheet
    if "header_row" in raw:
        header_row = raw["header_row"]
        if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.header_row", expected=Message("data.expected_header_row"))
        options["header_row"] = header_row
    if "date_formats" in raw:
        formats = raw["date_formats"]
        if isinstance(formats, str):
            formats = [formats]
        if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.date_formats", expected=Message("data.expected_date_formats"))
        for fmt in formats:
            date_pattern(fmt, source=f"{source}: {where}.date_formats")
        options["date_formats"] = tuple(formats)
    if "null_values" in raw:
        nulls = raw["null_values"]
        if not isinstance(nulls, list) or not all(isinstance(v, str) for v in nulls):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.null_values", expected=Message("data.expected_null_values"))
        options["null_values"] = tuple(dict.fromkeys(["", *nulls]))
    if "decimal" in raw:
        if raw["decimal"] not in (".", ","):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.decimal", expected=Message("data.expected_decimal"))
        options["decimal"] = raw["decimal"]
    return ReadOptions(**{**defaults.__dict__, **options})


def date_pattern(fmt: str, source: str = "date_formats") -> str:
    """A strptime-style format as an anchored regex with groups Y (or y), m, d.

    Only the directives that dates need are accepted: %Y %y %m %d, and %H %M %S, which are
    read and ignored. Any format also accepts a time after the date (Excel date cells).
    """
    parts, i, groups = [], 0, set()
    while i < len(fmt):
        char = fmt[i]
        if char == "%" and i + 1 < len(fmt):
            directive = fmt[i + 1]
            if directive in _DATE_DIRECTIVES:
                parts.append(_DATE_DIRECTIVES[directive])
                groups.add(directive)
            elif directive in _TIME_DIRECTIVES:
                parts.append(_TIME_DIRECTIVES[directive])
            elif directive == "%":
                parts.append("%")
            else:
                raise MappingError("data.mapping_bad_date_format", source=source, format=fmt, directive=f"%{directive}")
            i += 2
        else:
            parts.append(re.escape(char))
            i += 1
    if not ({"Y", "y"} & groups and {"m", "d"} <= groups):
        raise MappingError("data.mapping_bad_date_format", source=source, format=fmt, directive="%Y %m %d")
    return "^" + "".join(parts) + _OPTIONAL_TIME + "$"


def _cycle(raw: object, source: str) -> CycleSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MappingError("data.mapping_bad_value", source=source, setting="cycle", expected=Message("data.expected_table"))
    _only(raw, {"id", "name", "start_date", "end_date"}, source, "cycle")
    cycle_id = raw.get("id")
    if cycle_id is not None and (not isinstance(cycle_id, str) or not cycle_id.strip()):
        raise MappingError("data.mapping_bad_value", source=source, setting="cycle.id", expected=Message("data.expected_cycle_id"))
    dates = {}
    for key in ("start_date", "end_date"):
        value = raw.get(key)
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                value = None
        if key in raw and not isinstance(value, dt.date):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"cycle.{key}", expected=Message("data.expected_date"))
        dates[key] = value
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise MappingError("data.mapping_bad_value", source=source, setting="cycle.name", expected=Message("data.expected_text"))
    if (name is None) != (dates["start_date"] is None) or (name is None) != (dates["end_date"] is None):
        raise MappingError("data.mapping_cycle_incomplete", source=source)
    return CycleSpec(cycle_id.strip() if cycle_id else None, name, dates["start_date"], dates["end_date"])


def _scale(raw: object, source: str, where: str) -> Scale:
    expected = Message("data.expected_scale")
    if not isinstance(raw, dict):
        raise MappingError("data.mapping_bad_value", source=source, setting=where, expected=expected)
    _only(raw, {"from", "to", "decimals"}, source, where)
    pairs = []
    for key in ("from", "to"):
        pair = raw.get(key)
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair) or pair[0] >= pair[1]):
            raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.{key}", expected=expected)
        pairs.append((float(pair[0]), float(pair[1])))
    decimals = raw.get("decimals")
    if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 12):
        raise MappingError("data.mapping_bad_value", source=source, setting=f"{where}.decimals", expected=Message("data.expected_decimals"))
    return Scale(pairs[0], pairs[1], decimals)


def _string_map(raw: object, source: str, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise MappingError("data.mapping_bad_value", source=source, setting=where, expected=Message("data.expected_value_pairs"))
    return {str(k).strip(): v.strip() for k, v in raw.items()}


def _known_column(table: str, column: str, source: str, where: str) -> None:
    if column not in TABLES[table].column_names:
        raise MappingError("data.mapping_unknown_column", source=source, setting=where, column=column, table=table,
                             columns=", ".join(TABLES[table].column_names))


def _only(raw: dict, allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise MappingError("data.mapping_unknown_key", source=source, setting=(where + "." if where else "") + unknown[0],
                             allowed=", ".join(sorted(allowed)))


def _codec_exists(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _num(value: float) -> str:
    return f"{value:g}"
