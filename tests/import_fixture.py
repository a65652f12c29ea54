"""Helpers for the import tests: the tiny company as export files, a minimal XLSX writer, and
ways to compare a dataset's files and answers before and after.

The tiny company (tests/tiny_company.py) is exported with the contract's headers, so each
bad-input test changes one cell or one file and knows exactly which row and column the
report must name. Row numbers count the header as row 1, as a spreadsheet does.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from gradelens.contract import TABLES
from gradelens.dataset import open_dataset
from tests.tiny_company import tiny_company_tables, write_dataset


def contract_rows(table: str, tables: dict[str, list[dict]] | None = None) -> list[list[str]]:
    """A table of the tiny company as CSV rows (header first), values written as an HRIS would."""
    tables = tables or tiny_company_tables()
    columns = TABLES[table].column_names
    rows = [columns]
    for record in tables[table]:
        rows.append([_cell(record.get(c)) for c in columns])
    return rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def export_folder(folder: Path, tables: dict[str, list[dict]] | None = None, only: tuple[str, ...] | None = None) -> Path:
    """Every table of the tiny company (or `only` these) as `<table>.csv` with contract headers."""
    tables = tables or tiny_company_tables()
    folder.mkdir(parents=True, exist_ok=True)
    for table in tuple(TABLES) if only is None else only:
        write_csv(folder / f"{table}.csv", contract_rows(table, tables))
    return folder


def tiny_dataset(folder: Path, tables: dict[str, list[dict]] | None = None) -> Path:
    return write_dataset(folder, tables or tiny_company_tables())


def write_xlsx(path: Path, rows: list[list[object]], sheet: str = "Sheet1") -> Path:
    """A minimal Office Open XML workbook with one sheet: text as inline strings, numbers as
    numbers, dates as date serials with a date format. Enough for readers to treat it as Excel."""
    def column(index: int) -> str:
        name = ""
        index += 1
        while index:
            index, rest = divmod(index - 1, 26)
            name = chr(65 + rest) + name
        return name

    lines = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{column(c)}{r}"
            if value is None or value == "":
                continue
            if isinstance(value, dt.date):
                serial = (value - dt.date(1899, 12, 30)).days
                cells.append(f'<c r="{ref}" s="1"><v>{serial}</v></c>')
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>')
        lines.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet_xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                 f'<sheetData>{"".join(lines)}</sheetData></worksheet>')
    files = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": '<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders>'
        '<cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="2"><xf/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>',
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def tree(folder: Path, skip_staging: bool = False) -> dict[str, str]:
    """Every file under a folder: relative path -> sha256 of its bytes."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not (skip_staging and relative.startswith("_staging/")):
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def answers(folder: Path) -> dict[str, list[tuple]]:
    """What a reader sees: every table's rows in key order."""
    dataset = open_dataset(folder)
    con = dataset.cursor()
    return {name: con.execute(f"SELECT * FROM {name} ORDER BY {', '.join(table.key)}").fetchall()
            for name, table in TABLES.items()}
