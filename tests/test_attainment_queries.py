"""The Attainment page's named queries, answers worked out by hand.

`tiny` is tests/tiny_company.py (answers in its docstring: a capped value G-E2a, a lower-is-better
KPI G-E2b, an actual dated after the cycle G-E4b, a mid-cycle as-of date 2025-09-30);
`messy` is tests/attainment_fixture.py (bad input: zero target, negative weight, weights not
summing to 1, an orphan goal, a parent in another cycle, actuals outside the cycle).
"""

import datetime as dt
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradelens.dataset import open_dataset
from gradelens.queries import run_query
from tests.attainment_fixture import write_attainment_dataset
from tests.tiny_company import tiny_company_tables, write_dataset

NAN = math.nan


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    return open_dataset(write_attainment_dataset(tmp_path_factory.mktemp("messy")))


@pytest.fixture
def datasets(tiny, messy):
    return {"tiny": tiny, "messy": messy}


def rows(frame, columns):
    """The frame's rows as tuples, with missing numbers as NaN so they compare with approx."""
    out = []
    for values in frame[columns].itertuples(index=False):
        out.append(tuple(NAN if v is None or (not isinstance(v, str) and v != v) else v for v in values))
    return out


def same(actual, expected):
    """Rows equal, floats approximately; None or NaN expected means missing."""
    assert len(actual) == len(expected), (actual, expected)
    for got, want in zip(actual, expected):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            if w is None:  # missing: rows() turned it into NaN
                assert isinstance(g, float) and math.isnan(g), (got, want)
            elif isinstance(w, float):
                assert g == pytest.approx(w, nan_ok=True), (got, want)
            else:
                assert g == w, (got, want)


# --- attainment by department / region / both ---------------------------------------------------

BY_DEPARTMENT = ["department_id", "department", "employees", "employees_with_attainment", "attainment"]


@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        # E1 has no goals, E5 no actuals: counted in employees, not in the mean.
        ("tiny", {}, [("D2", "R&D", 2, 1, 1.0), ("D1", "Sales", 3, 2, (1.15 + 0.45) / 2)]),
        # Mid-cycle: only E2 has actuals by 09-30 (G-E2a 4/10 = 0.4, G-E2b 2 - 2/5 = 1.6 capped to 1.5).
        ("tiny", {"as_of": "2025-09-30"}, [("D2", "R&D", 2, 0, NAN), ("D1", "Sales", 3, 1, 0.95)]),
        ("tiny", {"region": "North"}, [("D1", "Sales", 1, 1, 0.45)]),
        # A date after the cycle's end counts as the end.
        ("tiny", {"as_of": "2026-03-01"}, [("D2", "R&D", 2, 1, 1.0), ("D1", "Sales", 3, 2, 0.8)]),
        ("messy", {}, [("D2", "R&D", 2, 2, (0.8 + 0.5) / 2), ("D1", "Sales", 3, 2, (1.15 + 0.55 / 1.2) / 2)]),
        # G-E3a's actual dated before the cycle is ignored even mid-cycle: E3 has nothing by 09-30.
        ("messy", {"as_of": "2025-09-30"}, [("D2", "R&D", 2, 0, NAN), ("D1", "Sales", 3, 1, 0.95)]),
        ("messy", {"as_of": "2025-11-30"}, [("D2", "R&D", 2, 1, 0.5), ("D1", "Sales", 3, 1, 0.95)]),
    ],
)
def test_attainment_by_department_is_the_mean_of_employees_with_attainment(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "attainment_by_department", {"cycle": "2025H2", **params})
    same(rows(frame, BY_DEPARTMENT), expected)


def test_attainment_by_department_shows_the_department_s_own_goals_beside_its_people(tiny):
    frame = run_query(tiny, "attainment_by_department", {"cycle": "2025H2"}).set_index("department_id")
    assert frame.loc["D1", "department_goal_attainment"] == pytest.approx(1.2)  # G-D1 60/50
    assert math.isnan(frame.loc["D2", "department_goal_attainment"])


