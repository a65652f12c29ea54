"""Access control in the query layer: what each role can and cannot see through every named
query, department scope, and crafted parameters (docs/access-control.md)."""

import math

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from gradelens.access import ROLES, Viewer, find_access_file, load_access, parse_access, privacy_tag
from gradelens.dataset import open_dataset
from gradelens.errors import GradelensError, QueryError
from gradelens.queries import all_queries, run_query
from tests.access_fixture import RD_VALUES, REQUIRED_EXAMPLES, SALES_VALUES, VIEWERS, write_access_company

QUERIES = sorted(all_queries())


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return open_dataset(write_access_company(tmp_path_factory.mktemp("access")))


def required(name):
    query = all_queries()[name]
    return {p.name: REQUIRED_EXAMPLES[p.name] for p in query.params if p.required}


def cells(frame: pd.DataFrame) -> set[str]:
    return {str(v) for column in frame.columns for v in frame[column].tolist() if v is not None}


# --- the access file --------------------------------------------------------------------------

def test_the_access_file_maps_viewers_to_roles_and_scopes_case_insensitively(tmp_path):
    folder = write_access_company(tmp_path / "c")
    access = load_access(find_access_file(folder))
    assert access.viewer("Sales-HR@Tiny.co") == Viewer("sales-hr@tiny.co", "hrbp", ("D1",))
    assert access.viewer("exec@tiny.co").role == "executive"
    assert access.viewer("stranger@tiny.co") is None
    assert access.viewer("") is None


def test_an_unlisted_viewer_gets_the_default_role_only_when_one_is_set():
    access = parse_access({"settings": {"default_role": "executive"}, "viewers": {}}, "here")
    assert access.viewer("someone@x").role == "executive"


@pytest.mark.parametrize("entry, message", [
    ({"role": "hrbp"}, "without `departments`"),
    ({"role": "hrbp", "departments": []}, "without `departments`"),
    ({"role": "boss"}, "unknown role"),
    ({"role": "executive", "departments": ["D1"]}, "only an hrbp"),
    ({"departments": ["D1"]}, "needs a `role`"),
    ({"role": "hrbp", "departments": "D1"}, "list of department_ids"),
])
def test_a_bad_viewer_entry_is_refused_with_a_fix(entry, message):
    with pytest.raises(QueryError, match=message):
        parse_access({"viewers": {"x@y": entry}}, "access.toml")


def test_the_access_file_environment_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADELENS_ACCESS", str(tmp_path / "elsewhere.toml"))
    assert find_access_file(tmp_path) == tmp_path / "elsewhere.toml"
    monkeypatch.delenv("GRADELENS_ACCESS")
    assert find_access_file(tmp_path) is None


@pytest.mark.parametrize("text, message", [("secret", "must start"), ("aggregate", "count=employees"), ("aggregate count", "cannot read")])
def test_a_bad_privacy_tag_is_refused(text, message):
    with pytest.raises(QueryError, match=message):
        privacy_tag(text, "queries/x.sql")


def test_every_query_declares_a_known_privacy_class_and_aggregates_name_a_returned_count_column():
    for query in all_queries().values():
        assert query.privacy in ("public", "aggregate", "individual")
        if query.privacy == "aggregate":
            assert dict(query.privacy_options)["count"] in query.returns, query.name


# --- every role through every named query -----------------------------------------------------

@pytest.mark.parametrize("name", QUERIES)
def test_an_admin_viewer_sees_exactly_what_the_cli_sees(company, name):
    pd.testing.assert_frame_equal(run_query(company, name, required(name), viewer=VIEWERS["admin"]), run_query(company, name, required(name)))


@pytest.mark.parametrize("name", QUERIES)
def test_a_performance_manager_sees_every_department_and_individual(company, name):
    pd.testing.assert_frame_equal(run_query(company, name, required(name), viewer=VIEWERS["performance_manager"]),
                                  run_query(company, name, required(name)))


HRBPS = [("hrbp_sales", "D1", RD_VALUES), ("hrbp_rnd", "D2", SALES_VALUES)]


@pytest.mark.parametrize("hrbp, department, forbidden", HRBPS, ids=["sales", "rnd"])
@pytest.mark.parametrize("name", QUERIES)
@pytest.mark.parametrize("rater_id", ["E1", "E4"])
def test_an_hrbp_never_sees_anything_of_another_department_through_any_query(company, name, hrbp, department, forbidden, rater_id):
    # rater_id E1 (Sales) and E4 (R&D) both rated across departments in the access fixture
    params = {**required(name), **({"rater_id": rater_id} if "rater_id" in required(name) else {})}
    if "role" in {p.name for p in all_queries()[name].params}:
        params["role"] = "all_but_self"  # includes E4's peer rating of Sales's E2
    frame = run_query(company, name, params, viewer=VIEWERS[hrbp])  # nothing is refused any more
    assert not cells(frame) & forbidden, (name, cells(frame) & forbidden)
    if "department_id" in frame.columns:
        assert set(frame["department_id"].dropna()) <= {department}


