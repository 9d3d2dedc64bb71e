"""Shared parts of the page tests: Debian's chromium through Playwright against the real
kiosk served on a free loopback port.

Without Chromium or Playwright the page tests skip on a developer machine (``make test``) and
fail in CI (``CI=true``), where a skip would pass unseen. Screenshots go to tmp unless
$PASSPORT_SCREENSHOTS names a folder (the README's images come from
``PASSPORT_SCREENSHOTS=docs/screenshots``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

import pytest

from passport import store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
]
PASSWORD = "desk password 1"
PHONE = {"width": 390, "height": 844}


def in_ci(environ: Mapping[str, str]) -> bool:
    """Whether the environment says this is a CI run (``CI=true``, as CI services set it)."""
    return environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def chromium_problem(chromium: Path) -> str | None:
    """Why ``chromium`` cannot drive the page tests, or None when it can."""
    if chromium.is_file() and os.access(chromium, os.X_OK):
        return None
    return f"Debian chromium not found at {chromium} (apt-get install -y chromium)"


def require_browser(problem: str | None, environ: Mapping[str, str] = os.environ) -> None:
    """Nothing when ``problem`` is None; else skip the page tests on a developer machine,
    or fail them in CI, where a missing browser is a broken set-up, not a reason to pass."""
    if problem is None:
        return
    if in_ci(environ):
        pytest.fail(f"{problem}; CI=true, so the browser tests must run", pytrace=False)
    pytest.skip(f"{problem}: browser tests skipped (with CI=true they fail instead)")


@contextlib.contextmanager
def launched_chromium() -> Iterator[object]:
    """A headless Debian chromium driven by Playwright (skips or fails without one)."""
    require_browser(chromium_problem(CHROMIUM))
    try:
        from playwright import sync_api
    except ImportError:
        require_browser("playwright is not installed (pip install -e '.[test]')")
        raise  # not reached: require_browser skips or fails
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def kiosk_server(folder: Path, site: str | None, now: datetime,
                 setup: Callable[[object], dict]) -> Iterator[dict]:
    """The kiosk on its own store in ``folder``, at ``site``, on a fixed CLOCK ``now``,
    served by a werkzeug thread on 127.0.0.1:<free port>. ``setup(db)`` fills the store
    before the app starts and returns extras for the test; the result is those extras plus
    ``url`` and ``db``."""
    from werkzeug.serving import make_server

    from kiosk import create_app
    from kiosk.site import set_kiosk_site
    from kiosk.warmup import warm

    with pytest.MonkeyPatch.context() as env:
        env.setenv("PASSPORT_DB", str(folder / "passport.sqlite"))
        env.setenv("PASSPORT_INSTANCE", str(folder / "instance"))
        db = store.open_db()
        extras = setup(db)
        app = create_app({"SECRET_KEY": "browser-test-secret", "CLOCK": lambda: now})
        if site is not None:
            with app.app_context():
                set_kiosk_site(site)
        warm(app)
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield {**extras, "url": f"http://127.0.0.1:{httpd.server_port}", "db": db}
        finally:
            httpd.shutdown()
            thread.join(timeout=10)
            httpd.server_close()
            db.close()


def sign_in(page, url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(lambda address: "/login" not in address)


@contextlib.contextmanager
def desk_page(browser, url: str, username: str = "desk1", timeout_ms: int = 10_000):
    """A signed-in desk page, its scan field focused; closed afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    try:
        sign_in(page, url, username)
        page.goto(f"{url}/desk")
        page.wait_for_function("document.activeElement && document.activeElement.id === 'scan'")
        yield page
    finally:
        context.close()


def screenshot(page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("PASSPORT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def scan(page, payload: str) -> None:
    """What a keyboard-wedge scanner does: type into the focused field, then Enter."""
    page.keyboard.type(payload, delay=0)
    page.keyboard.press("Enter")


def scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def wide_elements(page) -> list[str]:
    """Elements whose right edge passes the viewport (for the failure message)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`
                                 + ` ${Math.round(e.getBoundingClientRect().right)}`)""")
