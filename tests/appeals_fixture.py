"""The tiny company with a third cycle and a set of appeals, answers worked out by hand.

Cycles 2025H1, 2025H2 (as in tests/tiny_company.py) and 2026H1 (E1-E5 employed, E1-E4
graded, no appeals that count). Grades of record (final, else proposed) and who proposed them:

  2025H1  E1 B (nobody)   E2 A (E1)   E3 B (E1)                               graded 3
  2025H2  E1 B (nobody)   E2 B (E1)   E3 D (E1)   E4 A (E1)   E5 B (E4)       graded 5
  2026H1  E1 B (nobody)   E2 B (E1)   E3 C (E1)   E4 A (E1)   E5 not graded  graded 4

Departments and regions: E1, E2 Sales/East; E3 Sales/North; E4, E5 R&D/East.

Appeals that count (graded employee of a dataset cycle):

  id    cycle   who  reason                 status            filed       resolved    days  grades
  AP0   2025H1  E3   unclear_criteria       rejected          2025-07-10  2025-07-14     4  B -> B
  BAD3  2025H1  E2   wrong_data             rejected          2025-07-20  2025-07-15   bad  A -> A
  BAD4  2025H1  E2   rater_bias             upheld            2025-07-12  (none)       bad  A -> S
  AP1   2025H2  E3   rater_bias             upheld            2026-01-10  2026-01-20    10  D -> C
  AP2   2025H2  E2   calibration_downgrade  open              2026-01-12  (none)        -   B
  AP3   2025H2  E4   unclear_criteria       withdrawn         2026-01-05  2026-01-08     3  A
  AP4   2025H2  E5   wrong_data             partially_upheld  2026-01-06  2026-01-26    20  B -> A

Appeals left out of everything: BAD1 (cycle 2024H2 unknown), BAD2 (E9 is no employee; its
2026-03-01 filing date must not become the default as-of date), BAD5 (E5 not graded in 2026H1).

Worked answers:
  2025H1: 3 appeals / 3 graded = 100 per 100; resolved 3 (two rejected, one upheld), upheld
          share 1/3; raised 1 (BAD4 A -> S); timed only AP0: median = p90 = 4 days.
  2025H2: 4 appeals / 5 graded = 80 per 100; open 1; resolved 3 (upheld, withdrawn, partial),
          upheld share 2/3; raised 2 (AP1, AP4). Days 3, 10, 20: median 10; p90 with linear
          interpolation at rank 0.9 * (3 - 1) = 1.8 -> 10 + 0.8 * (20 - 10) = 18.
  2026H1: 0 appeals / 4 graded = 0 (shown, not dropped).
  2025H2 by department: Sales 2 / 3 = 66.67, R&D 2 / 2 = 100; by region: East 3 / 4 = 75,
          North 1 / 1 = 100; by grade: A 1/1, B 2/3, D 1/1, S and C nobody graded (rate NULL).
  2025H2 by rater: E1 graded 3 (E2, E3, E4), appeals 3, upheld 1, resolved 2 (AP1, AP3), share
          1/2; E4 graded 1 (E5), appeals 1, partially upheld 1, share 1.
  Open appeals: default as-of 2026-01-26 (AP4's resolution, the latest sane date): AP2 only,
          age 14, not overdue (target 15). On 2026-01-15: AP4 (age 9), AP1 (5), AP2 (3).
"""

from __future__ import annotations

import datetime as dt

from tests.tiny_company import _employee, _grade, tiny_company_tables

D = dt.date


def _appeal(appeal_id, cycle, who, reason, status, filed, resolved, before, after):
    return dict(appeal_id=appeal_id, cycle_id=cycle, employee_id=who, filed_on=filed, reason=reason,
                status=status, resolved_on=resolved, grade_before=before, grade_after=after)


def appeals_company_tables() -> dict[str, list[dict]]:
    tables = tiny_company_tables()
    h3 = "2026H1"
    tables["cycles"].append(dict(cycle_id=h3, name="2026 H1", start_date=D(2026, 1, 1), end_date=D(2026, 6, 30)))
    tables["employees"] += [
        _employee(h3, "E1", "Wang Wei", "T1", None, "East", "M2"),
        _employee(h3, "E2", "Li Na", "T1", "E1", "East"),
        _employee(h3, "E3", "Zhang Min", "T2", "E1", "North"),
        _employee(h3, "E4", "Liu Yang", "T3", "E1", "East", "M1"),
        _employee(h3, "E5", "Chen Jie", "T3", "E4", "East"),
    ]
    tables["grades"] += [
        _grade(h3, "E1", "B", "B", by=None),
        _grade(h3, "E2", "B", "B"),
        _grade(h3, "E3", "C", "C"),
        _grade(h3, "E4", "A", "A"),
    ]
    h1, h2 = "2025H1", "2025H2"
    tables["appeals"] = [
        _appeal("AP0", h1, "E3", "unclear_criteria", "rejected", D(2025, 7, 10), D(2025, 7, 14), "B", "B"),
        _appeal("BAD3", h1, "E2", "wrong_data", "rejected", D(2025, 7, 20), D(2025, 7, 15), "A", "A"),
        _appeal("BAD4", h1, "E2", "rater_bias", "upheld", D(2025, 7, 12), None, "A", "S"),
        _appeal("AP1", h2, "E3", "rater_bias", "upheld", D(2026, 1, 10), D(2026, 1, 20), "D", "C"),
        _appeal("AP2", h2, "E2", "calibration_downgrade", "open", D(2026, 1, 12), None, "B", None),
        _appeal("AP3", h2, "E4", "unclear_criteria", "withdrawn", D(2026, 1, 5), D(2026, 1, 8), "A", None),
        _appeal("AP4", h2, "E5", "wrong_data", "partially_upheld", D(2026, 1, 6), D(2026, 1, 26), "B", "A"),
        _appeal("BAD1", "2024H2", "E2", "other", "rejected", D(2025, 1, 10), D(2025, 1, 12), "B", "B"),
        _appeal("BAD2", h2, "E9", "other", "open", D(2026, 3, 1), None, "B", None),
        _appeal("BAD5", h3, "E5", "other", "open", D(2026, 7, 10), None, "B", None),
    ]
    return tables
