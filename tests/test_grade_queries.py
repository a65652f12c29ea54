"""The grade distribution page's named queries on the grades fixture (tests/grades_fixture.py),
answers worked out by hand there and here."""

import math
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradelens import distribution
from gradelens.analyses import grades
from gradelens.dataset import open_dataset
from gradelens.errors import DatasetError
from gradelens.policy import Policy
from gradelens.queries import get_query, run_query
from tests.grades_fixture import grades_company_tables
from tests.tiny_company import write_dataset

H1, H2 = "2025H1", "2025H2"
GRADES = ["S", "A", "B", "C", "D"]
GUIDELINE = [0.05, 0.20, 0.60, 0.10, 0.05]


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return open_dataset(write_dataset(tmp_path_factory.mktemp("grades"), grades_company_tables()))


def by_group(frame, column="employees"):
    """group_id -> list of `column` in grade order."""
    return {g: list(rows.sort_values("grade_rank")[column]) for g, rows in frame.groupby("group_id")}


# --- grade_distribution ---


@pytest.mark.parametrize(
    "stage, cycle, expected",
    [
        ("final", H2, {"D1": [0, 0, 2, 0, 1], "D2": [0, 1, 0, 0, 0], "D3": [8, 27, 55, 10, 0]}),  # E5 not calibrated
        ("proposed", H2, {"D1": [0, 1, 1, 1, 0], "D2": [1, 0, 1, 0, 0], "D3": [10, 30, 50, 10, 0]}),
        ("final", H1, {"D1": [0, 1, 2, 0, 0], "D3": [5, 20, 60, 10, 5]}),
    ],
)
def test_grade_distribution_counts_each_departments_grades(company, stage, cycle, expected):
    mix = run_query(company, "grade_distribution", {"cycle": cycle, "stage": stage})
    assert by_group(mix) == expected
    marketing = mix[mix["group_id"] == "D3"]
    assert list(marketing["grade"]) == GRADES
    total = sum(expected["D3"])
    assert list(marketing["share"]) == pytest.approx([n / total for n in expected["D3"]])
    assert list(marketing["target_share"]) == pytest.approx(GUIDELINE)
    assert list(marketing["expected"]) == pytest.approx([total * s for s in GUIDELINE])


@pytest.mark.parametrize(
    "group_by, sizes, names",
    [
        ("department", {"D1": 3, "D2": 1, "D3": 100}, {"D1": "Sales", "D3": "Marketing"}),
        ("region", {"East": 3, "North": 1, "South": 100}, {"South": "South"}),
        ("job_level", {"M1": 2, "M2": 1, "P4": 89, "P5": 2, "P6": 10}, {"P6": "P6"}),
        # E1 has no manager; E4's only report E5 has no final grade yet, so E4 forms no group.
        ("manager", {"(none)": 1, "E1": 4, "M001": 99}, {"(none)": "(no manager)", "E1": "Wang Wei", "M001": "Marketer 1"}),
    ],
)
def test_groups_are_departments_regions_job_levels_or_a_managers_direct_reports(company, group_by, sizes, names):
    mix = run_query(company, "grade_distribution", {"cycle": H2, "group_by": group_by})
    assert mix.groupby("group_id")["employees"].sum().to_dict() == sizes
    assert (mix.groupby("group_id")["group_employees"].first() == mix.groupby("group_id")["employees"].sum()).all()
    named = mix.drop_duplicates("group_id").set_index("group_id")["group_name"]
    assert {g: named[g] for g in names} == names


@pytest.mark.parametrize("group_by", grades.GROUP_BY)
@pytest.mark.parametrize("stage", ["proposed", "final"])
@pytest.mark.parametrize("cycle", [H1, H2])
def test_shares_sum_to_one_in_every_group(company, group_by, stage, cycle):
    mix = run_query(company, "grade_distribution", {"cycle": cycle, "stage": stage, "group_by": group_by})
    assert not mix.empty
    assert mix.groupby("group_id")["share"].sum().to_numpy() == pytest.approx(1.0)
    assert (mix.groupby("group_id").size() == len(GRADES)).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=st.lists(st.tuples(st.sampled_from(["D1", "D2", "D3"]), st.sampled_from(GRADES)), min_size=1, max_size=40))
