"""The message catalog: both languages for every key, matching placeholders, pages in Chinese."""

import re
import string

import pytest

from gradelens.i18n import LANGUAGES, MissingMessage, catalog, format_date, normalise, t, value_label


def test_every_message_has_every_language_and_no_empty_text():
    for key, texts in catalog().items():
        assert set(texts) == set(LANGUAGES), key
        assert all(text.strip() for text in texts.values()), key


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_placeholders_are_the_same_in_both_languages():
    for key, texts in catalog().items():
        if "%{" in texts["en"]:  # plotly hover templates are not str.format templates
            assert set(re.findall(r"%\{[^}]+\}", texts["en"])) == set(re.findall(r"%\{[^}]+\}", texts["zh"])), key
            continue
        assert _fields(texts["en"]) == _fields(texts["zh"]), key


def test_a_missing_key_raises_in_strict_mode():
    with pytest.raises(MissingMessage):
        t("nowhere.nothing")


@pytest.mark.parametrize("given, expected", [("zh-CN", "zh"), ("zh_Hans_CN", "zh"), ("en-GB", "en"), ("fr-FR", "en"), (None, "en")])
def test_browser_locales_map_to_a_supported_language(given, expected):
    assert normalise(given) == expected


def test_codes_are_shown_in_words_and_data_values_as_they_are():
    assert value_label("appeal_status", "partially_upheld", "zh") == "部分支持"
    assert value_label("rater_role", "self", "en") == "Self"
    assert value_label("appeal_reason", "parking", "zh") == "parking"


def test_dates_follow_the_language():
    import datetime as dt

    assert format_date(dt.date(2025, 12, 31), "zh") == "2025年12月31日"
    assert format_date(dt.date(2025, 12, 31), "en") == "2025-12-31"


def test_each_label_converts_each_distinct_value_once_and_keeps_the_order():
    import pandas as pd

    from gradelens.i18n import each_label

    calls = []

    def label(code):
        calls.append(code)
        return f"<{code}>"

    column = pd.Series(["on_track", "off_track", "on_track", "at_risk", "on_track", "off_track"])
    assert each_label(column, label).tolist() == ["<on_track>", "<off_track>", "<on_track>", "<at_risk>", "<on_track>", "<off_track>"]
    assert calls == ["on_track", "off_track", "at_risk"]
