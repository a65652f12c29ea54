"""Turn a source file's raw cells into the contract's types, one batch at a time.

Everything is vectorised with pyarrow.compute: a 3-million-row ratings file converts in
seconds. Each cell that does not fit (text in a numeric column, an impossible date, a score
outside the source scale, a required value left empty) is reported with its file, row,
column, value, rule and fix; the row is still staged, with that cell empty, so the checks
that follow (keys, references) can report everything in one go. Nothing is committed
while any error stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gradelens.contract import TABLES
from gradelens.i18n import t
from gradelens.importing.mapping import ALLOWED_CODES, TableMapping, date_pattern, normalise_header
from gradelens.importing.report import ERROR, Report

ROW = "_row"
"""The source row number, kept in the staged work files so any later finding names its row."""

_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_GROUPED = {".": r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$", ",": r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?%?$"}
_TEXT_TYPES = (pa.string(), pa.large_string())


@dataclass(frozen=True)
class ColumnSource:
    """Where one contract column comes from in one file."""

    column: str
    header: str | None  # the file's header; None for a constant or the cycle given on the command line
    constant: object = None

    @property
    def label(self) -> str:
        if self.header is None:
            return f"({self.column})"
        return f"{self.header} ({self.column})" if normalise_header(self.header) != self.column else self.header


class TableConverter:
    """Converts one file's batches into rows of one contract table."""

    def __init__(self, mapping: TableMapping, grades: dict[str, str], headers: list[str], file_name: str,
                 cycle: str | None, report: Report):
        self.mapping, self.file_name, self.cycle, self.report = mapping, file_name, cycle, report
        self.table = TABLES[mapping.table]
        self.grades = grades
        by_name = {}
        for header in headers:
            by_name.setdefault(normalise_header(header), header)
        self.sources: dict[str, ColumnSource] = {}
        self.missing: list[tuple[str, tuple[str, ...]]] = []  # (contract column, headers looked for)
        self.used_headers: set[str] = set()
        required = set(mapping.required_columns(cycle_given=cycle is not None))
        for column in self.table.column_names:
            if mapping.dimensions and column in ("dimension", "score"):
                continue
            if column in mapping.constants:
                self.sources[column] = ColumnSource(column, None, mapping.constants[column])
                continue
            header = self._find(mapping.columns.get(column, ()), by_name)
            if header is not None:
                self.sources[column] = ColumnSource(column, header)
            elif column == "cycle_id" and cycle is not None:
                self.sources[column] = ColumnSource(column, None, cycle)
            elif column in required:
                self.missing.append((column, mapping.columns.get(column, (column,))))
        self.dimension_sources: dict[str, ColumnSource] = {}
        for dimension, alternatives in mapping.dimensions.items():
            header = self._find(alternatives, by_name)
            if header is None:
                self.missing.append((f"score [{dimension}]", alternatives))
            else:
                self.dimension_sources[dimension] = ColumnSource("score", header)

    def _find(self, alternatives: tuple[str, ...], by_name: dict[str, str]) -> str | None:
        for alternative in alternatives:
            header = by_name.get(normalise_header(alternative))
            if header is not None:
                self.used_headers.add(header)
                return header
        return None

    @property
    def schema(self) -> pa.Schema:
        fields = [pa.field(c.name, c.type, nullable=True) for c in self.table.columns]
        return pa.schema([*fields, pa.field(ROW, pa.int64())])

    def label(self, column: str) -> str:
        source = self.sources.get(column)
        if source is not None:
            return source.label
        if column == "score" and self.dimension_sources:
            return ", ".join(s.header for s in self.dimension_sources.values())
        return f"({column})"

    def convert(self, columns: dict[str, pa.Array], rows: np.ndarray) -> pa.Table:
        """The batch as contract columns (every one nullable) plus the source row number."""
        n = len(rows)
        out: dict[str, pa.Array] = {}
        flagged = np.zeros(n, dtype=bool)  # rows with a reported bad cell: no second "empty" report
        for column in self.table.columns:
            source = self.sources.get(column.name)
            if source is None:
                out[column.name] = pa.nulls(n, column.type)
                continue
            if source.header is None:
                out[column.name] = _repeat(source.constant, column.type, n)
                continue
            values, bad = self._typed(column.name, column.type, columns[source.header], rows, source.label)
            flagged |= bad
            out[column.name] = values
        if self.cycle is not None and "cycle_id" in out and self.sources["cycle_id"].header is not None:
            found = out["cycle_id"]
            other = pc.fill_null(pc.not_equal(found, self.cycle), False).to_numpy(zero_copy_only=False)
            if other.any():
                self.report.add_rows(ERROR, self.file_name, t("data.rule_other_cycle", cycle=self.cycle),
                                     t("data.fix_other_cycle", cycle=self.cycle), rows[other],
                                     found.filter(pa.array(other)).to_pylist(), column=self.label("cycle_id"),
                                     table=self.table.name)
            out["cycle_id"] = _repeat(self.cycle, pa.string(), n)
        if not self.dimension_sources:
            self._report_empty(out, rows, flagged)
            return pa.table({**out, ROW: pa.array(rows, pa.int64())}, schema=self.schema)
        parts = []
        for dimension, source in self.dimension_sources.items():
            scores, bad = self._typed("score", pa.float64(), columns[source.header], rows, source.label)
            present = pc.is_valid(scores).to_numpy(zero_copy_only=False)
            keep = pa.array(present)
            part = {name: array.filter(keep) for name, array in out.items()}
            part["dimension"] = _repeat(dimension, pa.string(), int(present.sum()))
            part["score"] = scores.filter(keep)
            self._report_empty(part, rows[present], (flagged | bad)[present])
            parts.append(pa.table({**part, ROW: pa.array(rows[present], pa.int64())}, schema=self.schema))
        return pa.concat_tables(parts)

    def _report_empty(self, out: dict[str, pa.Array], rows: np.ndarray, flagged: np.ndarray) -> None:
        for column in self.table.columns:
            if column.nullable or column.name not in out:
                continue
            empty = pc.is_null(out[column.name]).to_numpy(zero_copy_only=False) & ~flagged
            if empty.any():
                self.report.add_rows(ERROR, self.file_name, t("data.rule_empty_value", column=column.name),
                                     t("data.fix_empty_value", column=column.name), rows[empty], [""] * int(empty.sum()),
                                     column=self.label(column.name), table=self.table.name)

    def _typed(self, name: str, kind: pa.DataType, raw: pa.Array, rows: np.ndarray, label: str) -> tuple[pa.Array, np.ndarray]:
        """One column converted to `kind`; `bad` marks the cells reported as not fitting."""
        read = self.mapping.read
        n = len(rows)
        bad = np.zeros(n, dtype=bool)
        if kind == pa.string():
            text = _nulls(as_text(raw), read.null_values)
            mapping = self.mapping.value_map(name, self.grades)
            if mapping:
                index = pc.index_in(text, value_set=pa.array(list(mapping), pa.string()))
                text = pc.coalesce(pc.take(pa.array(list(mapping.values()), pa.string()), index), text)
            allowed = ALLOWED_CODES.get(name)
            if allowed:  # "Manager" is manager
                lowered = pc.utf8_lower(text)
                text = pc.if_else(pc.is_in(lowered, value_set=pa.array(allowed)), lowered, text)
            return text, bad
        if kind == pa.float64():
            if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type) or pa.types.is_decimal(raw.type):
                values = pc.cast(raw, pa.float64())
            else:
                text = _nulls(as_text(raw), read.null_values)
                values, bad = parse_numbers(text, read.decimal)
                if bad.any():
                    self.report.add_rows(ERROR, self.file_name, t("data.rule_not_a_number"), t("data.fix_not_a_number"),
                                         rows[bad], text.filter(pa.array(bad)).to_pylist(), column=label, table=self.table.name)
            scale = self.mapping.scales.get(name)
            if scale is not None:
                values, outside = apply_scale(values, scale)
                if outside.any():
                    self.report.add_rows(ERROR, self.file_name, t("data.rule_outside_source_scale", scale=scale.describe()),
                                         t("data.fix_outside_source_scale"), rows[outside],
                                         [f"{v:g}" for v in raw_numbers(raw, outside, read.decimal)], column=label,
                                         table=self.table.name)
                    bad |= outside
            return values, bad
        # dates
        if pa.types.is_date(raw.type):
            return pc.cast(raw, pa.date32()), bad
        if pa.types.is_timestamp(raw.type):
            return pc.cast(pc.floor_temporal(raw, unit="day"), pa.date32()), bad
        text = _nulls(as_text(raw), read.null_values)
        values, unreadable, impossible = parse_dates(text, read.date_formats)
        if unreadable.any():
            self.report.add_rows(ERROR, self.file_name, t("data.rule_not_a_date", formats=" | ".join(read.date_formats)),
                                 t("data.fix_not_a_date"), rows[unreadable], text.filter(pa.array(unreadable)).to_pylist(),
                                 column=label, table=self.table.name)
        if impossible.any():
            self.report.add_rows(ERROR, self.file_name, t("data.rule_impossible_date"), t("data.fix_impossible_date"),
                                 rows[impossible], text.filter(pa.array(impossible)).to_pylist(), column=label,
                                 table=self.table.name)
        return values, unreadable | impossible


