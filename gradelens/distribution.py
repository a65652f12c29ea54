"""Statistics of grade distributions: guideline headcounts, goodness of fit, PSI and its thresholds.

Pure functions over counts and shares (no data access), each with its formula and source.
docs/methods.md explains them for readers of the dashboard.

scipy is imported inside the functions that need it: every CLI call imports the analyses
package, and scipy.stats alone takes seconds to import on a cold machine.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# PSI: shares below this are raised to it, so an empty grade does not make ln(p/q) infinite.
PSI_FLOOR = 0.0001
# The conventional PSI bands (Siddiqi 2006): below 0.1 stable, 0.1-0.25 moderate shift, above 0.25 significant.
PSI_BANDS = (0.1, 0.25)
# Confidence of the sample-size-aware PSI threshold and of the deviation test.
CONFIDENCE = 0.95

# Goodness of fit: the chi-square approximation is trusted when every expected count is at least this (Cochran 1954).
MIN_EXPECTED = 5.0
# Below that, the exact multinomial p-value when the outcomes to enumerate are at most this many
# (5 grades: groups of up to 47 people), else a Monte-Carlo p-value.
EXACT_LIMIT = 250_000
MONTE_CARLO_DRAWS = 100_000
MONTE_CARLO_SEED = 20_261_121  # fixed, so the same data always gives the same p-value
PSI_DRAWS = 2_000  # simulated PSIs behind a small group's drift threshold

# Guideline rounding: N x cumulative share is rounded to this many decimals before ceil/floor, so
# float noise (20 x 0.25 = 5.000000000000001) does not add a person. The SQL uses the same rule.
ROUNDING_DECIMALS = 9

AT_MOST = "at_most"
REMAINDER = "remainder"
AT_LEAST = "at_least"


def shares(counts: Sequence[float]) -> np.ndarray:
    """counts / sum(counts); all NaN when the sum is 0."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return counts / total if total > 0 else np.full(counts.shape, np.nan)


# --- Guideline headcounts -------------------------------------------------------------------


def middle_grade_index(target_shares: Sequence[float]) -> int:
    """The grade that takes the remainder: the one with the largest target share (the better one on ties)."""
    return int(np.argmax(np.asarray(target_shares, dtype=float)))


def guideline_rules(target_shares: Sequence[float]) -> list[str]:
    """For each grade (best first): `at_most` above the middle grade, `remainder` for it, `at_least` below."""
    middle = middle_grade_index(target_shares)
    return [AT_MOST if i < middle else REMAINDER if i == middle else AT_LEAST for i in range(len(target_shares))]


def guideline_counts(employees: int, target_shares: Sequence[float]) -> list[int]:
    """Guideline headcount per grade (best first) for a group of `employees` people.

    The rule, in the group's favour on both sides and always summing to `employees`:

    - Grades better than the middle grade (the one with the largest target share; B by
      default) are caps on the cumulative share from the top, rounded up:
      `cap(k) = ceil(N * sum(target_share of grade 0..k))`; grade k's guideline is
      `cap(k) - cap(k-1)`. So S <= ceil(5% N) and S + A <= ceil(25% N).
    - Grades worse than the middle are floors on the cumulative share from the bottom,
      rounded down: `floor_(k) = floor(N * sum(target_share of grade k..last))`; grade k's
      guideline is `floor_(k) - floor_(k+1)`. So D >= floor(5% N) and C + D >= floor(15% N).
    - The middle grade gets the rest, `N - cap(middle-1) - floor_(middle+1)`, never negative
      because `floor(N - x) = N - ceil(x)` for whole N.

    Example, N = 12 and 5/20/60/10/5 %: S ceil(0.6) = 1, S+A ceil(3.0) = 3 so A = 2,
    D floor(0.6) = 0, C+D floor(1.8) = 1 so C = 1, B = 12 - 3 - 1 = 8.

    N x share is rounded to 9 decimals first so float noise cannot add or drop a person.
    Source: the "at most x% S/A, at least y% C/D" phrasing of forced-distribution
    guidelines (强制分布); the rounding direction is the issue's specification.
    """
    if employees < 0:
        raise ValueError(f"a group has at least 0 people, got {employees}")
    target = [float(s) for s in target_shares]
    middle = middle_grade_index(target)
    counts = [0] * len(target)
    cumulative_share, previous_cap = 0.0, 0
    for i in range(middle):
        cumulative_share += target[i]
        cap = math.ceil(round(employees * cumulative_share, ROUNDING_DECIMALS))
        counts[i], previous_cap = cap - previous_cap, cap
    cumulative_share, previous_floor = 0.0, 0
    for i in range(len(target) - 1, middle, -1):
        cumulative_share += target[i]
        floor = math.floor(round(employees * cumulative_share, ROUNDING_DECIMALS))
        counts[i], previous_floor = floor - previous_floor, floor
    counts[middle] = employees - previous_cap - previous_floor
    return counts