@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        ("tiny", {}, [("East", 4, 2, (1.15 + 1.0) / 2), ("North", 1, 1, 0.45)]),
        ("tiny", {"department": "D2"}, [("East", 2, 1, 1.0)]),
        ("messy", {}, [("East", 4, 3, (1.15 + 0.8 + 0.5) / 3), ("North", 1, 1, 0.55 / 1.2)]),
    ],
)
def test_attainment_by_region(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "attainment_by_region", {"cycle": "2025H2", **params})
    same(rows(frame, ["region", "employees", "employees_with_attainment", "attainment"]), expected)


@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        ("tiny", {}, [("D2", "R&D", "East", 2, 1, 1.0), ("D1", "Sales", "East", 2, 1, 1.15), ("D1", "Sales", "North", 1, 1, 0.45)]),
        ("tiny", {"as_of": "2025-09-30"}, [("D2", "R&D", "East", 2, 0, NAN), ("D1", "Sales", "East", 2, 1, 0.95), ("D1", "Sales", "North", 1, 0, NAN)]),
        ("tiny", {"department": "D1", "region": "North"}, [("D1", "Sales", "North", 1, 1, 0.45)]),
        ("messy", {}, [("D2", "R&D", "East", 2, 2, 0.65), ("D1", "Sales", "East", 2, 1, 1.15), ("D1", "Sales", "North", 1, 1, 0.55 / 1.2)]),
    ],
)
def test_attainment_department_region_gives_each_cell_its_headcount(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "attainment_department_region", {"cycle": "2025H2", **params})
    same(rows(frame, ["department_id", "department", "region", "employees", "employees_with_attainment", "attainment"]), expected)


def test_the_previous_cycle_has_its_own_employees_and_goals(tiny):
    frame = run_query(tiny, "attainment_by_department", {"cycle": "2025H1"})
    same(rows(frame, BY_DEPARTMENT), [("D1", "Sales", 3, 1, 1.1)])  # H1-E2: 11 / 10


# --- headline -------------------------------------------------------------------------------------

HEADLINE = ["period", "cycle_id", "employees", "employees_with_attainment", "attainment", "company_goal_attainment",
            "goals", "goals_with_attainment", "on_track", "at_risk", "off_track"]


@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        # On track: G-D1 1.2, G-E2a 1.5, G-E4a 1.0; at risk: G-CO 0.9, G-E2b 0.8; off: G-E3a 0.75, G-E3b 0.
        ("tiny", {}, [("current", "2025H2", 5, 3, (1.15 + 0.45 + 1.0) / 3, 0.9, 9, 7, 3, 2, 2),
                      ("previous", "2025H1", 3, 1, 1.1, NAN, 1, 1, 1, 0, 0)]),
        # As of 09-30: G-CO 40/100, G-E2a 0.4, G-E2b 1.5. The previous cycle at the same point
        # (2025-01-01 + 91 days = 04-02) has no actual yet.
        ("tiny", {"as_of": "2025-09-30"}, [("current", "2025H2", 5, 1, 0.95, 0.4, 9, 3, 1, 0, 2),
                                           ("previous", "2025H1", 3, 0, NAN, NAN, 1, 0, 0, 0, 0)]),
        # Department D1 owns G-D1 and its people's goals; company goals are out of the count.
        ("tiny", {"department": "D1"}, [("current", "2025H2", 3, 2, 0.8, 0.9, 5, 5, 2, 1, 2),
                                        ("previous", "2025H1", 3, 1, 1.1, NAN, 1, 1, 1, 0, 0)]),
        # A region filter leaves company and department goals out (they have no region).
        ("tiny", {"region": "East"}, [("current", "2025H2", 4, 2, 1.075, 0.9, 5, 3, 2, 1, 0),
                                      ("previous", "2025H1", 2, 1, 1.1, NAN, 1, 1, 1, 0, 0)]),
        ("tiny", {"cycle": "2025H1"}, [("current", "2025H1", 3, 1, 1.1, NAN, 1, 1, 1, 0, 0)]),
        ("messy", {}, [("current", "2025H2", 5, 4, (1.15 + 0.55 / 1.2 + 0.8 + 0.5) / 4, 0.9, 13, 12, 5, 2, 5),
                       ("previous", "2025H1", 3, 1, 1.1, NAN, 1, 1, 1, 0, 0)]),
    ],
)
def test_attainment_headline_compares_with_the_previous_cycle(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "attainment_headline", {"cycle": "2025H2", **params})
    same(rows(frame, HEADLINE), expected)
    shares = frame[["on_track_share", "at_risk_share", "off_track_share"]].dropna()
    assert shares.sum(axis=1).tolist() == pytest.approx([1.0] * len(shares))


