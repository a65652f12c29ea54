"""An append-only audit log: one JSON object per line of who viewed, exported or imported what.

The file is `GRADELENS_AUDIT_LOG` if set, else `audit.jsonl` in the dataset folder's parent
(beside the datasets, not inside one, so it survives a re-import). Lines are only ever
appended (opened in "a" mode, one write per entry); nothing here rewrites or deletes them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path

AUDIT_ENV = "GRADELENS_AUDIT_LOG"
AUDIT_FILE = "audit.jsonl"
ACTIONS = ("view", "export", "import", "rollback", "denied")
_LOCK = threading.Lock()


def audit_path(dataset_dir: Path | None = None) -> Path:
    configured = os.environ.get(AUDIT_ENV)
    if configured:
        return Path(configured)
    base = Path(dataset_dir).resolve().parent if dataset_dir is not None else Path.cwd()
    return base / AUDIT_FILE


def record(path: Path, viewer: str, role: str, action: str, target: str,
           details: Mapping[str, object] | None = None, now: dt.datetime | None = None) -> dict:
    """Append one entry and return it. `target` is a page, query or file name."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; use one of {', '.join(ACTIONS)}")
    entry = {
        "at": (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
        "viewer": viewer,
        "role": role,
        "action": action,
        "target": target,
        "details": {k: v for k, v in (details or {}).items() if v not in (None, "")},
    }
    line = json.dumps(entry, ensure_ascii=False, default=str, sort_keys=True) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
    return entry


def import_details(source: object, dataset: object, result=None, error: str | None = None,
                   **extra: object) -> dict[str, object]:
    """What an import entry records: the source file(s), the dataset, rows per table, the
    snapshot and the outcome (imported, blocked by errors in the files, or failed)."""
    details: dict[str, object] = {"source": str(source), "dataset": str(dataset), **extra}
    if error is not None:
        return {**details, "outcome": "failed", "error": error}
    details["rows"] = {s.table: s.rows for s in result.tables.values()}
    details["errors"] = result.report.error_count
    details["warnings"] = result.report.warning_count
    details["snapshot"] = result.snapshot_id
    details["outcome"] = "imported" if result.imported else "blocked"
    return details


def read(path: Path) -> list[dict]:
    """Every entry, oldest first (empty when there is no log yet)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
