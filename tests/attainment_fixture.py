"""The tiny company with the bad input the Attainment page must survive, answers worked out by hand.

Built from tests/tiny_company.py (its 2025H2 answers hold for the rows not changed here). Changes
and additions, all in 2025H2 (cap 1.5):

  G-E5a  target 3 -> 0, plus an actual 2 on 12-31       -> target not positive: no attainment
  G-E4b  weight 0.7 -> -0.2, plus an actual 4 on 12-31  -> attainment 1.00, weight out of range:
                                                           left out of E4's attainment
  G-E4c  E4 w0.2  parent G-NOPE (missing)  target 10, actual 5  -> 0.50, unlinked root
  G-E5b  E5 w0.5  parent H1-E2 (2025H1)    target 4,  actual 2 on 11-30 -> 0.50, unlinked root
  G-T2   team T2 w1.0 parent G-D1          target 20, actual 24 -> 1.20
  G-E3c  E3 w0.2  parent G-T2              target 10, actual 5  -> 0.50
  G-E3a  an extra actual 100 dated 2025-06-15 (before the cycle): ignored, still 15/20 = 0.75

Employees at the cycle end:
  E2 = 1.15 (unchanged)
  E3 = (0.6*0.75 + 0.4*0 + 0.2*0.5) / 1.2 = 0.55 / 1.2 = 0.458333   weights sum 1.2
  E4 = (0.3*1.0 + 0.2*0.5) / 0.5 = 0.80 (G-E4b's weight -0.2 left out)  weights sum 0.3
  E5 = 0.50 (G-E5a has no attainment)                                  weights sum 1.5
  Sales (D1): E1, E2, E3 -> 3 employees, (1.15 + 0.458333) / 2 = 0.804167
  R&D (D2):   E4, E5     -> 2 employees, (0.8 + 0.5) / 2 = 0.65
  East: E1, E2, E4, E5 -> (1.15 + 0.8 + 0.5) / 3 = 0.816667; North: E3 -> 0.458333
  Company mean: (1.15 + 0.458333 + 0.8 + 0.5) / 4 = 0.727083
As of 2025-09-30 only E2 has an attainment (0.95): G-E3a's 06-15 actual is outside the cycle.
As of 2025-11-30 E5 joins with 0.50.

Cascade: G-D1's children G-E2a (0.5, 1.5), G-E2b (0.5, 0.8), G-E3a (0.6, 0.75), G-T2 (1.0, 1.2)
  -> (0.75 + 0.4 + 0.45 + 1.2) / 2.6 = 1.076923; G-T2 own 1.20 (on track) with children 0.50 (off
  track): masks a shortfall. G-CO's child G-D1 -> 1.20.
Goals with attainment: 12 of 13; on track (>= 1): G-D1, G-T2, G-E2a, G-E4a, G-E4b = 5; at risk:
  G-CO, G-E2b = 2; off track: G-E3a, G-E3b, G-E3c, G-E4c, G-E5b = 5.
Data quality: target_not_positive G-E5a; weight_out_of_range G-E4b; weights_not_one E3 (1.2),
  E4 (0.3), E5 (1.5); parent_missing G-E4c; parent_other_cycle G-E5b; actual_outside_cycle G-E3a
  (2025-06-15), G-E4b (2026-01-15).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.tiny_company import tiny_company_tables, write_dataset

D = dt.date
H2 = "2025H2"


def _goal(goal_id: str, parent: str | None, owner_type: str, owner: str, kpi: str, target: float, weight: float) -> dict:
    return dict(cycle_id=H2, goal_id=goal_id, parent_goal_id=parent, owner_type=owner_type, owner_id=owner,
                title=f"{kpi} goal", kpi=kpi, strategy_theme=None, direction="higher_better", target=target, weight=weight)


def attainment_tables() -> dict[str, list[dict]]:
    """The tiny company plus the bad input described in the module docstring."""
    tables = tiny_company_tables()
    for goal in tables["goals"]:
        if goal["goal_id"] == "G-E5a":
            goal["target"] = 0.0
        if goal["goal_id"] == "G-E4b":
            goal["weight"] = -0.2
    tables["goals"] += [
        _goal("G-E4c", "G-NOPE", "employee", "E4", "patents", 10, 0.2),
        _goal("G-E5b", "H1-E2", "employee", "E5", "fixes", 4, 0.5),
        _goal("G-T2", "G-D1", "team", "T2", "visits", 20, 1.0),
        _goal("G-E3c", "G-T2", "employee", "E3", "visits", 10, 0.2),
    ]
    tables["kpi_actuals"] += [
        dict(goal_id="G-E5a", as_of=D(2025, 12, 31), actual=2.0),
        dict(goal_id="G-E4b", as_of=D(2025, 12, 31), actual=4.0),
        dict(goal_id="G-E4c", as_of=D(2025, 12, 31), actual=5.0),
        dict(goal_id="G-E5b", as_of=D(2025, 11, 30), actual=2.0),
        dict(goal_id="G-T2", as_of=D(2025, 12, 31), actual=24.0),
        dict(goal_id="G-E3c", as_of=D(2025, 12, 31), actual=5.0),
        dict(goal_id="G-E3a", as_of=D(2025, 6, 15), actual=100.0),
    ]
    return tables


def write_attainment_dataset(folder: Path, min_group_size: int | None = None) -> Path:
    """The fixture as a dataset folder; `min_group_size` writes a policy.toml that sets it."""
    write_dataset(folder, attainment_tables())
    if min_group_size is not None:
        (folder / "policy.toml").write_text(f"[privacy]\nmin_group_size = {min_group_size}\n", encoding="utf-8")
    return folder
