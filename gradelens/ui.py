"""What every page shares: the dataset and filters in the sidebar (kept in the URL), cached
named queries, and the way errors, empty states and downloads look.

Pages call `ui.sidebar_filters()` first for the current selection and `ui.query(name, ...)` for data; they
never touch DuckDB or the dataset folder themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from gradelens.config import DEMO_DIR, available_datasets, configured_data_dir, ensure_demo_dataset
from gradelens.dataset import Dataset, fingerprint, open_dataset
from gradelens.errors import GradelensError
from gradelens.i18n import LANGUAGES, localise_groups, normalise, t
from gradelens.queries import cycle_ids, run_query

# URL keys for the sidebar filters; a copied URL reopens the same view on any page.
URL_KEYS = ("lang", "data", "cycle", "department", "region")
ALL = ""  # the "no filter" value of department and region


@dataclass(frozen=True)
class Filters:
    lang: str
    data: str
    cycle: str | None
    department: str | None
    region: str | None

    @property
    def scope(self) -> dict[str, str | None]:
        """The parameters most named queries take for the sidebar selection."""
        return {"cycle": self.cycle, "department": self.department, "region": self.region}

    def url_params(self) -> dict[str, str]:
        values = {"lang": self.lang, "data": self.data, "cycle": self.cycle, "department": self.department, "region": self.region}
        return {k: v for k, v in values.items() if v}


@st.cache_resource(max_entries=8, show_spinner=False)
def _open(path: str, data_fingerprint: str) -> Dataset:
    # The fingerprint is part of the key: a changed dataset opens afresh.
    return open_dataset(path)


@st.cache_data(max_entries=512, show_spinner=False)
def _run(path: str, data_fingerprint: str, name: str, params: tuple[tuple[str, object], ...]) -> pd.DataFrame:
    return run_query(_open(path, data_fingerprint), name, dict(params))


@st.cache_data(max_entries=32, show_spinner=False)
def _cycle_ids(path: str, data_fingerprint: str) -> list[str]:
    return cycle_ids(_open(path, data_fingerprint))


def dataset_for(path: Path) -> Dataset:
    path = Path(path).resolve()
    return _open(str(path), fingerprint(path) if path.is_dir() else "")


def current_dataset() -> Dataset:
    """The dataset sidebar_filters() opened in this run (its fingerprint is computed once a
    run, not once per query: it walks and stats every table file)."""
    return st.session_state["gradelens_dataset"]


def run_cached(dataset: Dataset, name: str, **params: object) -> pd.DataFrame:
    """A named query's result, cached by dataset fingerprint, query and parameters."""
    return _run(str(dataset.path), dataset.fingerprint, name, tuple(sorted(params.items())))


def query(name: str, **params: object) -> pd.DataFrame | None:
    """Run a named query on the current dataset (cached); on a user-facing error, explain it
    on the page and return None so the rest of the page still renders. Group labels such as
    '(no department)' come back in the page language (ids and codes as they are)."""
    try:
        return localise_groups(run_cached(current_dataset(), name, **params))
    except GradelensError as exc:
        st.warning(exc.message(), icon=":material/info:")
        return None


def download(frame: pd.DataFrame, file_stem: str, label: str | None = None) -> None:
    """A CSV download (UTF-8 with BOM, so Excel opens Chinese text correctly)."""
    st.download_button(
        label or t("common.download_csv"),
        frame.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"{file_stem}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"download-{file_stem}",
    )


def explain_missing(dataset: Dataset, needs: tuple[str, ...], what: str) -> bool:
    """Say which tables a section lacks; True when all are present."""
    missing = [t for t in needs if t in dataset.missing]
    if missing:
        st.info(t("common.missing_tables", what=what, tables=", ".join(missing)), icon=":material/table_view:")
    return not missing


def _ensure_demo() -> None:
    if configured_data_dir() != DEMO_DIR or (DEMO_DIR.is_dir() and any(DEMO_DIR.iterdir())):
        return
    with st.status(t("common.creating_demo"), expanded=True) as status:
        bar = st.progress(0.0)
        ensure_demo_dataset(lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message))
        status.update(label=t("common.demo_ready"), state="complete", expanded=False)


def _choose(key: str, options: list[str], url_value: str | None, default: str) -> None:
    """Seed a widget's state from the URL once, or reset it when its value left the options."""
    if key not in st.session_state:
        st.session_state[key] = url_value if url_value in options else default
    elif st.session_state[key] not in options:
        st.session_state[key] = default


