"""One browser tab on the running app, with the few things the browser tests do to it.

Streamlit reruns the page script on every interaction. `stApp` carries the run's state in
`data-test-script-state` ("initial" -> "running" -> "notRunning"); an init script counts the
finished runs so `after_rerun()` can wait for the run an action started, not the previous one.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

# Counts runs as they finish. Observing the whole document catches stApp whenever it is
# (re)created; attributeOldValue tells a finished run from a first render.
RUN_COUNTER = """
(() => {
  window.__gradelensRuns = {started: 0, finished: 0};
  new MutationObserver(records => {
    for (const record of records) {
      const state = record.target.getAttribute('data-test-script-state');
      if (state === record.oldValue) continue;
      if (state === 'running') window.__gradelensRuns.started += 1;
      if (state === 'notRunning') window.__gradelensRuns.finished += 1;
    }
  }).observe(document, {subtree: true, attributes: true,
                        attributeFilter: ['data-test-script-state'], attributeOldValue: true});
})();
"""

IDLE = """
(since) => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && window.__gradelensRuns.finished > since
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED';
}
"""

# Charts and tables load their code lazily: a skeleton stands in until it arrives, and a
# chart's frame is there before its plot is drawn.
DRAWN = """
() => !document.querySelector('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"]')
  && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(chart => {
       const plot = chart.querySelector('.js-plotly-plot');
       return plot && plot._fullLayout && plot.querySelector('.main-svg');
     })
