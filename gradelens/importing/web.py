"""What the Data page needs beyond widgets: uploaded files on disk, mapping choices, cached
dry runs, and the report and snapshot tables with translated column labels.

A check (a dry run) is cached in the session by the uploaded files, the mapping text, the
cycle and the target dataset's fingerprint, so a rerun of the page does not read the files
again; the import itself reads them again and commits.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from gradelens.config import DATA_DIR
from gradelens.contract import TABLES
from gradelens.dataset import fingerprint
from gradelens.errors import GradelensError
from gradelens.i18n import t
from gradelens.importing.mapping import default_mapping, example_mappings, parse_mapping
from gradelens.importing.pipeline import ImportResult, run_import
from gradelens.importing.readers import KINDS
from gradelens.importing.report import ERROR
from gradelens.importing.snapshots import list_snapshots, snapshot_frame
from gradelens.importing.snapshots import rollback as _rollback

UPLOAD_TYPES = sorted({suffix.lstrip(".") for suffix in KINDS})
UPLOAD_ROOT = Path(tempfile.gettempdir()) / "gradelens-uploads"
"""Each session's uploaded files go to a folder here; folders older than UPLOAD_DAYS are removed."""
UPLOAD_DAYS = 1
DEFAULT_MAPPING = "default"
_SAFE_NAME = re.compile(r"^[\w][\w\-. ]{0,63}$")


@dataclass
class Check:
    result: ImportResult | None
    error: str | None


def mapping_choices() -> list[str]:
    return [DEFAULT_MAPPING, *example_mappings()]


def mapping_text(choice: str) -> str:
    """The TOML text a choice starts from: an example's file, or the default written out."""
    examples = example_mappings()
    if choice in examples:
        return examples[choice].read_text(encoding="utf-8")
    return examples["contract"].read_text(encoding="utf-8") if "contract" in examples else ""


def new_dataset_path(name: str) -> Path | None:
    """A new dataset folder under data/ for a name typed on the page; None when the name is
    not a plain folder name (no paths, no dots first)."""
    name = name.strip()
    if not _SAFE_NAME.match(name) or name in (".", ".."):
        return None
    return DATA_DIR / name


def saved_uploads(uploads) -> Path | None:
    """The uploaded files written to a temporary folder, one per session and set of files."""
    if not uploads:
        return None
    signature = hashlib.sha256("|".join(f"{u.file_id}:{u.name}:{u.size}" for u in uploads).encode()).hexdigest()[:16]
    saved = st.session_state.get("data_upload_dir")
    if saved and saved[0] == signature and Path(saved[1]).is_dir():
        return Path(saved[1])
    if saved:
        shutil.rmtree(saved[1], ignore_errors=True)
    UPLOAD_ROOT.mkdir(parents=True, exist_ok=True)
    stale = time.time() - UPLOAD_DAYS * 86400
    for old in UPLOAD_ROOT.iterdir():  # sessions that ended without clearing their files
        if old.is_dir() and old.stat().st_mtime < stale:
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(dir=UPLOAD_ROOT))
    for upload in uploads:
        (folder / Path(upload.name).name).write_bytes(upload.getbuffer())
    st.session_state["data_upload_dir"] = (signature, str(folder))
    return folder


def check(folder: Path, target: Path, text: str, cycle: str) -> Check:
    """A dry run of the import, cached for the session."""
    key = (str(folder), str(target), hashlib.sha256(text.encode()).hexdigest(), cycle,
           fingerprint(target) if target.is_dir() else "")
    cached = st.session_state.get("data_check")
    if cached and cached[0] == key:
        return cached[1]
    try:
        mapping = parse_mapping(text, source=t("data.mapping_from_page")) if text.strip() else default_mapping()
        with st.spinner(t("data.checking")):
            result = run_import(folder, target, mapping, cycle or None, dry_run=True, source_label=_label(folder))
    except GradelensError as exc:  # not cached: a busy dataset or a fixed file may pass next time
        return Check(None, exc.message())
    outcome = Check(result, None)
    st.session_state["data_check"] = (key, outcome)
    return outcome


def run(folder: Path, target: Path, text: str, cycle: str, progress) -> ImportResult:
    mapping = parse_mapping(text, source=t("data.mapping_from_page")) if text.strip() else default_mapping()
    return run_import(folder, target, mapping, cycle or None, progress=progress, source_label=_label(folder))


def rollback(dataset_dir: Path, snapshot_id: str) -> dict:
    with st.spinner(t("data.rolling_back", snapshot=snapshot_id)):
        return _rollback(dataset_dir, snapshot_id)


def _label(folder: Path) -> str:
    return t("data.uploaded_files", files=", ".join(sorted(p.name for p in folder.iterdir())))


def report_frame(result: ImportResult) -> pd.DataFrame:
    frame = result.report.to_frame()
    frame["severity"] = frame["severity"].map(lambda s: t("data.severity_error") if s == ERROR else t("data.severity_warning"))
    return frame


REPORT_LABELS = ("severity", "file", "row", "column", "value", "rule", "fix", "table")
SNAPSHOT_LABELS = ("snapshot", "created", "kind", "source", "cycles", "imported_rows", "dataset_rows", "warnings")


def column_labels(names: tuple[str, ...], prefix: str) -> dict[str, str]:
    return {name: t(f"data.{prefix}_{name}") for name in names}


def snapshots(dataset_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """The snapshot table and the ids one may roll back to: all but the current state, and
    not a state without tables (the folder would stop being a dataset the app can open; the
    CLI can still restore it)."""
    records = list_snapshots(dataset_dir)
    frame = snapshot_frame(records)
    if not frame.empty:
        frame["kind"] = [t(f"data.kind_{r['kind']}", snapshot=r.get("restored", "")) for r in reversed(records)]
    return frame, [r["id"] for r in reversed(records[:-1]) if r.get("dataset_rows")]


def table_label(table: str) -> str:
    return t(f"data.table_{table}") if table in TABLES else table


def flash(message: str) -> None:
    """Show a message once, after the rerun that follows an import or rollback."""
    st.session_state["data_flash"] = message


def take_flash() -> str | None:
    return st.session_state.pop("data_flash", None)
