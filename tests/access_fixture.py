"""The tiny company with an access file and min_group_size 3.

2025H2: D1 Sales = E1, E2, E3 (3 people, teams T1 East: E1 E2, T2 North: E3);
D2 R&D = E4, E5 (2 people, team T3 East). With min_group_size 3 a D2 aggregate is a small
group; hiding it alone would let anyone subtract D1 from the company total (5), so D1 is
hidden too (complementary).
"""

from __future__ import annotations

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
    "admin": Viewer("admin@tiny.co", "admin"),
}

# Anything that identifies R&D (D2) or its people; a Sales HRBP must never see these.
RD_VALUES = {"D2", "R&D", "R&D Core", "T3", "E4", "E5", "Liu Yang", "Chen Jie"}

# Values for required parameters, as in tests/test_query_layer.py.
REQUIRED_EXAMPLES = {"rater_id": "E1"}


def write_access_company(folder: Path, min_group_size: int = 3) -> Path:
    write_dataset(folder, tiny_company_tables())
    (folder / "policy.toml").write_text(f"[privacy]\nmin_group_size = {min_group_size}\n", encoding="utf-8")
    (folder / "access.toml").write_text(ACCESS_TOML, encoding="utf-8")
    return folder
