"""The leniency page's named queries, SQL and Python, on datasets built in code with the
answers worked out by hand (tests/leniency_fixture.py docstrings)."""

import json
import math
import os
import time

import numpy as np
import pandas as pd
import pytest

from gradelens.cli import main
from gradelens.dataset import open_dataset
from gradelens.errors import DatasetError, QueryError
from gradelens.queries import all_queries, run_query
from tests.leniency_fixture import (
    contract_tables_from_pairs,
    leniency_company_tables,
    simulate_teams,
    three_managers_tables,
)
from tests.tiny_company import tiny_company_tables, write_dataset

SE = math.sqrt(5) / 3  # the balanced one-way case of three_managers_tables
P_VALUE = 0.1797124  # 2 * Phi(-1 / SE)


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    return open_dataset(write_dataset(tmp_path_factory.mktemp("three"), three_managers_tables()))


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return open_dataset(write_dataset(tmp_path_factory.mktemp("company"), leniency_company_tables()))


def test_the_queries_are_registered_with_their_parameters():
    queries = all_queries()
    for name in ("rater_leniency", "rater_leniency_history", "rater_ratee_scores", "rater_leniency_by_department",
                 "rater_leniency_model", "rater_pair_scores", "rater_directory", "rater_score_curve", "rater_grade_mix",
                 "self_manager_gap"):
        assert name in queries
    leniency = queries["rater_leniency"]
    assert leniency.param("role").choices == ("manager", "all_but_self", "peer", "subordinate", "customer")
    assert leniency.param("role").default == "manager"
    assert (leniency.param("threshold").type, leniency.param("threshold").default) == ("number", 0.25)
    assert (leniency.param("min_ratees").type, leniency.param("min_ratees").default) == ("int", 5)
    assert leniency.returns[:12] == ("rater_id", "rater_name", "department_id", "department", "region", "ratees",
                                     "mean_attainment", "raw_mean", "expected_mean", "effect", "se", "z")
    assert queries["rater_leniency_history"].param("rater_id").required


# ----------------------------------------------------------------------------- SQL inputs


@pytest.mark.parametrize(
    "role, expected",
    [
        ("manager", [("E1", "E2", "manager", 3.8, 1.15), ("E1", "E3", "manager", 2.4, 0.45),
                     ("E1", "E4", "manager", 4.0, 1.0), ("E4", "E5", "manager", 3.1, None)]),
        ("peer", [("E2", "E3", "peer", 3.0, 0.45)]),
        ("all_but_self", [("E1", "E2", "manager", 3.8, 1.15), ("E1", "E3", "manager", 2.4, 0.45),
                          ("E1", "E4", "manager", 4.0, 1.0), ("E2", "E3", "peer", 3.0, 0.45), ("E4", "E5", "manager", 3.1, None)]),
        ("customer", []),
    ],
)
def test_pair_scores_weight_the_dimensions_and_carry_the_ratees_attainment(company, role, expected):
    pairs = run_query(company, "rater_pair_scores", {"cycle": "2025H2", "role": role})
    rows = [(r.rater_id, r.ratee_id, r.rater_role, round(r.score, 9), None if pd.isna(r.attainment) else round(r.attainment, 9))
            for r in pairs.itertuples()]
    assert rows == expected
    assert (pairs["dimensions"] == 3).all()


def test_pair_scores_renormalise_over_scored_dimensions_and_skip_weightless_ones(tmp_path):
    tables = three_managers_tables()
    tables["ratings"] = [r for r in tables["ratings"] if not (r["ratee_id"] == "A1" and r["dimension"] == "competency")]
    for row in tables["ratings"]:
        if row["ratee_id"] == "A1" and row["rater_role"] == "manager" and row["dimension"] == "attitude":
            row["score"] = 2.0
    folder = write_dataset(tmp_path / "partial", tables)
    pairs = run_query(open_dataset(folder), "rater_pair_scores").set_index("ratee_id")
    assert pairs.loc["A1", "score"] == pytest.approx((0.6 * 4 + 0.1 * 2) / 0.7)
    assert pairs.loc["A1", "dimensions"] == 2
    (folder / "policy.toml").write_text("[dimension_weights]\nresults = 0.9\ncompetency = 0.1\nattitude = 0.0\n", encoding="utf-8")
    pairs = run_query(open_dataset(folder), "rater_pair_scores").set_index("ratee_id")
    assert pairs.loc["A1", "score"] == pytest.approx(4.0)  # only results scored among weighted dimensions
    assert pairs.loc["A1", "dimensions"] == 1


