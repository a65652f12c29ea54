"""Errors meant for people: each message says what is wrong, where, and how to fix it.

The CLI and the pages show these as one line; any other exception is a bug.
"""


class GradelensError(Exception):
    """Base class for every error gradelens reports to a user."""


class DatasetError(GradelensError):
    """The dataset folder is missing, unreadable or lacks what a question needs."""


class QueryError(GradelensError):
    """An unknown named query, or parameters that do not fit it."""