# --- Goodness of fit against the target shares ------------------------------------------------


@dataclass(frozen=True)
class GoodnessOfFit:
    chi2: float  # Pearson's statistic sum((O - E)^2 / E) over grades with a positive target share
    df: int  # grades with a positive target share, minus 1
    p_value: float
    method: str  # chi2 | exact | monte_carlo
    min_expected: float


def chi_square_statistic(observed: Sequence[float], expected: Sequence[float]) -> float:
    """Pearson's X^2 = sum over grades of (O - E)^2 / E (Pearson 1900); grades with E = 0 are left out."""
    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(expected, dtype=float)
    keep = expected > 0
    return float((((observed[keep] - expected[keep]) ** 2) / expected[keep]).sum())


def goodness_of_fit(observed: Sequence[int], target_shares: Sequence[float]) -> GoodnessOfFit:
    """Does a group's grade count differ from the target shares more than chance would make it?

    H0: the group's N grades are a multinomial sample with the target shares. Statistic:
    Pearson's X^2 with expected counts E = N x target_share.

    - Every E >= 5 (Cochran 1954): p = P(chi2 with K-1 degrees of freedom >= X^2), K the
      grades with a positive target share (scipy.stats.chi2.sf); method `chi2`.
    - Some E < 5 and at most EXACT_LIMIT possible outcomes (5 grades: N <= 47): the exact
      p-value, the multinomial probability of every outcome whose X^2 is at least the
      observed one (Read & Cressie 1988, ch. 5); method `exact`.
    - Otherwise: Monte-Carlo, B = 100,000 multinomial samples from a fixed seed,
      p = (1 + #{X^2_sim >= X^2_obs}) / (B + 1) (Davison & Hinkley 1997, eq. 4.11; as R's
      chisq.test(simulate.p.value = TRUE)); method `monte_carlo`. Deterministic.

    A person in a grade whose target share is 0 is impossible under H0: X^2 = inf, p = 0.
    """
    observed = np.asarray(observed, dtype=np.int64)
    target = np.asarray(target_shares, dtype=float)
    employees = int(observed.sum())
    if employees <= 0:
        raise ValueError("a goodness-of-fit test needs at least one graded person")
    positive = target > 0
    expected = employees * target
    df = int(positive.sum()) - 1
    min_expected = float(expected[positive].min())
    if (observed[~positive] > 0).any():
        return GoodnessOfFit(math.inf, df, 0.0, "exact", min_expected)
    observed, probabilities = observed[positive], target[positive] / target[positive].sum()
    statistic = chi_square_statistic(observed, employees * probabilities)
    if df == 0:  # a single possible grade: nothing can deviate
        return GoodnessOfFit(statistic, df, 1.0, "exact", min_expected)
    if min_expected >= MIN_EXPECTED:
        from scipy.stats import chi2  # see the module docstring

        return GoodnessOfFit(statistic, df, float(chi2.sf(statistic, df)), "chi2", min_expected)
    if math.comb(employees + df, df) <= EXACT_LIMIT:
        return GoodnessOfFit(statistic, df, exact_multinomial_p(observed, probabilities), "exact", min_expected)
    return GoodnessOfFit(statistic, df, monte_carlo_multinomial_p(observed, probabilities), "monte_carlo", min_expected)


def _at_least(statistics: np.ndarray, observed_statistic: float) -> np.ndarray:
    # Outcomes tied with the observed X^2 count as "at least as extreme"; the tolerance absorbs
    # float noise in sums of the same terms taken in another order.
    return statistics >= observed_statistic - 1e-9 * max(1.0, observed_statistic)


