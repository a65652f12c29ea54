"""Small-group suppression, including the complementary cell that blocks subtraction."""

import math

import pandas as pd
from hypothesis import given, settings, strategies as st

from gradelens.privacy import COMPLEMENTARY, REASON_COLUMN, SMALL_GROUP, suppress


def departments(sizes: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"department": list(sizes), "employees": list(sizes.values()),
                         "attainment": [0.5 + i / 10 for i in range(len(sizes))]})


def test_a_group_under_the_minimum_is_hidden_and_says_why():
    out = suppress(departments({"Sales": 10, "Legal": 2}), "employees", 5)
    assert out[REASON_COLUMN].tolist()[1] == SMALL_GROUP
    assert math.isnan(out["employees"][1]) and math.isnan(out["attainment"][1])
    assert out["department"].tolist() == ["Sales", "Legal"]  # labels stay


def test_hiding_one_group_also_hides_the_next_smallest_so_it_cannot_be_subtracted_from_the_total():
    # Total 19 published elsewhere: with only Legal hidden, Legal = 19 - 10 - 7.
    out = suppress(departments({"Sales": 10, "Legal": 2, "Ops": 7}), "employees", 5).set_index("department")
    assert out[REASON_COLUMN].to_dict() == {"Sales": None, "Legal": SMALL_GROUP, "Ops": COMPLEMENTARY}
    assert out.loc["Sales", "employees"] == 10
    assert out.loc[["Legal", "Ops"], ["employees", "attainment"]].isna().all().all()


def test_two_small_groups_already_protect_each_other():
    out = suppress(departments({"Sales": 10, "Legal": 2, "Ops": 3, "IT": 8}), "employees", 5)
    assert out[REASON_COLUMN].tolist() == [None, SMALL_GROUP, SMALL_GROUP, None]


def test_a_group_of_exactly_the_minimum_is_shown():
    out = suppress(departments({"Sales": 5, "Ops": 5}), "employees", 5)
    assert out[REASON_COLUMN].isna().all() and out["employees"].tolist() == [5, 5]


def test_a_lone_small_group_is_hidden_without_a_complement():
    out = suppress(departments({"Legal": 2}), "employees", 5)
    assert out[REASON_COLUMN].tolist() == [SMALL_GROUP]


def test_a_unit_of_several_rows_is_hidden_or_shown_as_a_whole():
    # grade rows of two groups: group sizes 6 and 2; the complement is the other group, all rows.
    frame = pd.DataFrame({"group_id": ["A"] * 3 + ["B"] * 3 + ["C"] * 3, "grade": list("SAB") * 3,
                          "employees": [1, 2, 3, 0, 1, 1, 4, 4, 4], "group_employees": [6] * 3 + [2] * 3 + [12] * 3})
    out = suppress(frame, "group_employees", 5, by=["group_id"])
    assert out.groupby("group_id")[REASON_COLUMN].agg(lambda s: set(s)).to_dict() == {
        "A": {COMPLEMENTARY}, "B": {SMALL_GROUP}, "C": {None}}
    assert out.loc[out["group_id"] == "C", "employees"].tolist() == [4, 4, 4]
    assert out.loc[out["group_id"] == "B", "employees"].isna().all()
    assert out["group_employees"].tolist() == [6] * 3 + [2] * 3 + [12] * 3  # headcounts stay


def test_each_cycle_is_its_own_breakdown():
    frame = pd.DataFrame({"cycle_id": ["H1", "H1", "H2", "H2"], "department": ["A", "B", "A", "B"],
                          "employees": [9, 9, 9, 2]})
    out = suppress(frame, "employees", 5, within=["cycle_id"])
    assert out[REASON_COLUMN].tolist() == [None, None, COMPLEMENTARY, SMALL_GROUP]


def test_without_the_count_column_everything_is_hidden():
    out = suppress(pd.DataFrame({"x": [1.0, 2.0]}), "employees", 5)
    assert out[REASON_COLUMN].tolist() == [SMALL_GROUP, SMALL_GROUP] and out["x"].isna().all()


def test_a_missing_count_is_treated_as_a_small_group():
    out = suppress(pd.DataFrame({"d": ["A", "B", "C"], "employees": [None, 9, 8]}), "employees", 5)
    assert out[REASON_COLUMN].tolist() == [SMALL_GROUP, None, COMPLEMENTARY]


def test_an_empty_result_gets_the_reason_column():
    out = suppress(pd.DataFrame({"employees": pd.Series([], dtype="int64")}), "employees", 5)
    assert list(out.columns) == ["employees", REASON_COLUMN] and out.empty


def test_booleans_are_hidden_too():
    out = suppress(pd.DataFrame({"d": ["A", "B"], "employees": [2, 9], "flag": [True, False]}), "employees", 5)
    assert out["flag"].isna().all()


def test_the_input_frame_is_left_unchanged():
    frame = departments({"Sales": 10, "Legal": 2})
    suppress(frame, "employees", 5)
    assert frame["employees"].tolist() == [10, 2] and REASON_COLUMN not in frame


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=8), st.integers(1, 10))
def test_no_hidden_group_can_be_recovered_by_subtraction_and_no_small_group_shows(sizes, minimum):
    frame = pd.DataFrame({"d": [f"G{i}" for i in range(len(sizes))], "employees": sizes, "v": [float(s) for s in sizes]})
    out = suppress(frame, "employees", minimum)
    hidden = out[REASON_COLUMN].notna()
    assert (out.loc[~hidden, "employees"] >= minimum).all()
    assert hidden.sum() != 1 or len(out) == 1  # one hidden cell among shown ones = total minus the rest
    assert out.loc[hidden, ["employees", "v"]].isna().all().all()
    assert (out.loc[~hidden, "v"] == frame.loc[~hidden, "v"]).all()


def test_a_hidden_group_is_flagged_as_small():
    out = suppress(pd.DataFrame({"d": ["A", "B"], "employees": [2, 1], "small_group": [False, False]}), "employees", 5)
    assert out["small_group"].tolist() == [True, True]
