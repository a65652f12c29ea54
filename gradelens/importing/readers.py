"""Open CSV, XLSX and Parquet source files and stream them in numbered batches.

Every reader yields `Chunk`s: the file's columns as Arrow arrays (text for CSV and XLSX,
the stored types for Parquet) and, for each row, its number as a spreadsheet shows it
(the header is row 1, so the first data row is row 2; Parquet rows count from 1).

- CSV is streamed with pyarrow.csv in blocks, so a file larger than memory is fine. The
  encoding is detected (UTF-8 with or without BOM, UTF-16 with BOM, else GBK read as its
  superset GB18030) unless the mapping names one; the delimiter is the one of , ; tab |
  that splits the header into the most columns unless the mapping names one. Rows with
  the wrong number of fields are collected as `bad_rows`, not dropped silently.
- XLSX goes through fastexcel (calamine, in Rust), which holds one sheet in memory: a
  file is refused up front when it would need more memory than is available.
- Parquet is read by row group.

A file that cannot be read at all raises `FileProblem`, which the pipeline reports as an
error naming the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from gradelens.i18n import t
from gradelens.importing.mapping import ReadOptions

KINDS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xlsx", ".parquet": "parquet"}
BATCH_ROWS = 100_000
CSV_BLOCK_BYTES = 8 << 20
SAMPLE_BYTES = 256 << 10
XLSX_MEMORY_FACTOR = 20
"""A sheet held by calamine takes about 15x its compressed .xlsx size in memory (measured on a
300,000-row sheet: 11 MB on disk, 170 MB in memory); 20x leaves room for the conversion."""
MEMORY_SHARE = 0.6
"""The share of available memory one XLSX file may take."""
MAX_MB_ENV = "GRADELENS_IMPORT_MAX_MB"
DELIMITERS = (",", "\t", ";", "|")


class FileProblem(Exception):
    """A whole file cannot be used; `rule` and `fix` are already in the reader's language."""

    def __init__(self, rule: str, fix: str, value: str = "", row: int | None = None):
        super().__init__(rule)
        self.rule, self.fix, self.value, self.row = rule, fix, value, row


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str  # as shown in the report: the file name, or its path inside a source folder
    kind: str | None  # csv, xlsx, parquet; None when the extension is not one we read
    size: int


@dataclass
class Chunk:
    columns: dict[str, pa.Array]
    rows: np.ndarray  # int64 row numbers


@dataclass
class BadRow:
    row: int
    expected: int
    found: int
    text: str


def source_files(source: Path) -> list[SourceFile]:
    """The files of SOURCE: the file itself, or the files in the folder (not hidden, not
    Excel's `~$` lock files, not in subfolders), sorted by name."""
    source = Path(source)
    if source.is_file():
        paths = [source]
    else:
        paths = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))
    return [SourceFile(p, p.name, KINDS.get(p.suffix.lower()), p.stat().st_size) for p in paths]


def max_bytes_from_env() -> int | None:
    value = os.environ.get(MAX_MB_ENV, "").strip()
    try:
        return int(float(value) * (1 << 20)) if value else None
    except ValueError:
        return None


