"""The statistics of grade distributions (gradelens.distribution), answers worked out by hand."""

import itertools
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from gradelens import distribution
from gradelens.distribution import (
    compositions,
    exact_multinomial_p,
    goodness_of_fit,
    guideline_counts,
    guideline_rules,
    monte_carlo_multinomial_p,
    psi,
    psi_approximation_holds,
    psi_band,
    psi_threshold,
    shares,
    simulated_psi_threshold,
)

GUIDELINE = [0.05, 0.20, 0.60, 0.10, 0.05]
CHI2_95_4 = 9.487729036781154  # chi-square 95th percentile, 4 degrees of freedom (statistical tables)


def test_shares_divide_by_the_total_and_are_undefined_for_nobody():
    assert list(shares([8, 27, 55, 10, 0])) == pytest.approx([0.08, 0.27, 0.55, 0.10, 0.0])
    assert np.isnan(shares([0, 0, 0])).all()


# --- Guideline headcounts ---


@pytest.mark.parametrize(
    "employees, expected",
    [
        (0, [0, 0, 0, 0, 0]),
        (1, [1, 0, 0, 0, 0]),  # S <= ceil(0.05) = 1; nothing left for B
        (3, [1, 0, 2, 0, 0]),  # S ceil(0.15) = 1, S+A ceil(0.75) = 1; C+D floor(0.45) = 0
        (7, [1, 1, 4, 1, 0]),  # S+A ceil(1.75) = 2; D floor(0.35) = 0, C+D floor(1.05) = 1
        (10, [1, 2, 6, 1, 0]),  # S ceil(0.5) = 1, S+A ceil(2.5) = 3; D floor(0.5) = 0, C+D floor(1.5) = 1
        (12, [1, 2, 8, 1, 0]),  # the docstring's example
        (20, [1, 4, 12, 2, 1]),  # 20 x 0.25 is 5.000000000000001 in floats, still 5
        (21, [2, 4, 12, 2, 1]),  # S ceil(1.05) = 2, S+A ceil(5.25) = 6; D floor(1.05) = 1, C+D floor(3.15) = 3
        (100, [5, 20, 60, 10, 5]),
    ],
)
def test_guideline_caps_round_up_floors_round_down_and_the_middle_grade_takes_the_rest(employees, expected):
    assert guideline_counts(employees, GUIDELINE) == expected


def test_float_noise_in_cumulative_shares_does_not_add_a_person():
    # 0.1 + 0.2 is 0.30000000000000004: without rounding, ceil(10 x it) would be 4.
    assert guideline_counts(10, [0.1, 0.2, 0.4, 0.2, 0.1]) == [1, 2, 4, 2, 1]


@pytest.mark.parametrize(
    "target, rules",
    [
        (GUIDELINE, ["at_most", "at_most", "remainder", "at_least", "at_least"]),
        ([0.2, 0.7, 0.1], ["at_most", "remainder", "at_least"]),
        ([0.4, 0.4, 0.2], ["remainder", "at_least", "at_least"]),  # a tie goes to the better grade
    ],
)
def test_grades_above_the_largest_share_are_caps_and_below_it_floors(target, rules):
    assert guideline_rules(target) == rules


@st.composite
def policies(draw):
    weights = draw(st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=7).filter(lambda w: sum(w) > 0))
    return [w / sum(weights) for w in weights]


@settings(max_examples=300, deadline=None)
@given(employees=st.integers(min_value=0, max_value=5000), target=policies())
def test_guideline_counts_are_whole_non_negative_sum_to_the_group_and_respect_their_bounds(employees, target):
    counts = guideline_counts(employees, target)
    assert sum(counts) == employees and min(counts) >= 0
    middle = distribution.middle_grade_index(target)
    for k in range(middle):  # cumulative caps from the top: the smallest whole number >= N x share
        bound, share = sum(counts[: k + 1]), employees * sum(target[: k + 1])
        assert share - 1e-6 <= bound < share + 1 + 1e-6
    for k in range(middle + 1, len(target)):  # cumulative floors from the bottom: the largest whole number <= N x share
        bound, share = sum(counts[k:]), employees * sum(target[k:])
        assert share - 1 - 1e-6 < bound <= share + 1e-6