def test_every_query_that_is_not_public_can_be_limited_to_a_department():
    # so no useful query is refused to an hrbp; a new query without `$department` fails here
    unscoped = [q.name for q in all_queries().values() if q.privacy != "public" and "department" not in {p.name for p in q.params}]
    assert unscoped == []


# Rows across departments (see tests/access_fixture.py), per role: what each sees.
def keys(frame, columns):
    return sorted(tuple(row) for row in frame[columns].itertuples(index=False))


CROSS = [
    # query, params, columns, {role: expected rows}; a role missing from the dict is refused
    ("rater_pair_scores", {"cycle": "2025H2"}, ["rater_id", "ratee_id"], {
        "admin": [("E1", "E2"), ("E1", "E3"), ("E1", "E4"), ("E4", "E5")],
        "performance_manager": [("E1", "E2"), ("E1", "E3"), ("E1", "E4"), ("E4", "E5")],
        "hrbp_sales": [("E1", "E2"), ("E1", "E3")],
        "hrbp_rnd": [("E4", "E5")]}),
    ("rater_pair_scores", {"cycle": "2025H2", "role": "all_but_self"}, ["rater_id", "ratee_id"], {
        "admin": [("E1", "E2"), ("E1", "E3"), ("E1", "E4"), ("E4", "E2"), ("E4", "E5")],
        "hrbp_sales": [("E1", "E2"), ("E1", "E3")],
        "hrbp_rnd": [("E4", "E5")]}),
    ("rater_ratee_scores", {"cycle": "2025H2", "rater_id": "E1"}, ["ratee_id"], {
        "admin": [("E2",), ("E3",), ("E4",)], "hrbp_sales": [("E2",), ("E3",)], "hrbp_rnd": []}),
    ("rater_ratee_scores", {"cycle": "2025H2", "rater_id": "E4", "role": "all_but_self"}, ["ratee_id"], {
        "admin": [("E2",), ("E5",)], "hrbp_sales": [], "hrbp_rnd": [("E5",)]}),
    # E1 manages E2 (proposed A), E3 (C) and E4 (S); only E2 and E3 are Sales
    ("rater_grade_mix", {"cycle": "2025H2", "rater_id": "E1"}, ["grade", "proposed"], {
        "admin": [("A", 1), ("B", 0), ("C", 1), ("D", 0), ("S", 1)],
        "hrbp_sales": [("A", 1), ("B", 0), ("C", 1), ("D", 0), ("S", 0)],
        "hrbp_rnd": [("A", 0), ("B", 0), ("C", 0), ("D", 0), ("S", 0)]}),
    ("rater_directory", {"cycle": "2025H2"}, ["person_id"], {
        "admin": [("E1",), ("E2",), ("E3",), ("E4",), ("E5",)],
        "hrbp_sales": [("E1",), ("E2",), ("E3",)], "hrbp_rnd": [("E4",), ("E5",)]}),
    # E1 proposed E2, E3 (Sales) and E4 (R&D), appealed by E3 (AP1), E2 (AP2) and E4 (AP3); E4 proposed E5
    ("appeals_by_rater", {"cycle": "2025H2"}, ["rater_id", "graded", "appeals"], {
        "admin": [("E1", 3, 3), ("E4", 1, 0)], "performance_manager": [("E1", 3, 3), ("E4", 1, 0)],
        "hrbp_sales": [("E1", 2, 2)], "hrbp_rnd": [("E4", 1, 0)]}),
    ("open_appeals", {}, ["employee_id"], {
        "admin": [("E2",), ("E4",)], "hrbp_sales": [("E2",)], "hrbp_rnd": [("E4",)]}),
    ("rater_leniency", {"cycle": "2025H2", "min_ratees": 1}, ["rater_id"], {
        "admin": [("E1",), ("E4",)], "hrbp_sales": [("E1",)], "hrbp_rnd": [("E4",)]}),
    ("rater_leniency_history", {"rater_id": "E4"}, ["cycle_id"], {
        "admin": [("2025H2",)], "hrbp_sales": [], "hrbp_rnd": [("2025H2",)]}),
    # the fit covers every pair; the counts only the viewer's
    ("rater_leniency_model", {"cycle": "2025H2"}, ["pairs", "raters", "ratees"], {
        "admin": [(4, 2, 4)], "hrbp_sales": [(2, 1, 2)], "hrbp_rnd": [(1, 1, 1)]}),
    # ratees' attainment: E3 0.45, E4 1.00, E2 1.15; E5 has none
    ("rater_score_curve", {"cycle": "2025H2"}, ["attainment_band", "pairs"], {
        "admin": [(0.4, 1), (1.0, 1), (1.1, 1)], "hrbp_sales": [(0.4, 1), (1.1, 1)], "hrbp_rnd": [],
        "executive": [(None, None)] * 3}),  # three bands of one pair each: all hidden, bands too
]


