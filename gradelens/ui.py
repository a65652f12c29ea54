"""What every page shares: the dataset and filters in the sidebar (kept in the URL), cached
named queries, and the way errors, empty states and downloads look.

Pages call `ui.sidebar_filters()` first for the current selection and `ui.query(name, ...)` for data; they
never touch DuckDB or the dataset folder themselves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from gradelens import audit
from gradelens.access import ADMIN, Viewer, find_access_file, load_access
from gradelens.config import DEMO_DIR, available_datasets, configured_data_dir, ensure_demo_dataset
from gradelens.dataset import Dataset, fingerprint, open_dataset
from gradelens.errors import GradelensError
from gradelens.i18n import LANGUAGES, localise_groups, normalise, t
from gradelens.navigation import ENTRY_MARK, ENTRY_POINT, REROUTE_MARK
from gradelens.privacy import COMPLEMENTARY, REASON_COLUMN, SMALL_GROUP
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
def _run(path: str, data_fingerprint: str, name: str, params: tuple[tuple[str, object], ...],
         viewer: tuple[str, str, tuple[str, ...] | None] | None = None) -> pd.DataFrame:
    # The viewer (identity, role, departments) is part of the cache key: one viewer's result
    # is never served to another.
    who = Viewer(*viewer) if viewer is not None else None
    return run_query(_open(path, data_fingerprint), name, dict(params), viewer=who)


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
    """A named query's result for the session's viewer, cached by dataset fingerprint, query,
    parameters and viewer."""
    return _cached_call(dataset, name, params)()


def _cached_call(dataset: Dataset, name: str, params: dict[str, object]) -> Callable[[], pd.DataFrame]:
    # The viewer is read here, in the script's thread, where the session and its headers are.
    viewer = current_viewer()
    key = None if viewer is None or viewer.role == "admin" else viewer.cache_key()
    return partial(_run, str(dataset.path), dataset.fingerprint, name, tuple(sorted(params.items())), key)


def query(name: str, **params: object) -> pd.DataFrame | None:
    """Run a named query on the current dataset (cached); on a user-facing error, explain it
    on the page and return None so the rest of the page still renders. Group labels such as
    '(no department)' come back in the page language (ids and codes as they are)."""
    return _shown(_cached_call(current_dataset(), name, params))


def _shown(compute: Callable[[], pd.DataFrame]) -> pd.DataFrame | None:
    try:
        frame = localise_groups(compute())
    except GradelensError as exc:
        st.warning(exc.message(), icon=":material/info:")
        return None
    explain_suppressed(frame)
    return frame


_BACKGROUND = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gradelens-query")
"""Runs the queries pages start ahead (`start`), for every session. Two workers: DuckDB already
spreads one large query over the cores; a second query overlaps the parts of the first that run
on one (planning, reading file footers, building the pandas frame): the attainment page's
queries took 2.7 s instead of 3.6-4.3 s at 200,000 employees on 2 cores."""


class Started:
    """A named query running in the background (`start`); `result()` is what `query` returns."""

    def __init__(self, compute: Callable[[], pd.DataFrame], future: Future) -> None:
        self._compute = compute
        self._future = future

    def result(self) -> pd.DataFrame | None:
        if self._future.cancel():  # not begun yet (other sessions keep the workers busy): run it here
            return _shown(self._compute)
        return _shown(self._future.result)


def start(name: str, **params: object) -> Started:
    """Start a named query in the background and go on; `.result()` waits for it and gives
    what `query(name, **params)` gives (shown errors included, in the script's thread).

    For pages that need several independent results: they are computed while the page draws
    the ones before. The result lands in the same cache as `query`'s, and the cache computes a
    value once, so a `query` of the same question meanwhile waits for it rather than repeating it.
    """
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    compute = _cached_call(current_dataset(), name, params)
    context = get_script_run_ctx()

    def in_session() -> pd.DataFrame:
        add_script_run_ctx(ctx=context)  # the cache looks up the session it serves
        return compute()

    return Started(compute, _BACKGROUND.submit(in_session))


# Columns that name a row's group, tried in order, for the note on hidden cells.
_GROUP_LABELS = ("group_name", "team", "department", "region", "strategy_theme", "reason", "attainment_band", "grade", "cycle_id")


def explain_suppressed(frame: pd.DataFrame) -> None:
    """Say which groups of a result are hidden from this viewer and why (gradelens.privacy)."""
    if REASON_COLUMN not in frame.columns or not frame[REASON_COLUMN].notna().any():
        return
    label = next((c for c in _GROUP_LABELS if c in frame.columns), None)
    size = current_dataset().policy.min_group_size
    for reason in (SMALL_GROUP, COMPLEMENTARY):
        rows = frame[frame[REASON_COLUMN] == reason]
        if rows.empty:
            continue
        groups = ", ".join(dict.fromkeys(str(v) for v in rows[label].fillna("–"))) if label else t("access.this_figure")
        st.caption(t(f"access.hidden_{reason}", size=size, groups=groups))


def download(frame: pd.DataFrame, file_stem: str, label: str | None = None) -> None:
    """A CSV download (UTF-8 with BOM, so Excel opens Chinese text correctly); each click is
    written to the audit log. The CSV is written when clicked, not on every run of the page
    (0.1-0.3 s for the leniency page's 22k raters at 200,000 employees)."""
    filters = st.session_state.get("gradelens_filters")
    details = {"file": f"{file_stem}.csv", "rows": len(frame), **(filters.url_params() if filters else {})}
    st.download_button(
        label or t("common.download_csv"),
        lambda: frame.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"{file_stem}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"download-{file_stem}",
        on_click=record_audit, args=("export", file_stem, details),
    )


# --- Who is looking (see docs/access-control.md) ---------------------------------------------

IDENTITY_HEADER_ENV = "GRADELENS_IDENTITY_HEADER"
OPEN_DEMO_ENV = "GRADELENS_OPEN_DEMO"
DEMO_VIEWER = Viewer("open-demo", "admin")


def _setting(name: str, env: str) -> object:
    """An app setting from the environment, else from `[gradelens]` in Streamlit's secrets."""
    if os.environ.get(env) is not None:
        return os.environ[env]
    try:
        return st.secrets.get("gradelens", {}).get(name)
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return None


def _auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return False


def _request_headers() -> dict[str, str]:
    """The request's headers (a function so tests can stand in for the proxy)."""
    return dict(st.context.headers or {})


def current_viewer() -> Viewer | None:
    """The session's viewer once `resolve_viewer` ran; None outside a page (full access)."""
    return st.session_state.get("gradelens_viewer")


def record_audit(action: str, target: str, details: dict | None = None, data_dir: Path | None = None) -> None:
    """Append an audit entry (view, export, import, denied) for the session's viewer."""
    viewer = current_viewer() or ADMIN
    filters = st.session_state.get("gradelens_filters")
    if data_dir is None and filters is not None:
        data_dir = available_datasets().get(filters.data)
    try:
        audit.record(audit.audit_path(data_dir), viewer.id, viewer.role, action, target, details)
    except OSError as exc:  # an unwritable log must not hide the data, but must be visible
        st.warning(f"audit log: {exc}", icon=":material/warning:")


def resolve_viewer(dataset_dir: Path) -> Viewer:
    """Who is looking: Streamlit's sign-in when `[auth]` is in secrets, else a trusted proxy
    header (GRADELENS_IDENTITY_HEADER or secrets gradelens.identity_header), else open demo
    mode with a banner (switched off by GRADELENS_OPEN_DEMO=0). Stops the page with an
    explanation when the person may not look."""
    header = _setting("identity_header", IDENTITY_HEADER_ENV)
    if _auth_configured():
        if not st.user.is_logged_in:
            st.info(t("access.sign_in_prompt"), icon=":material/lock:")
            st.button(t("access.sign_in"), on_click=st.login)
            st.stop()
        identity = str(st.user.get("email") or st.user.get("name") or "")
        with st.sidebar:
            st.button(t("access.sign_out"), on_click=st.logout)
    elif header:
        headers = {k.lower(): v for k, v in _request_headers().items()}
        identity = headers.get(str(header).lower(), "")
        if not identity:
            st.error(t("access.no_identity", header=header), icon=":material/lock:")
            st.stop()
    else:
        if str(_setting("open_demo", OPEN_DEMO_ENV)).lower() in ("0", "false", "no", "off"):
            st.error(t("access.closed"), icon=":material/lock:")
            st.stop()
        # A badge line, not st.warning: it is the app's mode, not a problem with the page's data.
        st.markdown(f":orange-badge[:material/lock_open: {t('access.open_demo_badge')}] {t('access.open_demo_banner')}")
        return DEMO_VIEWER
    access_file = find_access_file(dataset_dir)
    if access_file is None:
        st.error(t("access.no_access_file", identity=identity), icon=":material/lock:")
        st.stop()
    try:
        viewer = load_access(access_file).viewer(identity)
    except GradelensError as exc:
        st.error(t("access.bad_access_file", error=str(exc)), icon=":material/error:")
        st.stop()
    if viewer is None:
        st.session_state["gradelens_viewer"] = Viewer(identity.lower(), "executive")  # for the audit entry only
        record_audit("denied", "app", {"identity": identity}, data_dir=dataset_dir)
        del st.session_state["gradelens_viewer"]
        st.error(t("access.not_listed", identity=identity), icon=":material/lock:")
        st.stop()
    scope = t("access.scope_departments", departments=", ".join(viewer.departments)) if viewer.departments else ""
    st.caption(t("access.viewer_caption", identity=identity, role=t(f"access.role_{viewer.role}"), scope=scope))
    return viewer


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


def _leave_pages_folder_mode() -> None:
    """Rerun through app.py when Streamlit ran this page without it.

    A page URL opened on a server that no one has opened / on yet, or by a session that began
    while no one had, is run by Streamlit's old multipage mode: a `pages/` folder beside app.py
    makes it run the page file directly under a menu of file names. app.py marks the session
    (navigation.ENTRY_MARK) on every run; when the mark is missing on a server started with
    app.py, turning that mode off and rerunning runs app.py, whose navigation serves the same
    page (same URL path) with the app's menu. Once per session, so it can never loop. Streamlit
    keeps the mode in a class attribute of PagesManager; without it, the rerun alone is tried.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or Path(ctx.main_script_path).name != ENTRY_POINT:  # AppTest runs a page as the main script
        return
    if st.session_state.get(ENTRY_MARK) or st.session_state.get(REROUTE_MARK):
        return
    st.session_state[REROUTE_MARK] = True
    if hasattr(PagesManager, "uses_pages_directory"):
        PagesManager.uses_pages_directory = False
    st.rerun()


def sidebar_filters() -> Filters:
    """Render the dataset and filter widgets; store and return the selection.

    Every page calls this first (not app.py: AppTest reruns a page without its entry point).
    When no dataset can be opened it explains why and stops the page.
    """
    _leave_pages_folder_mode()
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
    st.session_state.pop("gradelens_viewer", None)  # resolved afresh: a sign-out must take effect
    st.session_state["gradelens_viewer"] = resolve_viewer(dataset.path)

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
    page = Path(sys._getframe(1).f_code.co_filename).stem  # the page that called us
    seen = (page, tuple(sorted(selection.url_params().items())))
    if st.session_state.get("_audited_view") != seen:  # once per page and filter change, not per rerun
        st.session_state["_audited_view"] = seen
        record_audit("view", page, selection.url_params())
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
