"""Data for the leniency tests: simulated crossed designs with planted raters, and a small
company built on the tiny one whose leniency answers are worked out by hand.

`simulate_pairs` draws one score per (rater, ratee) pair from the model the estimator fits,
score = mu + beta * attainment + u_rater + v_ratee + e, so its truth is known.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tests.tiny_company import tiny_company_tables


@dataclass(frozen=True)
class Simulated:
    pairs: pd.DataFrame
    rater_effect: dict[str, float]
    ratee_effect: dict[str, float]
    lenient: tuple[str, ...]
    severe: tuple[str, ...]


def simulate_pairs(
    n_raters: int = 30,
    n_ratees: int = 120,
    raters_per_ratee: int | tuple[int, int] = 3,
    mu: float = 3.0,
    beta: float = 1.2,
    rater_sd: float = 0.2,
    ratee_sd: float = 0.3,
    residual_sd: float = 0.3,
    planted: dict[int, float] | None = None,
    with_attainment: bool = True,
    seed: int = 0,
) -> Simulated:
    """Each ratee is scored by `raters_per_ratee` distinct raters drawn at random (or a
    number drawn uniformly from an inclusive range). `planted` maps rater index -> the
    effect that replaces its random one."""
    rng = np.random.default_rng(seed)
    low, high = (raters_per_ratee, raters_per_ratee) if isinstance(raters_per_ratee, int) else raters_per_ratee
    counts = rng.integers(low, high + 1, n_ratees)
    ratee = np.repeat(np.arange(n_ratees), counts)
    # Distinct raters per ratee: the first `count` of a random permutation, vectorised by ranking random keys.
    keys = rng.random((n_ratees, n_raters))
    ranks = np.argsort(keys, axis=1)
    rater = ranks[ratee, np.concatenate([np.arange(c) for c in counts])]
    u = rng.normal(0.0, rater_sd, n_raters)
    for index, effect in (planted or {}).items():
        u[index] = effect
    v = rng.normal(0.0, ratee_sd, n_ratees)
    attainment = np.clip(rng.normal(1.0, 0.25, n_ratees), 0.0, 1.5)
    score = mu + (beta * attainment[ratee] if with_attainment else 0.0) + u[rater] + v[ratee] + rng.normal(0.0, residual_sd, len(ratee))
    rater_ids = np.array([f"R{i:05d}" for i in range(n_raters)])
    ratee_ids = np.array([f"E{j:06d}" for j in range(n_ratees)])
    pairs = pd.DataFrame({
        "rater_id": rater_ids[rater],
        "ratee_id": ratee_ids[ratee],
        "rater_role": "peer",
        "score": score,
        "attainment": attainment[ratee] if with_attainment else np.nan,
    })
    planted = planted or {}
    return Simulated(
        pairs=pairs,
        rater_effect=dict(zip(rater_ids, u)),
        ratee_effect=dict(zip(ratee_ids, v)),
        lenient=tuple(rater_ids[i] for i, e in planted.items() if e > 0),
        severe=tuple(rater_ids[i] for i, e in planted.items() if e < 0),
    )


def simulate_teams(
    teams: int = 200,
    team_size: int = 8,
    peers: int = 2,
    rater_sd: float = 0.08,
    ratee_sd: float = 0.25,
    residual_sd: float = 0.2,
    planted: dict[int, float] | None = None,
    seed: int = 0,
) -> Simulated:
    """A company of teams: each member is rated by the team's manager and by `peers` team
    mates (the realistic 360 design: raters share ratees only inside a team). Rater ids
    M##### are managers, P###### members rating as peers; `planted` keys are team indexes
    whose manager gets that effect."""
    rng = np.random.default_rng(seed)
    members = teams * team_size
    team = np.repeat(np.arange(teams), team_size)
    position = np.tile(np.arange(team_size), teams)
    manager_effect = rng.normal(0.0, rater_sd, teams)
    for index, effect in (planted or {}).items():
        manager_effect[index] = effect
    peer_effect = rng.normal(0.0, rater_sd, members)
    v = rng.normal(0.0, ratee_sd, members)
    attainment = np.clip(rng.normal(1.0, 0.25, members), 0.0, 1.5)
    ratee_parts = [np.arange(members)]
    rater_parts = [np.array([f"M{t:05d}" for t in team])]
    role_parts = [np.full(members, "manager")]
    effect_parts = [manager_effect[team]]
    for k in range(1, peers + 1):
        mate = team * team_size + (position + k) % team_size
        ratee_parts.append(np.arange(members))
        rater_parts.append(np.array([f"P{m:06d}" for m in mate]))
        role_parts.append(np.full(members, "peer"))
        effect_parts.append(peer_effect[mate] + 0.1)
    ratee = np.concatenate(ratee_parts)
    score = 3.0 + 1.2 * attainment[ratee] + np.concatenate(effect_parts) + v[ratee] + rng.normal(0.0, residual_sd, len(ratee))
    pairs = pd.DataFrame({
        "rater_id": np.concatenate(rater_parts),
        "ratee_id": np.array([f"E{j:06d}" for j in ratee]),
        "rater_role": np.concatenate(role_parts),
        "score": score,
        "attainment": attainment[ratee],
    })
    rater_effect = {f"M{t:05d}": e for t, e in enumerate(manager_effect)} | {f"P{m:06d}": e for m, e in enumerate(peer_effect)}
    planted = planted or {}
    return Simulated(
        pairs=pairs,
        rater_effect=rater_effect,
        ratee_effect={f"E{j:06d}": e for j, e in enumerate(v)},
        lenient=tuple(f"M{t:05d}" for t, e in planted.items() if e > 0),
        severe=tuple(f"M{t:05d}" for t, e in planted.items() if e < 0),
    )


def leniency_company_tables() -> dict[str, list[dict]]:
    """The tiny company with 2025H1 ratings added and a second manager team in 2025H2.

    2025H2 manager pairs (dimension weights 0.6 / 0.3 / 0.1):
      E1 -> E2 (4, 3, 5) = 2.4 + 0.9 + 0.5 = 3.8     E2 attainment 1.15
      E1 -> E3 (2, 3, 3) = 1.2 + 0.9 + 0.3 = 2.4     E3 attainment 0.45
      E1 -> E4 (4, 4, 4) = 4.0                        E4 attainment 1.00 (added)
      E4 -> E5 (3, 3, 4) = 1.8 + 0.9 + 0.4 = 3.1     E5 has no attainment
    Self ratings: E2 (5, 5, 5) = 5.0 (gap 5.0 - 3.8 = 1.2), E3 (3, 3, 3) = 3.0 (gap 0.6, added).
    Peer: E2 -> E3 (3, 3, 3) = 3.0 (added). Only results scored: E4 -> E5 is complete.
    2025H1: E1 -> E2 (3, 3, 3) = 3.0 and E1 -> E3 (4, 4, 4) = 4.0 (added).
    """
    tables = copy.deepcopy(tiny_company_tables())
    extra = [
        ("2025H2", "E4", "E1", "manager", (4, 4, 4)),
        ("2025H2", "E3", "E3", "self", (3, 3, 3)),
        ("2025H2", "E3", "E2", "peer", (3, 3, 3)),
        ("2025H1", "E2", "E1", "manager", (3, 3, 3)),
        ("2025H1", "E3", "E1", "manager", (4, 4, 4)),
    ]
    for cycle, ratee, rater, role, scores in extra:
        for dimension, score in zip(("results", "competency", "attitude"), scores):
            tables["ratings"].append(dict(cycle_id=cycle, ratee_id=ratee, rater_id=rater, rater_role=role,
                                          dimension=dimension, score=float(score)))
    return tables


def three_managers_tables() -> dict[str, list[dict]]:
    """One cycle (2026H1), three managers with two reports each, no goals (so no KPI data).

    Every dimension gets the same score, so each pair's weighted score is that score:
      M1 (Sales, T1 East):  A1 4, A2 5   mean 4.5
      M2 (Sales, T2 North): B1 1, B2 2   mean 1.5
      M3 (R&D,  T3 East):   C1 2, C2 4   mean 3.0
    Each ratee has one rater, so this is the balanced one-way model, whose ML estimates are
    closed-form (Searle, Casella & McCulloch 1992, ch. 3): grand mean 3; within sum of
    squares 0.5 + 0.5 + 2 = 3, s2_e = 3 / (3 * 1) = 1; between sum of squares
    2 * (1.5^2 + 1.5^2 + 0) = 9, s2_u = (9 / 3 - 1) / 2 = 1. Shrinkage n s2_u / (n s2_u + s2_e)
    = 2/3, so the effects are 2/3 * (+1.5, -1.5, 0) = (+1, -1, 0). Prediction-error
    variance with mu estimated: s2_e times the rater diagonal of the inverse of the
    mixed-model matrix [[6, 2 2 2], [2, 3 0 0], [2, 0 3 0], [2, 0 0 3]], which is
    (3I - 4/6 J)^-1 = 1/3 (I + 2/3 J): 5/9 on the diagonal; se = sqrt(5)/3.
    Self ratings: A1 5, A2 5, B1 3, B2 2, C1 2, C2 5 -> gaps 1, 0, 2, 0 (Sales, mean 0.75)
    and 0, 1 (R&D, mean 0.5); self scores Sales 3.75, R&D 3.5; manager Sales 3.0, R&D 3.0.
    Grades (proposed/final): A1 A/A, A2 S/A, B1 C/C, B2 D/C, C1 B/B, C2 A/B.
    """
    import datetime as dt

    cycle = "2026H1"
    units = [
        dict(unit_id="CO", parent_unit_id=None, name="Three Co", unit_type="company", region=None),
        dict(unit_id="D1", parent_unit_id="CO", name="Sales", unit_type="department", region=None),
        dict(unit_id="D2", parent_unit_id="CO", name="R&D", unit_type="department", region=None),
        dict(unit_id="T1", parent_unit_id="D1", name="Sales East", unit_type="team", region="East"),
        dict(unit_id="T2", parent_unit_id="D1", name="Sales North", unit_type="team", region="North"),
        dict(unit_id="T3", parent_unit_id="D2", name="R&D Core", unit_type="team", region="East"),
    ]
    people = [  # id, name, unit, manager, region
        ("M1", "Wang Wei", "T1", None, "East"), ("M2", "Li Na", "T2", None, "North"), ("M3", "Zhang Min", "T3", None, "East"),
        ("A1", "Liu Yang", "T1", "M1", "East"), ("A2", "Chen Jie", "T1", "M1", "East"),
        ("B1", "Yang Fan", "T2", "M2", "North"), ("B2", "Zhao Lei", "T2", "M2", "North"),
        ("C1", "Huang Li", "T3", "M3", "East"), ("C2", "Zhou Tao", "T3", "M3", "East"),
    ]
    employees = [dict(cycle_id=cycle, employee_id=e, name=n, unit_id=u, manager_id=m, region=r, job_level="P5",
                      hire_date=dt.date(2020, 1, 1)) for e, n, u, m, r in people]
    ratings = []
    manager_scores = {"A1": 4, "A2": 5, "B1": 1, "B2": 2, "C1": 2, "C2": 4}
    self_scores = {"A1": 5, "A2": 5, "B1": 3, "B2": 2, "C1": 2, "C2": 5}
    managers = {e: m for e, _, _, m, _ in people}
    for ratee, score in manager_scores.items():
        for dimension in ("results", "competency", "attitude"):
            ratings.append(dict(cycle_id=cycle, ratee_id=ratee, rater_id=managers[ratee], rater_role="manager",
                                dimension=dimension, score=float(score)))
            ratings.append(dict(cycle_id=cycle, ratee_id=ratee, rater_id=ratee, rater_role="self",
                                dimension=dimension, score=float(self_scores[ratee])))
    grades = [dict(cycle_id=cycle, employee_id=e, proposed_by=managers[e], overall_score=None, proposed_grade=p, final_grade=f)
              for e, p, f in [("A1", "A", "A"), ("A2", "S", "A"), ("B1", "C", "C"), ("B2", "D", "C"), ("C1", "B", "B"), ("C2", "A", "B")]]
    return {
        "cycles": [dict(cycle_id=cycle, name="2026 H1", start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 6, 30))],
        "org_units": units,
        "employees": employees,
        "ratings": ratings,
        "grades": grades,
    }


def contract_tables_from_pairs(pairs: pd.DataFrame, cycle: str = "2026H1") -> dict[str, list[dict]]:
    """A dataset holding simulated pairs as ratings (every dimension gets the pair's score)
    and the ratee's attainment as one goal with target 100 and actual 100 * attainment.
    Raters and ratees become employees of one department."""
    import datetime as dt

    people = sorted(set(pairs["rater_id"]) | set(pairs["ratee_id"]))
    ratings = [
        dict(cycle_id=cycle, ratee_id=row.ratee_id, rater_id=row.rater_id, rater_role=row.rater_role, dimension=d, score=float(row.score))
        for row in pairs.itertuples() for d in ("results", "competency", "attitude")
    ]
    attainment = pairs.drop_duplicates("ratee_id").set_index("ratee_id")["attainment"]
    goals = [dict(cycle_id=cycle, goal_id=f"G-{e}", parent_goal_id=None, owner_type="employee", owner_id=e, title="goal",
                  kpi="output", strategy_theme=None, direction="higher_better", target=100.0, weight=1.0) for e in attainment.index]
    actuals = [dict(goal_id=f"G-{e}", as_of=dt.date(2026, 6, 30), actual=float(100.0 * a)) for e, a in attainment.items()]
    return {
        "cycles": [dict(cycle_id=cycle, name=cycle, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 6, 30))],
        "org_units": [dict(unit_id="CO", parent_unit_id=None, name="Sim Co", unit_type="company", region=None),
                      dict(unit_id="D1", parent_unit_id="CO", name="Operations", unit_type="department", region=None)],
        "employees": [dict(cycle_id=cycle, employee_id=e, name=f"Person {e}", unit_id="D1", manager_id=None, region="East",
                           job_level="P5", hire_date=dt.date(2020, 1, 1)) for e in people],
        "goals": goals,
        "kpi_actuals": actuals,
        "ratings": ratings,
    }