@pytest.mark.parametrize("role", ["admin", "performance_manager", "hrbp_sales", "hrbp_rnd", "executive"])
@pytest.mark.parametrize("name, params, columns, expected", CROSS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CROSS)])
def test_rows_across_departments_show_only_to_those_who_may_see_every_person_named(company, name, params, columns, expected, role):
    if role not in expected and role in ("executive",):
        with pytest.raises(QueryError, match="executive role may not see"):
            run_query(company, name, params, viewer=VIEWERS[role])
        return
    frame = run_query(company, name, params, viewer=VIEWERS[role])
    want = expected.get(role, expected["admin"])  # a performance manager sees what an admin sees
    got = [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row) for row in keys(frame, columns)]
    assert got == sorted(want, key=lambda r: tuple((v is None, v) for v in r)) or got == want


@pytest.mark.parametrize("name", [n for n in QUERIES if "department" in {p.name for p in all_queries()[n].params}])
def test_a_sales_hrbp_sees_the_same_as_an_admin_filtering_on_sales(company, name):
    admin = run_query(company, name, {**required(name), "department": "D1"})
    hrbp = run_query(company, name, required(name), viewer=VIEWERS["hrbp_sales"])
    pd.testing.assert_frame_equal(hrbp, admin[admin["department_id"].isin(["D1"])].reset_index(drop=True) if "department_id" in admin else admin)


def test_a_sales_hrbp_sees_the_three_sales_people_in_the_headline(company):
    assert run_query(company, "overview_headline", {}, viewer=VIEWERS["hrbp_sales"])["employees"].tolist() == [3]
    assert run_query(company, "department_list", {}, viewer=VIEWERS["hrbp_sales"])["department_id"].tolist() == ["D1"]


def test_a_hrbp_of_two_departments_sees_each_of_them(company):
    both = Viewer("both@tiny.co", "hrbp", ("D1", "D2"))
    frame = run_query(company, "self_manager_gap", {}, viewer=both)
    assert sorted(frame["department_id"]) == sorted(run_query(company, "self_manager_gap", {})["department_id"])


@pytest.mark.parametrize("name", QUERIES)
def test_an_executive_gets_only_aggregates_with_small_groups_hidden(company, name):
    query = all_queries()[name]
    if query.privacy == "individual":
        with pytest.raises(QueryError, match="executive role may not see"):
            run_query(company, name, required(name), viewer=VIEWERS["executive"])
        return
    frame = run_query(company, name, required(name), viewer=VIEWERS["executive"])
    if query.privacy == "public":
        return
    assert "suppressed" in frame.columns
    count = dict(query.privacy_options)["count"]
    small = frame[count].isna() | (frame[count] < 3)
    # a shown row always has a count of at least min_group_size
    assert (frame.loc[~frame["suppressed"].notna(), count] >= 3).all(), name
    assert frame.loc[small, "suppressed"].notna().all(), name


def test_an_executive_cannot_subtract_rnd_from_the_company_total(company):
    # Company 5 = Sales 3 + R&D 2; hiding only R&D would give it away as 5 - 3.
    total = run_query(company, "overview_headline", {}, viewer=VIEWERS["executive"])
    assert total["employees"].tolist() == [5]
    frame = run_query(company, "attainment_by_department", {}, viewer=VIEWERS["executive"]).set_index("department_id")
    assert frame.loc["D2", "suppressed"] == "small_group"
    assert frame.loc["D1", "suppressed"] == "complementary"
    assert frame[["employees", "attainment"]].isna().all().all()
    assert list(frame["department"]) == ["Sales", "R&D"] or set(frame["department"]) == {"Sales", "R&D"}


def test_an_executive_filtering_on_a_small_department_sees_no_number(company):
    frame = run_query(company, "overview_headline", {"department": "D2"}, viewer=VIEWERS["executive"])
    assert frame["suppressed"].tolist() == ["small_group"]
    assert math.isnan(frame["employees"][0]) and math.isnan(frame["graded"][0])