def test_the_headline_reports_the_dates_it_used(tiny):
    frame = run_query(tiny, "attainment_headline", {"cycle": "2025H2", "as_of": "2025-09-30"})
    assert [d.date().isoformat() for d in frame["as_of"]] == ["2025-09-30", "2025-04-02"]
    frame = run_query(tiny, "attainment_headline", {"cycle": "2025H2"})
    assert [d.date().isoformat() for d in frame["as_of"]] == ["2025-12-31", "2025-06-30"]


# --- the cascade ---------------------------------------------------------------------------------

CASCADE = ["goal_id", "parent_issue", "top_goal_id", "depth", "strategy_theme", "attainment", "children",
           "children_attainment", "status", "children_status", "masks_shortfall", "in_scope"]
GROW = "Grow market share"


@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        ("tiny", {}, [
            ("G-CO", None, "G-CO", 0, GROW, 0.9, 1, 1.2, "at_risk", "on_track", False, True),
            # children (0.5*1.5 + 0.5*0.8 + 0.6*0.75) / 1.6 = 1.0
            ("G-D1", None, "G-CO", 1, GROW, 1.2, 3, 1.0, "on_track", "on_track", False, True),
            ("G-E2a", None, "G-CO", 2, GROW, 1.5, 0, NAN, "on_track", None, False, True),
            ("G-E2b", None, "G-CO", 2, GROW, 0.8, 0, NAN, "at_risk", None, False, True),
            ("G-E3a", None, "G-CO", 2, GROW, 0.75, 0, NAN, "off_track", None, False, True),
            ("G-E3b", None, "G-E3b", 0, None, 0.0, 0, NAN, "off_track", None, False, True),
            ("G-E4a", None, "G-E4a", 0, None, 1.0, 0, NAN, "on_track", None, False, True),
            ("G-E4b", None, "G-E4b", 0, None, NAN, 0, NAN, None, None, False, True),
            ("G-E5a", None, "G-E5a", 0, None, NAN, 0, NAN, None, None, False, True),
        ]),
        # Mid-cycle: G-D1 has no actual yet, so G-CO's children have no attainment either.
        ("tiny", {"as_of": "2025-09-30", "department": "D1", "region": "East"}, [
            ("G-CO", None, "G-CO", 0, GROW, 0.4, 1, NAN, "off_track", None, False, False),
            ("G-D1", None, "G-CO", 1, GROW, NAN, 3, (0.5 * 0.4 + 0.5 * 1.5) / 1.0, None, "at_risk", False, False),
            ("G-E2a", None, "G-CO", 2, GROW, 0.4, 0, NAN, "off_track", None, False, True),
            ("G-E2b", None, "G-CO", 2, GROW, 1.5, 0, NAN, "on_track", None, False, True),
        ]),
        ("messy", {"region": "North"}, [
            ("G-CO", None, "G-CO", 0, GROW, 0.9, 1, 1.2, "at_risk", "on_track", False, False),
            ("G-D1", None, "G-CO", 1, GROW, 1.2, 4, 2.8 / 2.6, "on_track", "on_track", False, False),
            ("G-E3a", None, "G-CO", 2, GROW, 0.75, 0, NAN, "off_track", None, False, True),
            # A team on track whose people are off track stands out.
            ("G-T2", None, "G-CO", 2, GROW, 1.2, 1, 0.5, "on_track", "off_track", True, True),
            ("G-E3c", None, "G-CO", 3, GROW, 0.5, 0, NAN, "off_track", None, False, True),
            ("G-E3b", None, "G-E3b", 0, None, 0.0, 0, NAN, "off_track", None, False, True),
        ]),
        # Orphans: links to a missing goal or to another cycle are not followed.
        ("messy", {"department": "D2"}, [
            ("G-E4a", None, "G-E4a", 0, None, 1.0, 0, NAN, "on_track", None, False, True),
            ("G-E4b", None, "G-E4b", 0, None, 1.0, 0, NAN, "on_track", None, False, True),
            ("G-E4c", "parent_missing", "G-E4c", 0, None, 0.5, 0, NAN, "off_track", None, False, True),
            ("G-E5a", None, "G-E5a", 0, None, NAN, 0, NAN, None, None, False, True),  # target 0
            ("G-E5b", "parent_other_cycle", "G-E5b", 0, None, 0.5, 0, NAN, "off_track", None, False, True),
        ]),
    ],
)
def test_goal_cascade_gives_own_and_children_attainment(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "goal_cascade", {"cycle": "2025H2", **params})
    same(rows(frame, CASCADE), expected)