# --- Goodness of fit ---


def test_the_chi_square_statistic_and_p_value_match_scipy_and_the_hand_sum():
    observed = [8, 27, 55, 10, 0]  # the fixture's Marketing, final 2025H2
    fit = goodness_of_fit(observed, GUIDELINE)
    assert fit.chi2 == pytest.approx(1.8 + 2.45 + 25 / 60 + 0 + 5)
    reference = scipy.stats.chisquare(observed, [5, 20, 60, 10, 5])
    assert (fit.chi2, fit.p_value) == pytest.approx((reference.statistic, reference.pvalue))
    assert (fit.method, fit.df, fit.min_expected) == ("chi2", 4, pytest.approx(5.0))


def _brute_force_p(observed, probabilities):
    """P(X^2 >= observed X^2) by listing every count vector, written independently of the module."""
    n = sum(observed)
    expected = [n * p for p in probabilities]

    def statistic(x):
        return sum((o - e) ** 2 / e for o, e in zip(x, expected))

    def probability(x):
        ways = math.factorial(n) // math.prod(math.factorial(c) for c in x)
        return ways * math.prod(p**c for p, c in zip(probabilities, x))

    limit = statistic(observed) - 1e-9
    outcomes = (x for x in itertools.product(range(n + 1), repeat=len(observed)) if sum(x) == n)
    return sum(probability(x) for x in outcomes if statistic(x) >= limit)


def test_a_two_person_coin_has_exact_p_one_half():
    # outcomes (2,0) (1,1) (0,2) with probabilities 1/4, 1/2, 1/4; X^2 = 2, 0, 2
    fit = goodness_of_fit([2, 0], [0.5, 0.5])
    assert (fit.chi2, fit.p_value, fit.method) == (2.0, pytest.approx(0.5), "exact")


@pytest.mark.parametrize("observed", [[5, 1, 2, 2, 0], [1, 2, 5, 1, 1], [0, 0, 6, 0, 0], [3, 0, 0, 0, 0]])
def test_small_groups_get_the_exact_multinomial_p_value(observed):
    fit = goodness_of_fit(observed, GUIDELINE)
    assert fit.method == "exact"
    assert fit.p_value == pytest.approx(_brute_force_p(observed, GUIDELINE), rel=1e-9)


def test_compositions_list_every_count_vector_once():
    rows = compositions(6, 4)
    assert len(rows) == math.comb(9, 3) == len({tuple(r) for r in rows})
    assert (rows.sum(axis=1) == 6).all() and (rows >= 0).all()


def test_groups_too_big_to_enumerate_get_a_deterministic_monte_carlo_p_value_near_the_exact_one():
    observed = [6, 25, 48, 10, 0]  # N = 89: E(S) = 4.45 < 5, and C(93, 4) = 3.2 million outcomes to list
    first = goodness_of_fit(observed, GUIDELINE)
    assert first.method == "monte_carlo"
    assert first == goodness_of_fit(observed, GUIDELINE)  # fixed seed: the same answer every time
    # Against a case small enough to enumerate, the Monte-Carlo estimate is within sampling error.
    small = [3, 8, 20, 5, 0]
    exact = exact_multinomial_p(small, GUIDELINE)
    assert monte_carlo_multinomial_p(small, GUIDELINE) == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / 100_000))


def test_a_person_in_a_grade_the_guideline_forbids_is_impossible_under_it():
    fit = goodness_of_fit([1, 5, 5], [0.0, 0.5, 0.5])
    assert (fit.chi2, fit.p_value, fit.df) == (math.inf, 0.0, 1)
    assert goodness_of_fit([0, 5, 5], [0.0, 0.5, 0.5]).p_value == pytest.approx(1.0)


# --- PSI ---


def test_psi_floors_an_empty_grade_at_one_in_ten_thousand():
    actual, reference = [0.08, 0.27, 0.55, 0.10, 0.0], GUIDELINE
    by_hand = (0.03 * math.log(0.08 / 0.05) + 0.07 * math.log(0.27 / 0.20) + (-0.05) * math.log(0.55 / 0.60)
               + 0 + (0.0001 - 0.05) * math.log(0.0001 / 0.05))
    assert psi(actual, reference) == pytest.approx(by_hand) == pytest.approx(0.349567, abs=1e-6)


