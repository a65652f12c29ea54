"""Mappings and cell conversion: the shipped examples are valid, a bad mapping is one clear
line, and dates, numbers and cycle ids convert without loss (property tests)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradelens.contract import TABLES
from gradelens.importing.convert import parse_dates, parse_numbers, partition_safe
from gradelens.importing.mapping import EXAMPLES_DIR, MappingError, example_mappings, load_mapping, parse_mapping

ROOT = Path(__file__).resolve().parent.parent


def test_every_example_mapping_loads_and_one_has_chinese_headers():
    examples = example_mappings()
    assert {"contract", "hris-zh", "grades-only-en"} <= set(examples)
    mappings = {name: load_mapping(path) for name, path in examples.items()}
    assert set(mappings["hris-zh"].tables) == set(TABLES)
    assert mappings["hris-zh"].tables["employees"].columns["employee_id"] == ("员工编号", "工号")
    assert mappings["hris-zh"].grades == {"优秀": "S", "良好": "A", "合格": "B", "待改进": "C", "不合格": "D"}
    assert mappings["hris-zh"].tables["ratings"].values["rater_role"]["上级"] == "manager"


@pytest.mark.parametrize("text, message", [
    ("[tables.staff]", "[tables.staff] is not a table of the contract"),
    ("[tables.ratings.columns]\nscroe = 'x'", "names 'scroe', which is not a column of ratings"),
    ("[tables.ratings.values.rater_role]\n'老板' = 'boss'", "maps to boss, which the contract does not know"),
    ("[tables.goals.scale.weight]\nfrom = [100, 0]\nto = [0, 1]", "tables.goals.scale.weight.from must be"),
    ("[tables.goals.scale.title]\nfrom = [0, 1]\nto = [0, 2]", "a scale applies to number columns only"),
    ("[tables.grades.dimensions]\nresults = 'x'", "dimensions apply to the ratings table only"),
    ("[tables.ratings.dimensions]\nresults = 'x'\n[tables.ratings.columns]\nscore = 's'", "do not also map the dimension or score"),
    ("[read]\ndate_formats = ['%d %b %Y']\n[tables.grades]", "date format '%d %b %Y' cannot be used (%b)"),
    ("[read]\nencoding = 'klingon'\n[tables.grades]", "read.encoding must be"),
    ("[cycle]\nname = '2026 H1'\n[tables.grades]", "[cycle] needs name, start_date and end_date together"),
    ("[tables.grades]\nfile = ['g.csv']", "unknown key tables.grades.file"),
    ("tables = 3", "has no [tables.<name>] section"),
    ("[tables", "not valid TOML"),
    ("", "has no [tables.<name>] section"),
])
def test_a_bad_mapping_is_one_clear_error_naming_the_key(text, message):
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, source="m.toml")
    assert message in str(caught.value) and str(caught.value).startswith("m.toml: ")


def test_the_docs_explain_every_mapping_key():
    docs = (ROOT / "docs" / "importing.md").read_text(encoding="utf-8")
    keys = ["[read]", "[cycle]", "[grades]", "[tables.", "files", "columns", "constants", "values", "scale",
            "dimensions", "encoding", "delimiter", "sheet", "header_row", "date_formats", "null_values", "decimal",
            "from", "to", "decimals", "start_date", "end_date"]
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", docs, flags=re.S))

    def documented(key: str) -> bool:
        bare = re.escape(key.strip("[.]"))
        return any(re.search(r"(^|[.\[])" + bare + r"($|[.\]= ])", span) for span in spans)

    missing = [key for key in keys if not documented(key)]
    assert not missing, f"docs/importing.md does not explain {missing}"


FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%d/%m/%Y", "%m/%d/%Y"]


@settings(max_examples=60, deadline=None)
@given(day=st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)), fmt=st.sampled_from(FORMATS), padded=st.booleans())
def test_any_real_day_written_in_a_format_reads_back_as_that_day(day, fmt, padded):
    text = day.strftime(fmt) if padded else fmt.replace("%Y", str(day.year)).replace("%m", str(day.month)).replace("%d", str(day.day))
    if fmt == "%Y%m%d" and not padded:
        text = day.strftime(fmt)  # without separators the parts must be padded
    dates, unreadable, impossible = parse_dates(pa.array([text]), (fmt,))
    assert dates.to_pylist() == [day] and not unreadable[0] and not impossible[0]


@settings(deadline=None)
@given(year=st.integers(1900, 2200), month=st.integers(1, 12), day=st.integers(29, 31))
def test_a_day_past_the_end_of_its_month_is_impossible_never_rolled_over(year, month, day):
    try:
        dt.date(year, month, day)
        real = True
    except ValueError:
        real = False
    dates, _, impossible = parse_dates(pa.array([f"{year}-{month:02d}-{day:02d}"]), ("%Y-%m-%d",))
    assert impossible[0] == (not real)
    assert dates.to_pylist() == ([dt.date(year, month, day)] if real else [None])


@settings(deadline=None)
@given(value=st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_any_number_written_by_python_reads_back_exactly(value):
    values, bad = parse_numbers(pa.array([repr(value)]))
    assert not bad[0] and values.to_pylist() == [value]


@pytest.mark.parametrize("text, expected", [("1,234.5", 1234.5), ("85%", 0.85), (" 30 % ".strip().replace(" ", ""), 0.3),
                                            ("-3e2", -300.0), (".5", 0.5), ("1,5", None), ("九十", None), ("inf", None)])
def test_numbers_as_hr_systems_write_them(text, expected):
    values, bad = parse_numbers(pa.array([text]))
    assert values.to_pylist() == [expected] and bad[0] == (expected is None)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="AHZaz019_-年期", min_size=1, max_size=8), min_size=1, max_size=3, unique=True))
def test_cycle_ids_accepted_as_partition_names_read_back_unchanged(tmp_path_factory, cycle_ids):
    safe = [c for c in cycle_ids if partition_safe(c)]
    if not safe:
        return
    folder = tmp_path_factory.mktemp("hive")
    for cycle in safe:
        (folder / f"cycle_id={cycle}").mkdir()
        pq.write_table(pa.table({"x": [1]}), folder / f"cycle_id={cycle}" / "part-0.parquet")
    files = [str(p) for p in folder.rglob("*.parquet")]
    read = duckdb.connect().read_parquet(files, hive_partitioning=True).project("CAST(cycle_id AS VARCHAR)").fetchall()
    assert sorted(r[0] for r in read) == sorted(safe)


@pytest.mark.parametrize("cycle, safe", [("2026H1", True), ("2026", True), ("2026-01-01", True), ("2026年上半年", True),
                                         ("007", False), ("2026-1-1", False), ("1e5", False), ("2026 H1", False),
                                         ("a/b", False), ("nan", False), ("-x", False)])
def test_which_cycle_ids_can_name_a_partition(cycle, safe):
    assert partition_safe(cycle) == safe


def test_the_example_mappings_are_documented_in_their_own_words():
    for path in EXAMPLES_DIR.glob("*.toml"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#"), path.name
        assert re.search(r"gradelens import ", path.read_text(encoding="utf-8")), path.name
