"""The tiny company plus a 100-person Marketing department, with grade answers worked out by hand.

Marketing (D3, team T4 "Marketing Core", region South): M001 (job level M1, reports to E1)
leads M002-M100, who all report to M001. M002-M011 are job level P6, M012-M100 P4. Same people
in 2025H1 and 2025H2.

2025H1, proposed = final, exactly the guideline: S 5, A 20, B 60, C 10, D 5.

2025H2, proposed -> final (people):
    S->S 6, S->A 4, A->S 2, A->A 23, A->B 5, B->B 50, C->C 10
  proposed S 10, A 30, B 50, C 10, D 0
  final    S  8, A 27, B 55, C 10, D 0
  moved up 2, moved down 9, unchanged 89, net steps -7.
  chi-square of final vs the guideline (E = 5, 20, 60, 10, 5):
    3^2/5 + 7^2/20 + 5^2/60 + 0 + 5^2/5 = 1.8 + 2.45 + 0.41667 + 0 + 5 = 9.66667, df 4
  PSI of final 2025H2 against 2025H1 (= the guideline), D floored to 0.0001:
    0.03 ln(8/5) + 0.07 ln(27/20) - 0.05 ln(55/60) + 0 + (0.0001 - 0.05) ln(0.0001/0.05) = 0.34958
  threshold chi2_{0.95,4} (1/100 + 1/100) = 9.48773 x 0.02 = 0.18975; against the guideline 0.09488.

Job level P6 (M002-M011), final 2025H2: S 5 (M002, M005, M009-M011), A 1 (M008), B 2 (M004,
M006), C 2 (M003, M007), D 0: expected 0.5, 2, 6, 1, 0.5, so the exact test applies.

Attainment 2025H2 (one goal each, target 100) against the default bands (S >= 1.25, A >= 1.10,
B >= 0.95, C >= 0.70, else D), gap = expected rank - final rank:
  M002 0.50 -> D, final S: +4     M003 1.40 -> S, final C: -3     M004 1.25 -> S, final B: -2
  M005 0.70 -> C, final S: +3     M006 0.69 -> D, final B: +2     M007 1.10 -> A, final C: -2
  M008 1.00 -> B, final A: +1 (not listed)   E2 1.15 -> A, final B: -1 (not listed)
"""

from __future__ import annotations

import datetime as dt

from tests.tiny_company import tiny_company_tables

D = dt.date
H1, H2 = "2025H1", "2025H2"
MARKETING = [f"M{i:03d}" for i in range(1, 101)]

# 2025H2 (proposed, final) for M002..M100; the first seven are the attainment cases above.
# M001 has the 50th B->B.
_H2_PAIRS_FIRST = [("S", "S"), ("C", "C"), ("B", "B"), ("A", "S"), ("A", "B"), ("C", "C"), ("A", "A")]
_H2_PAIRS_REST = (
    [("S", "S")] * 5 + [("S", "A")] * 4 + [("A", "S")] * 1 + [("A", "A")] * 22 + [("A", "B")] * 4
    + [("B", "B")] * 48 + [("C", "C")] * 8
)
ATTAINMENT = {"M002": 0.50, "M003": 1.40, "M004": 1.25, "M005": 0.70, "M006": 0.69, "M007": 1.10, "M008": 1.00}


def marketing_grades(cycle: str) -> dict[str, tuple[str, str]]:
    """Employee id -> (proposed, final) for the 100 Marketing people in a cycle."""
    if cycle == H1:
        reports = ["S"] * 5 + ["A"] * 20 + ["B"] * 59 + ["C"] * 10 + ["D"] * 5
        return {"M001": ("B", "B"), **{e: (g, g) for e, g in zip(MARKETING[1:], reports, strict=True)}}
    return {"M001": ("B", "B"), **dict(zip(MARKETING[1:], _H2_PAIRS_FIRST + _H2_PAIRS_REST, strict=True))}


def grades_company_tables() -> dict[str, list[dict]]:
    tables = tiny_company_tables()
    tables["org_units"] += [
        dict(unit_id="D3", parent_unit_id="CO", name="Marketing", unit_type="department", region=None),
        dict(unit_id="T4", parent_unit_id="D3", name="Marketing Core", unit_type="team", region="South"),
    ]
    for cycle in (H1, H2):
        for i, employee_id in enumerate(MARKETING):
            level = "M1" if i == 0 else "P6" if i <= 10 else "P4"
            tables["employees"].append(dict(
                cycle_id=cycle, employee_id=employee_id, name=f"Marketer {i + 1}", unit_id="T4",
                manager_id="E1" if i == 0 else "M001", region="South", job_level=level, hire_date=D(2021, 3, 1)))
        for employee_id, (proposed, final) in marketing_grades(cycle).items():
            tables["grades"].append(dict(cycle_id=cycle, employee_id=employee_id, proposed_by="M001", overall_score=3.0,
                                         proposed_grade=proposed, final_grade=final))
    for employee_id, attainment in ATTAINMENT.items():
        goal_id = f"G-{employee_id}"
        tables["goals"].append(dict(cycle_id=H2, goal_id=goal_id, parent_goal_id=None, owner_type="employee",
                                    owner_id=employee_id, title="leads goal", kpi="qualified leads", strategy_theme=None,
                                    direction="higher_better", target=100.0, weight=1.0))
        tables["kpi_actuals"].append(dict(goal_id=goal_id, as_of=D(2025, 12, 31), actual=attainment * 100))
    return tables
