"""Errors for people come from the catalog in both languages; str(error) stays English."""

import ast
import pickle
import string
from pathlib import Path

import pytest

from gradelens.errors import DatasetError, GradelensError, QueryError
from gradelens.i18n import LANGUAGES, Message, catalog, t
from gradelens.queries import run_query

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "gradelens").rglob("*.py")) + sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]
FORWARDERS = {"fail": {"source"}}
"""Helpers that build an error from a key they are given: name -> the values they add themselves."""


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in SOURCES}


def _error_classes(trees) -> set[str]:
    """GradelensError and every class deriving from it anywhere in the package (by name)."""
    names = {"GradelensError"}
    classes = [node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    while True:
        more = {c.name for c in classes if any(isinstance(b, ast.Name) and b.id in names for b in c.bases)} - names
        if not more:
            return names
        names |= more


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _error_calls():
    """(where, callee, call, in_forwarder) for every construction of a GradelensError or
    call of a forwarder; in_forwarder: the call is inside a forwarder's own body."""
    trees = _trees()
    errors = _error_classes(trees)
    for path, tree in trees.items():
        forwarder_lines = {line for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name in FORWARDERS
                           for line in range(node.lineno, node.end_lineno + 1)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (_callee(node) in errors or _callee(node) in FORWARDERS):
                yield f"{path.relative_to(ROOT)}:{node.lineno}", _callee(node), node, node.lineno in forwarder_lines


def test_the_walk_finds_the_raise_sites():
    callees = [callee for _, callee, _, _ in _error_calls()]
    # queries, dataset, policy, cli, demo, snapshots, mapping, pipeline, analyses: about 90 sites.
    assert len(callees) > 80
    assert {"QueryError", "DatasetError", "GradelensError", "MappingError", "SnapshotError", "ImportProblem", "fail"} <= set(callees)


def test_every_error_raised_in_the_package_names_a_catalog_key_with_matching_values():
    messages = catalog()
    problems = []
    for where, callee, call, in_forwarder in _error_calls():
        first = call.args[0] if call.args else None
        if isinstance(first, ast.Name) and in_forwarder:
            continue  # the forwarder's own callers are checked instead
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            problems.append(f"{where}: {callee}(...) must start with a catalog key, not {ast.unparse(first) if first else 'nothing'}")
            continue
        key = first.value
        if key not in messages:
            problems.append(f"{where}: {callee}({key!r}) is not a catalog key (add it to gradelens/locales/)")
            continue
        if any(k.arg is None for k in call.keywords):
            continue  # **values: checked when rendered
        given = {k.arg for k in call.keywords} | FORWARDERS.get(callee, set())
        for language in LANGUAGES:
            if _fields(messages[key][language]) != given:
                problems.append(f"{where}: {key} [{language}] wants {sorted(_fields(messages[key][language]))}, given {sorted(given)}")
    assert not problems, "\n".join(problems)


def test_every_literal_message_key_used_in_the_code_is_in_the_catalog():
    messages = catalog()
    missing = []
    for path, tree in _trees().items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and _callee(node) in ("t", "Message") and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                if node.args[0].value not in messages:
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.args[0].value}")
    assert not missing, "\n".join(missing)


def test_an_error_reads_in_english_by_default_and_in_chinese_on_request():
    error = QueryError("errors.unknown_cycle", where="query grade_mix", cycle="'2031H1'", known="2025H1, 2025H2")
    assert str(error) == "query grade_mix: unknown cycle '2031H1'; the dataset has 2025H1, 2025H2."
    assert error.message("zh") == "query grade_mix：未知的考核周期 '2031H1'；数据集中的周期为 2025H1, 2025H2。"


def test_a_nested_message_follows_the_language_of_the_error():
    error = QueryError("errors.param_not_int", where=Message("errors.where_query", {"query": "q"}), param="n", value="'x'")
    assert str(error) == "query q: parameter n must be a whole number, found 'x'."
    assert error.message("zh") == "查询 q：参数 n 必须是整数，实际为 'x'。"


def test_a_query_error_from_the_query_layer_speaks_both_languages(tiny):
    with pytest.raises(QueryError) as caught:
        run_query(tiny, "grade_mix", {"cycle": "2031H1"})
    assert str(caught.value) == "query grade_mix: unknown cycle '2031H1'; the dataset has 2025H1, 2025H2."
    assert caught.value.message("zh") == "查询 grade_mix：未知的考核周期 '2031H1'；数据集中的周期为 2025H1, 2025H2。"


def test_errors_survive_pickling_with_their_key_and_values():
    error = DatasetError("errors.no_such_folder", path="/nowhere")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DatasetError and copy.key == error.key and str(copy) == str(error)


def test_every_error_message_says_what_to_do_in_both_languages_with_the_same_values():
    for key, texts in catalog().items():
        if key.startswith("errors."):
            assert _fields(texts["en"]) == _fields(texts["zh"]), key
            assert t(key, "zh", **dict.fromkeys(_fields(texts["zh"]), "X")).strip(), key
