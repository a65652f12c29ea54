"""Errors meant for people: each message says what is wrong, where, and how to fix it.

An error carries a catalog key and the values to fill in, not a finished sentence, so the
same error reads in the language of whoever sees it:

    raise QueryError("errors.unknown_cycle", query=name, cycle=value, known="2025H1, 2025H2")

`str(error)` is the English text (logs, tests); `error.message(language)` renders it in a
language (None: the current one, the page's or the CLI's --lang). Values are inserted as
they are; a value that is itself text to translate is passed as `i18n.Message`.

The CLI and the pages show these as one line; any other exception is a bug, and bugs speak
English.
"""

from __future__ import annotations

import functools

from gradelens.i18n import t


class GradelensError(Exception):
    """Base class for every error gradelens reports to a user."""

    def __init__(self, key: str, /, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def message(self, language: str | None = None) -> str:
        """The message in `language` (default: the current language)."""
        return t(self.key, language, **self.values)

    def __str__(self) -> str:
        return self.message("en")

    def __reduce__(self):  # pickling rebuilds from key and values, not from args
        return functools.partial(type(self), self.key, **self.values), ()


class DatasetError(GradelensError):
    """The dataset folder is missing, unreadable or lacks what a question needs."""


class QueryError(GradelensError):
    """An unknown named query, or parameters that do not fit it."""
