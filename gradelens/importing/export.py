"""Write a dataset back out as the source files a mapping reads: the inverse of an import.

Used for round trips (demo -> CSV with Chinese headers -> import -> the same answers) and to
make large realistic exports for the benchmark. Each table goes to one CSV named after the
first file pattern of its mapping section, with the mapping's headers, source values (the
first source value mapped to each code), the first date format, and the source scale.
Ratings with `dimensions` are written wide: one row per rater and ratee, one score column
per dimension.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from gradelens.contract import TABLES
from gradelens.dataset import open_dataset
from gradelens.importing.mapping import Mapping, TableMapping, default_mapping

BATCH_ROWS = 200_000


def export_source_files(dataset_dir: str | Path, out_dir: str | Path, mapping: Mapping | None = None, *,
                        cycle: str | None = None, encoding: str = "utf-8") -> list[Path]:
    """Write each table of `mapping` (default: all, with contract headers) as a CSV in `out_dir`.

    `cycle` limits per-cycle tables to one cycle (KPI actuals by their goal's cycle).
    `encoding` is any Python codec; "utf-8-sig" writes a BOM, "gbk" what Chinese Excel writes.
    """
    mapping = mapping or default_mapping()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset = open_dataset(dataset_dir)
    con = dataset.cursor()
    written = []
    for name, table_mapping in mapping.tables.items():
        if name in dataset.missing:
            continue
        path = out_dir / _file_name(table_mapping)
        query, params = _query(table_mapping, cycle)
        reader = con.sql(query, params=params or None).to_arrow_reader(BATCH_ROWS)
        with open(path, "wb") as sink:
            first = True
            for batch in reader:
                text = _as_source(pa.Table.from_batches([batch]), table_mapping, mapping)
                if first and encoding.lower().replace("_", "-") == "utf-8-sig":
                    sink.write("\ufeff".encode())
                buffer = pa.BufferOutputStream()
                pcsv.write_csv(text, buffer, pcsv.WriteOptions(include_header=first))
                data = buffer.getvalue().to_pybytes()
                if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "utf-8-sig"):
                    data = data.decode("utf-8").encode(encoding)
                sink.write(data)
                first = False
        written.append(path)
    return written


def _file_name(mapping: TableMapping) -> str:
    pattern = mapping.files[0]
    name = pattern.replace("*", "").replace("?", "")
    if name.endswith("."):
        name += "csv"
    if "." not in name:
        name += ".csv"
    if not fnmatch.fnmatchcase(name.casefold(), pattern.casefold()):
        name = f"{mapping.table}.csv"
    return name


def _query(mapping: TableMapping, cycle: str | None) -> tuple[str, dict]:
    table = TABLES[mapping.table]
    columns = ", ".join(table.column_names)
    params: dict = {}
    where = ""
    if cycle is not None and "cycle_id" in table.column_names:
        where, params = " WHERE cycle_id = $cycle", {"cycle": cycle}
    elif cycle is not None and mapping.table == "kpi_actuals":
        where, params = " WHERE goal_id IN (SELECT goal_id FROM goals WHERE cycle_id = $cycle)", {"cycle": cycle}
    if mapping.table == "ratings" and mapping.dimensions:
        pivots = ", ".join(f"max(score) FILTER (WHERE dimension = '{d}') AS \"{d}\"" for d in mapping.dimensions)  # contract codes
        return (f"SELECT cycle_id, ratee_id, rater_id, rater_role, {pivots} FROM ratings{where} "
                "GROUP BY ALL ORDER BY cycle_id, ratee_id, rater_id"), params
    order = ", ".join(table.key)
    return f"SELECT {columns} FROM {mapping.table}{where} ORDER BY {order}", params


def _as_source(table: pa.Table, mapping: TableMapping, full: Mapping) -> pa.Table:
    """Contract columns -> the mapping's headers and source values, all as text."""
    contract = TABLES[mapping.table]
    date_format = mapping.read.date_formats[0]
    columns = {}
    for column in contract.columns:
        if column.name not in mapping.columns or column.name not in table.column_names:
            continue
        values = table.column(column.name)
        inverse = _inverse(mapping.value_map(column.name, full.grades))
        if inverse:
            keys = pa.array(list(inverse), pa.string())
            values = pc.coalesce(pc.take(pa.array(list(inverse.values()), pa.string()), pc.index_in(values, value_set=keys)), values)
        if column.name in mapping.scales:
            values = _unscale(values, mapping.scales[column.name])
        columns[mapping.columns[column.name][0]] = _text(values, date_format)
    for dimension, headers in mapping.dimensions.items():
        values = table.column(dimension)
        if "score" in mapping.scales:
            values = _unscale(values, mapping.scales["score"])
        columns[headers[0]] = _text(values, date_format)
    return pa.table(columns)


def _inverse(values: dict[str, str] | None) -> dict[str, str]:
    inverse: dict[str, str] = {}
    for source, code in (values or {}).items():
        inverse.setdefault(code, source)
    return inverse


def _unscale(values, scale) -> pa.Array:
    (low, high), (to_low, to_high) = scale.source, scale.target
    array = pc.add(pc.multiply(pc.subtract(pc.cast(values, pa.float64()), to_low), (high - low) / (to_high - to_low)), low)
    return pc.round(array, 6)


def _text(values, date_format: str) -> pa.Array:
    if pa.types.is_date(values.type) and "年" not in date_format:
        return pc.strftime(pc.cast(values, pa.timestamp("s")), format=date_format)
    if pa.types.is_date(values.type):
        return pa.array([None if d is None else _strftime(d, date_format) for d in values.to_pylist()], pa.string())
    return pc.cast(values, pa.string())  # floats in shortest round-trip form: 3.7, 3 (not 3.0)


def _strftime(day: dt.date, fmt: str) -> str:
    # %m and %d as written by people (7月3日), the year in full
    return fmt.replace("%Y", f"{day.year:04d}").replace("%m", f"{day.month:02d}" if "年" not in fmt else str(day.month)) \
        .replace("%d", f"{day.day:02d}" if "年" not in fmt else str(day.day)).replace("%y", f"{day.year % 100:02d}")