def test_psi_is_zero_for_equal_distributions_and_symmetric():
    assert psi(GUIDELINE, GUIDELINE) == 0.0
    assert psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]) == pytest.approx(psi([0.0, 0.5, 0.5], [0.5, 0.5, 0.0]))


@settings(max_examples=300, deadline=None)
@given(a=st.lists(st.integers(0, 50), min_size=5, max_size=5).filter(any),
       b=st.lists(st.integers(0, 50), min_size=5, max_size=5).filter(any))
def test_psi_is_never_negative_and_zero_against_itself(a, b):
    assert psi(shares(a), shares(b)) >= 0
    assert psi(shares(a), shares(a)) == 0


@pytest.mark.parametrize(
    "bins, employees, reference_employees, expected",
    [
        (5, 100, 100, CHI2_95_4 * (1 / 100 + 1 / 100)),  # 0.18975
        (5, 100, None, CHI2_95_4 / 100),  # against a fixed target, M is infinite
        (5, 180, 180, CHI2_95_4 * 2 / 180),  # the demo's Marketing, 0.10542
        (2, 50, 200, 3.841458820694124 * (1 / 50 + 1 / 200)),
    ],
)
def test_the_psi_threshold_is_the_chi_square_quantile_times_one_over_n_plus_one_over_m(bins, employees, reference_employees, expected):
    assert psi_threshold(bins, employees, reference_employees) == pytest.approx(expected)


@pytest.mark.parametrize(
    "employees, reference_employees, null_shares, holds",
    [
        (100, None, GUIDELINE, True),  # 5 % of 100 = 5 expected
        (99, None, GUIDELINE, False),
        (200, 100, GUIDELINE, True),  # the smaller side counts
        (200, 99, GUIDELINE, False),
        (100, 100, [0.065, 0.235, 0.575, 0.1, 0.025], False),  # the fixture's pooled Marketing
        (20, 20, [0.0, 0.25, 0.75], True),  # an empty grade under H0 adds nothing to PSI
    ],
)
def test_the_chi_square_psi_threshold_is_trusted_when_every_grade_expects_five_people(employees, reference_employees,
                                                                                      null_shares, holds):
    assert psi_approximation_holds(employees, reference_employees, null_shares) is holds


def _false_alarm_rate(employees, threshold_of, trials=300, seed=3):
    """Share of pairs of groups drawn from the guideline whose PSI exceeds `threshold_of(x, y)`."""
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(trials):
        x, y = rng.multinomial(employees, GUIDELINE), rng.multinomial(employees, GUIDELINE)
        alarms += psi(x / employees, y / employees) > threshold_of(x, y)
    return alarms / trials


@pytest.mark.parametrize("employees", [8, 30])
def test_for_small_groups_the_chi_square_threshold_raises_many_false_alarms_and_the_simulated_one_does_not(employees):
    formula = _false_alarm_rate(employees, lambda x, y: psi_threshold(5, employees, employees))
    simulated = _false_alarm_rate(employees, lambda x, y: simulated_psi_threshold(x, y))
    assert formula > 0.2  # measured 0.3-0.45 for 5-30 people (docs/methods.md)
    assert simulated <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 300)


def test_the_simulated_threshold_is_deterministic_and_against_the_target_close_to_the_formula_for_big_groups():
    counts = [60, 210, 590, 95, 45]
    first = simulated_psi_threshold(counts, target_shares=GUIDELINE)
    assert first == simulated_psi_threshold(counts, target_shares=GUIDELINE)
    assert first == pytest.approx(psi_threshold(5, 1000), rel=0.15)


@pytest.mark.parametrize("value, band", [(0.0, "stable"), (0.0999, "stable"), (0.1, "moderate"), (0.2499, "moderate"),
                                         (0.25, "significant"), (3.0, "significant")])
def test_the_conventional_psi_bands(value, band):
    assert psi_band(value) == band
