"""The named-query layer: headers, parameter checks and binding, errors for people."""

import datetime as dt

import duckdb
import pandas as pd
import pytest

from gradelens.errors import DatasetError, QueryError
from gradelens.queries import Param, all_queries, load_sql_query, parse_header, run_query, sql_parameter_names
from tests.tiny_company import tiny_company_tables, write_dataset
from gradelens.dataset import Dataset, open_dataset


def test_every_query_file_loads_with_a_description_and_declared_parameters():
    queries = all_queries()
    assert {"overview_headline", "grade_mix", "cycle_list"} <= set(queries)
    for query in queries.values():
        assert query.summary, query.name
        assert query.returns, f"{query.name} must say what columns it @returns"


# Values for required parameters, so every query runs on the tiny company.
REQUIRED_EXAMPLES = {"rater_id": "E1"}


def test_every_query_returns_the_columns_its_header_promises(tiny):
    for query in all_queries().values():
        required = [p.name for p in query.params if p.required]
        assert set(required) <= set(REQUIRED_EXAMPLES), f"add an example value for {query.name}'s required parameters"
        frame = run_query(tiny, query.name, {name: REQUIRED_EXAMPLES[name] for name in required})
        assert list(frame.columns)[: len(query.returns)] == list(query.returns), query.name


TYPED_ROWS = """
    SELECT * FROM (VALUES
        ('a', NULL::VARCHAR, 1, NULL::INTEGER, 7::BIGINT, NULL::TINYINT, 1.5::DOUBLE, true, NULL::BOOLEAN, DATE '2026-01-31'),
        (NULL, NULL, 2, 3, 8, 4::TINYINT, NULL, false, false, NULL)
    ) AS t(text, no_text, whole, whole_missing, big, tiny_missing, number, flag, flag_missing, day)
"""
# Types result_frame leaves to DuckDB's own conversion (the whole frame then comes from it).
OTHER_TYPES = "SELECT *, ['x', 'y'] AS tags, 1.25::DECIMAL(10, 2) AS money, TIMESTAMP '2026-01-31 08:00:00' AS moment FROM (" + TYPED_ROWS + ")"


@pytest.mark.parametrize("sql", [
    TYPED_ROWS,
    TYPED_ROWS + " WHERE false",  # no rows: the text columns are object, as from .df()
    "SELECT range AS i, CASE WHEN range % 3 = 0 THEN NULL ELSE 'p' || range END AS s, range % 7 = 0 AS b FROM range(5000)",
    OTHER_TYPES,
    "SELECT 1 AS a, 'x' AS a",  # the same name twice
])
def test_query_frames_are_those_duckdb_df_gives(sql):
    from gradelens.queries import result_frame

    con = duckdb.connect()
    pd.testing.assert_frame_equal(result_frame(con, sql, {}), con.execute(sql).df(), check_exact=True)


def test_the_usual_types_are_converted_from_arrow_not_handed_back_to_duckdb():
    from gradelens.queries import _as_df_column

    table = duckdb.connect().sql(TYPED_ROWS).to_arrow_table()
    assert [name for name in table.column_names if _as_df_column(table.column(name)) is None] == []


def test_every_named_query_gives_the_frame_duckdb_df_gives(tiny):
    from gradelens.queries import bind_params

    for query in all_queries().values():
        if query.function is not None:
            continue
        params = bind_params(tiny, query, {name: REQUIRED_EXAMPLES[name] for name in (p.name for p in query.params if p.required)})
        expected = tiny.cursor().execute(query.sql, params).df()
        # The same sums in another order can differ in the last bit.
        pd.testing.assert_frame_equal(run_query(tiny, query.name, params), expected, check_exact=False, rtol=1e-12, obj=query.name)


def test_sql_parameter_names_ignore_comments_and_strings():
    sql = "-- it's $x\nSELECT $a, 'it''s $b', \"$c\" /* $d */, $e -- $z"
    assert sql_parameter_names(sql) == {"a", "e"}


def test_a_query_file_whose_parameters_differ_from_its_header_is_refused(tmp_path):
    path = tmp_path / "bad.sql"
    path.write_text("-- A question.\n-- @param cycle cycle=latest  The cycle.\n-- @returns x\nSELECT $cycle, $region AS x")
    with pytest.raises(QueryError, match="differ from those declared"):
        load_sql_query(path)


def test_a_line_after_a_param_continues_it_and_lines_after_other_tags_are_notes():
    header = (
        "-- A question?\n-- More about it.\n"
        "-- @param department text=null  Only this department (default: all;\n"
        "-- people without one belong to none).\n"
        "-- @needs employees\n-- @returns x\n"
        "-- How it is computed: a note for readers of the SQL.\n"
        "SELECT 1 AS x"
    )
    description, params, needs, returns = parse_header(header, "queries/x.sql")
    assert description == "A question?\nMore about it."
    assert [p.description for p in params] == ["Only this department (default: all; people without one belong to none)."]
    assert (needs, returns) == (("employees",), ("x",))


def test_a_header_without_a_question_is_refused():
    with pytest.raises(QueryError, match="what question"):
        parse_header("-- @returns x\nSELECT 1", "queries/x.sql")


@pytest.mark.parametrize(
    "line, value, expected",
    [
        ("as_of date=null  Until.", "2025-09-30", dt.date(2025, 9, 30)),
        ("n int=3  Count.", "7", 7),
        ("t number=0.25  Threshold.", "0.5", 0.5),
        ("stage choice(proposed|final)=final  Stage.", "proposed", "proposed"),
    ],
)
def test_parameters_convert_text_to_their_type(line, value, expected):
    assert Param.parse(line, "here").coerce(value, "here") == expected