def available_memory() -> int | None:
    """Bytes of memory this process may still use: the smaller of the system's available
    memory and what the container's cgroup allows; None when neither can be read."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit = Path(limit_file).read_text().strip()
            if limit != "max" and int(limit) < 1 << 60:
                found.append(max(0, int(limit) - int(Path(usage_file).read_text().strip())))
        except (OSError, ValueError):
            pass
    return min(found) if found else None


def check_size(file: SourceFile, max_bytes: int | None, staging_dir: Path) -> None:
    """Refuse a file up front when it is empty, over the configured limit, too large for the
    memory an XLSX needs, or larger than the free disk the staged copy needs."""
    if file.size == 0:
        raise FileProblem(t("data.rule_zero_bytes"), t("data.fix_zero_bytes"), value="0 B")
    if max_bytes is not None and file.size > max_bytes:
        raise FileProblem(t("data.rule_over_limit", size=_mb(file.size), limit=_mb(max_bytes)),
                          t("data.fix_over_limit", env=MAX_MB_ENV), value=_mb(file.size))
    if file.kind == "xlsx":
        memory = available_memory()
        needed = file.size * XLSX_MEMORY_FACTOR
        if memory is not None and needed > memory * MEMORY_SHARE:
            raise FileProblem(t("data.rule_over_memory", size=_mb(file.size), needed=_mb(needed), available=_mb(memory)),
                              t("data.fix_over_memory"), value=_mb(file.size))
    free = shutil.disk_usage(staging_dir).free
    if file.size > free:
        raise FileProblem(t("data.rule_over_disk", size=_mb(file.size), free=_mb(free)), t("data.fix_over_disk"), value=_mb(file.size))


def open_reader(file: SourceFile, options: ReadOptions) -> "CsvReader | XlsxReader | ParquetReader":
    if file.kind == "csv":
        return CsvReader(file, options)
    if file.kind == "xlsx":
        return XlsxReader(file, options)
    if file.kind == "parquet":
        return ParquetReader(file)
    raise FileProblem(t("data.rule_unknown_kind", suffix=file.path.suffix or t("data.no_suffix")), t("data.fix_unknown_kind"))


# ----------------------------------------------------------------------------- CSV


class _CountingFile(io.RawIOBase):
    """A binary file that counts the bytes read, for progress."""

    def __init__(self, path: Path):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._file.readinto(buffer)
        self.bytes_read += n or 0
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass
class CsvReader:
    file: SourceFile
    options: ReadOptions
    headers: list[str] = field(init=False)
    encoding: str = field(init=False)
    delimiter: str = field(init=False)
    notes: list[tuple[str, str]] = field(init=False, default_factory=list)  # (rule, fix) warnings
    bad_rows: list[BadRow] = field(init=False, default_factory=list)
    delimiter_hint: tuple[str, int] | None = field(init=False, default=None)
    bytes_done: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        with open(self.file.path, "rb") as handle:
            sample = handle.read(SAMPLE_BYTES)
        if not sample.strip():
            raise FileProblem(t("data.rule_empty_file"), t("data.fix_empty_file"))
        self.encoding = self._encoding(sample)
        text = codecs.getincrementaldecoder(self.encoding)(errors="replace").decode(sample, final=False).lstrip("\ufeff")
        first_line = text.split("\n", 1)[0].rstrip("\r")
        widths = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in DELIMITERS}
        if self.options.delimiter == "auto":
            self.delimiter = max(DELIMITERS, key=lambda d: (widths[d], d == ","))
        else:
            self.delimiter = self.options.delimiter
            best = max(DELIMITERS, key=lambda d: widths[d])
            if best != self.delimiter and widths[best] > widths.get(self.delimiter, 1):
                self.delimiter_hint = (best, widths[best])
        header = next(csv.reader(io.StringIO(text), delimiter=self.delimiter), [])
        if not any(h.strip() for h in header):
            raise FileProblem(t("data.rule_no_header"), t("data.fix_no_header"))
        self.headers = _dedupe([h.strip() for h in header])

    def _encoding(self, sample: bytes) -> str:
        if sample.startswith(codecs.BOM_UTF8):
            return "utf-8"
        if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        requested = self.options.encoding
        if requested != "auto":
            try:
                codecs.getincrementaldecoder(requested)().decode(sample, final=False)
            except UnicodeDecodeError as exc:
                guess = _guess_encoding(sample)
                raise FileProblem(t("data.rule_bad_encoding", encoding=requested, offset=exc.start),
                                  t("data.fix_bad_encoding_guess", guess=guess) if guess else t("data.fix_bad_encoding"),
                                  value=sample[exc.start:exc.start + 4].hex(" ")) from None
            return requested
        guess = _guess_encoding(sample)
        if guess is None:
            raise FileProblem(t("data.rule_unknown_encoding"), t("data.fix_bad_encoding"))
        if guess == "gb18030":
            self.notes.append((t("data.rule_read_as_gbk"), t("data.fix_read_as_gbk")))
        return guess

    def chunks(self) -> Iterator[Chunk]:
        stream = _CountingFile(self.file.path)
        pending: list[int] = []

        def invalid(row) -> str:  # single-threaded reading, so pyarrow gives each row's number
            number = row.number if row.number is not None else -1
            self.bad_rows.append(BadRow(number, row.expected_columns, row.actual_columns, row.text))
            pending.append(number)
            return "skip"

        try:
            reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(encoding=_arrow_encoding(self.encoding), column_names=self.headers,
                                              skip_rows=1, block_size=CSV_BLOCK_BYTES, use_threads=False),
                parse_options=pcsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                                ignore_empty_lines=False, invalid_row_handler=invalid),
                convert_options=pcsv.ConvertOptions(column_types={h: pa.string() for h in self.headers},
                                                    strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
            next_row = 2
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                rows = np.arange(next_row, next_row + batch.num_rows, dtype=np.int64)
                for skipped in sorted(n for n in pending if n >= next_row):
                    rows[rows >= skipped] += 1
                if batch.num_rows:
                    next_row = int(rows[-1]) + 1
                    pending[:] = [n for n in pending if n >= next_row]
                self.bytes_done = stream.bytes_read
                yield Chunk({h: batch.column(i) for i, h in enumerate(self.headers)}, rows)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, UnicodeDecodeError) or "decode" in message.lower() or "utf" in message.lower():
                raise FileProblem(t("data.rule_bad_encoding_later", encoding=self.encoding),
                                  t("data.fix_bad_encoding"), value=message) from None
            raise FileProblem(t("data.rule_unreadable_csv"), t("data.fix_unreadable_csv"), value=message) from None
        finally:
            stream.close()
        self.bytes_done = self.file.size


def _guess_encoding(sample: bytes) -> str | None:
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if codecs.lookup(encoding).name == "utf-8" else encoding


# ----------------------------------------------------------------------------- XLSX


@dataclass
class XlsxReader:
    file: SourceFile
    options: ReadOptions
    headers: list[str] = field(init=False)
    notes: list[tuple[str, str]] = field(init=False, default_factory=list)
    bad_rows: list[BadRow] = field(init=False, default_factory=list)
    delimiter_hint: None = field(init=False, default=None)
    bytes_done: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        import fastexcel

        try:
            workbook = fastexcel.read_excel(str(self.file.path))
        except fastexcel.FastExcelError as exc:
            raise FileProblem(t("data.rule_corrupt_xlsx"), t("data.fix_corrupt_xlsx"), value=_first_line(exc)) from None
        sheet = self.options.sheet
        names = workbook.sheet_names
        if sheet is None:
            index = 0
        elif isinstance(sheet, int):
            index = sheet - 1
        else:
            index = names.index(sheet) if sheet in names else -1
        if not 0 <= index < len(names):
            raise FileProblem(t("data.rule_no_sheet", sheet=sheet), t("data.fix_no_sheet", sheets=", ".join(names)))
        try:
            loaded = workbook.load_sheet(index, header_row=self.options.header_row - 1, dtypes="string")
            self._batch = loaded.to_arrow()
        except fastexcel.FastExcelError as exc:
            raise FileProblem(t("data.rule_corrupt_xlsx"), t("data.fix_corrupt_xlsx"), value=_first_line(exc)) from None
        if self._batch.num_columns == 0:
            raise FileProblem(t("data.rule_empty_file"), t("data.fix_empty_file"))
        self.headers = [str(name).strip() for name in self._batch.schema.names]
        first_row = _first_sheet_row(self.file.path, names[index]) if self.file.path.suffix.lower() != ".xls" else 1
        self._first_data_row = first_row + self.options.header_row  # the header is at first_row + header_row - 1

    def chunks(self) -> Iterator[Chunk]:
        batch = self._batch
        for start in range(0, batch.num_rows, BATCH_ROWS):
            part = batch.slice(start, BATCH_ROWS)
            rows = np.arange(start, start + part.num_rows, dtype=np.int64) + self._first_data_row
            yield Chunk({h: part.column(i) for i, h in enumerate(self.headers)}, rows)
        self.bytes_done = self.file.size


def _first_sheet_row(path: Path, sheet_name: str) -> int:
    """The row number of a sheet's first cell with a value (calamine starts there), read
    from the sheet's XML; 1 when it cannot be told."""
    try:
        with zipfile.ZipFile(path) as archive:
            workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            sheet = re.search(r'<(?:\w+:)?sheet\b[^>]*name="' + re.escape(_xml_escape(sheet_name)) + r'"[^>]*r:id="([^"]+)"', workbook)
            if not sheet:
                return 1
            target = re.search(r'<Relationship\b[^>]*Id="' + re.escape(sheet.group(1)) + r'"[^>]*Target="([^"]+)"', rels) or \
                re.search(r'<Relationship\b[^>]*Target="([^"]+)"[^>]*Id="' + re.escape(sheet.group(1)) + r'"', rels)
            if not target:
                return 1
            member = target.group(1).lstrip("/")
            member = member if member.startswith("xl/") else "xl/" + member
            with archive.open(member) as handle:
                head = handle.read(1 << 20).decode("utf-8", "replace")
        cell = re.search(r'<c\b[^>]*\br="[A-Z]+(\d+)"[^>]*>\s*(?:<f>[^<]*</f>\s*)?<(?:v|is)\b', head)
        return int(cell.group(1)) if cell else 1
    except (KeyError, OSError, zipfile.BadZipFile, ValueError):
        return 1


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# ----------------------------------------------------------------------------- Parquet


