"""Snapshots: how imports and rollbacks change a dataset folder atomically and keep history.

Layout inside a dataset folder (dataset.py reads only `<table>.parquet` and `<table>/`, so
readers never see these folders):

    _staging/import.lock           held by the one import or rollback running
    _staging/commit.lock           held while files are moved into place (readers wait on it)
    _staging/<work>/               an operation's workspace: new files, checks, journal.json
    _history/<snapshot_id>/
        snapshot.json              when, from what, which tables and rows, warnings, what moved
        previous/<path>            every file this snapshot replaced, at its dataset path
        extra_columns/, mapping.toml, report.csv   (imports) what was kept aside, and why

A snapshot id is `<sequence>-<UTC time>`, e.g. `0003-20261121T101500Z`; sequence 0 is the
baseline: the dataset as it was before its first import.

The commit is a list of renames written to `_staging/<work>/journal.json` (fsynced) before
the first one: old files go to `_history/<id>/previous/`, new ones from staging into place,
the record last. Once the journal exists the snapshot counts as made; a process killed
half-way is finished by the next reader (`settled`, called by dataset.open_dataset) or
writer, so a kill at any moment leaves the dataset as it was or fully imported. Each rename
is atomic and every step can be replayed: a file is retired only if its history copy does
not exist yet, placed only if its staged copy still exists.

Locks are POSIX advisory locks (fcntl.flock); where fcntl is missing they are no-ops.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gradelens.errors import GradelensError
from gradelens.i18n import t

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

STAGING = "_staging"
HISTORY = "_history"
IMPORT_LOCK = "import.lock"
COMMIT_LOCK = "commit.lock"
JOURNAL = "journal.json"
RECORD = "snapshot.json"
PREVIOUS = "previous"
PAUSE_ENV = "GRADELENS_IMPORT_PAUSE_AT"
"""Test hook: the name of a step at which an import stops and waits to be killed."""
COMMIT_WAIT_SECONDS = 60.0


class SnapshotError(GradelensError):
    """A snapshot that does not exist, history that is incomplete, or a dataset busy with an import."""


def checkpoint(step: str) -> None:
    """Stop here when the pause hook names this step (tests kill the process meanwhile)."""
    if os.environ.get(PAUSE_ENV) == step:
        print(f"gradelens: paused at {step}", file=sys.stderr, flush=True)
        time.sleep(600)


# ----------------------------------------------------------------------------- locks


@contextlib.contextmanager
def _flock(path: Path, wait_seconds: float) -> Iterator[bool]:
    """Hold an exclusive lock on `path`; yields False when it could not be had in time."""
    if fcntl is None:
        yield True
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.02)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _ensure_staging(dataset_dir: Path) -> Path:
    staging = dataset_dir / STAGING
    staging.mkdir(exist_ok=True)
    for name in (IMPORT_LOCK, COMMIT_LOCK):
        (staging / name).touch(exist_ok=True)
    return staging


@contextlib.contextmanager
def settled(dataset_dir: Path) -> Iterator[None]:
    """For readers: list a dataset's files while no import is being moved into place.

    Waits (up to a minute) for a commit under way, and finishes one whose process was killed,
    so the files listed are the state before or after an import, never a mix. Costs one stat
    for a dataset that was never imported into.
    """
    lock = Path(dataset_dir) / STAGING / COMMIT_LOCK
    if not lock.exists():
        yield
        return
    with _flock(lock, COMMIT_WAIT_SECONDS) as locked:
        if not locked:
            raise SnapshotError("errors.snapshot_commit_stuck", path=dataset_dir)
        try:
            _finish_interrupted_commits(Path(dataset_dir))
            _remove_abandoned_workspaces(Path(dataset_dir))
        except OSError as exc:
            raise SnapshotError("errors.snapshot_finish_failed", path=dataset_dir, problem=str(exc)) from None
        yield


@dataclass
class Operation:
    """An import or rollback holding the dataset's import lock, with its own workspace."""

    dataset_dir: Path
    work_dir: Path