def test_shares_sum_to_one_and_counts_match_for_any_grades(people):
    tables = {
        "org_units": [dict(unit_id="CO", parent_unit_id=None, name="Co", unit_type="company", region=None)]
        + [dict(unit_id=d, parent_unit_id="CO", name=f"Dept {d}", unit_type="department", region=None) for d in ("D1", "D2", "D3")],
        "employees": [dict(cycle_id="C1", employee_id=f"P{i}", name=f"P{i}", unit_id=d, manager_id=None, region="East",
                           job_level="P4") for i, (d, _) in enumerate(people)],
        "grades": [dict(cycle_id="C1", employee_id=f"P{i}", proposed_grade=g, final_grade=g) for i, (_, g) in enumerate(people)],
    }
    with tempfile.TemporaryDirectory() as folder:
        mix = run_query(open_dataset(write_dataset(Path(folder), tables)), "grade_distribution", {"cycle": "C1"})
    expected = Counter(people)
    assert {(g, grade): n for g, grade, n in zip(mix["group_id"], mix["grade"], mix["employees"]) if n} == dict(expected)
    assert mix.groupby("group_id")["share"].sum().to_numpy() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "filters, sizes",
    [({"department": "D1"}, {"D1": 3}), ({"region": "North"}, {"D1": 1}), ({"region": "South"}, {"D3": 100}),
     ({"department": "D3", "region": "East"}, {})],
)
def test_the_sidebar_filters_narrow_the_people_counted(company, filters, sizes):
    mix = run_query(company, "grade_distribution", {"cycle": H2, **filters})
    assert mix.groupby("group_id")["employees"].sum().to_dict() == sizes


# --- calibration_worksheet ---


def test_the_worksheet_gives_guideline_headcounts_gaps_and_what_breaks_the_guideline(company):
    sheet = run_query(company, "calibration_worksheet", {"cycle": H2, "stage": "final"})
    marketing = sheet[sheet["group_id"] == "D3"]
    assert list(marketing["actual"]) == [8, 27, 55, 10, 0]
    assert list(marketing["guideline"]) == [5, 20, 60, 10, 5]
    assert list(marketing["gap"]) == [3, 7, -5, 0, -5]
    assert list(marketing["rule"]) == ["at_most", "at_most", "remainder", "at_least", "at_least"]
    assert list(marketing["cumulative_actual"]) == [8, 35, 55, 10, 0]  # S, S+A, B, C+D, D
    assert list(marketing["cumulative_guideline"]) == [5, 25, 60, 15, 5]
    assert list(marketing["outside_guideline"]) == [True, True, False, True, True]
    # Sales, N = 3: S ceil(0.15) = 1, S+A ceil(0.75) = 1, C+D floor(0.45) = 0, so B = 2.
    sales = sheet[sheet["group_id"] == "D1"]
    assert list(sales["guideline"]) == [1, 0, 2, 0, 0]
    assert list(sales["gap"]) == [-1, 0, 0, 0, 1]
    assert not sales["outside_guideline"].any()  # fewer S than the cap and more D than the floor are fine


def _groups_of_every_size(sizes: range, grade: str) -> dict:
    """Managers B01.. each with k reports, every report graded `grade`."""
    employees, grade_rows = [], []
    for k in sizes:
        manager = f"B{k:02d}"
        employees.append(dict(cycle_id="C1", employee_id=manager, name=f"Boss {k}", unit_id="U", manager_id=None,
                              region="East", job_level="M1"))
        for i in range(k):
            report = f"{manager}-{i:02d}"
            employees.append(dict(cycle_id="C1", employee_id=report, name=report, unit_id="U", manager_id=manager,
                                  region="East", job_level="P4"))
            grade_rows.append(dict(cycle_id="C1", employee_id=report, proposed_grade=grade, final_grade=grade))
    return {"employees": employees, "grades": grade_rows}


@pytest.mark.parametrize(
    "policy, target",
    [
        (None, GUIDELINE),
        ("[target_shares]\nS = 0.07\nA = 0.18\nB = 0.5\nC = 0.15\nD = 0.1\n", [0.07, 0.18, 0.5, 0.15, 0.1]),
        ('grades = ["E", "M", "L"]\n[target_shares]\nE = 0.3\nM = 0.6\nL = 0.1\n', [0.3, 0.6, 0.1]),
    ],
    ids=["default", "awkward-shares", "three-grades"],
)
def test_the_worksheet_sql_rounds_exactly_like_guideline_counts_for_every_group_size(tmp_path, policy, target):
    sizes = range(1, 61)
    folder = write_dataset(tmp_path / "sizes", _groups_of_every_size(sizes, "M" if "M =" in (policy or "") else "B"))
    if policy:
        (folder / "policy.toml").write_text(policy, encoding="utf-8")
    sheet = run_query(open_dataset(folder), "calibration_worksheet", {"cycle": "C1", "stage": "final", "group_by": "manager"})
    for k in sizes:
        rows = sheet[sheet["group_id"] == f"B{k:02d}"].sort_values("grade_rank")
        assert list(rows["guideline"]) == distribution.guideline_counts(k, target), k
        assert list(rows["rule"]) == distribution.guideline_rules(target)


# --- grade_deviation_test ---