def test_goal_cascade_places_goals_in_the_organisation(messy):
    frame = run_query(messy, "goal_cascade", {"cycle": "2025H2"}).set_index("goal_id")
    assert frame.loc["G-T2", ["owner_name", "department_id", "department", "region"]].tolist() == ["Sales North", "D1", "Sales", "North"]
    assert frame.loc["G-D1", ["owner_name", "department", "region"]].tolist()[:2] == ["Sales", "Sales"]
    assert frame.loc["G-E4c", ["owner_name", "department", "region", "parent_goal_id"]].tolist() == ["Liu Yang", "R&D", "East", "G-NOPE"]
    assert frame.loc["G-CO", "owner_name"] == "Tiny Co"


# --- strategy themes -----------------------------------------------------------------------------

THEMES = ["strategy_theme", "goals", "goals_with_attainment", "attainment", "individual_goals", "individual_attainment",
          "company_goal_attainment", "on_track_share"]


@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        ("tiny", {}, [(GROW, 5, 5, (0.9 + 1.2 + 1.5 + 0.8 + 0.75) / 5, 3, (1.5 + 0.8 + 0.75) / 3, 0.9, 2 / 5),
                      (NAN, 4, 2, (0.0 + 1.0) / 2, 4, 0.5, NAN, 1 / 2)]),
        ("tiny", {"department": "D1"}, [(GROW, 4, 4, (1.2 + 1.5 + 0.8 + 0.75) / 4, 3, (1.5 + 0.8 + 0.75) / 3, 0.9, 2 / 4),
                                        (NAN, 1, 1, 0.0, 1, 0.0, NAN, 0.0)]),
        ("messy", {}, [(GROW, 7, 7, (0.9 + 1.2 + 1.5 + 0.8 + 0.75 + 1.2 + 0.5) / 7, 4, (1.5 + 0.8 + 0.75 + 0.5) / 4, 0.9, 3 / 7),
                       (NAN, 6, 5, (0.0 + 1.0 + 1.0 + 0.5 + 0.5) / 5, 6, 0.6, NAN, 2 / 5)]),
    ],
)
def test_strategy_theme_attainment_follows_the_top_ancestor(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "strategy_theme_attainment", {"cycle": "2025H2", **params})
    same(rows(frame, THEMES), expected)