@functools.lru_cache(maxsize=64)
def compositions(total: int, parts: int) -> np.ndarray:
    """Every way to write `total` as an ordered sum of `parts` non-negative whole numbers, one per row.

    Stars and bars: choosing the positions of parts - 1 bars among total + parts - 1 slots gives
    each composition once, C(total + parts - 1, parts - 1) of them. Cached (groups of the same
    size recur, one per manager) and read-only.
    """
    slots = total + parts - 1
    count = math.comb(slots, parts - 1)
    bars = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(slots), parts - 1)),
                       dtype=np.int64, count=count * (parts - 1)).reshape(count, parts - 1)
    edges = np.column_stack([np.full(len(bars), -1), bars, np.full(len(bars), slots)])
    counts = np.diff(edges, axis=1) - 1
    counts.flags.writeable = False
    return counts


def exact_multinomial_p(observed: Sequence[int], probabilities: Sequence[float]) -> float:
    """P(X^2 >= observed X^2) under Multinomial(N, probabilities), by enumerating every outcome.

    Each outcome x has probability N! / prod(x_i!) * prod(p_i^x_i), computed in logs.
    """
    observed = np.asarray(observed, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=float)
    employees = int(observed.sum())
    expected = employees * probabilities
    outcomes = compositions(employees, len(observed))
    statistics = (((outcomes - expected) ** 2) / expected).sum(axis=1)
    from scipy.special import gammaln  # see the module docstring

    log_pmf = gammaln(employees + 1) - gammaln(outcomes + 1).sum(axis=1) + (outcomes * np.log(probabilities)).sum(axis=1)
    extreme = _at_least(statistics, chi_square_statistic(observed, expected))
    return float(min(1.0, np.exp(log_pmf[extreme]).sum()))


def monte_carlo_multinomial_p(
    observed: Sequence[int], probabilities: Sequence[float], draws: int = MONTE_CARLO_DRAWS, seed: int = MONTE_CARLO_SEED
) -> float:
    """(1 + #{X^2_sim >= X^2_obs}) / (draws + 1) over `draws` samples of Multinomial(N, probabilities)."""
    observed = np.asarray(observed, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=float)
    employees = int(observed.sum())
    expected = employees * probabilities
    samples = np.random.default_rng(seed).multinomial(employees, probabilities, size=draws)
    statistics = (((samples - expected) ** 2) / expected).sum(axis=1)
    exceed = int(_at_least(statistics, chi_square_statistic(observed, expected)).sum())
    return (1 + exceed) / (draws + 1)


# --- Population stability index -------------------------------------------------------------


def psi(actual_shares: Sequence[float], reference_shares: Sequence[float], floor: float = PSI_FLOOR) -> float:
    """Population stability index: sum over grades of (a_i - r_i) * ln(a_i / r_i).

    Shares below `floor` (0.0001) are raised to it first, without renormalising, so an empty
    grade on one side gives a large but finite term. Every term is >= 0 whatever the floor
    ((a - r) and ln(a / r) share their sign), so PSI >= 0, and PSI = 0 for equal
    distributions. It is the symmetric Kullback-Leibler divergence J (Jeffreys 1946) of the
    two distributions; credit-scoring use and the bands in PSI_BANDS: Siddiqi (2006).
    """
    actual = np.asarray(actual_shares, dtype=float)
    reference = np.asarray(reference_shares, dtype=float)
    if actual.shape != reference.shape:
        raise ValueError(f"PSI needs the same grades on both sides, got {actual.shape} and {reference.shape}")
    return float(_psi_rows(actual[np.newaxis], reference[np.newaxis], floor)[0])


def _psi_rows(actual: np.ndarray, reference: np.ndarray, floor: float = PSI_FLOOR) -> np.ndarray:
    """PSI of each row of `actual` against the same row of `reference` (the formula of `psi`)."""
    actual, reference = np.maximum(actual, floor), np.maximum(reference, floor)
    return ((actual - reference) * np.log(actual / reference)).sum(axis=1)


