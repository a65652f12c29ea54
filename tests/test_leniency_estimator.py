"""The leniency estimator (gradelens/leniency.py): hand-computed answers, agreement with a
reference mixed-model fit (statsmodels MixedLM, ML and REML), recovery of planted raters,
the large-data paths, multiple testing and the flagging rules, and the edge cases."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradelens import leniency
from gradelens.leniency import benjamini_hochberg, estimate_leniency, fit_crossed, flag_raters
from tests.leniency_fixture import simulate_pairs, simulate_teams

BALANCED = pd.DataFrame({
    "rater_id": ["A", "A", "B", "B", "C", "C"],
    "ratee_id": ["a1", "a2", "b1", "b2", "c1", "c2"],
    "score": [4.0, 5.0, 1.0, 2.0, 2.0, 4.0],
    "attainment": np.nan,
})


def test_the_balanced_one_way_case_matches_its_closed_form():
    # Worked in tests/leniency_fixture.three_managers_tables: s2_u = s2_e = 1, mu = 3,
    # effects 2/3 * (1.5, -1.5, 0), prediction-error variance 5/9.
    result = estimate_leniency(BALANCED, method="ml")
    fit = result.fit
    assert fit.fixed_names == ("intercept",)
    assert fit.fixed_effects[0] == pytest.approx(3.0, abs=1e-9)
    assert fit.rater_variance == pytest.approx(1.0, rel=1e-5)
    assert fit.residual_variance == pytest.approx(1.0, rel=1e-5)
    assert not fit.ratee_variance_identified and fit.ratee_variance == 0.0
    raters = result.raters.set_index("rater_id")
    assert raters["effect"].tolist() == pytest.approx([1.0, -1.0, 0.0], abs=1e-5)
    assert raters["se"].tolist() == pytest.approx([math.sqrt(5) / 3] * 3, rel=1e-5)
    assert raters["raw_mean"].tolist() == pytest.approx([4.5, 1.5, 3.0])
    assert raters["expected_mean"].tolist() == pytest.approx([3.0, 3.0, 3.0], abs=1e-9)
    assert raters.loc["A", "z"] == pytest.approx(3 / math.sqrt(5), rel=1e-5)
    assert raters.loc["A", "p_value"] == pytest.approx(0.179712, abs=1e-5)
    assert fit.pev_method == "exact"


def _statsmodels_fit(pairs: pd.DataFrame, reml: bool):
    import statsmodels.api as sm

    data = pairs.assign(group=1)
    model = sm.MixedLM.from_formula(
        "score ~ attainment", groups="group", re_formula="0", data=data,
        vc_formula={"rater": "0 + C(rater_id)", "ratee": "0 + C(ratee_id)"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit(reml=reml)
    effects = result.random_effects[1]
    rater_effects = {k.split("[")[-1].rstrip("]"): v for k, v in effects.items() if k.startswith("rater")}
    components = dict(zip(sorted(["rater", "ratee"]), result.vcomp))  # statsmodels orders vc names sorted
    return result, components, rater_effects


@pytest.mark.parametrize("method", ["ml", "reml"])
@pytest.mark.parametrize("seed", [1, 2])
def test_agrees_with_statsmodels_crossed_random_effects_fit(method, seed):
    # 30 raters x 120 ratees, 3-5 raters per ratee: the 360-degree case with many raters per ratee.
    pairs = simulate_pairs(30, 120, (3, 5), seed=seed).pairs
    ours = estimate_leniency(pairs, method=method)
    reference, components, rater_effects = _statsmodels_fit(pairs, reml=method == "reml")
    fit = ours.fit
    assert fit.converged
    assert fit.fixed_effects == pytest.approx(reference.fe_params.to_numpy(), abs=1e-5)
    assert fit.rater_variance == pytest.approx(components["rater"], rel=1e-3)
    assert fit.ratee_variance == pytest.approx(components["ratee"], rel=1e-3)
    assert fit.residual_variance == pytest.approx(reference.scale, rel=1e-4)
    assert fit.deviance == pytest.approx(-2 * reference.llf, abs=1e-4)
    mine = ours.raters.set_index("rater_id")["effect"]
    theirs = pd.Series(rater_effects).reindex(mine.index)
    assert np.corrcoef(mine, theirs)[0, 1] > 0.9999
    assert (mine - theirs).abs().max() < 1e-4


def test_standard_errors_are_the_exact_inverse_of_the_mixed_model_equations():
    # Henderson's equations built densely: C = [[X'X, X'Z], [Z'X, Z'Z + G^-1 s2_e]], PEV = s2_e [C^-1]_uu.
    pairs = simulate_pairs(12, 40, 3, seed=5).pairs
    result = estimate_leniency(pairs, method="ml")
    fit = result.fit
    rater_code, _ = pd.factorize(pairs["rater_id"], sort=True)
    ratee_code, _ = pd.factorize(pairs["ratee_id"], sort=True)
    n = len(pairs)
    X = np.column_stack([np.ones(n), pairs["attainment"]])
    Z = np.zeros((n, 12 + 40))
    Z[np.arange(n), rater_code] = 1
    Z[np.arange(n), 12 + ratee_code] = 1
    penalty = np.r_[np.full(12, fit.residual_variance / fit.rater_variance), np.full(40, fit.residual_variance / fit.ratee_variance)]
    C = np.block([[X.T @ X, X.T @ Z], [Z.T @ X, Z.T @ Z + np.diag(penalty)]])
    pev = fit.residual_variance * np.diag(np.linalg.inv(C))[2:14]
    solution = np.linalg.solve(C, np.r_[X.T @ pairs["score"], Z.T @ pairs["score"]])
    assert result.raters["se"].to_numpy() ** 2 == pytest.approx(pev, rel=1e-8)
    assert result.raters["effect"].to_numpy() == pytest.approx(solution[2:14], abs=1e-10)
    assert fit.pev_method == "exact"


def test_the_effect_is_the_gap_to_the_expected_mean_shrunk_by_the_ratees():
    # Rater row of the mixed-model equations: (n_i + s2_e / s2_u) u_i = sum_j (y_ij - x'b - v_j).
    result = estimate_leniency(simulate_pairs(40, 300, (2, 6), seed=3).pairs, method="ml")
    raters, fit = result.raters, result.fit
    shrink = raters["ratees"] / (raters["ratees"] + fit.residual_variance / fit.rater_variance)
    assert raters["effect"].to_numpy() == pytest.approx((shrink * (raters["raw_mean"] - raters["expected_mean"])).to_numpy(), abs=1e-9)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_planted_lenient_and_severe_raters_are_recovered_in_a_crossed_design(seed):
    planted = {k: (0.7 if k % 2 else -0.7) for k in range(10)}
    # Background raters have small effects (sd 0.05, far below the 0.25 threshold).
    sim = simulate_pairs(200, 2000, (3, 5), rater_sd=0.05, ratee_sd=0.3, residual_sd=0.35, planted=planted, seed=seed)
    raters = flag_raters(estimate_leniency(sim.pairs).raters)
    flagged = set(raters.loc[raters["flagged"], "rater_id"])
    planted_ids = set(sim.lenient) | set(sim.severe)
    recall = len(flagged & planted_ids) / len(planted_ids)
    false_positive_rate = len(flagged - planted_ids) / (len(raters) - len(planted_ids))
    assert recall >= 0.9
    assert false_positive_rate <= 0.01
    wrong_direction = raters[raters["flagged"] & raters["rater_id"].isin(sim.severe) & (raters["effect"] > 0)]
    assert wrong_direction.empty


@pytest.mark.parametrize("seed", [21, 22])
def test_planted_managers_are_recovered_when_each_ratee_has_one_manager_and_two_peers(seed):
    planted = {3: 0.7, 17: -0.7, 42: 0.7, 99: -0.7, 150: 0.7, 177: -0.7}
    sim = simulate_teams(teams=200, team_size=10, peers=2, planted=planted, seed=seed)
    for role, pairs in (("manager", sim.pairs[sim.pairs["rater_role"] == "manager"]), ("all_but_self", sim.pairs)):
        raters = flag_raters(estimate_leniency(pairs).raters)
        flagged = set(raters.loc[raters["flagged"], "rater_id"])
        planted_ids = set(sim.lenient) | set(sim.severe)
        assert flagged >= planted_ids, role
        assert len(flagged - planted_ids) <= 0.02 * len(raters), role


def test_attainment_is_adjusted_for_so_a_strong_team_does_not_make_its_manager_lenient():
    # Rater R00000 gets the best ratees; scores follow attainment only (no rater effects).
    sim = simulate_pairs(20, 400, 1, rater_sd=0.0, ratee_sd=0.0, residual_sd=0.2, beta=2.0, seed=8)
    pairs = sim.pairs.copy()
    best = pairs["attainment"] >= pairs["attainment"].quantile(0.9)
    pairs.loc[best, "rater_id"] = "R00000"
    pairs["score"] = 3.0 + 2.0 * (pairs["attainment"] - 1.0) + np.random.default_rng(0).normal(0, 0.2, len(pairs))
    adjusted = flag_raters(estimate_leniency(pairs).raters).set_index("rater_id")
    raw = pairs.groupby("rater_id")["score"].mean()
    assert raw["R00000"] - raw.drop("R00000").mean() > 0.5  # a naive average would call it lenient
    assert abs(adjusted.loc["R00000", "effect"]) < 0.1
    assert not adjusted["flagged"].any()


def test_the_moment_estimator_is_close_to_maximum_likelihood_and_to_the_truth():
    sim = simulate_pairs(400, 6000, (3, 5), rater_sd=0.3, ratee_sd=0.4, residual_sd=0.5, seed=4)
    ml = estimate_leniency(sim.pairs, method="ml").fit
    moments = estimate_leniency(sim.pairs, method="moments").fit
    for fit in (ml, moments):
        assert fit.rater_variance == pytest.approx(0.09, rel=0.2)
        assert fit.ratee_variance == pytest.approx(0.16, rel=0.15)
        assert fit.residual_variance == pytest.approx(0.25, rel=0.1)
    assert moments.rater_variance == pytest.approx(ml.rater_variance, rel=0.15)
    assert np.corrcoef(ml.rater_effect, moments.rater_effect)[0, 1] > 0.995


def test_auto_switches_to_moments_and_conjugate_gradients_for_large_shared_designs(monkeypatch):
    sim = simulate_pairs(60, 600, (2, 4), seed=6)
    direct = estimate_leniency(sim.pairs, method="moments").fit
    monkeypatch.setattr(leniency, "ML_MAX_RATERS", 10)
    large = estimate_leniency(sim.pairs, method="auto").fit
    assert large.method == "moments" and large.pev_method == "conditional"
    assert large.rater_effect == pytest.approx(direct.rater_effect, abs=1e-8)  # CG solves what LU solves
    assert large.fixed_effects == pytest.approx(direct.fixed_effects, abs=1e-8)


def test_the_conditional_standard_error_is_a_close_lower_bound_of_the_exact_one(monkeypatch):
    pairs = simulate_pairs(80, 800, (3, 5), seed=9).pairs
    exact = estimate_leniency(pairs, method="ml")
    monkeypatch.setattr(leniency, "EXACT_PEV_MAX_RATERS", 10)
    conditional = estimate_leniency(pairs, method="ml")
    assert exact.fit.pev_method == "exact" and conditional.fit.pev_method == "conditional"
    ratio = conditional.raters["se"] / exact.raters["se"]
    assert (ratio <= 1 + 1e-9).all()
    assert ratio.min() > 0.9
    assert conditional.raters["effect"].to_numpy() == pytest.approx(exact.raters["effect"].to_numpy())


def test_standard_errors_of_separate_teams_are_exact_by_component():
    # Managers and peers share ratees only inside a team: every connected group is small.
    sim = simulate_teams(teams=30, team_size=6, peers=2, seed=3)
    fit = estimate_leniency(sim.pairs, method="ml").fit
    assert fit.pev_method == "exact"


# ----------------------------------------------------------------------------- edge cases


def test_a_rater_with_one_ratee_is_estimated_and_never_flagged():
    pairs = simulate_pairs(30, 120, 3, seed=2).pairs
    lone = pd.DataFrame({"rater_id": ["LONE"], "ratee_id": [pairs["ratee_id"].iloc[0]], "rater_role": ["peer"],
                         "score": [5.0], "attainment": [pairs["attainment"].iloc[0]]})
    raters = flag_raters(estimate_leniency(pd.concat([pairs, lone], ignore_index=True)).raters, min_ratees=5).set_index("rater_id")
    row = raters.loc["LONE"]
    assert row["ratees"] == 1
    assert np.isfinite([row["effect"], row["se"], row["z"], row["p_value"]]).all()
    assert 0 < row["effect"] < 5.0 - row["expected_mean"]  # shrunk towards 0
    assert not row["flagged"] and np.isnan(row["q_value"])


def test_identical_scores_everywhere_give_zero_effects_and_no_flags():
    pairs = simulate_pairs(10, 50, 3, seed=1).pairs.assign(score=3.0)
    result = estimate_leniency(pairs)
    raters = flag_raters(result.raters, min_ratees=1)
    assert (raters["effect"] == 0).all() and (raters["se"] == 0).all() and (raters["z"] == 0).all()
    assert (raters["p_value"] == 1).all() and (raters["q_value"] == 1).all()
    assert not raters["flagged"].any()
    assert raters[["raw_mean", "expected_mean"]].to_numpy() == pytest.approx(3.0)
    assert result.fit.rater_variance == result.fit.residual_variance == 0.0


def test_scores_with_no_rater_variation_give_zero_effects():
    # Scores vary by ratee only: the rater variance is estimated at 0, every effect is 0.
    pairs = simulate_pairs(10, 200, 3, rater_sd=0.0, ratee_sd=0.5, residual_sd=0.0, seed=1).pairs
    raters = flag_raters(estimate_leniency(pairs).raters)
    assert raters["effect"].abs().max() < 1e-6
    assert not raters["flagged"].any()


def test_without_attainment_the_term_is_dropped():
    pairs = simulate_pairs(30, 120, 3, seed=3, with_attainment=False).pairs
    result = estimate_leniency(pairs)
    assert result.fit.fixed_names == ("intercept",)
    assert not result.attainment_adjusted and result.attainment_coverage == 0.0
    assert result.raters["mean_attainment"].isna().all()


def test_ratees_missing_attainment_get_an_indicator_instead_of_being_dropped():
    pairs = simulate_pairs(30, 120, 3, seed=3).pairs
    pairs.loc[pairs["ratee_id"] < "E000030", "attainment"] = np.nan
    result = estimate_leniency(pairs)
    assert result.fit.fixed_names == ("intercept", "attainment", "attainment_missing")
    assert result.attainment_coverage == pytest.approx((pairs["attainment"].notna()).mean())
    assert result.raters["ratees"].sum() == len(pairs)


def test_pooled_roles_get_their_own_shift():
    sim = simulate_teams(teams=60, team_size=6, peers=2, seed=4)
    fit = estimate_leniency(sim.pairs).fit
    assert fit.fixed_names == ("intercept", "attainment", "role_peer")  # managers are the reference
    assert fit.fixed("role_peer") == pytest.approx(0.1, abs=0.05)  # the simulation's peer shift


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method must be one of"):
        fit_crossed(np.ones(3), np.ones((3, 1)), np.array([0, 0, 1]), np.array([0, 1, 2]), method="bayes")


def test_no_pairs_give_an_empty_result():
    result = estimate_leniency(BALANCED.iloc[0:0])
    assert result.raters.empty and list(result.raters.columns) == list(leniency.RATER_COLUMNS)
    assert result.fit is None
    assert flag_raters(result.raters).empty


# ----------------------------------------------------------------------------- invariances


@settings(max_examples=15, deadline=None)
@given(shift=st.floats(-2, 2), scale=st.floats(0.2, 3), seed=st.integers(0, 1000))
def test_effects_move_with_the_score_scale_and_not_with_its_origin(shift, scale, seed):
    pairs = simulate_pairs(12, 60, 3, seed=seed).pairs
    base = estimate_leniency(pairs, method="ml").raters
    moved = estimate_leniency(pairs.assign(score=scale * pairs["score"] + shift), method="ml").raters
    assert moved["effect"].to_numpy() == pytest.approx(scale * base["effect"].to_numpy(), abs=1e-4 * scale)
    assert moved["se"].to_numpy() == pytest.approx(scale * base["se"].to_numpy(), rel=1e-3, abs=1e-6)
    assert moved["raw_mean"].to_numpy() == pytest.approx(scale * base["raw_mean"].to_numpy() + shift)


# ----------------------------------------------------------------------------- multiple testing and flags


def test_benjamini_hochberg_by_hand():
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.20, np.nan]))
    # sorted 0.01, 0.03, 0.04, 0.20 -> x4/1, x4/2, x4/3, x4/4 = 0.04, 0.06, 0.0533, 0.20 -> running min from the top
    assert q[:4] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert np.isnan(q[4])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_benjamini_hochberg_matches_statsmodels(p_values):
    from statsmodels.stats.multitest import multipletests

    p = np.array(p_values)
    q = benjamini_hochberg(p)
    assert q == pytest.approx(multipletests(p, method="fdr_bh")[1])
    assert (q >= p - 1e-12).all()


@pytest.mark.parametrize(
    "effect, p_value, ratees, flagged",
    [
        (0.40, 1e-6, 8, True),
        (-0.40, 1e-6, 8, True),
        (0.20, 1e-6, 8, False),  # below the practical threshold
        (0.40, 0.2, 8, False),  # not significant after correction
        (0.40, 1e-6, 4, False),  # too few ratees
        (0.25, 1e-6, 5, True),  # both limits inclusive
    ],
)
def test_flagging_needs_evidence_size_and_enough_ratees(effect, p_value, ratees, flagged):
    others = pd.DataFrame({"rater_id": [f"R{k}" for k in range(9)], "ratees": 10, "effect": 0.0, "p_value": 0.9})
    raters = pd.concat([pd.DataFrame({"rater_id": ["X"], "ratees": [ratees], "effect": [effect], "p_value": [p_value]}), others])
    result = flag_raters(raters, threshold=0.25, min_ratees=5).set_index("rater_id")
    assert bool(result.loc["X", "flagged"]) is flagged
    assert np.isnan(result.loc["X", "q_value"]) == (ratees < 5)


def test_raters_below_the_minimum_are_not_part_of_the_tested_family():
    raters = pd.DataFrame({"rater_id": ["A", "B", "C"], "ratees": [10, 10, 2], "effect": [0.5, 0.5, 0.5], "p_value": [0.02, 0.04, 0.001]})
    q = flag_raters(raters, min_ratees=5)["q_value"].tolist()
    assert q[:2] == pytest.approx([0.04, 0.04]) and np.isnan(q[2])