def test_the_directory_names_employees_and_raters_who_are_not_employees(tmp_path):
    tables = three_managers_tables()
    tables["ratings"].append(dict(cycle_id="2026H1", ratee_id="A1", rater_id="CUST-1", rater_role="customer", dimension="results", score=4.0))
    people = run_query(open_dataset(write_dataset(tmp_path / "d", tables)), "rater_directory").set_index("person_id")
    assert people.loc["M1", ["name", "department_id", "department", "region"]].tolist() == ["Wang Wei", "D1", "Sales", "East"]
    assert people.loc["CUST-1", "name"] == "CUST-1" and pd.isna(people.loc["CUST-1", "department_id"])
    assert len(people) == 10


@pytest.mark.parametrize("department", [None, "D1", "D-NONE"])
def test_the_directory_read_through_arrow_is_the_frame_duckdb_would_give(tmp_path, department):
    from gradelens.analyses.leniency import _OUTSIDE_RATERS_SQL, _directory_sql

    tables = three_managers_tables()
    tables["ratings"].append(dict(cycle_id="2026H1", ratee_id="A1", rater_id="CUST-1", rater_role="customer", dimension="results", score=4.0))
    dataset = open_dataset(write_dataset(tmp_path / "d", tables))
    people = run_query(dataset, "rater_directory", {"department": department})
    with dataset.cursor() as con:
        expected = con.execute(_directory_sql(_OUTSIDE_RATERS_SQL), {"cycle": "2026H1", "department": department}).df()
    # Nine employees and the customer; D1 (teams T1, T2) has M1, M2, A1, A2, B1, B2.
    assert len(people) == {None: 10, "D1": 6, "D-NONE": 0}[department]
    if expected.empty:  # no rows: the same columns (an empty text column is object in .df())
        assert list(people.columns) == list(expected.columns)
    else:
        pd.testing.assert_frame_equal(people, expected)


def test_the_company_curve_averages_scores_by_attainment_band(company):
    curve = run_query(company, "rater_score_curve", {"cycle": "2025H2"})
    # E3 0.45 -> band 0.4 (2.4), E4 1.0 -> 1.0 (4.0), E2 1.15 -> 1.1 (3.8); E5 has no attainment.
    assert curve[["attainment_band", "pairs", "mean_score"]].to_numpy(dtype=float) == pytest.approx(np.array([[0.4, 1, 2.4], [1.0, 1, 4.0], [1.1, 1, 3.8]]))


def test_a_raters_grade_mix_counts_their_ratees_grades_against_the_guideline(three):
    mix = run_query(three, "rater_grade_mix", {"rater_id": "M1"})
    assert mix["grade"].tolist() == ["S", "A", "B", "C", "D"]
    assert mix["proposed"].tolist() == [1, 1, 0, 0, 0]
    assert mix["proposed_share"].tolist() == pytest.approx([0.5, 0.5, 0, 0, 0])
    assert mix["final"].tolist() == [0, 2, 0, 0, 0]
    assert mix["final_share"].tolist() == pytest.approx([0, 1, 0, 0, 0])
    assert mix["target_share"].tolist() == pytest.approx([0.05, 0.20, 0.60, 0.10, 0.05])
    nobody = run_query(three, "rater_grade_mix", {"rater_id": "A1"})
    assert nobody["proposed"].sum() == 0 and nobody["proposed_share"].isna().all()


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({}, [("D1", "Sales", 4, 3.75, 3.0, 0.75, True), ("D2", "R&D", 2, 3.5, 3.0, 0.5, True)]),
        ({"department": "D2"}, [("D2", "R&D", 2, 3.5, 3.0, 0.5, True)]),
        ({"region": "North"}, [("D1", "Sales", 2, 2.5, 1.5, 1.0, True)]),
    ],
)
def test_self_manager_gap_by_department(three, filters, expected):
    gap = run_query(three, "self_manager_gap", filters)
    assert gap[["department_id", "department", "employees", "small_group"]].values.tolist() == [[e[0], e[1], e[2], e[6]] for e in expected]
    assert gap[["mean_self", "mean_manager", "mean_gap"]].to_numpy(dtype=float) == pytest.approx(np.array([e[3:6] for e in expected]))


def test_self_manager_gap_marks_groups_at_the_policy_minimum_as_large_enough(tmp_path):
    folder = write_dataset(tmp_path / "d", three_managers_tables())
    (folder / "policy.toml").write_text("[privacy]\nmin_group_size = 4\n", encoding="utf-8")
    gap = run_query(open_dataset(folder), "self_manager_gap").set_index("department_id")
    assert gap["small_group"].to_dict() == {"D1": False, "D2": True}


def test_self_manager_gap_on_the_tiny_company(tiny):
    gap = run_query(tiny, "self_manager_gap", {"cycle": "2025H2"})
    assert gap[["department", "employees"]].values.tolist() == [["Sales", 1]]
    assert gap["mean_gap"].tolist() == pytest.approx([5.0 - 3.8])