def psi_threshold(bins: int, employees: int, reference_employees: int | None = None, confidence: float = CONFIDENCE) -> float:
    """The PSI that chance alone exceeds with probability 1 - confidence: chi2_{q, B-1} * (1/N + 1/M).

    Under H0 (both samples drawn from one distribution) N*M/(N+M) * PSI is asymptotically
    chi-square with B-1 degrees of freedom (Yurdakul 2018; Yurdakul & Naranjo 2020), B the
    number of grades, N and M the sample sizes. Against a fixed target distribution M is
    infinite (`reference_employees=None`) and the threshold is chi2_{q, B-1} / N.
    """
    if bins < 2 or employees <= 0 or (reference_employees is not None and reference_employees <= 0):
        raise ValueError("the PSI threshold needs two or more grades and groups of at least one person")
    size_term = 1 / employees + (0 if reference_employees is None else 1 / reference_employees)
    return _chi2_quantile(confidence, bins - 1) * size_term


@functools.cache
def _chi2_quantile(probability: float, df: int) -> float:
    # Cached: drift calls it for every group and cycle with the same two arguments.
    from scipy.stats import chi2  # see the module docstring

    return float(chi2.ppf(probability, df))


def psi_approximation_holds(employees: int, reference_employees: int | None, null_shares: Sequence[float]) -> bool:
    """Whether chi2_{q, B-1} * (1/N + 1/M) can be trusted: every grade with a positive share under H0
    expects at least 5 people on each side (Cochran's rule, as for the deviation test).

    `null_shares` is H0's distribution: the target shares, or for two cycles their pooled shares.
    With fewer people, empty grades (floored at 0.0001) dominate PSI and the chi-square threshold
    raises false alarms for 20-45 % of groups of 5-50 people (docs/methods.md).
    """
    shares_ = np.asarray(null_shares, dtype=float)
    smallest = shares_[shares_ > 0].min()
    people = employees if reference_employees is None else min(employees, reference_employees)
    return bool(people * smallest >= MIN_EXPECTED)


def simulated_psi_threshold(
    counts: Sequence[int], reference_counts: Sequence[int] | None = None, target_shares: Sequence[float] | None = None,
    confidence: float = CONFIDENCE, draws: int = PSI_DRAWS, seed: int = MONTE_CARLO_SEED,
) -> float:
    """The PSI that chance alone exceeds with probability 1 - confidence, by simulation under H0.

    Two cycles (`reference_counts` given): a permutation test. H0 is that the N + M people's
    grades were split between the cycles at random, so each draw deals the pooled grade counts
    into N and M people (multivariate hypergeometric). Against the target (`target_shares`): N
    people drawn from Multinomial(N, target). The threshold is the `confidence` quantile of the
    simulated PSIs (`draws` of them, fixed seed, so the same data give the same answer; the
    next value up where it falls between two). Used where the chi-square threshold cannot be
    trusted (psi_approximation_holds).
    """
    counts = np.asarray(counts, dtype=np.int64)
    employees = int(counts.sum())
    if reference_counts is not None:
        pooled = counts + np.asarray(reference_counts, dtype=np.int64)
        return _permutation_psi_quantile(tuple(int(c) for c in pooled), employees, confidence, draws, seed)
    return _multinomial_psi_quantile(employees, tuple(float(s) for s in target_shares), confidence, draws, seed)


# Both quantiles are cached: grade_drift compares many small groups whose counts recur, and the
# permutation distribution depends only on the pooled counts and how many people are dealt.
@functools.lru_cache(maxsize=4096)
def _permutation_psi_quantile(pooled_counts: tuple, employees: int, confidence: float, draws: int, seed: int) -> float:
    pooled = np.asarray(pooled_counts, dtype=np.int64)
    reference_employees = int(pooled.sum()) - employees
    dealt = np.random.default_rng(seed).multivariate_hypergeometric(pooled, employees, size=draws)
    statistics = _psi_rows(dealt / employees, (pooled - dealt) / reference_employees)
    return float(np.quantile(statistics, confidence, method="higher"))


@functools.lru_cache(maxsize=1024)
def _multinomial_psi_quantile(employees: int, target: tuple, confidence: float, draws: int, seed: int) -> float:
    target_shares = np.asarray(target)
    drawn = np.random.default_rng(seed).multinomial(employees, target_shares, size=draws)
    statistics = _psi_rows(drawn / employees, np.broadcast_to(target_shares, drawn.shape))
    return float(np.quantile(statistics, confidence, method="higher"))


def psi_band(value: float) -> str:
    """`stable` below 0.1, `moderate` from 0.1 below 0.25, `significant` from 0.25 (Siddiqi 2006)."""
    low, high = PSI_BANDS
    return "stable" if value < low else "moderate" if value < high else "significant"
