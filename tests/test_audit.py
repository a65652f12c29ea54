"""The append-only JSON-lines audit log."""

import datetime as dt
import json

import pytest

from gradelens import audit


def test_entries_are_appended_as_one_json_object_per_line(tmp_path):
    log = tmp_path / "audit.jsonl"
    when = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.timezone.utc)
    audit.record(log, "ana@tiny.co", "hrbp", "view", "overview", {"cycle": "2025H2", "department": None}, now=when)
    audit.record(log, "ana@tiny.co", "hrbp", "export", "grade_mix_2025H2_final", {"rows": 5}, now=when)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == {"at": "2026-11-21T09:30:00+00:00", "viewer": "ana@tiny.co", "role": "hrbp",
                                    "action": "view", "target": "overview", "details": {"cycle": "2025H2"}}
    assert [e["action"] for e in audit.read(log)] == ["view", "export"]


def test_an_existing_log_is_never_rewritten(tmp_path):
    log = tmp_path / "audit.jsonl"
    log.write_text('{"earlier": true}\n', encoding="utf-8")
    audit.record(log, "x", "admin", "import", "grades.csv")
    assert log.read_text(encoding="utf-8").startswith('{"earlier": true}\n')
    assert len(audit.read(log)) == 2


def test_chinese_text_is_kept_readable(tmp_path):
    log = tmp_path / "a.jsonl"
    audit.record(log, "王伟", "executive", "view", "overview", {"region": "华东"})
    assert "华东" in log.read_text(encoding="utf-8")


def test_an_unknown_action_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(tmp_path / "a.jsonl", "x", "admin", "delete", "everything")


def test_the_log_lives_beside_the_datasets_unless_configured(monkeypatch, tmp_path):
    monkeypatch.delenv("GRADELENS_AUDIT_LOG", raising=False)
    assert audit.audit_path(tmp_path / "data" / "demo") == (tmp_path / "data" / "audit.jsonl").resolve()
    monkeypatch.setenv("GRADELENS_AUDIT_LOG", str(tmp_path / "x.jsonl"))
    assert audit.audit_path(tmp_path / "data" / "demo") == tmp_path / "x.jsonl"


def test_no_log_reads_as_no_entries(tmp_path):
    assert audit.read(tmp_path / "none.jsonl") == []