# --- alignment -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        ("tiny", {}, [("D2", "R&D", 3, 0, 0.0, 0), ("D1", "Sales", 4, 3, 0.75, 0)]),
        ("tiny", {"region": "North"}, [("D1", "Sales", 2, 1, 0.5, 0)]),
        # G-E4c (missing parent) and G-E5b (parent in 2025H1) are not linked.
        ("messy", {}, [("D2", "R&D", 5, 0, 0.0, 2), ("D1", "Sales", 5, 4, 0.8, 0)]),
        ("tiny", {"cycle": "2025H1"}, [("D1", "Sales", 1, 0, 0.0, 0)]),
    ],
)
def test_goal_alignment_counts_individual_goals_linked_within_the_cycle(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "goal_alignment", {"cycle": "2025H2", **params})
    same(rows(frame, ["department_id", "department", "individual_goals", "linked_goals", "alignment_rate", "broken_links"]), expected)


@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        ("tiny", {}, [("G-E4a", "no_parent"), ("G-E4b", "no_parent"), ("G-E5a", "no_parent"), ("G-E3b", "no_parent")]),
        ("messy", {}, [("G-E4a", "no_parent"), ("G-E4b", "no_parent"), ("G-E4c", "parent_missing"), ("G-E5a", "no_parent"),
                       ("G-E5b", "parent_other_cycle"), ("G-E3b", "no_parent")]),
        ("messy", {"department": "D1"}, [("G-E3b", "no_parent")]),
    ],
)
def test_unlinked_goals_lists_each_with_its_reason(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "unlinked_goals", {"cycle": "2025H2", **params})
    assert rows(frame, ["goal_id", "reason"]) == expected


def test_unlinked_department_and_team_goals_are_listed_after_individual_ones(tmp_path):
    tables = tiny_company_tables()
    tables["goals"].append(dict(cycle_id="2025H2", goal_id="G-T3", parent_goal_id=None, owner_type="team", owner_id="T3",
                                title="uptime goal", kpi="uptime", strategy_theme=None, direction="higher_better", target=99.0, weight=1.0))
    frame = run_query(open_dataset(write_dataset(tmp_path / "team", tables)), "unlinked_goals", {"cycle": "2025H2"})
    assert frame["goal_id"].tolist()[-1] == "G-T3"
    assert frame.iloc[-1][["owner_type", "owner_name", "department", "region"]].tolist() == ["team", "R&D Core", "R&D", "East"]


# --- trends --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        ("tiny", {}, [("2025-07-31", 0, NAN, NAN), ("2025-08-31", 0, NAN, NAN), ("2025-09-30", 1, 0.95, 0.4),
                      ("2025-10-31", 1, 0.95, 0.4), ("2025-11-30", 1, 0.95, 0.4), ("2025-12-31", 3, (1.15 + 0.45 + 1.0) / 3, 0.9)]),
        # A mid-month as-of date ends the series on that date.
        ("tiny", {"as_of": "2025-09-15"}, [("2025-07-31", 0, NAN, NAN), ("2025-08-31", 0, NAN, NAN), ("2025-09-15", 0, NAN, NAN)]),
        ("tiny", {"as_of": "2025-09-30", "department": "D1"}, [("2025-07-31", 0, NAN, NAN), ("2025-08-31", 0, NAN, NAN), ("2025-09-30", 1, 0.95, 0.4)]),
        ("messy", {"department": "D2"}, [("2025-07-31", 0, NAN, NAN), ("2025-08-31", 0, NAN, NAN), ("2025-09-30", 0, NAN, 0.4),
                                         ("2025-10-31", 0, NAN, 0.4), ("2025-11-30", 1, 0.5, 0.4), ("2025-12-31", 2, 0.65, 0.9)]),
    ],
)
def test_attainment_trend_by_month_within_the_cycle(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "attainment_trend", {"cycle": "2025H2", **params})
    frame = frame.assign(as_of=[d.date().isoformat() for d in frame["as_of"]])
    same(rows(frame, ["as_of", "employees_with_attainment", "attainment", "company_goal_attainment"]), expected)


