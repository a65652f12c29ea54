"""Several people using one gradelens server at once: N browser sessions, errors and update times.

    uv run python benchmarks/concurrency.py                          # 10 sessions, 3 rounds, fresh demo data
    uv run python benchmarks/concurrency.py --sessions 10 --duration 300 --data /tmp/demo

One `streamlit run app.py` server (headless, a free port, GRADELENS_DATA = the demo company made by
`gradelens demo --out DIR` unless --data names one), one Chromium (Debian's /usr/bin/chromium) and
--sessions browser contexts driven at the same time (async Playwright, asyncio.gather). Each
session repeats a journey, for --rounds rounds or until --duration seconds have passed:

    open a page by its URL -> change cycle -> department -> region (sidebar) -> another page
    (page menu) -> the other language -> another page -> department back to all

A *page update* is the time from the action (the click, or the page load) until Streamlit is idle
again: the script run the action started has finished, no further run follows within 0.3 s, the
connection is up, and every chart is drawn (no skeletons) -- the same test as the browser tests'
AppPage.wait_idle (tests/browser/app_page.py), but timed at the moment the app first looked idle,
not after the 0.3 s check. After each update the page's own title must show (in the language of
the moment): the right page, not only an idle one.

Errors, all counted: a Streamlit exception box (stException), an st.error box, a JavaScript error
or console error (Streamlit's known benign 404 probe excepted, as in the browser tests), a wrong
page title, a page menu that is not the app's (translated titles from gradelens.navigation), a
page switch that loses the sidebar selection or the language (compared in the URL, where
ui.sidebar_filters writes them every run), a timeout (--timeout per update), a step that cannot be
done (a control not found), and a Traceback in the server's log. The journey goes on after an
error, in the language the app then shows.

Prints a table (sessions, updates, errors, p50, p95, max; then per kind of action) and writes
benchmarks/out/concurrency-<sessions>.json (every update and error) and the server's log next to it.
The server's CPU time (user + system, /proc/<pid>/stat) during the journeys and its peak resident
memory (VmHWM, /proc/<pid>/status) are recorded; so is the browser's CPU (Chromium, Playwright's
driver and this script, from getrusage), since the browser shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradelens.i18n import t  # noqa: E402
from gradelens.navigation import PAGES  # noqa: E402
from tests.browser.app_page import BENIGN_CONSOLE_ERRORS, DRAWN, IDLE, RUN_COUNTER  # noqa: E402
from run_benchmarks import memory_mb, percentile  # noqa: E402  (same folder: the script's directory is on sys.path)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]  # as tests/browser
VIEWPORT = {"width": 1400, "height": 900}
SETTLE_S = 0.3  # no new run within this long after one finished: the app is idle
# A run so quick that the frontend applied "running" and "notRunning" in one render never flips
# the attribute the run counter watches (seen on the Data page under load: the view in the URL
# had changed, no run was counted). So an update is also done, with the app idle, when what the
# action changes is on screen: the URL's query (the app writes the view there on every run) for
# the sidebar and language, the page's title for a page switch. Such updates are counted.
SETTLED = f"""([since, done]) => (({IDLE.strip()})(since)
  || (((done.search !== null && location.search !== done.search)
       || (done.title !== null
           && [...document.querySelectorAll('[data-testid="stMain"] h1')].some(h => h.innerText.trim() === done.title)))
      && document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state') === 'notRunning'
      && document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-connection-state') === 'CONNECTED'))
  && ({DRAWN.strip()})()"""
STATE = "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"
RUNS = "() => window.__gradelensRuns.finished"
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}
SELECTION = ("lang", "data", "cycle", "department", "region")  # gradelens.ui.URL_KEYS: the sidebar's, on every page




# ---------------------------------------------------------------- the server and /proc


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(data: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRADELENS_DATA": str(data), "GRADELENS_I18N_STRICT": "1"}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"streamlit exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=1) as response:
                if response.read().strip() == b"ok":
                    return process, base_url
        except OSError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"streamlit did not answer {base_url}/_stcore/health within 60 s; see {log}")


def cpu_seconds(pid: int, with_children: bool = False) -> float:
    """utime + stime of a process (and of its waited-for children), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # fields 14, 15 of stat(5); [0] here is field 3
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def client_cpu_seconds() -> float:
    """CPU of this script and of its finished children: Playwright's driver and, through it,
    Chromium once they have exited (the server has not, so it is not included)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# ---------------------------------------------------------------- one browser session


@dataclass
class Session:
    number: int
    page: object  # playwright.async_api.Page
    base_url: str
    timeout_ms: int
    rng: random.Random
    lang: str = "en"
    updates: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def watch(self) -> None:
        own = urlsplit(self.base_url).netloc
        self.page.on("console", lambda message: self._console(message, own))
        self.page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))

    def _console(self, message, own: str) -> None:
        if message.type != "error":
            return
        source = (message.location or {}).get("url", "")
        if any(text.search(message.text) and url.search(source) for text, url, _why in BENIGN_CONSOLE_ERRORS):
            return
        if source and urlsplit(source).netloc not in ("", own):
            return  # nothing outside is asked for; the browser tests check that separately
        self.console.append(f"console: {message.text} ({source})")

    async def wait_settled(self, since: int, done: dict) -> tuple[float, bool]:
        """When the app was idle (the run after the `since`-th finished, or `done` = {search: the URL
        query before the action, title: the page title expected after it} says so; charts drawn) and stayed so
        for SETTLE_S: the perf_counter time it first looked idle in that last stretch, and whether
        no finished run was counted (see SETTLED)."""
        deadline = time.perf_counter() + self.timeout_ms / 1000
        counted = since
        while True:
            left = max(1, int((deadline - time.perf_counter()) * 1000))
            await self.page.wait_for_function(SETTLED, arg=[since, done], timeout=left, polling=50)
            idle_at = time.perf_counter()
            since = await self.page.evaluate(RUNS)
            await self.page.wait_for_timeout(SETTLE_S * 1000)
            if await self.page.evaluate(RUNS) == since and await self.page.evaluate(STATE) == "notRunning":
                return idle_at, since == counted
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the page kept rerunning for {self.timeout_ms / 1000:.0f} s")

    async def url_state(self) -> dict[str, str]:
        """The view as the app writes it into the URL every run: lang, data, cycle, department, region."""
        return {key: values[0] for key, values in parse_qs(urlsplit(self.page.url).query).items()}

    async def update(self, kind: str, page_stem: str, act, detail: str = "") -> bool:
        """Do `act` (a coroutine function doing one interaction), time it until idle, check the
        page; False when it timed out (the journey then starts its next round)."""
        before = await self.url_state() if kind == "page" else {}
        since = 0 if kind == "open" else await self.page.evaluate(RUNS)
        # What shows the action is done if its run is not seen (a first visit must see its run).
        query = urlsplit(self.page.url).query
        done = {"search": None if kind in ("open", "page") else (f"?{query}" if query else ""),
                "title": t(f"{page_stem}.title", self.lang) if kind == "page" else None}
        started = time.perf_counter()
        record = {"session": self.number, "kind": kind, "page": page_stem, "lang": self.lang, "detail": detail,
                  "at": time.time()}
        try:
            await act()
            idle_at, unseen = await self.wait_settled(since, done)
        except Exception as exc:  # Playwright's TimeoutError and our own: both are timeouts to report
            record["seconds"] = time.perf_counter() - started
            self.errors.append({**record, "error": "timeout", "message": f"{type(exc).__name__}: {str(exc)[:300]}",
                                "state": await self.stuck_state(since)})
            return False
        record["seconds"] = idle_at - started
        record["unseen_run"] = unseen
        self.updates.append(record)
        if kind == "page":
            # The sidebar selection (kept in the URL on every run) must survive a page switch.
            after = await self.url_state()
            lost = {key: [before.get(key), after.get(key)] for key in SELECTION if after.get(key) != before.get(key)}
            if lost:
                self.errors.append({**record, "error": "page switch lost the selection",
                                    "message": f"{{key: [before, after]}} = {lost}"})
            self.lang = after.get("lang", self.lang)  # go on in the language the app now shows
        await self.check(record, page_stem)
        if kind == "open":
            menu = [text.strip() for text in await self.page.locator(
                '[data-testid="stSidebarNavLink"] [data-testid="stMarkdownContainer"]').all_inner_texts()]
            titles = [t(f"{Path(spec.path).stem}.title", self.lang) for spec in PAGES]
            if menu != titles:
                self.errors.append({**record, "error": "menu", "message": f"menu {menu}, expected {titles}"})
        return True

    async def stuck_state(self, since: int) -> dict:
        """What the page looked like when an update timed out: was a run still going, had the
        action started one at all, or was a chart or table still loading?"""
        try:
            return await self.page.evaluate(
                """(since) => ({since: since, runs: window.__gradelensRuns,
                    script: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state'),
                    connection: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-connection-state'),
                    skeletons: document.querySelectorAll('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"]').length,
                    charts: document.querySelectorAll('[data-testid="stPlotlyChart"]').length,
                    url: location.href})""", since)
        except Exception as exc:  # the page itself may be gone
            return {"unreadable": f"{type(exc).__name__}: {str(exc)[:200]}"}

    async def check(self, record: dict, page_stem: str) -> None:
        main = self.page.locator('[data-testid="stMain"]')
        problems = []
        for text in await self.page.locator('[data-testid="stException"]').all_inner_texts():
            problems.append(("exception", text))
        for text in await self.page.locator('[data-testid="stAlertContentError"]').all_inner_texts():
            problems.append(("st.error", text))
        expected = t(f"{page_stem}.title", self.lang)
        titles = [text.strip() for text in await main.locator("h1").all_inner_texts()]
        if expected not in titles:
            problems.append(("wrong page", f"expected title {expected!r}, shown {titles}"))
        problems += [("console", text) for text in self.console]
        self.console.clear()
        for kind, message in problems:
            self.errors.append({**record, "error": kind, "message": message[:600]})

    # -- the interactions ---------------------------------------------------------------

    async def open(self, stem: str) -> bool:
        self.lang = "en"
        path = "" if stem == Path(PAGES[0].path).stem else stem
        return await self.update("open", stem, lambda: self.page.goto(f"{self.base_url}/{path}?lang=en"), path or "/")

    async def choose(self, kind: str, stem: str, key: str, pick) -> bool:
        """Open the sidebar selectbox labelled t(key), choose pick(options) and time the rerun."""
        sidebar = self.page.locator('[data-testid="stSidebar"]')
        box = sidebar.get_by_role("combobox", name=t(key, self.lang), exact=True)
        shown = await box.input_value()
        await box.click()
        listbox = self.page.get_by_role("listbox")
        await listbox.wait_for()
        options = [text.strip() for text in await listbox.get_by_role("option").all_inner_texts()]
        option = pick(options)
        if option == shown:  # choosing what is shown starts no run: nothing to time
            await self.page.keyboard.press("Escape")
            return True
        return await self.update(kind, stem, lambda: self.page.get_by_role("option", name=option, exact=True).click(),
                                 option)

    async def go_to(self, stem: str) -> bool:
        """Click the page's entry in the page menu (found by its address, whatever its label)."""
        links = self.page.locator('[data-testid="stSidebarNavLink"]')
        paths = [urlsplit(href or "").path.rstrip("/").rsplit("/", 1)[-1] for href in
                 await links.evaluate_all("links => links.map(link => link.getAttribute('href'))")]
        default = stem == Path(PAGES[0].path).stem
        index = next((i for i, path in enumerate(paths) if path == stem or (default and path == "")), None)
        if index is None:
            raise LookupError(f"no menu entry for {stem}: {paths}")
        return await self.update("page", stem, lambda: links.nth(index).click(), stem)

    async def switch_language(self, stem: str) -> bool:
        label, target = t("common.sidebar_language", self.lang), "zh" if self.lang == "en" else "en"
        radio = self.page.locator('[data-testid="stSidebar"]').get_by_role("radiogroup", name=label, exact=True) \
            .get_by_role("radio", name=LANGUAGE_NAMES[target], exact=True)

        async def press():
            await radio.click()
            self.lang = target  # the page's title is checked in the new language

        if not await self.update("language", stem, press, target):
            return False
        if (await self.url_state()).get("lang") != target:
            self.errors.append({"session": self.number, "kind": "language", "page": stem, "lang": target, "at": time.time(),
                                "error": "language", "message": f"URL {self.page.url} after choosing {target}"})
        return True

    async def round(self, number: int) -> None:
        stems = [Path(page.path).stem for page in PAGES]
        here = stems[(self.number + number) % len(stems)]
        others = lambda: self.rng.choice([s for s in stems if s != here])  # noqa: E731
        if not await self.open(here):
            return
        steps = [
            lambda: self.choose("cycle", here, "common.sidebar_cycle",
                                lambda options: self.rng.choice(options[:-1] or options)),  # the last is chosen already
            lambda: self.choose("department", here, "common.sidebar_department",
                                lambda options: self.rng.choice(options[1:] or options)),
            lambda: self.choose("region", here, "common.sidebar_region",
                                lambda options: self.rng.choice(options[1:] or options)),
        ]
        for step in steps:
            if not await step():
                return
        for action in ("page", "language", "page"):
            if action == "page":
                here = others()
                if not await self.go_to(here):
                    return
            elif not await self.switch_language(here):
                return
        await self.choose("department", here, "common.sidebar_department", lambda options: options[0])


async def drive(base_url: str, sessions: int, rounds: int, duration: float | None, timeout_s: float, seed: int) -> list[Session]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        people = []
        for number in range(sessions):
            context = await browser.new_context(viewport=VIEWPORT, locale="en-US")
            context.set_default_timeout(timeout_s * 1000)
            page = await context.new_page()
            await page.add_init_script(RUN_COUNTER)
            session = Session(number, page, base_url, int(timeout_s * 1000), random.Random(seed * 1000 + number))
            session.watch()
            people.append(session)
        stop = time.perf_counter() + duration if duration else None

        async def journey(session: Session) -> None:
            number = 0
            while (stop is None and number < rounds) or (stop is not None and time.perf_counter() < stop):
                try:
                    await session.round(number)
                except Exception as exc:  # a step that failed outside an update (e.g. a selectbox not found)
                    session.errors.append({"session": session.number, "kind": "journey", "page": "", "lang": session.lang,
                                           "error": "journey", "message": f"{type(exc).__name__}: {str(exc)[:300]}",
                                           "at": time.time()})
                number += 1

        await asyncio.gather(*(journey(session) for session in people))
        await browser.close()
    return people


# ---------------------------------------------------------------- report


def summarise(updates: list[dict]) -> dict:
    seconds = [u["seconds"] for u in updates]
    if not seconds:
        return {"updates": 0}
    return {"updates": len(seconds), "p50": statistics.median(seconds), "p95": percentile(seconds, 0.95),
            "max": max(seconds), "mean": statistics.fmean(seconds), "unseen_runs": sum(u.get("unseen_run", False) for u in updates)}


def table(report: dict) -> str:
    overall = report["overall"]
    lines = [f"{report['sessions']} sessions, {report['wall_s']:.0f} s, {report['cores']} cores, load average "
             f"{report['load_before']:.1f} before / {report['load_after']:.1f} after; server CPU {report['server']['cpu_s']:.0f} s "
             f"({report['server']['cpu_s'] / report['wall_s']:.2f} cores), peak RSS {report['server']['peak_rss_mb']:.0f} MB; "
             f"browser CPU (Chromium, Playwright, this script) {report['browser_cpu_s']:.0f} s", "",
             "| sessions | updates | errors | p50 s | p95 s | max s |", "|---:|---:|---:|---:|---:|---:|",
             f"| {report['sessions']} | {overall['updates']} | {report['error_count']} | {overall.get('p50', float('nan')):.2f} | "
             f"{overall.get('p95', float('nan')):.2f} | {overall.get('max', float('nan')):.2f} |", "",
             f"Updates whose run the counter did not see (done by the URL or title, see SETTLED): {overall.get('unseen_runs', 0)}", "",
             "| action | updates | p50 s | p95 s | max s |", "|---|---:|---:|---:|---:|"]
    for kind, figures in report["by_kind"].items():
        lines.append(f"| {kind} | {figures['updates']} | {figures['p50']:.2f} | {figures['p95']:.2f} | {figures['max']:.2f} |")
    if report["errors"]:
        lines += ["", "Errors:"]
        lines += [f"- session {e['session']} {e['kind']} {e['page']} ({e['lang']}): {e['error']}: {e['message'][:200]}"
                  + (f" -- page then: {e['state']}" if e.get("state") else "") for e in report["errors"][:30]]
    return "\n".join(lines)


def make_demo(folder: Path) -> None:
    cli = Path(sys.executable).parent / "gradelens"  # the project's console script, as `uv run gradelens demo`
    subprocess.run([str(cli), "demo", "--out", str(folder)], cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="journeys per session (ignored with --duration)")
    parser.add_argument("--duration", type=float, help="seconds: each session repeats its journey until then")
    parser.add_argument("--data", type=Path, help="a dataset folder (default: a new `gradelens demo` in a temporary folder)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds one page update may take")
    parser.add_argument("--seed", type=int, default=7, help="for the sessions' choices")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data
    if data is None:
        data = Path(tempfile.mkdtemp(prefix="gradelens-concurrency-")) / "demo"
        make_demo(data)
    log = args.out / f"concurrency-{args.sessions}-server.log"
    server, base_url = start_server(data.resolve(), log)
    load_before = os.getloadavg()[0]
    try:
        server_cpu, browser_cpu, started = cpu_seconds(server.pid), client_cpu_seconds(), time.perf_counter()
        people = asyncio.run(drive(base_url, args.sessions, args.rounds, args.duration, args.timeout, args.seed))
        wall = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - server_cpu
        browser_cpu = client_cpu_seconds() - browser_cpu  # Chromium and the driver have exited by now
        memory = memory_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    updates = [u for s in people for u in s.updates]
    errors = [e for s in people for e in s.errors]
    tracebacks = log.read_text(errors="replace").count("Traceback")
    if tracebacks:
        errors.append({"session": -1, "kind": "server", "page": "", "lang": "", "error": "server log",
                       "message": f"{tracebacks} Traceback(s) in {log}"})
    kinds = dict.fromkeys(u["kind"] for u in updates)
    report = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(time.time() - wall)), "cores": os.cpu_count(),
        "data": str(data), "sessions": args.sessions, "rounds": None if args.duration else args.rounds,
        "duration": args.duration, "wall_s": wall, "load_before": load_before, "load_after": os.getloadavg()[0],
        "server": {"cpu_s": server_cpu, "peak_rss_mb": memory["VmHWM"], "rss_at_end_mb": memory["VmRSS"]},
        "browser_cpu_s": browser_cpu, "overall": summarise(updates),
        "by_kind": {kind: summarise([u for u in updates if u["kind"] == kind]) for kind in kinds},
        "error_count": len(errors), "errors": errors, "updates": updates,
    }
    path = args.out / f"concurrency-{args.sessions}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(table(report))
    print(f"\n{path}; server log {log}")
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
