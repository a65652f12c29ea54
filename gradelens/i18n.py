"""The message catalog: every text the interface shows, in English and Simplified Chinese.

Messages live in `gradelens/locales/<area>.toml`, one file per page or concern, each key a
table with `en` and `zh`:

    [title]
    en = "Grade distribution"
    zh = "绩效等级分布"

The key `title` in `grades.toml` is called as `t("grades.title")`. Placeholders use
`str.format` names: `t("overview.employees_help", count=3)`.

Why a small TOML catalog rather than gettext: two languages, no plural rules to speak of
(Chinese has none; English messages are phrased to avoid them), and one test can check that
every key has both languages; gettext would add .po/.mo compilation for no gain here.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
LOCALES_DIR = Path(__file__).with_name("locales")
STRICT_ENV = "GRADELENS_I18N_STRICT"  # set by the tests: a missing key raises

_language = DEFAULT_LANGUAGE


class MissingMessage(KeyError):
    """A key the catalog does not have (a bug: every shown text must be in the catalog)."""


@dataclass(frozen=True)
class Message:
    """A catalog message not rendered yet: a value inside another message (an error's
    "expected a table") that must follow the language that message is shown in."""

    key: str
    values: dict[str, object] = field(default_factory=dict)

    def render(self, language: str | None = None) -> str:
        return t(self.key, language, **self.values)


@functools.cache
def catalog() -> dict[str, dict[str, str]]:
    """All messages: key -> {language: text}."""
    messages: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALES_DIR.glob("*.toml")):
        area = path.stem
        for key, texts in tomllib.loads(path.read_text(encoding="utf-8")).items():
            messages[f"{area}.{key}"] = texts
    return messages


def set_language(language: str) -> None:
    """Choose the language outside Streamlit (the CLI's --lang)."""
    global _language
    _language = normalise(language)


def normalise(language: str | None) -> str:
    """'zh-CN', 'zh_Hans', 'zh' -> 'zh'; anything unknown -> the default."""
    if not language:
        return DEFAULT_LANGUAGE
    base = language.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    if "streamlit" not in sys.modules:  # the CLI: importing streamlit to ask would cost seconds
        return _language
    try:
        import streamlit as st
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        if get_script_run_ctx(suppress_warning=True) is not None and "lang" in st.session_state:
            return st.session_state["lang"]
    except Exception:  # outside a Streamlit run: the module-level choice holds
        pass
    return _language


def t(key: str, language: str | None = None, /, **values: object) -> str:
    """The message for `key` in the current (or given) language, with placeholders filled."""
    texts = catalog().get(key)
    language = language or current_language()
    if texts is None or language not in texts:
        if os.environ.get(STRICT_ENV):
            raise MissingMessage(f"message {key!r} has no {language!r} text in gradelens/locales/")
        return key
    text = texts[language]
    if not values:
        return text
    return text.format(**{name: value.render(language) if isinstance(value, Message) else value for name, value in values.items()})


def value_label(kind: str, value: object, language: str | None = None) -> str:
    """A data code shown in words: `value_label("rater_role", "manager")` -> "Manager" / "上级".

    Codes without a message (names, departments, unknown reason codes) are shown as they are.
    """
    key = f"values.{kind}.{value}"
    texts = catalog().get(key)
    if texts is None:
        return str(value)
    return texts.get(language or current_language(), str(value))


def each_label(column: pd.Series, convert: Callable[[object], object]) -> pd.Series:
    """column.map(convert), calling `convert` once per distinct value: each t() / value_label()
    asks Streamlit for the session's language (45 us), and a table of 20,000 raters or 2,500
    goals has a handful of distinct codes."""
    done: dict[object, object] = {}

    def once(value: object) -> object:
        try:
            return done[value]
        except KeyError:
            done[value] = result = convert(value)
            return result
        except TypeError:  # an unhashable value
            return convert(value)

    return column.map(once)


GROUP_LABEL_COLUMNS = ("department", "group_name")
"""Columns of named-query results that hold a group's label (its id is in another column)."""


def group_codes() -> tuple[str, ...]:
    """The labels SQL writes for people without a group: '(no department)', '(no manager)', ..."""
    return tuple(key.removeprefix("values.group.") for key in catalog() if key.startswith("values.group."))


def localise_groups(frame: pd.DataFrame, language: str | None = None) -> pd.DataFrame:
    """`frame` with the group-label codes in its label columns shown in `language`.

    Only label columns change: ids, codes in other columns and sort order stay as the query
    returned them, so selections and joins keep working in every language.
    """
    labels = {code: label for code in group_codes() if (label := value_label("group", code, language)) != code}
    if not labels:
        return frame
    changed = {column: frame[column].replace(labels) for column in GROUP_LABEL_COLUMNS
               if column in frame.columns and frame[column].isin(list(labels)).any()}
    return frame.assign(**changed) if changed else frame


def format_date(value: dt.date | None, language: str | None = None) -> str:
    if value is None:
        return "–"
    if (language or current_language()) == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return value.isoformat()


def format_count(value: int | float | None) -> str:
    """Whole numbers with thousands separators (the same in both languages)."""
    if value is None or str(value) in ("nan", "<NA>"):  # a count hidden from the viewer (gradelens.privacy)
        return "–"
    return f"{int(value):,}"