@contextlib.contextmanager
def operation(dataset_dir: Path) -> Iterator[Operation]:
    """Hold the dataset's import lock for one import or rollback; the workspace is removed
    afterwards unless a commit is half done (then the next reader or writer finishes it)."""
    dataset_dir = Path(dataset_dir)
    staging = _ensure_staging(dataset_dir)
    with _flock(staging / IMPORT_LOCK, 0) as locked:
        if not locked:
            raise SnapshotError("errors.snapshot_busy", path=dataset_dir)
        with _flock(staging / COMMIT_LOCK, COMMIT_WAIT_SECONDS):
            _finish_interrupted_commits(dataset_dir)
        for leftover in staging.iterdir():  # workspaces of imports killed before their commit
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        work_dir = staging / f"work-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        work_dir.mkdir()
        try:
            yield Operation(dataset_dir, work_dir)
        finally:
            if not (work_dir / JOURNAL).exists():
                shutil.rmtree(work_dir, ignore_errors=True)


# ----------------------------------------------------------------------------- commit


@dataclass
class Plan:
    """What a snapshot changes. Paths are relative to the dataset folder (table files) or
    to the workspace (`staged`, `kept`)."""

    retire: list[str]  # live table files that move to _history/<id>/previous/
    place: list[str]  # table files staged at <work>/tables/<path>, moved to <path>
    keep: list[tuple[str, str]]  # (path in the workspace, path in _history/<id>/) kept with the snapshot


def next_snapshot_id(dataset_dir: Path, now: dt.datetime | None = None) -> tuple[int, str]:
    records = list_snapshots(dataset_dir)
    sequence = (records[-1]["sequence"] + 1) if records else 1
    return sequence, _snapshot_id(sequence, now)


def _snapshot_id(sequence: int, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{sequence:04d}-{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}"


def commit(op: Operation, plan: Plan, record: dict) -> dict:
    """Make the snapshot: journal the renames, then carry them out (see the module docstring).

    `record` is completed with id, sequence, time, user, retired/placed paths and the
    dataset's row counts after the snapshot, and returned.
    """
    dataset_dir, work = op.dataset_dir, op.work_dir
    now = dt.datetime.now(dt.timezone.utc)
    existing = list_snapshots(dataset_dir)
    moves: list[dict] = []
    if not existing:  # the baseline: what the dataset held before its first snapshot
        baseline_id = _snapshot_id(0, now)
        baseline = {"id": baseline_id, "sequence": 0, "kind": "baseline", "created_at": _iso(now),
                    "source": "", "tables": {}, "cycles": [], "warning_count": 0, "warnings": [],
                    "dataset_rows": dataset_rows(dataset_dir, live_table_files(dataset_dir)),
                    "retired": [], "placed": []}
        _write_json(work / "baseline.json", baseline)
        moves.append({"op": "keep", "src": _rel(work / "baseline.json", dataset_dir), "dst": f"{HISTORY}/{baseline_id}/{RECORD}"})
        sequence = 1
    else:
        sequence = existing[-1]["sequence"] + 1
    snapshot_id = _snapshot_id(sequence, now)
    history = f"{HISTORY}/{snapshot_id}"
    after = {path: dataset_dir / path for path in live_table_files(dataset_dir) if path not in set(plan.retire)}
    after.update({path: work / "tables" / path for path in plan.place})
    record = {**record, "id": snapshot_id, "sequence": sequence, "created_at": _iso(now), "user": _user(),
              "retired": sorted(plan.retire), "placed": sorted(plan.place), "dataset_rows": dataset_rows(dataset_dir, after)}
    _write_json(work / "record.json", record)

    for path in plan.retire:
        moves.append({"op": "retire", "src": path, "dst": f"{history}/{PREVIOUS}/{path}"})
    for path in plan.place:
        moves.append({"op": "place", "src": _rel(work / "tables" / path, dataset_dir), "dst": path})
    for src, dst in plan.keep:
        moves.append({"op": "keep", "src": _rel(work / src, dataset_dir), "dst": f"{history}/{dst}"})
    moves.append({"op": "keep", "src": _rel(work / "record.json", dataset_dir), "dst": f"{history}/{RECORD}"})

    for move in moves:  # staged bytes reach the disk before the journal says they exist
        source = dataset_dir / move["src"]
        if move["op"] != "retire" and source.is_file():
            _fsync(source)
    checkpoint("staged")
    with _flock(dataset_dir / STAGING / COMMIT_LOCK, COMMIT_WAIT_SECONDS) as locked:
        if not locked:
            raise SnapshotError("errors.snapshot_readers_busy", path=dataset_dir)
        _write_json(work / JOURNAL, {"snapshot_id": snapshot_id, "moves": moves}, durable=True)
        checkpoint("journal")
        _roll_forward(dataset_dir, work / JOURNAL)
    return record


def _remove_abandoned_workspaces(dataset_dir: Path) -> None:
    """Workspaces of imports killed before their commit; only when no import is running."""
    staging = dataset_dir / STAGING
    if not any(p.is_dir() for p in staging.iterdir()):
        return
    with _flock(staging / IMPORT_LOCK, 0) as free:
        if free:
            for leftover in staging.iterdir():
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)


