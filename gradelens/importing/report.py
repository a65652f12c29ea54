"""The validation report of an import: every issue with its file, row, column, value, rule and fix.

Errors block the import; warnings are imported and recorded with the snapshot. A problem
that repeats on many rows (a whole column of text in a numeric column) is listed for its
first `EXAMPLES_PER_PROBLEM` rows and then summed up in one more line, so a report stays
readable; the counts are always exact.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, fields

import pandas as pd

from gradelens.i18n import format_count, t

ERROR = "error"
WARNING = "warning"
EXAMPLES_PER_PROBLEM = 20


@dataclass(frozen=True)
class Issue:
    severity: str  # ERROR or WARNING
    file: str  # the source file's name; "" for the dataset as a whole
    row: int | None  # the row as a spreadsheet numbers it (the header is row 1); None: the whole file
    column: str  # the source header, e.g. "分数 (score)"; "" when no single column
    value: str  # the value found, as it was in the file
    rule: str
    fix: str
    table: str = ""

    def line(self) -> str:
        place = self.file or t("data.report_dataset")
        if self.row is not None:
            place += " " + t("data.report_row", row=self.row)
        if self.column:
            place += ", " + t("data.report_column", column=self.column)
        found = " " + t("data.report_found", value=self.value) if self.value != "" else ""
        label = t("data.severity_error") if self.severity == ERROR else t("data.severity_warning")
        return f"{label}: {place}:{found} {self.rule}. {t('data.report_fix')}: {self.fix}"


REPORT_COLUMNS = [f.name for f in fields(Issue)]


@dataclass
class Report:
    """Issues found so far; `add` keeps examples and counts every occurrence."""

    issues: list[Issue] = field(default_factory=list)
    _counts: Counter = field(default_factory=Counter)
    _listed: Counter = field(default_factory=Counter)

    def add(self, issue: Issue, occurrences: int = 1) -> None:
        problem = (issue.severity, issue.file, issue.column, issue.rule)
        self._counts[problem] += occurrences
        if self._listed[problem] < EXAMPLES_PER_PROBLEM:
            self._listed[problem] += 1
            self.issues.append(issue)

    def error(self, file: str, rule: str, fix: str, *, row: int | None = None, column: str = "",
              value: object = "", table: str = "", occurrences: int = 1) -> None:
        self.add(Issue(ERROR, file, row, column, _text(value), rule, fix, table), occurrences)

    def warning(self, file: str, rule: str, fix: str, *, row: int | None = None, column: str = "",
                value: object = "", table: str = "", occurrences: int = 1) -> None:
        self.add(Issue(WARNING, file, row, column, _text(value), rule, fix, table), occurrences)

    def add_rows(self, severity: str, file: str, rule: str, fix: str, rows, values, *, column: str = "",
                 table: str = "") -> None:
        """One problem found on many rows at once: the first rows are listed, all are counted."""
        problem = (severity, file, column, rule)
        room = max(0, EXAMPLES_PER_PROBLEM - self._listed[problem])
        for row, value in zip(list(rows[:room]), list(values[:room])):
            self.add(Issue(severity, file, int(row), column, _text(value), rule, fix, table))
        rest = len(rows) - min(room, len(rows))
        self._counts[problem] += rest

    def count(self, severity: str) -> int:
        return sum(n for (s, *_), n in self._counts.items() if s == severity)

    @property
    def error_count(self) -> int:
        return self.count(ERROR)

    @property
    def warning_count(self) -> int:
        return self.count(WARNING)

    @property
    def has_errors(self) -> bool:
        return self.error_count > 0

    def listed(self) -> list[Issue]:
        """The issues in report order (errors first, then by file and row), with one
        summary line for each problem that occurred on more rows than are listed."""
        summaries = []
        for problem, total in self._counts.items():
            shown = self._listed[problem]
            if total > shown:
                severity, file, column, rule = problem
                example = next(i for i in self.issues if (i.severity, i.file, i.column, i.rule) == problem)
                summaries.append(Issue(severity, file, None, column, "", rule,
                                       t("data.report_more_rows", count=format_count(total - shown), fix=example.fix),
                                       example.table))
        order = {ERROR: 0, WARNING: 1}
        return sorted(self.issues + summaries,
                      key=lambda i: (order[i.severity], i.file, i.row is None, i.row or 0, i.column))

    def to_frame(self) -> pd.DataFrame:
        rows = [asdict(issue) for issue in self.listed()]
        frame = pd.DataFrame(rows, columns=REPORT_COLUMNS)
        frame["row"] = frame["row"].astype("Int64")
        return frame

    def to_csv(self) -> bytes:
        """The report as CSV, UTF-8 with BOM so Excel shows Chinese text."""
        return self.to_frame().to_csv(index=False).encode("utf-8-sig")

    def summary(self) -> str:
        return t("data.report_summary", errors=format_count(self.error_count), warnings=format_count(self.warning_count))


def _text(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."