def test_the_deviation_test_uses_chi_square_for_big_groups_and_skips_small_ones(company):
    tested = run_query(company, "grade_deviation_test", {"cycle": H2}).set_index("group_id")
    marketing = tested.loc["D3"]
    reference = scipy.stats.chisquare([8, 27, 55, 10, 0], [5, 20, 60, 10, 5])
    assert (marketing.chi2, marketing.p_value) == pytest.approx((reference.statistic, reference.pvalue))
    assert marketing.chi2 == pytest.approx(9.66667, abs=1e-5)
    assert (marketing.method, marketing.df, marketing.employees, bool(marketing.deviates)) == ("chi2", 4, 100, True)
    for small in ("D1", "D2"):  # 3 and 1 people, below min_group_size 5
        assert tested.loc[small, "method"] == "not_tested"
        assert math.isnan(tested.loc[small, "p_value"]) and pd.isna(tested.loc[small, "deviates"])


def test_the_deviation_test_is_exact_for_small_groups_and_monte_carlo_in_between(company):
    tested = run_query(company, "grade_deviation_test", {"cycle": H2, "group_by": "job_level"}).set_index("group_id")
    assert tested.loc["P6", "method"] == "exact"  # 10 people, S 5 A 1 B 2 C 2 D 0
    assert tested.loc["P6", "chi2"] == pytest.approx(4.5**2 / 0.5 + 1 / 2 + 16 / 6 + 1 / 1 + 0.25 / 0.5)
    assert tested.loc["P6", "p_value"] == pytest.approx(distribution.exact_multinomial_p([5, 1, 2, 2, 0], GUIDELINE))
    assert tested.loc["P4", "method"] == "monte_carlo"  # 89 people: E(S) = 4.45 < 5, too many outcomes to list
    assert set(tested.loc[["M1", "M2", "P5"], "method"]) == {"not_tested"}


# --- calibration_changes and calibration_transitions ---


@pytest.mark.parametrize(
    "group_by, expected",
    [
        # group: graded, up, down, unchanged, pending, net steps
        ("department", {"D1": (3, 0, 2, 1, 0, -2), "D2": (1, 0, 1, 0, 1, -1), "D3": (100, 2, 9, 89, 0, -7)}),
        ("manager", {"(none)": (1, 0, 0, 1, 0, 0), "E1": (4, 0, 3, 1, 0, -3), "E4": (0, 0, 0, 0, 1, 0),
                     "M001": (99, 2, 9, 88, 0, -7)}),
    ],
)
def test_calibration_changes_count_people_moved_up_down_or_unchanged(company, group_by, expected):
    changes = run_query(company, "calibration_changes", {"cycle": H2, "group_by": group_by}).set_index("group_id")
    columns = ["graded", "moved_up", "moved_down", "unchanged", "pending", "net_steps_up"]
    assert {g: tuple(int(v) for v in row) for g, row in changes[columns].iterrows()} == expected
    marketing = changes.loc["D3" if group_by == "department" else "M001"]
    assert marketing.share_up + marketing.share_down + marketing.share_unchanged == pytest.approx(1.0)


def test_the_transition_matrix_counts_proposed_to_final_pairs(company):
    moves = run_query(company, "calibration_transitions", {"cycle": H2, "group_id": "D3"})
    assert len(moves) == 25
    counted = {(p, f): n for p, f, n in zip(moves["proposed_grade"], moves["final_grade"], moves["employees"]) if n}
    assert counted == {("S", "S"): 6, ("S", "A"): 4, ("A", "S"): 2, ("A", "A"): 23, ("A", "B"): 5, ("B", "B"): 50, ("C", "C"): 10}
    row_a = moves[moves["proposed_grade"] == "A"]
    assert list(row_a["share_of_proposed"]) == pytest.approx([2 / 30, 23 / 30, 5 / 30, 0, 0])


def test_the_transition_matrix_of_every_group_adds_the_tiny_companys_moves(company):
    moves = run_query(company, "calibration_transitions", {"cycle": H2})
    counted = {(p, f): n for p, f, n in zip(moves["proposed_grade"], moves["final_grade"], moves["employees"]) if n}
    # E1 B->B, E2 A->B, E3 C->D, E4 S->A; E5 has no final grade
    assert counted == {("S", "S"): 6, ("S", "A"): 5, ("A", "S"): 2, ("A", "A"): 23, ("A", "B"): 6, ("B", "B"): 51,
                       ("C", "C"): 10, ("C", "D"): 1}


# --- grade_attainment_mismatch ---


def test_people_whose_grade_is_two_or_more_grades_from_their_attainment_are_listed(company):
    mismatch = run_query(company, "grade_attainment_mismatch", {"cycle": H2})
    assert list(zip(mismatch["employee_id"], mismatch["final_grade"], mismatch["expected_grade"], mismatch["gap"])) == [
        ("M002", "S", "D", 4), ("M003", "C", "S", -3), ("M005", "S", "C", 3),
        ("M004", "B", "S", -2), ("M006", "B", "D", 2), ("M007", "C", "A", -2),
    ]
    assert mismatch.set_index("employee_id").loc["M004", "attainment"] == pytest.approx(1.25)  # a band's edge is in it