def _repeat(value: object, kind: pa.DataType, n: int) -> pa.Array:
    if kind == pa.string():
        value = str(value)
    elif kind == pa.float64():
        value = float(value)
    return pa.repeat(pa.scalar(value, kind), n)


def as_text(raw: pa.Array) -> pa.Array:
    """Any column as trimmed text: numbers as written (1003, not 1003.0), dates as ISO."""
    if pa.types.is_dictionary(raw.type):
        raw = raw.dictionary_decode()
    if raw.type not in _TEXT_TYPES:
        raw = pc.cast(raw, pa.string())
    elif raw.type == pa.large_string():
        raw = pc.cast(raw, pa.string())
    return pc.utf8_trim_whitespace(raw)


def _nulls(text: pa.Array, null_values: tuple[str, ...]) -> pa.Array:
    is_null_text = pc.is_in(text, value_set=pa.array(list(null_values), pa.string()))
    return pc.if_else(is_null_text, pa.scalar(None, pa.string()), text)


def parse_numbers(text: pa.Array, decimal: str = ".") -> tuple[pa.Array, np.ndarray]:
    """Text to float64: '1,234.5' (grouped), '85%' (0.85), '-3e2'; anything else is bad."""
    if decimal == ".":
        try:  # the usual case, plain numbers: one cast, then only inf/nan to refuse
            values = pc.cast(text, pa.float64())
        except pa.ArrowInvalid:
            values = None
        if values is not None and pc.all(pc.fill_null(pc.is_finite(values), True)).as_py() is not False:
            return values, np.zeros(len(text), dtype=bool)
    grouped = pc.fill_null(pc.match_substring_regex(text, _GROUPED[decimal]), False)
    if decimal == ".":
        clean = pc.if_else(grouped, pc.replace_substring(text, ",", ""), text)
    else:
        clean = pc.if_else(grouped, pc.replace_substring(text, ".", ""), text)
        clean = pc.replace_substring(clean, ",", ".")
    percent = pc.fill_null(pc.ends_with(clean, "%"), False)
    clean = pc.if_else(percent, pc.utf8_slice_codeunits(clean, 0, -1), clean)
    ok = pc.fill_null(pc.match_substring_regex(clean, _NUMBER), False)
    values = pc.cast(pc.if_else(ok, clean, pa.scalar(None, pa.string())), pa.float64())
    values = pc.if_else(percent, pc.divide(values, 100.0), values)
    finite = pc.fill_null(pc.is_finite(values), False).to_numpy(zero_copy_only=False)  # 1e400 overflows
    bad = pc.is_valid(text).to_numpy(zero_copy_only=False) & ~(ok.to_numpy(zero_copy_only=False) & finite)
    values = pc.if_else(pa.array(bad), pa.scalar(None, pa.float64()), values)
    return values, bad


