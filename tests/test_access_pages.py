"""Pages with a simulated identity: sign-in, proxy header, open demo mode, scope in the URL,
and the audit log of views and exports (AppTest)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gradelens import audit, ui
from gradelens.navigation import PAGES
from tests.access_fixture import RD_VALUES, write_access_company

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test",
        "client_id": "x", "client_secret": "y", "server_metadata_url": "https://example.com/.well-known/openid-configuration"}


@pytest.fixture
def company(monkeypatch, tmp_path):
    folder = write_access_company(tmp_path / "data" / "tiny")
    monkeypatch.setenv("GRADELENS_DATA", str(folder))
    monkeypatch.setenv("GRADELENS_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("GRADELENS_ACCESS", raising=False)
    monkeypatch.delenv("GRADELENS_IDENTITY_HEADER", raising=False)
    monkeypatch.delenv("GRADELENS_OPEN_DEMO", raising=False)
    return tmp_path


def signed_in(page: str, email: str | None, **query_params) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": email is not None, **({"email": email} if email else {})}
    for key, value in query_params.items():
        at.query_params[key] = value
    return at.run()


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [str(m.value) for m in at.metric]
    parts += [e.value for e in (*at.info, *at.warning, *at.error)]
    for frame in at.dataframe:
        parts.append(frame.value.to_string())
    return "\n".join(parts)


def test_a_signed_out_visitor_is_asked_to_sign_in_and_sees_no_data(company):
    at = signed_in("pages/overview.py", None)
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe


def test_a_signed_in_stranger_sees_no_data_and_is_logged_as_denied(company):
    at = signed_in("pages/overview.py", "stranger@tiny.co")
    assert any("not listed" in e.value for e in at.error)
    assert not at.metric
    assert audit.read(company / "audit.jsonl")[-1]["action"] == "denied"


def test_a_sales_hrbp_sees_only_sales_on_the_overview(company):
    at = signed_in("pages/overview.py", "sales-hr@tiny.co")
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Employees"] == "3"
    assert at.selectbox(key="filter_department").options == ["All departments", "Sales"]
    assert any("HRBP" in c.value for c in at.caption)


def test_a_url_with_a_department_outside_the_scope_shows_nothing_of_it(company):
    at = signed_in("pages/overview.py", "sales-hr@tiny.co", department="D2")
    assert not at.exception
    assert at.selectbox(key="filter_department").value in ("", None)
    assert at.query_params.get("department") in (None, [], "")
    assert {m.label: m.value for m in at.metric}["Employees"] == "3"


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
def test_no_page_shows_a_sales_hrbp_anything_of_rnd(company, page):
    at = signed_in(page.path, "sales-hr@tiny.co", department="D2")
    assert not at.exception, at.exception
    shown = texts(at)
    assert not [v for v in RD_VALUES - {"T3", "E4", "E5"} if v in shown], page.path


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
def test_every_page_renders_for_an_executive(company, page):
    at = signed_in(page.path, "exec@tiny.co")
    assert not at.exception, (page.path, at.exception)


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
@pytest.mark.parametrize("email", ["pm@tiny.co", "admin@tiny.co"])
def test_every_page_renders_for_every_other_role(company, page, email):
    at = signed_in(page.path, email)
    assert not at.exception, (page.path, email, at.exception)


def test_an_executive_sees_no_individual_names_on_any_page(company):
    for page in PAGES:
        at = signed_in(page.path, "exec@tiny.co")
        shown = texts(at)
        assert not [n for n in ("Wang Wei", "Li Na", "Zhang Min", "Liu Yang", "Chen Jie") if n in shown], page.path


def test_the_proxy_header_names_the_viewer(company, monkeypatch):
    monkeypatch.setenv("GRADELENS_IDENTITY_HEADER", "X-Forwarded-Email")
    monkeypatch.setattr(ui, "_request_headers", lambda: {"x-forwarded-email": "sales-hr@tiny.co"})
    at = AppTest.from_file(str(ROOT / "pages/overview.py"), default_timeout=60).run()
    assert {m.label: m.value for m in at.metric}["Employees"] == "3"


def test_a_missing_proxy_header_shows_nothing(company, monkeypatch):
    monkeypatch.setenv("GRADELENS_IDENTITY_HEADER", "X-Forwarded-Email")
    monkeypatch.setattr(ui, "_request_headers", lambda: {})
    at = AppTest.from_file(str(ROOT / "pages/overview.py"), default_timeout=60).run()
    assert any("X-Forwarded-Email" in e.value for e in at.error) and not at.metric


def test_without_sign_in_the_app_says_it_is_an_open_demo_on_every_page(company):
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / page.path), default_timeout=60).run()
        assert any("Open demo mode" in m.value and "GRADELENS_OPEN_DEMO=0" in m.value for m in at.markdown), page.path
        assert not any("demo" in w.value for w in at.warning), page.path  # a mode, not a warning about the data


def test_open_demo_mode_can_be_switched_off(company, monkeypatch):
    monkeypatch.setenv("GRADELENS_OPEN_DEMO", "0")
    at = AppTest.from_file(str(ROOT / "pages/overview.py"), default_timeout=60).run()
    assert any("open demo mode is switched off" in e.value for e in at.error) and not at.metric


def test_page_views_and_exports_are_in_the_audit_log(company):
    at = signed_in("pages/overview.py", "pm@tiny.co")
    at.download_button[0].click().run()
    entries = audit.read(company / "audit.jsonl")
    assert [(e["viewer"], e["action"], e["target"]) for e in entries[:1]] == [("pm@tiny.co", "view", "overview")]
    export = [e for e in entries if e["action"] == "export"]
    assert len(export) == 1 and export[0]["role"] == "performance_manager"
    assert export[0]["details"]["file"].startswith("grade_mix_") and export[0]["details"]["rows"] == 5
    assert sum(e["action"] == "view" for e in entries) == 1  # a rerun is not a new view


def test_the_rnd_check_can_fail_because_a_performance_manager_does_see_rnd(company):
    shown = "\n".join(texts(signed_in(page.path, "pm@tiny.co")) for page in PAGES)
    assert "R&D" in shown and "Liu Yang" in shown


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
def test_no_page_shows_an_rnd_hrbp_anything_of_sales(company, page):
    at = signed_in(page.path, "rd-hr@tiny.co", department="D1")
    assert not at.exception, at.exception
    shown = texts(at)
    assert not [v for v in ("Wang Wei", "Li Na", "Zhang Min", "Sales East", "Sales North") if v in shown], page.path


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
def test_every_page_renders_for_an_executive_looking_at_a_small_department(company, page):
    at = signed_in(page.path, "exec@tiny.co", department="D2")  # R&D: two people, under min_group_size 3
    assert not at.exception, (page.path, at.exception)


def test_a_hidden_figure_says_why_on_the_page(company):
    at = signed_in("pages/overview.py", "exec@tiny.co", department="D2")
    assert {m.label: m.value for m in at.metric}["Employees"] == "–"
    assert any("Hidden to protect small groups (fewer than 3 people)" in c.value for c in at.caption)


def test_a_hidden_group_is_named_with_the_reason_and_its_complement_too(company):
    at = signed_in("pages/attainment.py", "exec@tiny.co")
    captions = [c.value for c in at.caption]
    assert any("fewer than 3 people): R&D" in c for c in captions), captions
    assert any("worked out by subtraction from a total: Sales" in c for c in captions), captions


def test_only_an_admin_may_use_the_data_page_and_a_refusal_is_logged(company):
    at = signed_in("pages/data.py", "pm@tiny.co")
    assert not at.exception
    assert any("for administrators" in i.value for i in at.info)
    assert not at.file_uploader and [b.label for b in at.button] == ["Sign out"]
    assert audit.read(company / "audit.jsonl")[-1]["action"] == "denied"


def test_an_import_through_the_data_page_is_in_the_audit_log(company, monkeypatch, tmp_path):
    from gradelens.importing import web
    from tests.import_fixture import export_folder

    monkeypatch.setattr(web, "UPLOAD_ROOT", tmp_path / "uploads")
    at = signed_in("pages/data.py", "admin@tiny.co")
    folder = export_folder(tmp_path / "export", only=("grades",))
    at.file_uploader[0].set_value([(p.name, p.read_bytes(), "text/csv") for p in sorted(folder.iterdir())])
    at.run()
    at.button(key="data_import").click().run()
    assert not at.exception, at.exception
    entry = [e for e in audit.read(company / "audit.jsonl") if e["action"] == "import"][-1]
    assert (entry["viewer"], entry["role"], entry["target"]) == ("admin@tiny.co", "admin", "grades.csv")
    assert entry["details"]["outcome"] == "imported" and entry["details"]["rows"] == {"grades": 8}
    assert entry["details"]["snapshot"].startswith("0001-") and entry["details"]["dataset"].endswith("tiny")