@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        ("tiny", {}, [("2025H1", 3, 1, 1.1, NAN), ("2025H2", 5, 3, (1.15 + 0.45 + 1.0) / 3, 0.9)]),
        ("tiny", {"department": "D2"}, [("2025H1", 0, 0, NAN, NAN), ("2025H2", 2, 1, 1.0, 0.9)]),
        ("messy", {}, [("2025H1", 3, 1, 1.1, NAN), ("2025H2", 5, 4, (1.15 + 0.55 / 1.2 + 0.8 + 0.5) / 4, 0.9)]),
    ],
)
def test_attainment_trend_by_cycle(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "attainment_trend_by_cycle", params)
    same(rows(frame, ["cycle_id", "employees", "employees_with_attainment", "attainment", "company_goal_attainment"]), expected)


# --- teams ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "dataset, params, expected",
    [
        ("tiny", {}, [("T1", "Sales East", 2, 1, 1.15, NAN), ("T3", "R&D Core", 2, 1, 1.0, NAN), ("T2", "Sales North", 1, 1, 0.45, NAN)]),
        ("messy", {}, [("T1", "Sales East", 2, 1, 1.15, NAN), ("T3", "R&D Core", 2, 2, 0.65, NAN), ("T2", "Sales North", 1, 1, 0.55 / 1.2, 1.2)]),
        # Teams without attainment come last, by name.
        ("tiny", {"as_of": "2025-09-30"}, [("T1", "Sales East", 2, 1, 0.95, NAN), ("T3", "R&D Core", 2, 0, NAN, NAN), ("T2", "Sales North", 1, 0, NAN, NAN)]),
    ],
)
def test_team_attainment_ranks_teams_with_their_headcount(datasets, dataset, params, expected):
    frame = run_query(datasets[dataset], "team_attainment", {"cycle": "2025H2", **params})
    same(rows(frame, ["team_id", "team", "employees", "employees_with_attainment", "attainment", "team_goal_attainment"]), expected)
    assert frame["below_min_group"].all()  # nobody has 5 members with actuals (policy default)


def test_team_attainment_marks_teams_below_the_policy_minimum_group(tmp_path):
    dataset = open_dataset(write_attainment_dataset(tmp_path / "small", min_group_size=2))
    frame = run_query(dataset, "team_attainment", {"cycle": "2025H2"}).set_index("team_id")
    assert frame["below_min_group"].to_dict() == {"T1": True, "T3": False, "T2": True}


# --- data quality --------------------------------------------------------------------------------

def test_attainment_data_quality_names_every_problem_and_how_many(messy):
    frame = run_query(messy, "attainment_data_quality", {"cycle": "2025H2"})
    same(rows(frame, ["issue", "goal_id", "owner_id", "value", "related_id"]), [
        ("target_not_positive", "G-E5a", "E5", 0.0, NAN),
        ("weight_out_of_range", "G-E4b", "E4", -0.2, NAN),
        ("weights_not_one", NAN, "E3", 1.2, NAN),
        ("weights_not_one", NAN, "E4", 0.3, NAN),
        ("weights_not_one", NAN, "E5", 1.5, NAN),
        ("parent_missing", "G-E4c", "E4", NAN, "G-NOPE"),
        ("parent_other_cycle", "G-E5b", "E5", NAN, "H1-E2"),
        ("actual_outside_cycle", "G-E3a", "E3", 1.0, NAN),
        ("actual_outside_cycle", "G-E4b", "E4", 1.0, NAN),
    ])
    outside = frame[frame["issue"] == "actual_outside_cycle"]
    assert [d.date().isoformat() for d in outside["first_date"]] == ["2025-06-15", "2026-01-15"]


@pytest.mark.parametrize("cycle, expected", [("2025H2", ["actual_outside_cycle"]), ("2025H1", [])])
def test_the_tiny_company_has_only_its_late_actual_as_a_problem(tiny, cycle, expected):
    assert run_query(tiny, "attainment_data_quality", {"cycle": cycle})["issue"].tolist() == expected


# --- every query on a dataset that lacks the tables ----------------------------------------------

