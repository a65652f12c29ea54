"""Browser tests: the real app (`streamlit run app.py`) in headless Chromium, driven by Playwright.

The browser is Debian's `chromium` package, never a Playwright download. Without it (or without
the playwright package) these tests skip locally and fail in CI (`CI` set), so CI cannot pass
by silently not running them. Deselect them with `-m "not browser"`.

One server and one browser serve the whole session, on a small demo company generated once;
each test gets a fresh browser context (no shared cookies, storage or session state).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser.app_page import AppPage

ROOT = Path(__file__).resolve().parents[2]
BROWSER_TESTS = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI containers run as root without user namespaces
    "--disable-gpu",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
SERVER_LOG = ARTIFACTS / "browser-server.log"
VIEWPORT = {"width": 1400, "height": 900}
DEMO_EMPLOYEES, DEMO_CYCLES = 300, 3  # small enough to generate in ~2 s and render fast


def pytest_collection_modifyitems(config, items):
    """Every test in this folder is a browser test, so `-m "not browser"` leaves them all out."""
    for item in items:
        if BROWSER_TESTS in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test failed (for the pictures of failed journeys).
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str):
    """Skip on a developer's machine; fail in CI, where the browser is part of the setup."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so the browser tests must run; .ci/run installs chromium)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (it is a dev dependency: `uv sync`)")
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM} (install Debian's package: apt-get install chromium)")
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Error as exc:
        playwright.stop()
        unavailable(f"Chromium at {CHROMIUM} does not start: {str(exc).splitlines()[0]}")
    yield launched
    launched.close()
    playwright.stop()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A small demo company, generated once per session. The folder is named `demo` so
    captions and screenshots read as they would for someone trying the app."""
    from gradelens.demo import generate

    folder = tmp_path_factory.mktemp("browser") / "demo"
    generate(folder, employees=DEMO_EMPLOYEES, cycles=DEMO_CYCLES)
    return folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_app(data: Path, log_path: Path):
    """`streamlit run app.py` on `data` at a free local port, yielding its base URL; stopped after."""
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    env = {**os.environ, "GRADELENS_DATA": str(data), "GRADELENS_I18N_STRICT": "1"}
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--server.runOnSave", "false",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base_url, process, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def server(browser, demo_dir) -> str:
    """The app served on a free local port; its base URL. Output goes to artifacts/browser-server.log."""
    with running_app(demo_dir, SERVER_LOG) as base_url:
        yield base_url


@pytest.fixture
def fresh_server(browser, demo_dir) -> str:
    """A server of its own that no visitor has opened yet (artifacts/browser-fresh-server.log)."""
    with running_app(demo_dir, ARTIFACTS / "browser-fresh-server.log") as base_url:
        yield base_url


def _wait_for_health(base_url: str, process: subprocess.Popen, log_path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode} before answering:\n{_log_tail(log_path)}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=1) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"streamlit did not answer {base_url}/_stcore/health within {timeout_s:.0f} s:\n{_log_tail(log_path)}",
                pytrace=False)


def _log_tail(log_path: Path, lines: int = 30) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def new_tab(request, browser, server):
    """Opens tabs in fresh browser contexts (as a new visitor would); closes them afterwards.
    When the test fails, each tab is photographed to artifacts/screenshots/failed-<test>-<n>.png."""
    tabs = []

    def open_tab(locale: str = "en-US") -> AppPage:
        context = browser.new_context(viewport=VIEWPORT, locale=locale, accept_downloads=True)
        context.set_default_timeout(30_000)
        tabs.append(AppPage(context.new_page(), server).watch())
        return tabs[-1]

    yield open_tab
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for number, tab in enumerate(tabs, 1):
        if failed:
            try:
                tab.screenshot(SCREENSHOTS / f"failed-{request.node.name}-{number}.png")
            except Exception:  # the picture is a courtesy; the failure is already reported
                pass
        tab.page.context.close()


@pytest.fixture
def app(new_tab) -> AppPage:
    return new_tab()


@pytest.fixture
def save_screenshot():
    """save_screenshot(app, name): a whole-page PNG at artifacts/screenshots/<name>.png
    (CI keeps the artifacts folder)."""

    def save(app: AppPage, name: str) -> Path:
        return app.screenshot(SCREENSHOTS / f"{name}.png")

    return save
