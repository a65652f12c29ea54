"""The manager fits stored with the derived tables (gradelens/derived.py, write_stored_fits):
the named queries read them and answer exactly as fitting does, and a stored fit is never
served once the ratings, the departments or the policy's weights have changed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from gradelens import derived
from gradelens.analyses import leniency as analyses
from gradelens.dataset import open_dataset
from gradelens.queries import cycle_ids, run_query
from tests.leniency_fixture import contract_tables_from_pairs, leniency_company_tables, simulate_teams, three_managers_tables
from tests.tiny_company import tiny_company_tables, write_dataset

FIXTURES = {
    "company": leniency_company_tables,  # two cycles, KPI data, a rater outside the manager role
    "three": three_managers_tables,  # no KPI data, hand-computed effects
    "tiny": tiny_company_tables,  # a cycle without manager ratings
    "teams": lambda: contract_tables_from_pairs(simulate_teams(teams=30, team_size=8, peers=2, planted={3: 0.8, 7: -0.8}, seed=5).pairs),
}


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def pair(request, tmp_path_factory):
    """(computed, stored): the same dataset without and with the derived tables."""
    root = tmp_path_factory.mktemp(request.param)
    computed = write_dataset(root / "computed", FIXTURES[request.param]())
    stored = root / "stored"
    shutil.copytree(computed, stored)
    derived.build(stored)
    return open_dataset(computed), open_dataset(stored)


def cases(dataset) -> list[tuple[str, dict]]:
    raters = sorted(set(run_query(dataset, "rater_pair_scores", {"role": "manager"})["rater_id"]))[:3] + ["nobody"]
    out = []
    for cycle in cycle_ids(dataset):
        for department in (None, "D1"):
            out += [
                ("rater_leniency", {"cycle": cycle, "department": department}),
                ("rater_leniency", {"cycle": cycle, "department": department, "min_ratees": 1, "threshold": 0.0}),
                ("rater_leniency_by_department", {"cycle": cycle, "department": department, "min_ratees": 1}),
                ("rater_leniency_model", {"cycle": cycle, "department": department}),
                ("rater_directory", {"cycle": cycle, "department": department}),
            ]
            out += [("rater_ratee_scores", {"cycle": cycle, "rater_id": r, "department": department}) for r in raters]
        out.append(("rater_leniency", {"cycle": cycle, "region": "East", "min_ratees": 2}))
    out += [("rater_leniency_history", {"rater_id": r, "department": d, "min_ratees": 2}) for r in raters for d in (None, "D1")]
    return out


def test_the_stored_fits_answer_every_leniency_query_exactly_as_fitting_without_fitting(pair, monkeypatch):
    computed, stored = pair
    assert analyses._stored(computed, "manager") is None
    assert analyses._stored(stored, "manager") is not None
    expected = [(name, params, run_query(computed, name, params)) for name, params in cases(computed)]
    empty_cycles = {c for c in cycle_ids(computed) if run_query(computed, "rater_pair_scores", {"cycle": c}).empty}
    fitted = []
    real_fit = analyses._fit

    def watched(keyed, cycle, role):
        fitted.append(cycle)
        return real_fit(keyed, cycle, role)

    monkeypatch.setattr(analyses, "_fit", watched)
    for name, params, frame in expected:
        pd.testing.assert_frame_equal(run_query(stored, name, params), frame, check_exact=True, obj=f"{name} {params}")
    assert set(fitted) <= empty_cycles  # a cycle without manager pairs is "fitted" on demand: there is nothing to fit


def test_the_directory_reads_the_stored_raters_who_are_not_employees_and_names_them_as_computed(tmp_path, monkeypatch):
    tables = three_managers_tables()
    tables["ratings"] += [dict(cycle_id="2026H1", ratee_id="A1", rater_id=r, rater_role="customer", dimension="results", score=4.0)
                          for r in ("CUST-2", "CUST-1")]
    computed = write_dataset(tmp_path / "computed", tables)
    stored = tmp_path / "stored"
    shutil.copytree(computed, stored)
    folder = derived.build(stored)
    outside = sorted((derived.leniency_folder(stored, open_dataset(stored).policy) / analyses.OUTSIDE_RATERS).rglob("*.parquet"))
    assert pd.read_parquet(outside[0])["rater_id"].tolist() == ["CUST-1", "CUST-2"]
    assert folder.is_dir()
    expected = run_query(open_dataset(computed), "rater_directory")
    monkeypatch.setattr(analyses, "_OUTSIDE_RATERS_SQL", "SELECT error('the ratings were scanned')")  # the stored rows, not the ratings
    got = run_query(open_dataset(stored), "rater_directory")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.set_index("person_id").loc[["CUST-1", "CUST-2"], "name"].tolist() == ["CUST-1", "CUST-2"]
    assert len(got) == 11  # nine employees and two customers


def self_manager_cases(dataset) -> list[dict]:
    with dataset.cursor() as con:
        regions = [row[0] for row in con.execute("SELECT DISTINCT region FROM employees WHERE region IS NOT NULL ORDER BY 1").fetchall()]
    return [{"cycle": cycle, "department": department, "region": region}
            for cycle in cycle_ids(dataset) for department in (None, "D1", "D-NONE") for region in [None, *regions[:2]]]


def test_self_manager_gap_reads_the_stored_sums_and_answers_as_computing_them(pair):
    computed, stored = pair
    with stored.cursor() as con:  # attached from the leniency folder: the view exists only then
        con.execute("SELECT * FROM self_manager_sums").fetchall()
    with computed.cursor() as con, pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM self_manager_sums")
    answered = 0
    for params in self_manager_cases(computed):
        expected = run_query(computed, "self_manager_gap", params)
        got = run_query(stored, "self_manager_gap", params)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, obj=f"self_manager_gap {params}")
        answered += len(expected)
    with computed.cursor() as con:
        rated_themselves = con.execute("SELECT count(*) FROM ratings WHERE rater_role = 'self'").fetchone()[0]
    assert (answered > 0) == (rated_themselves > 0)  # the simulated teams have no self ratings


def test_self_manager_gap_is_not_served_stale_sums(tmp_path):
    folder = write_dataset(tmp_path / "d", three_managers_tables())
    derived.build(folder)
    gap = lambda: run_query(open_dataset(folder), "self_manager_gap").set_index("department_id")["mean_gap"].to_dict()  # noqa: E731
    assert gap() == pytest.approx({"D1": 0.75, "D2": 0.5})  # test_leniency_queries: self 3.75 / 3.5, manager 3.0 / 3.0
    tables = three_managers_tables()
    for row in tables["ratings"]:
        if row["rater_role"] == "self" and row["ratee_id"] == "C1":
            row["score"] = 4.0  # was 2: R&D's self mean 3.5 -> 4.5, its gap 0.5 -> 1.5
    write_dataset(folder, {"ratings": tables["ratings"]})
    bump(folder / "ratings.parquet")
    assert gap() == pytest.approx({"D1": 0.75, "D2": 1.5})  # computed from the new ratings
    derived.build(folder)
    assert gap() == pytest.approx({"D1": 0.75, "D2": 1.5})  # and stored from them


def fresh(dataset, name, params):
    analyses._fit.cache_clear()
    analyses._directory.cache_clear()
    return run_query(dataset, name, params)


def test_other_roles_are_fitted_on_demand(pair):
    computed, stored = pair
    assert analyses._stored(stored, "all_but_self") is None
    pd.testing.assert_frame_equal(fresh(stored, "rater_leniency", {"role": "all_but_self", "min_ratees": 1}),
                                  fresh(computed, "rater_leniency", {"role": "all_but_self", "min_ratees": 1}))


def bump(path: Path) -> None:
    later = time.time_ns() + 10**9
    os.utime(path, ns=(later, later))


def effects(folder: Path) -> pd.Series:
    return fresh(open_dataset(folder), "rater_leniency", {"min_ratees": 2}).set_index("rater_id")["effect"]


def test_a_changed_ratings_file_is_not_served_stale(tmp_path):
    folder = write_dataset(tmp_path / "d", three_managers_tables())
    derived.build(folder)
    assert effects(folder)["M3"] == pytest.approx(0.0, abs=1e-5)
    tables = three_managers_tables()
    for row in tables["ratings"]:
        if row["rater_id"] == "M3":
            row["score"] = 5.0
    write_dataset(folder, {"ratings": tables["ratings"]})
    bump(folder / "ratings.parquet")
    assert derived.leniency_folder(folder, open_dataset(folder).policy) is None
    assert derived.current_folder(folder) is not None  # attainment does not depend on ratings
    assert derived.stale(open_dataset(folder))
    assert effects(folder)["M3"] > 0.5  # fitted from the new ratings
    derived.build(folder)
    assert derived.leniency_folder(folder, open_dataset(folder).policy) is not None
    assert effects(folder)["M3"] > 0.5  # and stored from them
    assert len(list((derived.current_folder(folder) / derived.LENIENCY).iterdir())) == 2  # this version and the one before


def test_a_changed_dimension_weight_is_not_served_stale(tmp_path):
    folder = write_dataset(tmp_path / "d", leniency_company_tables())
    derived.build(folder)
    scores = lambda: fresh(open_dataset(folder), "rater_ratee_scores", {"rater_id": "E1"})["score"].tolist()  # noqa: E731
    # leniency_fixture: E1 scores E3 (2, 3, 3), E4 (4, 4, 4), E2 (4, 3, 5) on results, competency, attitude
    assert scores() == pytest.approx([2.4, 4.0, 3.8])  # weights 0.6 / 0.3 / 0.1
    (folder / "policy.toml").write_text("[dimension_weights]\nresults = 0.9\ncompetency = 0.1\nattitude = 0.0\n", encoding="utf-8")
    assert derived.current_folder(folder) is not None  # the cap did not change: attainment stays
    assert analyses._stored(open_dataset(folder), "manager") is None
    assert scores() == pytest.approx([2.1, 4.0, 3.9])
    derived.build(folder)
    assert analyses._stored(open_dataset(folder), "manager") is not None
    assert scores() == pytest.approx([2.1, 4.0, 3.9])


def test_a_changed_org_chart_is_not_served_stale(tmp_path):
    folder = write_dataset(tmp_path / "d", three_managers_tables())
    derived.build(folder)
    bump(folder / "org_units.parquet")
    assert derived.leniency_folder(folder, open_dataset(folder).policy) is None


def test_changed_actuals_drop_the_stored_fits_with_the_attainment_tables(tmp_path):
    folder = write_dataset(tmp_path / "d", leniency_company_tables())
    derived.build(folder)
    bump(folder / "kpi_actuals.parquet")
    assert derived.leniency_folder(folder, open_dataset(folder).policy) is None
