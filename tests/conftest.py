from __future__ import annotations

import pytest

from gradelens.dataset import Dataset, open_dataset
from tests.tiny_company import tiny_company_tables, write_dataset


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """The tiny company as a dataset folder (read-only: tests that change data write their own)."""
    return write_dataset(tmp_path_factory.mktemp("tiny"), tiny_company_tables())


@pytest.fixture(scope="session")
def tiny(tiny_dir) -> Dataset:
    return open_dataset(tiny_dir)


@pytest.fixture(autouse=True)
def strict_messages(monkeypatch):
    """A text missing from the message catalog fails the test instead of showing its key."""
    monkeypatch.setenv("GRADELENS_I18N_STRICT", "1")