def raw_numbers(raw: pa.Array, mask: np.ndarray, decimal: str) -> list[float]:
    selected = raw.filter(pa.array(mask))
    if pa.types.is_integer(selected.type) or pa.types.is_floating(selected.type) or pa.types.is_decimal(selected.type):
        return pc.cast(selected, pa.float64()).to_pylist()
    values, _ = parse_numbers(_nulls(as_text(selected), ("",)), decimal)
    return values.to_pylist()


def apply_scale(values: pa.Array, scale) -> tuple[pa.Array, np.ndarray]:
    """Map `scale.source` onto `scale.target` linearly; values outside the source range are bad."""
    (low, high), (to_low, to_high) = scale.source, scale.target
    array = values.to_numpy(zero_copy_only=False).astype(float)
    valid = ~np.isnan(array)
    outside = valid & ((array < low) | (array > high))
    converted = to_low + (array - low) * (to_high - to_low) / (high - low)
    if scale.decimals is not None:
        converted = np.round(converted, scale.decimals)
    converted[outside] = np.nan
    return pa.array(converted, pa.float64(), mask=~valid | outside), outside


def parse_dates(text: pa.Array, formats: tuple[str, ...]) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Text to dates, trying each format in turn.

    Returns the dates, the cells no format reads (`unreadable`) and the cells a format reads
    that name no real day (`impossible`: 2025-02-30, 2023-02-29, month 13). pyarrow's own
    strptime rolls 2025-02-30 over to 2 March, so the parts are checked here.
    """
    n = len(text)
    years = np.zeros(n, dtype=np.int64)
    months = np.zeros(n, dtype=np.int64)
    days = np.zeros(n, dtype=np.int64)
    matched = np.zeros(n, dtype=bool)
    for fmt in formats:
        if matched.all():
            break
        fixed = _fixed_layout(fmt)
        if fixed is not None:  # zero-padded dates: read the digits at their byte offsets (2-3x faster)
            regex, offsets = fixed
            hit = pc.fill_null(pc.match_substring_regex(text, regex), False).to_numpy(zero_copy_only=False) & ~matched
            if hit.any():
                chosen = pc.cast(text.filter(pa.array(hit)), pa.binary())
                for field_name, (start, length) in offsets.items():
                    digits = pc.cast(pc.binary_slice(chosen, start, start + length), pa.string())
                    target = years if field_name in ("Y", "y") else months if field_name == "m" else days
                    target[hit] = pc.cast(digits, pa.int64()).to_numpy() + (2000 if field_name == "y" else 0)
                matched |= hit
                if matched.all():
                    break
        pattern = date_pattern(fmt)
        parts = pc.extract_regex(text, pattern)
        hit = pc.is_valid(parts).to_numpy(zero_copy_only=False) & ~matched
        if not hit.any():
            continue
        chosen = parts.filter(pa.array(hit))
        year_field = "Y" if "(?P<Y>" in pattern else "y"
        year = pc.cast(pc.struct_field(chosen, year_field), pa.int64()).to_numpy()
        if year_field == "y":
            year = year + 2000
        years[hit] = year
        months[hit] = pc.cast(pc.struct_field(chosen, "m"), pa.int64()).to_numpy()
        days[hit] = pc.cast(pc.struct_field(chosen, "d"), pa.int64()).to_numpy()
        matched |= hit
    present = pc.is_valid(text).to_numpy(zero_copy_only=False)
    unreadable = present & ~matched
    plausible = matched & (months >= 1) & (months <= 12) & (years >= 1900) & (years <= 2200)
    month_start = np.full(n, np.datetime64("1970-01", "M"))
    month_start[plausible] = (np.datetime64("1970-01", "M")
                              + ((years[plausible] - 1970) * 12 + months[plausible] - 1).astype("timedelta64[M]"))
    first_day = month_start.astype("datetime64[D]")
    length = ((month_start + np.timedelta64(1, "M")).astype("datetime64[D]") - first_day).astype(np.int64)
    valid = plausible & (days >= 1) & (days <= length)
    impossible = matched & ~valid
    dates = first_day + np.where(valid, days - 1, 0).astype("timedelta64[D]")
    return pa.array(dates, pa.date32(), mask=~valid), unreadable, impossible


def _fixed_layout(fmt: str) -> tuple[str, dict[str, tuple[int, int]]] | None:
    """For a format of %Y/%y/%m/%d and literal characters only: a regex for its zero-padded
    form and the byte offset and width of each part; None for other formats."""
    widths = {"Y": 4, "y": 2, "m": 2, "d": 2}
    regex, offsets, position, i = "^", {}, 0, 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            part = fmt[i + 1]
            if part not in widths or part in offsets:
                return None
            offsets[part] = (position, widths[part])
            regex += rf"\d{{{widths[part]}}}"
            position += widths[part]
            i += 2
        else:
            regex += re.escape(fmt[i])
            position += len(fmt[i].encode("utf-8"))
            i += 1
    if not ({"Y", "y"} & set(offsets) and {"m", "d"} <= set(offsets)):
        return None
    return regex + r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", offsets


def is_blank(columns: dict[str, pa.Array], n: int) -> np.ndarray:
    """Rows whose every cell is empty (blank lines in a CSV, empty rows in a sheet)."""
    blank = np.ones(n, dtype=bool)
    for array in columns.values():
        if array.type in _TEXT_TYPES:
            empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(array), ""), True)
        else:
            empty = pc.is_null(array)
        blank &= empty.to_numpy(zero_copy_only=False)
        if not blank.any():
            break
    return blank


_SAFE_ID = re.compile(r"^[\w\-]+$")


def partition_safe(cycle_id: str) -> bool:
    """Whether a cycle id can name a Hive partition folder and read back unchanged.

    DuckDB reads `cycle_id=007` back as the number 7 and `cycle_id=2025-1-1` as a date, so
    ids must be letters, digits, `_` or `-`, and an id that reads as a number or a date must
    be written the way DuckDB writes it back.
    """
    if not _SAFE_ID.match(cycle_id) or cycle_id.startswith("-"):
        return False
    try:
        number = float(cycle_id)
    except ValueError:
        number = None
    if number is not None:
        return cycle_id.isdigit() and str(int(cycle_id)) == cycle_id
    if re.fullmatch(r"\d{1,4}-\d{1,2}-\d{1,2}", cycle_id):
        return re.fullmatch(r"\d{4}-\d{2}-\d{2}", cycle_id) is not None
    return True