# ----------------------------------------------------------------------------- the model as queries


def test_rater_leniency_gives_the_hand_computed_effects(three):
    board = run_query(three, "rater_leniency", {"min_ratees": 2}).set_index("rater_id")
    assert list(board.index) == ["M1", "M2", "M3"]  # ranked by |effect|, ties by id
    assert board["rater_name"].tolist() == ["Wang Wei", "Li Na", "Zhang Min"]
    assert board["department"].tolist() == ["Sales", "Sales", "R&D"]
    assert board["ratees"].tolist() == [2, 2, 2]
    assert board["raw_mean"].tolist() == pytest.approx([4.5, 1.5, 3.0])
    assert board["expected_mean"].tolist() == pytest.approx([3.0, 3.0, 3.0], abs=1e-9)
    assert board["effect"].tolist() == pytest.approx([1.0, -1.0, 0.0], abs=1e-5)
    assert board["se"].tolist() == pytest.approx([SE] * 3, rel=1e-5)
    assert board["p_value"].tolist() == pytest.approx([P_VALUE, P_VALUE, 1.0], abs=1e-5)
    # BH over three: 0.1797 * 3 / 2 for the two tied, 1.0 for the last
    assert board["q_value"].tolist() == pytest.approx([1.5 * P_VALUE, 1.5 * P_VALUE, 1.0], abs=1e-5)
    assert not board["flagged"].any()
    assert board["direction"].tolist() == ["lenient", "severe", "lenient"]
    assert board["mean_attainment"].isna().all()  # no KPI data


def test_default_minimum_ratees_leaves_small_teams_untested(three):
    board = run_query(three, "rater_leniency")
    assert board["q_value"].isna().all() and not board["flagged"].any()


@pytest.mark.parametrize("filters, raters", [({"department": "D1"}, ["M1", "M2"]), ({"region": "North"}, ["M2"]), ({"department": "D9"}, [])])
def test_filters_keep_raters_of_the_department_or_region_with_company_wide_numbers(three, filters, raters):
    board = run_query(three, "rater_leniency", {"min_ratees": 2, **filters})
    assert board["rater_id"].tolist() == raters
    if raters:
        everyone = run_query(three, "rater_leniency", {"min_ratees": 2}).set_index("rater_id")
        assert board.set_index("rater_id")["q_value"].tolist() == pytest.approx(everyone.loc[raters, "q_value"].tolist())


def test_the_model_summary_without_kpi_data(three):
    model = run_query(three, "rater_leniency_model").iloc[0]
    assert (model.pairs, model.raters, model.ratees) == (6, 3, 6)
    assert model.mu == pytest.approx(3.0) and math.isnan(model.beta)
    assert not model.attainment_adjusted and not model.ratee_effects_separate
    assert model.rater_sd == pytest.approx(1.0, rel=1e-5) and model.residual_sd == pytest.approx(1.0, rel=1e-5)
    assert (model.variance_method, model.se_method, model.converged) == ("ml", "exact", True)


def test_a_raters_ratees_with_the_companys_expected_score(three):
    ratees = run_query(three, "rater_ratee_scores", {"rater_id": "M1"})
    assert ratees["ratee_name"].tolist() == ["Liu Yang", "Chen Jie"]
    assert ratees["score"].tolist() == pytest.approx([4.0, 5.0])
    assert ratees["expected_score"].tolist() == pytest.approx([3.0, 3.0])
    assert ratees["rater_effect"].tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    assert run_query(three, "rater_ratee_scores", {"rater_id": "nobody"}).empty


def test_the_department_spread(three):
    spread = run_query(three, "rater_leniency_by_department", {"min_ratees": 2})
    assert spread["department"].tolist() == ["Sales", "R&D"]
    assert spread["raters"].tolist() == [2, 1]
    assert spread["effect_sd"].iloc[0] == pytest.approx(math.sqrt(2), rel=1e-5) and math.isnan(spread["effect_sd"].iloc[1])
    assert spread[["effect_min", "effect_median", "effect_max"]].iloc[0].tolist() == pytest.approx([-1, 0, 1], abs=1e-5)
    assert run_query(three, "rater_leniency_by_department").empty  # nobody has 5 ratees