def test_a_smaller_minimum_gap_adds_the_one_grade_disagreements(company):
    mismatch = run_query(company, "grade_attainment_mismatch", {"cycle": H2, "min_gap": 1})
    one_off = mismatch[mismatch["gap"].abs() == 1]
    # E2 1.15 -> A, final B; E4 1.00 -> B, final A; M008 1.00 -> B, final A
    assert dict(zip(one_off["employee_id"], one_off["gap"])) == {"E2": -1, "E4": 1, "M008": 1}


def test_the_default_bands_are_the_modules_and_the_header_agrees():
    header_default = get_query("grade_attainment_mismatch").param("bands").default
    assert header_default == grades.attainment_bands_param(Policy()) == "1.25,1.10,0.95,0.70"


@pytest.mark.parametrize("bands", ["1,2", "1.25,1.10,x,0.70", "0.70,0.95,1.10,1.25"])
def test_bands_that_do_not_fit_the_grades_are_refused_with_what_to_write(company, bands):
    with pytest.raises(DatasetError, match=r"bands must be 4 decreasing numbers .*e\.g\. 1\.25,1\.10,0\.95,0\.70"):
        run_query(company, "grade_attainment_mismatch", {"cycle": H2, "bands": bands})


# --- grade_drift ---


def test_drift_compares_each_cycle_with_the_previous_the_first_and_the_guideline(company):
    drift = run_query(company, "grade_drift", {})
    marketing = drift[drift["group_id"] == "D3"].set_index(["cycle_id", "reference"])
    assert marketing.loc[(H1, "target"), "psi"] == pytest.approx(0.0)  # 2025H1 is exactly the guideline
    assert not marketing.loc[(H1, "target"), "drifted"]
    assert (H1, "previous") not in marketing.index and (H1, "first") not in marketing.index
    for reference, reference_cycle, threshold in [("previous", H1, 9.487729 * 0.02), ("first", H1, 9.487729 * 0.02),
                                                  ("target", "target", 9.487729 / 100)]:
        row = marketing.loc[(H2, reference)]
        assert row.reference_cycle_id == reference_cycle
        assert row.psi == pytest.approx(0.349567, abs=1e-6)  # worked out in tests/grades_fixture.py
        assert row.psi_threshold == pytest.approx(threshold, rel=1e-6)
        assert bool(row.drifted) and row.psi_band == "significant"
        assert row.top_share_change == pytest.approx(0.35 - 0.25)
    assert marketing.loc[(H2, "previous"), "reference_employees"] == 100
    assert drift[drift["reference"] == "target"]["reference_employees"].isna().all()
    # Against the guideline every grade expects >= 5 of 100 people: the chi-square threshold holds.
    assert marketing.loc[(H2, "target"), "threshold_method"] == "chi2"
    assert marketing.loc[(H2, "target"), "drift_threshold"] == marketing.loc[(H2, "target"), "psi_threshold"]
    # Between the cycles the pooled D share is 5/200, so D expects 2.5 people: simulated threshold.
    simulated = distribution.simulated_psi_threshold([8, 27, 55, 10, 0], [5, 20, 60, 10, 5])
    for reference in ("previous", "first"):
        row = marketing.loc[(H2, reference)]
        assert (row.threshold_method, row.drift_threshold) == ("monte_carlo", simulated)
        assert row.psi_threshold < simulated < row.psi  # the formula would flag far smaller shifts


def test_groups_smaller_than_min_group_size_are_not_judged_for_drift(company):
    drift = run_query(company, "grade_drift", {})
    sales = drift[drift["group_id"] == "D1"]  # 3 people in each cycle
    assert len(sales) == 4  # H1 target; H2 previous, first, target
    assert sales["drifted"].isna().all()
    assert (sales["psi"] >= 0).all()


def test_drift_rows_come_cycle_by_cycle(company):
    drift = run_query(company, "grade_drift", {"group_by": "manager"})
    cycles = list(drift["cycle_id"])
    assert cycles == sorted(cycles, key=[H1, H2].index)


def test_the_share_table_keeps_its_grade_columns_when_every_share_is_hidden():
    import math

    from gradelens.analyses.grades import share_table

    rows = pd.DataFrame({
        "group_id": ["D1"] * 5, "group_name": ["Sales"] * 5, "group_employees": [3] * 5,
        "grade": list("SABCD"), "grade_rank": range(5), "share": [math.nan] * 5,
        "target_share": [0.05, 0.2, 0.6, 0.1, 0.05],
    })
    table = share_table(rows)
    assert set("SABCD") <= set(table.columns)