def _finish_interrupted_commits(dataset_dir: Path) -> None:
    staging = dataset_dir / STAGING
    if not staging.is_dir():
        return
    for journal in sorted(staging.glob(f"*/{JOURNAL}")):
        _roll_forward(dataset_dir, journal)


def _roll_forward(dataset_dir: Path, journal: Path) -> None:
    plan = json.loads(journal.read_text(encoding="utf-8"))
    moves = plan["moves"]
    retired = placed = False
    for move in moves:
        source, target = dataset_dir / move["src"], dataset_dir / move["dst"]
        if move["op"] == "place" and not retired:
            retired = True
            checkpoint("retired")
        if move["op"] == "keep" and retired and not placed:
            placed = True
            checkpoint("placed")
        if move["op"] == "retire" and target.exists():
            continue  # already retired: what is at the path now is the new file
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    for move in moves:
        if move["op"] == "retire":
            _remove_empty_parents(dataset_dir / move["src"], dataset_dir)
    journal.unlink()
    shutil.rmtree(journal.parent, ignore_errors=True)


# ----------------------------------------------------------------------------- reading history


def list_snapshots(dataset_dir: Path) -> list[dict]:
    """Every snapshot record of a dataset, oldest first."""
    history = Path(dataset_dir) / HISTORY
    if not history.is_dir():
        return []
    records = []
    for path in history.glob(f"*/{RECORD}"):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda r: r["sequence"])


def get_snapshot(dataset_dir: Path, snapshot_id: str) -> dict:
    records = list_snapshots(dataset_dir)
    wanted = snapshot_id.strip()
    matches = [r for r in records if r["id"] == wanted or (wanted.isdigit() and r["sequence"] == int(wanted))]
    if len(matches) != 1:
        known = ", ".join(r["id"] for r in records) or "-"
        raise SnapshotError("errors.snapshot_unknown", path=dataset_dir, snapshot=repr(snapshot_id), known=known)
    return matches[0]


def live_table_files(dataset_dir: Path) -> list[str]:
    """Every table file of the dataset, as paths relative to it."""
    from gradelens.contract import TABLES
    from gradelens.dataset import table_files

    return [_rel(path, dataset_dir) for name in TABLES for path in table_files(Path(dataset_dir), name)]


def state_after(dataset_dir: Path, snapshot_id: str) -> dict[str, Path]:
    """The table files the dataset held right after a snapshot: path -> where that file is now.

    Starting from today's files, each later snapshot is undone: the files it placed go, the
    files it retired come back from its history.
    """
    dataset_dir = Path(dataset_dir)
    target = get_snapshot(dataset_dir, snapshot_id)
    state = {path: dataset_dir / path for path in live_table_files(dataset_dir)}
    for record in reversed(list_snapshots(dataset_dir)):
        if record["sequence"] <= target["sequence"]:
            break
        for path in record["placed"]:
            state.pop(path, None)
        for path in record["retired"]:
            state[path] = dataset_dir / HISTORY / record["id"] / PREVIOUS / path
    missing = [str(p) for p in state.values() if not p.is_file()]
    if missing:
        raise SnapshotError("errors.snapshot_history_incomplete", path=dataset_dir, snapshot=snapshot_id, missing=missing[0])
    return state


