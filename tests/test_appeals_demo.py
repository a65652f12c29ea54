"""The Appeals page's queries find what the demo planted: the appeal spike and the severe raters."""

import pandas as pd
import pytest

from gradelens import appeals
from gradelens.dataset import open_dataset
from gradelens.demo import generate
from gradelens.queries import cycle_ids, run_query


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("appeals-demo") / "demo"
    manifest = generate(folder)
    return open_dataset(folder), manifest


def test_the_spike_rule_finds_the_planted_spike_cycle_and_its_reasons(demo):
    dataset, manifest = demo
    overall = appeals.appeal_spikes(run_query(dataset, "appeal_trends"))
    assert list(overall["cycle_id"]) == [manifest.appeal_spike_cycle_id]
    reasons = appeals.appeal_spikes(run_query(dataset, "appeal_trends", {"group_by": "reason"}))
    assert set(reasons["cycle_id"]) == {manifest.appeal_spike_cycle_id}
    assert {"unclear_criteria", "calibration_downgrade"} <= set(reasons["group_id"])  # the planted mix
    departments = appeals.appeal_spikes(run_query(dataset, "appeal_trends", {"group_by": "department"}))
    assert set(departments["cycle_id"]) == {manifest.appeal_spike_cycle_id}


def test_severe_raters_have_some_of_the_highest_appeal_rates(demo):
    dataset, manifest = demo
    by_rater = [run_query(dataset, "appeals_by_rater", {"cycle": cycle}) for cycle in cycle_ids(dataset)]
    pooled = pd.concat(by_rater).groupby("rater_id")[["graded", "appeals"]].sum()
    rate = pooled["appeals"] / pooled["graded"]
    top_tenth = set(rate[rate >= rate.quantile(0.9)].index)
    assert set(manifest.severe_rater_ids) <= top_tenth
    assert not set(manifest.lenient_rater_ids) & top_tenth


def test_the_demo_has_no_bad_appeals_and_a_backlog_on_its_latest_date(demo):
    dataset, _ = demo
    assert run_query(dataset, "appeal_data_quality").empty
    open_now = run_query(dataset, "open_appeals")
    assert len(open_now) > 0
    assert open_now["age_days"].is_monotonic_decreasing


def test_appeal_trends_agree_with_a_recomputation_in_pandas(demo):
    dataset, _ = demo
    con = dataset.cursor()
    grades = con.execute("SELECT cycle_id, employee_id FROM grades").df()
    appeals_ = con.execute("SELECT * FROM appeals").df().merge(grades, on=["cycle_id", "employee_id"])
    resolved = appeals_[appeals_["status"] != "open"]
    days = (resolved["resolved_on"] - resolved["filed_on"]).dt.days
    expected = pd.DataFrame({
        "graded": grades.groupby("cycle_id").size(),
        "appeals": appeals_.groupby("cycle_id").size(),
        "upheld_share": resolved.assign(up=resolved["status"].isin(["upheld", "partially_upheld"])).groupby("cycle_id")["up"].mean(),
        "median": days.groupby(resolved["cycle_id"]).quantile(0.5),      # pandas' default: linear interpolation
        "p90": days.groupby(resolved["cycle_id"]).quantile(0.9),
    })
    got = run_query(dataset, "appeal_trends").set_index("cycle_id")
    assert got["graded"].tolist() == expected["graded"].tolist()
    assert got["appeals"].tolist() == expected["appeals"].tolist()
    assert got["appeal_rate"].tolist() == pytest.approx((100 * expected["appeals"] / expected["graded"]).tolist())
    assert got["upheld_share"].tolist() == pytest.approx(expected["upheld_share"].tolist())
    assert got["median_days_to_resolve"].tolist() == pytest.approx(expected["median"].tolist())
    assert got["p90_days_to_resolve"].tolist() == pytest.approx(expected["p90"].tolist())
