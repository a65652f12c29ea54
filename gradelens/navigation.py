"""The app's pages, in menu order. app.py builds the navigation from this list and the tests
walk it, so a page added here is rendered by every page test."""

from __future__ import annotations

from dataclasses import dataclass


ENTRY_POINT = "app.py"
ENTRY_MARK = "_gradelens_app_ran"
"""Set in the session by app.py on every run: a page run without it was started by Streamlit's
old pages-folder mode (gradelens.ui._leave_pages_folder_mode)."""
REROUTE_MARK = "_gradelens_rerouted"
"""Set in the session when a page has rerun once through app.py, so it is tried only once."""


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to the project root
    title: str
    icon: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "Overview", ":material/dashboard:"),
    PageSpec("pages/attainment.py", "Goal attainment", ":material/flag:"),
    PageSpec("pages/grades.py", "Grade distribution", ":material/stacked_bar_chart:"),
    PageSpec("pages/leniency.py", "Rater leniency", ":material/balance:"),
    PageSpec("pages/appeals.py", "Appeals", ":material/gavel:"),
    PageSpec("pages/data.py", "Data", ":material/upload_file:"),
)