def rollback(dataset_dir: Path, snapshot_id: str, progress: Callable[[float, str], None] | None = None) -> dict:
    """Make the dataset hold exactly what it held right after `snapshot_id`.

    The rollback is itself a snapshot: the files it replaces go to its history, so a
    rollback can be rolled back too.
    """
    report = progress or (lambda fraction, message: None)
    dataset_dir = Path(dataset_dir).resolve()
    if not (dataset_dir / HISTORY).is_dir():
        raise SnapshotError("errors.snapshot_none", path=dataset_dir)
    with operation(dataset_dir) as op:
        target = get_snapshot(dataset_dir, snapshot_id)
        report(0.1, f"Restoring {target['id']}")
        state = state_after(dataset_dir, target["id"])
        live = live_table_files(dataset_dir)
        retire = [path for path in live if state.get(path) != dataset_dir / path]
        place = []
        for path, source in state.items():
            if source != dataset_dir / path:
                staged = op.work_dir / "tables" / path
                staged.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staged)  # a copy: history files are never shared with live ones
                place.append(path)
        report(0.6, "Moving files into place")
        record = {"kind": "rollback", "restored": target["id"], "source": f"snapshot {target['id']}",
                  "tables": {}, "cycles": [], "warning_count": 0, "warnings": []}
        record = commit(op, Plan(retire=retire, place=place, keep=[]), record)
    if record["dataset_rows"]:
        report(0.9, t("data.progress_derived"))
        from gradelens import derived  # imported here: derived imports dataset, which imports this module

        derived.refresh(dataset_dir)
    report(1.0, "Done")
    return record


def snapshot_frame(records: list[dict]):
    """The snapshots as a table, newest first, the current one marked with *: what the CLI
    prints and the Data page shows."""
    import pandas as pd

    rows = []
    for record in reversed(records):
        tables = record.get("tables") or {}
        rows.append({
            "snapshot": record["id"] + (" *" if record is records[-1] else ""),
            "created": record["created_at"],
            "kind": record["kind"] + (f" {record['restored']}" if record.get("restored") else ""),
            "source": record.get("source") or "",
            "cycles": ", ".join(record.get("cycles") or []),
            "imported_rows": ", ".join(f"{name} {info['rows']:,}" for name, info in tables.items()),
            "dataset_rows": ", ".join(f"{name} {rows:,}" for name, rows in (record.get("dataset_rows") or {}).items()),
            "warnings": record.get("warning_count", 0),
        })
    return pd.DataFrame(rows, columns=["snapshot", "created", "kind", "source", "cycles", "imported_rows", "dataset_rows", "warnings"])


def dataset_rows(dataset_dir: Path, files: dict[str, Path] | list[str]) -> dict[str, int]:
    """Rows per table, from the Parquet footers of the given table files."""
    import pyarrow.parquet as pq

    if isinstance(files, list):
        files = {path: Path(dataset_dir) / path for path in files}
    rows: dict[str, int] = {}
    for path, location in files.items():
        table = Path(path).parts[0].removesuffix(".parquet")
        try:
            rows[table] = rows.get(table, 0) + pq.ParquetFile(location).metadata.num_rows
        except Exception:  # an unreadable file is reported by validate, not here
            rows.setdefault(table, 0)
    return dict(sorted(rows.items()))


# ----------------------------------------------------------------------------- helpers


def _write_json(path: Path, value: dict, durable: bool = False) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=2, default=str)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temporary, path)
    if durable:
        _fsync_dir(path.parent)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_empty_parents(path: Path, root: Path) -> None:
    parent = path.parent
    while parent != root and root in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def _rel(path: Path, root: Path) -> str:
    return Path(path).relative_to(root).as_posix()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""