"""

# What a plotly chart holds and draws: traces with data (from the figure Plotly built) and
# drawn trace groups (SVG) or WebGL canvases.
CHART_CONTENTS = """
(root) => [...root.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')].map(plot => {
  const length = v => (v && v.length) || 0;
  const traces = (plot._fullData || []).filter(t => t.visible === true);
  const points = traces.reduce((sum, t) => sum + Math.max(length(t.x), length(t.y), length(t.z), length(t.values),
      length(t.labels), length(t.ids), length(t.lat), length(t.r), length(t.dimensions)), 0);
  return {
    types: traces.map(t => t.type),
    traces: traces.length,
    points: points,
    drawn: plot.querySelectorAll('.main-svg g.trace, .main-svg .hm image, .gl-container canvas').length,
  };
})
"""


# Where point `index` of the first trace with x/y data sits on the screen, and what it is.
# (A heatmap cell the user can click is drawn as a square-marker scatter: Streamlit's
# on_select does not report clicks on go.Heatmap, streamlit/streamlit#8760.)
POINT_POSITION = """
(plot, index) => {
  const trace = plot._fullData.find(t => t.visible === true && t.x && t.x.length > index);
  const axis = (name, id) => plot._fullLayout[name + id.slice(1)];
  const xaxis = axis('xaxis', trace.xaxis), yaxis = axis('yaxis', trace.yaxis);
  const box = plot.getBoundingClientRect();
  return {x: box.left + xaxis._offset + xaxis.d2p(trace.x[index]),
          y: box.top + yaxis._offset + yaxis.d2p(trace.y[index]),
          point: [String(trace.x[index]), String(trace.y[index])]};
}
"""

# Console errors Streamlit itself logs in normal operation: (message, source URL, why benign).
BENIGN_CONSOLE_ERRORS = [
    (
        re.compile(r"^Failed to load resource: the server responded with a status of 404"),
        re.compile(r"^https?://[^/]+/[^/?]+/_stcore/(health|host-config)$"),
        # Opened at a page's own URL (/grades), the frontend cannot tell a page path from a
        # base URL path, so it probes /grades/_stcore/... (404) before /_stcore/... (200).
        # streamlit/streamlit#7074, open; the app connects normally right after.
        "Streamlit probes the base URL path when a page is opened by its URL",
    ),
]

# st.dataframe draws on a canvas: a click selects a row through its row marker at the left
# edge. Streamlit's rows are 35 px high under a header row of the same height.
ROW_HEIGHT_PX = 35
ROW_MARKER_X_PX = 12


@dataclass
class AppPage:
    """A Playwright page on the app at `base_url`, recording what went wrong in the browser."""

    page: object  # playwright.sync_api.Page
    base_url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def watch(self) -> AppPage:
        own = urlsplit(self.base_url).netloc
        self.page.on("console", lambda message: self._console(message, own))
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.context.route(lambda url: url.startswith(("http:", "https:")) and urlsplit(url).netloc != own,
                                self._refuse)
        self.page.add_init_script(RUN_COUNTER)
        return self

    def _refuse(self, route) -> None:
        # The app must work offline: whatever it asks of the internet is recorded and refused,
        # so a machine with network behaves like one without.
        self.outside_requests.append(route.request.url)
        route.abort()

    def _console(self, message, own: str) -> None:
        if message.type != "error":
            return
        source = (message.location or {}).get("url", "")
        if source and urlsplit(source).netloc not in ("", own):
            # A refused outside request logs "Failed to load resource" for that URL. It is
            # reported once, with its URL, by test_the_app_requests_nothing_outside_its_own_server.
            return
        if any(text.search(message.text) and url.search(source) for text, url, _why in BENIGN_CONSOLE_ERRORS):
            return
        self.console_errors.append(f"{message.text} ({source})" if source else message.text)

    def outside_resources(self) -> list[str]:
        """Outside URLs the app asked for: refused requests, and icons, images, scripts and
        styles pointing elsewhere (the browser fetches favicons without going through routing)."""
        own = urlsplit(self.base_url).netloc
        linked = self.page.evaluate(
            """() => [...document.querySelectorAll('link[href], img[src], script[src], iframe[src]')]
                     .map(e => e.href || e.src)"""
        )
        foreign = [url for url in linked if url.startswith(("http:", "https:")) and urlsplit(url).netloc != own]
        return sorted(set(self.outside_requests + foreign))

    # -- navigation and waiting -------------------------------------------------------------

    def open(self, url_path: str = "", **params: str) -> AppPage:
        url = f"{self.base_url}/{url_path}"
        if params:
            url += "?" + urlencode(params)
        return self.open_url(url)

    def open_url(self, url: str) -> AppPage:
        self.page.goto(url)
        self.wait_idle(since=0)
        return self

    def runs_finished(self) -> int:
        return self.page.evaluate("() => window.__gradelensRuns.finished")

    def wait_idle(self, since: int, timeout_ms: int = 90_000, settle_s: float = 0.3) -> None:
        """Wait until a run after the `since`-th has finished and no other follows it soon
        (a page may rerun itself), then until every chart has been drawn."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            self.page.wait_for_function(IDLE, arg=since, timeout=timeout_ms, polling=50)
            since = self.runs_finished()
            self.page.wait_for_timeout(settle_s * 1000)
            if self.runs_finished() == since and self._state() == "notRunning":
                break
            # Another run started meanwhile (a page may rerun itself): wait for that one too.
            assert time.monotonic() < deadline, f"the page keeps rerunning itself ({since} runs, {timeout_ms // 1000} s)"
        self.page.wait_for_function(DRAWN, timeout=timeout_ms, polling=100)

    def _state(self) -> str | None:
        return self.page.evaluate(
            "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"
        )

    @contextmanager
    def after_rerun(self):
        """`with app.after_rerun(): <interaction>` returns once the rerun it caused is done."""
        before = self.runs_finished()
        yield
        self.wait_idle(since=before)

    # -- widgets ----------------------------------------------------------------------------

    def choose(self, label: str, option: str, sidebar: bool = False) -> None:
        """Pick `option` in the selectbox labelled `label`."""
        scope = self.page.locator('[data-testid="stSidebar"]') if sidebar else self.page.locator('[data-testid="stMain"]')
        with self.after_rerun():
            scope.get_by_role("combobox", name=label, exact=True).click()
            self.page.get_by_role("option", name=option, exact=True).click()

    def options(self, label: str, sidebar: bool = False) -> list[str]:
        """The option texts of the selectbox labelled `label` (opens and closes it)."""
        scope = self.page.locator('[data-testid="stSidebar"]') if sidebar else self.page.locator('[data-testid="stMain"]')
        scope.get_by_role("combobox", name=label, exact=True).click()
        listbox = self.page.get_by_role("listbox")
        listbox.wait_for()
        texts = [text.strip() for text in listbox.get_by_role("option").all_inner_texts()]
        self.page.keyboard.press("Escape")
        return texts

    def press_segment(self, label: str, option: str, sidebar: bool = False) -> None:
        """Press `option` in the segmented control (or pills) labelled `label`."""
        scope = self.page.locator('[data-testid="stSidebar"]') if sidebar else self.page.locator('[data-testid="stMain"]')
        with self.after_rerun():
            scope.get_by_role("radiogroup", name=label, exact=True).get_by_role("radio", name=option, exact=True).click()

    def pick(self, label: str, option: str | None = None, index: int | None = None) -> str:
        """Choose in the control labelled `label`, whether it is a segmented control, pills,
        radio buttons or a selectbox: `option` by its text, or the `index`-th option.
        Returns the option chosen."""
        main = self.page.locator('[data-testid="stMain"]')
        group = main.get_by_role("radiogroup", name=label, exact=True)
        if group.count():
            choices = group.get_by_role("radio")
            choice = choices.nth(index) if option is None else group.get_by_role("radio", name=option, exact=True)
            option = choice.inner_text().strip()
            with self.after_rerun():
                choice.click()
            return option
        if option is None:
            option = self.options(label)[index]
        self.choose(label, option)
        return option

    def click_chart_point(self, chart: int = 0, index: int = 0) -> tuple[str, str]:
        """Click point `index` of the `chart`-th chart (for a selection); returns its (x, y)."""
        plot = self.page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"] .js-plotly-plot').nth(chart)
        plot.scroll_into_view_if_needed()
        position = plot.evaluate(POINT_POSITION, index)
        with self.after_rerun():
            self.page.mouse.click(position["x"], position["y"])
        return tuple(position["point"])

    def chart_with(self, trace_type: str) -> int:
        """The index of the first chart that has a trace of `trace_type` (e.g. "heatmap")."""
        return next(index for index, chart in enumerate(self.charts()) if trace_type in chart["types"])

    def select_table_row(self, key: str, row: int) -> None:
        """Select row `row` (0 = first) of the selectable st.dataframe with widget key `key`."""
        canvas = self.page.locator(f'.st-key-{key} [data-testid="data-grid-canvas"]')
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        with self.after_rerun():
            self.page.mouse.click(box["x"] + ROW_MARKER_X_PX, box["y"] + ROW_HEIGHT_PX * (row + 1) + ROW_HEIGHT_PX / 2)

    def table_cells(self, key: str) -> list[list[str]]:
        """The visible rows of the st.dataframe with widget key `key`, as cell texts (read from
        the table st.dataframe keeps for screen readers; its canvas has no text)."""
        rows = self.page.locator(f'.st-key-{key} [data-testid="stDataFrame"] tbody tr')
        rows.first.wait_for(state="attached")  # filled in once the grid has drawn
        return [[cell.strip() for cell in row.locator("td").all_text_contents()] for row in rows.all()]

    def alerts(self) -> list[str]:
        """The texts of st.info / st.warning / st.error / st.success boxes in the main area."""
        alerts = self.page.locator('[data-testid="stMain"] [data-testid="stAlert"]')
        return [text.strip() for text in alerts.all_inner_texts()]

    def download(self, button, folder: Path) -> Path:
        """Click a download button; the file, saved in `folder` under the name the app gave it."""
        with self.page.expect_download() as download:
            button.click()
        self.settle()  # a download button reruns the page unless told not to
        saved = folder / download.value.suggested_filename
        download.value.save_as(saved)
        return saved

    def open_tab(self, label: str) -> None:
        """Show the st.tabs tab labelled `label` (tabs switch in the browser, without a rerun)."""
        self.page.locator('[data-testid="stMain"]').get_by_role("tab", name=label, exact=True).click()

    def upload(self, *files: Path, uploader: int = 0) -> None:
        """Drop `files` on the `uploader`-th file uploader; returns when the page has run with them."""
        with self.after_rerun(), self.page.expect_response(lambda response: "/_stcore/upload_file/" in response.url):
            self.page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').nth(uploader) \
                .set_input_files([str(f) for f in files])

    def settle(self, quiet_s: float = 0.5) -> None:
        """Wait until the app is idle and stays so for `quiet_s`, whether or not a run was expected."""
        start = self.runs_finished()
        self.page.wait_for_timeout(quiet_s * 1000)
        if self._state() != "notRunning" or self.runs_finished() != start:
            self.wait_idle(since=start)

    # -- reading the screen -----------------------------------------------------------------

    def title(self) -> str:
        return self.page.locator('[data-testid="stMain"] h1').first.inner_text().strip()

    def main_selectbox_value(self, label: str) -> str:
        """The option shown by the main-area selectbox labelled `label`."""
        return self.page.locator('[data-testid="stMain"]').get_by_role("combobox", name=label, exact=True).input_value()

    def menu(self) -> list[str]:
        """The page menu's entries, top to bottom."""
        labels = self.page.locator('[data-testid="stSidebarNavLink"] [data-testid="stMarkdownContainer"]')  # not the icon
        return [text.strip() for text in labels.all_inner_texts()]

    def selectbox_values(self) -> dict[str, str]:
        """Each sidebar selectbox's label -> the option shown."""
        boxes = self.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input[role="combobox"]')
        return {box.get_attribute("aria-label"): box.input_value() for box in boxes.all()}

    def metrics(self) -> dict[str, str]:
        """Each metric's label -> its value, as shown."""
        return {
            metric.locator('[data-testid="stMetricLabel"]').inner_text().strip():
            metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
            for metric in self.page.locator('[data-testid="stMain"] [data-testid="stMetric"]').all()
        }

    def shows(self, text: str, timeout_ms: int = 15_000) -> bool:
        """Whether the main area's text (tables included) contains `text`, waiting for it a while:
        a table's cells reach the page after the table is drawn."""
        from playwright.sync_api import TimeoutError as NotYet

        try:
            self.page.locator('[data-testid="stMain"]').filter(has_text=text).wait_for(state="attached", timeout=timeout_ms)
        except NotYet:
            return False
        return True

    def charts(self) -> list[dict[str, int]]:
        return self.page.locator('[data-testid="stMain"]').evaluate(CHART_CONTENTS)

    def exceptions(self) -> list[str]:
        return self.page.locator('[data-testid="stException"]').all_inner_texts()

    def problems(self) -> dict[str, list[str]]:
        """Everything that went wrong in the browser so far; empty lists when all is well."""
        return {"exceptions": self.exceptions(), "console errors": self.console_errors, "page errors": self.page_errors}

    # -- pictures ---------------------------------------------------------------------------

    def screenshot(self, path: Path, whole_page: bool = True) -> Path:
        """A PNG of the page; `whole_page` grows the window to the main area's full height,
        since Streamlit scrolls inside its own container, not the document."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not whole_page:
            self.page.screenshot(path=str(path))
            return path
        viewport = self.page.viewport_size
        height = self.page.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
        )
        self.page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], min(height, 8000))})
        try:
            self.page.wait_for_timeout(300)  # plotly relayouts on resize
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(viewport)
        return path