@pytest.mark.parametrize(
    "params, message",
    [
        ({"nope": "1"}, "unknown parameter"),
        ({"cycle": "2031H1"}, "unknown cycle '2031H1'; the dataset has 2025H1, 2025H2"),
        ({"stage": "draft"}, "must be one of proposed, final"),
        ({"cycle": "x" * 500}, "at most 200"),
    ],
)
def test_bad_parameters_get_a_message_that_says_what_to_do(tiny, params, message):
    with pytest.raises(QueryError, match=message):
        run_query(tiny, "grade_mix", params)


def test_values_are_bound_not_spliced(tiny):
    hostile = "D1' OR '1'='1"
    row = run_query(tiny, "overview_headline", {"department": hostile}).iloc[0]
    assert row.employees == 0


def test_unknown_query_names_suggest_close_ones():
    with pytest.raises(QueryError, match="Did you mean grade_mix"):
        from gradelens.queries import get_query

        get_query("grade_mi")


def test_a_query_needing_a_missing_table_says_which(tmp_path):
    tables = tiny_company_tables()
    del tables["grades"]
    dataset = open_dataset(write_dataset(tmp_path / "nogrades", tables))
    assert dataset.missing == ("grades",)
    with pytest.raises(DatasetError, match="needs the table\\(s\\) grades"):
        run_query(dataset, "grade_mix")
    assert run_query(dataset, "overview_headline").iloc[0].graded == 0  # the empty view keeps others running


def test_a_dataset_of_grades_only_still_shows_its_grade_mix(tmp_path):
    tables = {"grades": tiny_company_tables()["grades"]}
    dataset = open_dataset(write_dataset(tmp_path / "gradesonly", tables))
    mix = run_query(dataset, "grade_mix", {"stage": "proposed"})  # latest cycle taken from the grades
    assert dict(zip(mix["grade"], mix["employees"])) == {"S": 1, "A": 1, "B": 2, "C": 1, "D": 0}
    with pytest.raises(DatasetError, match="needs the table\\(s\\) employees"):
        run_query(dataset, "overview_headline")


class InvalidatedConnection:
    """What DuckDB leaves after an internal fatal error: every statement fails."""

    def cursor(self):
        return self

    def execute(self, *args, **kwargs):
        raise duckdb.FatalException("FATAL Error: Failed: database has been invalidated because of a previous fatal error.")


def test_a_query_after_duckdb_invalidated_the_database_reconnects_and_answers(tmp_path):
    dataset = open_dataset(write_dataset(tmp_path / "ds", tiny_company_tables()))
    expected = run_query(dataset, "grade_mix")
    dataset._connection = InvalidatedConnection()
    pd.testing.assert_frame_equal(run_query(dataset, "grade_mix"), expected)
    assert not isinstance(dataset._connection, InvalidatedConnection)


def test_a_working_connection_is_kept_when_another_thread_has_recovered_already(tmp_path):
    dataset = open_dataset(write_dataset(tmp_path / "ds", tiny_company_tables()))
    dataset.cursor()
    connection = dataset._connection
    assert dataset.recover() is False
    assert dataset._connection is connection


def test_a_database_that_stays_invalid_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    dataset = open_dataset(write_dataset(tmp_path / "ds", tiny_company_tables()))
    monkeypatch.setattr(Dataset, "_connect", lambda self, derived_folder: InvalidatedConnection())
    with pytest.raises(DatasetError, match="invalidated"):
        run_query(dataset, "grade_mix")


def test_sql_parameter_names_of_unterminated_comments_and_strings_and_adjacent_quotes():
    assert sql_parameter_names("SELECT $a /* $b") == {"a"}
    assert sql_parameter_names("SELECT $a, 'x $b") == {"a"}
    assert sql_parameter_names("SELECT '', $a, '''$b''', $c") == {"a", "c"}
    assert sql_parameter_names("SELECT $a--$b\n, $c") == {"a", "c"}


def test_an_edited_query_file_is_read_again(tmp_path):
    path = tmp_path / "q.sql"
    path.write_text("-- A question.\n-- @param cycle cycle=latest  The cycle.\n-- @returns x\nSELECT $cycle AS x")
    assert [p.name for p in load_sql_query(path).params] == ["cycle"]
    path.write_text("-- A question, changed.\n-- @param region text=null  A region.\n-- @returns x\nSELECT $region AS x, 1 AS y")
    assert [p.name for p in load_sql_query(path).params] == ["region"]


def test_duckdb_uses_gradelens_threads_when_set_else_the_usable_cores(tiny_dir, monkeypatch):
    import os

    from gradelens.dataset import THREADS_ENV, duckdb_threads

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert duckdb_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(THREADS_ENV, "1")
    with open_dataset(tiny_dir).cursor() as con:
        assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 1


@pytest.mark.parametrize("value", ["0", "two", "-3", "1.5"])
def test_a_bad_gradelens_threads_says_what_to_set(tiny_dir, monkeypatch, value):
    monkeypatch.setenv("GRADELENS_THREADS", value)
    with pytest.raises(DatasetError, match=f"GRADELENS_THREADS is '{value}', not a number of threads"):
        open_dataset(tiny_dir).cursor()
