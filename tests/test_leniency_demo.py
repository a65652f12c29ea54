"""The demo company's planted lenient and severe managers (demo_manifest.json) are found,
and few others are flagged; the page renders on the demo."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gradelens.dataset import open_dataset
from gradelens.queries import run_query

demo = pytest.importorskip("gradelens.demo")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("leniency-demo") / "demo"
    demo.generate(folder)
    return folder


@pytest.fixture(scope="module")
def manifest(demo_dir):
    return demo.read_manifest(demo_dir)


@pytest.fixture(scope="module")
def dataset(demo_dir):
    return open_dataset(demo_dir)


def test_the_planted_managers_are_flagged_and_few_others(dataset, manifest):
    planted = set(manifest.lenient_rater_ids) | set(manifest.severe_rater_ids)
    found = 0
    for cycle in manifest.cycle_ids:
        board = run_query(dataset, "rater_leniency", {"cycle": cycle, "role": "manager"}).set_index("rater_id")
        flagged = set(board.index[board["flagged"]])
        if cycle == manifest.cycle_ids[-1]:  # the page's default view: every planted rater
            assert flagged >= planted
        found += len(flagged & planted)
        assert (board.loc[list(manifest.lenient_rater_ids), "effect"] > 0).all(), cycle
        assert (board.loc[list(manifest.severe_rater_ids), "effect"] < 0).all(), cycle
        eligible_others = (board["ratees"] >= 5) & ~board.index.isin(planted)
        # The demo draws everyone else's leniency from N(0, 0.1): a few are genuinely beyond 0.2.
        assert len(flagged - planted) <= 0.05 * eligible_others.sum(), cycle
    # A planted rater with six reports can have a quiet cycle; across cycles nearly all are found.
    assert found >= 0.9 * len(planted) * len(manifest.cycle_ids)


def test_pooling_all_roles_flags_no_one_who_was_not_planted(dataset, manifest):
    planted = set(manifest.lenient_rater_ids) | set(manifest.severe_rater_ids)
    board = run_query(dataset, "rater_leniency", {"role": "all_but_self"})
    flagged = set(board.loc[board["flagged"], "rater_id"])
    assert len(flagged & planted) >= 5  # a manager's leniency is diluted by their fair peer ratings
    assert len(flagged - planted) <= 0.01 * (board["ratees"] >= 5).sum()
    model = run_query(dataset, "rater_leniency_model", {"role": "all_but_self"}).iloc[0]
    assert model.ratee_effects_separate and model.attainment_adjusted


def test_a_planted_raters_leniency_is_persistent(dataset, manifest):
    rater = manifest.lenient_rater_ids[0]
    history = run_query(dataset, "rater_leniency_history", {"rater_id": rater})
    assert history["cycle_id"].tolist() == list(manifest.cycle_ids)
    assert history["flagged"].all() and (history["effect"] > 0.25).all()


def test_the_page_renders_on_the_demo_with_the_planted_raters_flagged(monkeypatch, demo_dir, manifest):
    monkeypatch.setenv("GRADELENS_DATA", str(demo_dir))
    at = AppTest.from_file(str(ROOT / "pages/leniency.py"), default_timeout=180)
    at.query_params["rater"] = manifest.severe_rater_ids[0]
    at.run()
    assert not at.exception, at.exception
    values = {m.label: int(m.value) for m in at.metric if m.label.startswith("Flagged")}
    assert values["Flagged lenient"] >= len(manifest.lenient_rater_ids)
    assert values["Flagged severe"] >= len(manifest.severe_rater_ids)
    assert at.selectbox(key="leniency_rater").value == manifest.severe_rater_ids[0]