def test_history_lists_the_cycles_a_rater_rated_in(company):
    history = run_query(company, "rater_leniency_history", {"rater_id": "E1"})
    assert history["cycle_id"].tolist() == ["2025H1", "2025H2"]
    assert history["ratees"].tolist() == [2, 3]
    assert history["raw_mean"].tolist() == pytest.approx([3.5, (3.8 + 2.4 + 4.0) / 3])
    assert run_query(company, "rater_leniency_history", {"rater_id": "E4"})["cycle_id"].tolist() == ["2025H2"]
    nobody = run_query(company, "rater_leniency_history", {"rater_id": "nobody"})
    assert nobody.empty and list(nobody.columns) == ["cycle_id", "ratees", "raw_mean", "expected_mean", "effect", "se", "q_value", "flagged"]


# ----------------------------------------------------------------------------- edge cases


def test_a_cycle_without_ratings_of_the_role_gives_empty_results(tiny):
    for name, params in [("rater_leniency", {"cycle": "2025H1"}), ("rater_leniency", {"cycle": "2025H2", "role": "customer"}),
                         ("rater_leniency_by_department", {"cycle": "2025H1"}), ("rater_ratee_scores", {"cycle": "2025H1", "rater_id": "E1"})]:
        frame = run_query(tiny, name, params)
        assert frame.empty, name
    board = run_query(tiny, "rater_leniency", {"cycle": "2025H1"})
    assert list(board.columns) == list(all_queries()["rater_leniency"].returns)
    model = run_query(tiny, "rater_leniency_model", {"cycle": "2025H1"}).iloc[0]
    assert model.pairs == 0 and math.isnan(model.rater_sd)


@pytest.mark.parametrize("params", [{"threshold": -0.1}, {"min_ratees": 0}])
def test_flagging_rules_out_of_range_are_refused(three, params):
    with pytest.raises(QueryError, match="threshold >= 0 and min_ratees >= 1"):
        run_query(three, "rater_leniency", params)


def test_a_dataset_without_ratings_is_explained(tmp_path):
    tables = {k: v for k, v in tiny_company_tables().items() if k != "ratings"}
    dataset = open_dataset(write_dataset(tmp_path / "noratings", tables))
    with pytest.raises(DatasetError, match="needs the table"):
        run_query(dataset, "rater_leniency")


def test_identical_scores_flag_nobody(tmp_path):
    tables = three_managers_tables()
    for row in tables["ratings"]:
        row["score"] = 3.0
    board = run_query(open_dataset(write_dataset(tmp_path / "flat", tables)), "rater_leniency", {"min_ratees": 1})
    assert (board[["effect", "se", "z"]].to_numpy() == 0.0).all()
    assert not board["flagged"].any() and board["p_value"].tolist() == [1.0] * 3


def test_a_changed_dataset_is_fitted_afresh(tmp_path):
    folder = write_dataset(tmp_path / "d", three_managers_tables())
    before = run_query(open_dataset(folder), "rater_leniency", {"min_ratees": 2}).set_index("rater_id")["effect"]
    tables = three_managers_tables()
    for row in tables["ratings"]:
        if row["rater_id"] == "M3":
            row["score"] = 5.0
    write_dataset(folder, tables)
    os.utime(folder / "ratings.parquet", ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    after = run_query(open_dataset(folder), "rater_leniency", {"min_ratees": 2}).set_index("rater_id")["effect"]
    assert after["M3"] > 0.5 and before["M3"] == pytest.approx(0.0, abs=1e-5)


def test_planted_managers_are_flagged_end_to_end_from_ratings(tmp_path):
    planted = {5: 0.8, 40: -0.8, 77: 0.8, 111: -0.8}
    sim = simulate_teams(teams=120, team_size=10, peers=2, planted=planted, seed=31)
    dataset = open_dataset(write_dataset(tmp_path / "sim", contract_tables_from_pairs(sim.pairs)))
    planted_ids = set(sim.lenient) | set(sim.severe)
    for role in ("manager", "all_but_self"):
        board = run_query(dataset, "rater_leniency", {"role": role})
        flagged = set(board.loc[board["flagged"], "rater_id"])
        assert flagged >= planted_ids, role
        assert len(flagged - planted_ids) <= 2, role
        assert board.loc[board["rater_id"].isin(sim.lenient), "direction"].eq("lenient").all()
    model = run_query(dataset, "rater_leniency_model").iloc[0]
    assert model.attainment_adjusted and model.beta == pytest.approx(1.2, abs=0.15)


def test_the_command_line_prints_the_leniency_table(capsys, tmp_path):
    folder = write_dataset(tmp_path / "d", three_managers_tables())
    code = main(["query", "rater_leniency", "--data", str(folder), "--param", "min_ratees=2", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(r["rater_id"], round(r["effect"], 4)) for r in rows] == [("M1", 1.0), ("M2", -1.0), ("M3", 0.0)]
    code = main(["query", "rater_leniency", "--data", str(folder), "--param", "role=self"])
    assert code == 2 and "must be one of manager, all_but_self" in capsys.readouterr().err