@pytest.mark.parametrize("name", ["attainment_headline", "attainment_by_department", "goal_cascade", "team_attainment"])
def test_a_dataset_without_actuals_gives_no_attainment_rather_than_an_error(tmp_path, name):
    tables = {k: v for k, v in tiny_company_tables().items() if k != "kpi_actuals"}
    frame = run_query(open_dataset(write_dataset(tmp_path / "no-actuals", tables)), name, {"cycle": "2025H2"})
    assert frame["attainment"].isna().all()


# --- property: the cascade's figures follow their definition on any goal forest -----------------

@st.composite
def goal_forests(draw):
    """Up to 12 goals of one cycle, each maybe linked to an earlier one, with random targets,
    directions, weights and actuals."""
    count = draw(st.integers(1, 12))
    goals, actuals = [], []
    for i in range(count):
        parent = draw(st.one_of(st.none(), st.integers(0, i - 1).map(lambda p: f"G{p}") if i else st.none(), st.just("G-GONE")))
        owner = draw(st.sampled_from(["E1", "E2", "E3"]))
        goals.append(dict(cycle_id="2025H2", goal_id=f"G{i}", parent_goal_id=parent, owner_type="employee", owner_id=owner,
                          title=f"goal {i}", kpi="k", strategy_theme=None,
                          direction=draw(st.sampled_from(["higher_better", "lower_better"])),
                          target=draw(st.sampled_from([-1.0, 0.0, 4.0, 10.0])), weight=draw(st.sampled_from([0.1, 0.25, 0.5, 1.0]))))
        if draw(st.booleans()):
            actuals.append(dict(goal_id=f"G{i}", as_of=draw(st.sampled_from(DATES)), actual=float(draw(st.integers(0, 30)))))
    return goals, actuals


# Before, within, within and after 2025H2 (2025-07-01 .. 2025-12-31).
DATES = (dt.date(2025, 6, 30), dt.date(2025, 9, 30), dt.date(2025, 12, 31), dt.date(2026, 1, 31))


def reference_attainment(goal, actuals, cap=1.5):
    """Goal attainment as docs/data-contract.md words it, written out independently of the SQL."""
    inside = [a for a in actuals if a["goal_id"] == goal["goal_id"] and dt.date(2025, 7, 1) <= a["as_of"] <= dt.date(2025, 12, 31)]
    if not inside or goal["target"] <= 0:
        return None
    ratio = max(inside, key=lambda a: a["as_of"])["actual"] / goal["target"]
    value = ratio if goal["direction"] == "higher_better" else 2 - ratio
    return min(cap, max(0.0, value))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(forest=goal_forests())
def test_cascade_children_attainment_is_the_weighted_mean_of_the_linked_children(tmp_path_factory, forest):
    goals, actuals = forest
    tables = tiny_company_tables()
    tables["goals"] = [g for g in tables["goals"] if g["cycle_id"] == "2025H1"] + goals
    tables["kpi_actuals"] = actuals
    dataset = open_dataset(write_dataset(tmp_path_factory.mktemp("forest"), tables))
    frame = run_query(dataset, "goal_cascade", {"cycle": "2025H2"}).set_index("goal_id")
    own = {g["goal_id"]: reference_attainment(g, actuals) for g in goals}
    assert len(frame) == len(goals)
    for goal in goals:
        row = frame.loc[goal["goal_id"]]
        assert row["attainment"] == pytest.approx(NAN if own[goal["goal_id"]] is None else own[goal["goal_id"]], nan_ok=True)
        children = [g for g in goals if g["parent_goal_id"] == goal["goal_id"] and own[g["goal_id"]] is not None]
        weight = sum(g["weight"] for g in children)
        expected = sum(g["weight"] * own[g["goal_id"]] for g in children) / weight if children else NAN
        assert row["children_attainment"] == pytest.approx(expected, nan_ok=True)
        assert (row["parent_issue"] == "parent_missing") == (goal["parent_goal_id"] == "G-GONE")
    headline = run_query(dataset, "attainment_headline", {"cycle": "2025H2"}).iloc[0]
    assert headline.on_track + headline.at_risk + headline.off_track == headline.goals_with_attainment == sum(v is not None for v in own.values())