def sidebar_filters() -> Filters:
    """Render the dataset and filter widgets; store and return the selection.

    Every page calls this first (not app.py: AppTest reruns a page without its entry point).
    When no dataset can be opened it explains why and stops the page.
    """
    url = st.query_params
    _choose("lang", list(LANGUAGES), url.get("lang"), normalise(st.context.locale))
    with st.sidebar:
        st.segmented_control(
            t("common.sidebar_language"), list(LANGUAGES), key="lang", persist_state="session",
            format_func=lambda code: {"en": "English", "zh": "中文"}[code],
        )
    if st.session_state.get("lang") not in LANGUAGES:  # a segmented control can be cleared
        st.session_state["lang"] = normalise(st.context.locale)
    if st.session_state.get("_filters_lang") != st.session_state["lang"]:
        # A selectbox keeps showing its old option text when only format_func changed
        # (streamlit/streamlit#13788); assigning the value again sends the new text.
        for key in ("filter_cycle", "filter_department", "filter_region"):
            if key in st.session_state:
                st.session_state[key] = st.session_state[key]
        st.session_state["_filters_lang"] = st.session_state["lang"]
    _ensure_demo()
    datasets = available_datasets()
    names = list(datasets)
    _choose("filter_data", names, url.get("data"), names[0])
    with st.sidebar:
        st.selectbox(t("common.sidebar_dataset"), names, key="filter_data", persist_state="session", help=t("common.sidebar_dataset_help"))
    try:
        dataset = dataset_for(datasets[st.session_state["filter_data"]])
    except GradelensError as exc:
        st.error(exc.message(), icon=":material/error:")
        st.stop()

    try:
        known_cycles = _cycle_ids(str(dataset.path), dataset.fingerprint)
        cycle_names = {}
        if "cycles" in dataset.present:
            cycles = run_cached(dataset, "cycle_list")
            cycle_names = dict(zip(cycles["cycle_id"], cycles["name"]))
    except GradelensError as exc:
        st.error(exc.message(), icon=":material/error:")
        st.stop()

    cycle = None
    department = region = None
    departments: dict[str, str] = {}
    lang = st.session_state["lang"]  # format_func may run outside the script run (AppTest)
    with st.sidebar:
        if known_cycles:
            _choose("filter_cycle", known_cycles, url.get("cycle"), known_cycles[-1])
            cycle = st.selectbox(t("common.sidebar_cycle"), known_cycles, key="filter_cycle", persist_state="session", format_func=lambda c: cycle_names.get(c, c))
            departments = _options(dataset, "department_list", cycle, "department_id", "department")
            regions = _options(dataset, "region_list", cycle, "region", "region")
            _choose("filter_department", [ALL, *departments], url.get("department"), ALL)
            _choose("filter_region", [ALL, *regions], url.get("region"), ALL)
            department = st.selectbox(
                t("common.sidebar_department"), [ALL, *departments], key="filter_department", persist_state="session",
                format_func=lambda d: t("common.all_departments", lang) if d == ALL else departments.get(d, d),
            ) or None
            region = st.selectbox(
                t("common.sidebar_region"), [ALL, *regions], key="filter_region", persist_state="session",
                format_func=lambda r: t("common.all_regions", lang) if r == ALL else r,
            ) or None
        else:
            st.caption(t("common.no_cycles"))

    selection = Filters(st.session_state["lang"], st.session_state["filter_data"], cycle, department, region)
    st.session_state["filter_labels"] = {
        "department": departments.get(department, department) if department else t("common.all_departments"),
        "region": region or t("common.all_regions"),
    }
    st.session_state["gradelens_filters"] = selection
    st.session_state["gradelens_dataset"] = dataset
    # Written back every run: switching pages clears the URL, and this restores it. The widgets
    # keep their values across pages themselves (persist_state="session"): Streamlit ties a
    # widget's id to its page, so without it a page switch resets them to their defaults.
    wanted = selection.url_params()
    if {k: url.get(k) for k in URL_KEYS if url.get(k)} != wanted:
        for key in URL_KEYS:
            if key in url and key not in wanted:
                del url[key]
        url.update(wanted)
    return selection


def _options(dataset: Dataset, name: str, cycle: str, value_column: str, label_column: str) -> dict[str, str]:
    try:
        frame = run_cached(dataset, name, cycle=cycle)
    except GradelensError:
        return {}
    return dict(zip(frame[value_column], frame[label_column]))


def caption(selection: Filters) -> None:
    """The line under a page title that says what is being looked at."""
    labels = st.session_state.get("filter_labels", {})
    st.caption(t("common.caption_scope", dataset=selection.data, cycle=selection.cycle or "–",
                 department=labels.get("department", ""), region=labels.get("region", "")))


def explain_dataset_gaps(dataset: Dataset) -> None:
    if dataset.missing:
        st.info(t("common.dataset_lacks", tables=", ".join(dataset.missing)), icon=":material/table_view:")


def link_params() -> dict[str, str]:
    """Query parameters to carry on a link to another page, so it opens the same view."""
    return st.session_state["gradelens_filters"].url_params()


def page_link(page: str, label: str, icon: str) -> None:
    """A link to another page that keeps the sidebar selection.

    Only pages the navigation lists are linked; a page run on its own (as AppTest does)
    has no navigation, so the link is left out rather than failing.
    """
    from gradelens.navigation import PAGES

    if page not in {spec.path for spec in PAGES}:
        return
    try:
        st.page_link(page, label=label, icon=icon, query_params=link_params())
    except st.errors.StreamlitAPIException:
        pass