# --- crafted parameters -----------------------------------------------------------------------

CRAFTED = [
    "D2", "d2", " D2", "D2 ", "D1' OR '1'='1", "D1; DROP TABLE employees; --", "' UNION SELECT * FROM employees --",
    "D1\x00D2", "Ｄ２", "D\u200b2", "部门", "%", "_", "*", "D1,D2", "['D1','D2']", "x" * 10_000, "NULL",
]


@pytest.mark.parametrize("value", CRAFTED, ids=range(len(CRAFTED)))
@pytest.mark.parametrize("name", ["overview_headline", "open_appeals", "grade_distribution", "goal_cascade", "appeals_by_rater"])
def test_a_crafted_department_gives_a_sales_hrbp_an_error_never_rnd_rows(company, name, value):
    try:
        frame = run_query(company, name, {**required(name), "department": value}, viewer=VIEWERS["hrbp_sales"])
    except GradelensError:
        return
    pytest.fail(f"{name} accepted department {value[:30]!r}: {frame}")


@pytest.mark.parametrize("value", CRAFTED, ids=range(len(CRAFTED)))
def test_a_crafted_region_or_cycle_never_widens_a_sales_hrbp(company, value):
    for params in ({"region": value}, {"cycle": value}):
        try:
            frame = run_query(company, "grade_attainment_mismatch", {**params, "min_gap": 0}, viewer=VIEWERS["hrbp_sales"])
        except GradelensError:
            continue
        assert not cells(frame) & RD_VALUES


def test_a_crafted_value_for_an_executive_returns_nothing_or_an_error(company):
    for value in CRAFTED:
        try:
            frame = run_query(company, "grade_mix", {"department": value}, viewer=VIEWERS["executive"])
        except GradelensError:
            continue
        assert frame["employees"].fillna(0).sum() == 0, value


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=60))
def test_no_department_text_at_all_shows_a_sales_hrbp_anything_of_rnd(company, value):
    try:
        frame = run_query(company, "goal_cascade", {"department": value}, viewer=VIEWERS["hrbp_sales"])
    except GradelensError:
        return
    assert value in ("D1", "") and not cells(frame) & RD_VALUES


def test_roles_are_the_four_of_the_issue():
    assert ROLES == ("executive", "performance_manager", "hrbp", "admin")


def test_the_example_access_file_loads():
    from pathlib import Path

    access = load_access(Path(__file__).resolve().parent.parent / "examples" / "access.toml")
    assert access.viewer("hrbp.sales@example.com") == Viewer("hrbp.sales@example.com", "hrbp", ("D-SAL",))
    assert access.viewer("nobody@example.com") is None


def with_param(_unused, param):
    return [n for n in QUERIES if param in {p.name for p in all_queries()[n].params}]


INJECTIONS = ["D1' OR '1'='1", "' UNION SELECT * FROM employees --", "Ｄ１", "x" * 10_000]


@pytest.mark.parametrize("role, param", [("admin", "department"), ("executive", "department"), ("admin", "region")])
def test_injections_through_every_query_are_plain_text_that_matches_nothing(company, role, param):
    # bound, never formatted: each crafted value gives exactly what an unknown value gives
    # (or the same error), and never more rows
    for name in with_param(None, param):
        params = {**required(name), "min_ratees": 1} if "min_ratees" in {p.name for p in all_queries()[name].params} else required(name)
        try:
            nothing = run_query(company, name, {**params, param: "no-such-value"}, viewer=VIEWERS[role])
        except QueryError:
            continue  # refused for this role whatever the value
        everything = run_query(company, name, params, viewer=VIEWERS[role])
        for value in INJECTIONS:
            try:
                frame = run_query(company, name, {**params, param: value}, viewer=VIEWERS[role])
            except QueryError as exc:  # an error is fine: too long a value is refused
                assert "characters long" in str(exc), (name, str(exc))
                continue
            pd.testing.assert_frame_equal(frame, nothing, obj=f"{name} {param}={value[:20]!r}")
            assert len(frame) <= max(len(everything), len(nothing)), name


@pytest.mark.parametrize("name", with_param(None, "department"))
def test_every_scoped_query_refuses_an_hrbp_any_department_but_theirs(company, name):
    for value in ["D2", "d1", " D1", "D1' OR '1'='1", "Ｄ１", "D1\x00", "x" * 10_000]:
        with pytest.raises(QueryError, match="outside your scope|characters long"):
            run_query(company, name, {**required(name), "department": value}, viewer=VIEWERS["hrbp_sales"])
