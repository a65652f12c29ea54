"""The docs keep up with the code: every table, column and named query is documented."""

from pathlib import Path

import pytest

from gradelens.contract import TABLES
from gradelens.queries import all_queries

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("table", TABLES.values(), ids=list(TABLES))
def test_the_data_contract_documents_every_table_and_column(table):
    text = (ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    assert f"`{table.name}`" in text
    for column in table.columns:
        assert f"`{column.name}`" in text, f"{table.name}.{column.name} is not in docs/data-contract.md"


def test_the_readme_names_every_named_query():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in all_queries() if f"`{name}`" not in readme]
    assert not missing, f"README.md does not list the named queries {missing}"