@dataclass
class ParquetReader:
    file: SourceFile
    headers: list[str] = field(init=False)
    notes: list[tuple[str, str]] = field(init=False, default_factory=list)
    bad_rows: list[BadRow] = field(init=False, default_factory=list)
    delimiter_hint: None = field(init=False, default=None)
    bytes_done: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        try:
            self._parquet = pq.ParquetFile(self.file.path)
        except (pa.ArrowException, OSError) as exc:
            raise FileProblem(t("data.rule_corrupt_parquet"), t("data.fix_corrupt_parquet"), value=_first_line(exc)) from None
        self.headers = list(self._parquet.schema_arrow.names)

    def chunks(self) -> Iterator[Chunk]:
        next_row = 1
        groups = max(1, self._parquet.num_row_groups)
        try:
            for index in range(self._parquet.num_row_groups):
                for batch in self._parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[index]):
                    rows = np.arange(next_row, next_row + batch.num_rows, dtype=np.int64)
                    next_row += batch.num_rows
                    yield Chunk({h: batch.column(i) for i, h in enumerate(self.headers)}, rows)
                self.bytes_done = int(self.file.size * (index + 1) / groups)
        except (pa.ArrowException, OSError) as exc:
            raise FileProblem(t("data.rule_corrupt_parquet_later", row=next_row), t("data.fix_corrupt_parquet"),
                              value=_first_line(exc)) from None


def _dedupe(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for header in headers:
        header = header or "(blank)"
        seen[header] = seen.get(header, 0) + 1
        result.append(header if seen[header] == 1 else f"{header} ({seen[header]})")
    return result


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _mb(size: int) -> str:
    return f"{size / (1 << 20):,.1f} MB"
