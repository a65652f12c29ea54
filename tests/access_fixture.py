"""The tiny company with an access file and min_group_size 3.

2025H2: D1 Sales = E1, E2, E3 (3 people, teams T1 East: E1 E2, T2 North: E3);
D2 R&D = E4, E5 (2 people, team T3 East). With min_group_size 3 a D2 aggregate is a small
group; hiding it alone would let anyone subtract D1 from the company total (5), so D1 is
hidden too (complementary).

Added across departments (2025H2): the Sales manager E1 rates R&D's E4 (manager; E1 also
proposed E4's grade in the tiny company) and R&D's E4 rates Sales's E2 as a peer; E4 files an
open appeal (AP3) against E1's proposal. Department scope (docs/access-control.md): a row
naming people shows only when every person it names is in scope, so a Sales HRBP never sees
the pair E1 -> E4 or E4 -> E2, nor E4 in the rater lists, and an R&D HRBP never sees E1.
Manager pairs then: E1->E2, E1->E3, E1->E4, E4->E5 (Sales-only: the first two; R&D-only: E4->E5).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gradelens.access import Viewer
from tests.tiny_company import tiny_company_tables, write_dataset

ACCESS_TOML = """
[viewers."exec@tiny.co"]
role = "executive"

[viewers."pm@tiny.co"]
role = "performance_manager"

[viewers."sales-hr@tiny.co"]
role = "hrbp"
departments = ["D1"]

[viewers."rd-hr@tiny.co"]
role = "hrbp"
departments = ["D2"]

[viewers."admin@tiny.co"]
role = "admin"
"""

VIEWERS = {
    "executive": Viewer("exec@tiny.co", "executive"),
    "performance_manager": Viewer("pm@tiny.co", "performance_manager"),
    "hrbp_sales": Viewer("sales-hr@tiny.co", "hrbp", ("D1",)),
    "hrbp_rnd": Viewer("rd-hr@tiny.co", "hrbp", ("D2",)),
    "admin": Viewer("admin@tiny.co", "admin"),
}

# Anything that identifies R&D (D2) or its people; a Sales HRBP must never see these.
RD_VALUES = {"D2", "R&D", "R&D Core", "T3", "E4", "E5", "Liu Yang", "Chen Jie"}
# Likewise what an R&D HRBP must never see of Sales.
SALES_VALUES = {"D1", "Sales", "Sales East", "Sales North", "T1", "T2", "E1", "E2", "E3", "Wang Wei", "Li Na", "Zhang Min"}

# Values for required parameters, as in tests/test_query_layer.py.
REQUIRED_EXAMPLES = {"rater_id": "E1"}


def access_company_tables() -> dict[str, list[dict]]:
    tables = tiny_company_tables()
    for ratee, rater, role, scores in [("E4", "E1", "manager", (4, 4, 3)), ("E2", "E4", "peer", (2, 3, 2))]:
        for dimension, score in zip(("results", "competency", "attitude"), scores):
            tables["ratings"].append(dict(cycle_id="2025H2", ratee_id=ratee, rater_id=rater, rater_role=role,
                                          dimension=dimension, score=float(score)))
    tables["appeals"].append(dict(appeal_id="AP3", cycle_id="2025H2", employee_id="E4", filed_on=dt.date(2026, 1, 11),
                                  reason="rater_bias", status="open", resolved_on=None, grade_before="A", grade_after=None))
    return tables


def write_access_company(folder: Path, min_group_size: int = 3) -> Path:
    write_dataset(folder, access_company_tables())
    (folder / "policy.toml").write_text(f"[privacy]\nmin_group_size = {min_group_size}\n", encoding="utf-8")
    (folder / "access.toml").write_text(ACCESS_TOML, encoding="utf-8")
    return folder
