"""P10: the extension's card in the Instagram tab, in Debian's Chromium with the real
native host, on the home whose cache P2 pulled (every cloud lead).

Measured in the page: the content script stamps ``performance.now()`` on the card
when it renders an answer (``#dmledger-root[data-shown-at]``); the page's own
navigation timing gives its load. "After load" is the card's time minus
``loadEventEnd`` (0 when the card was there before the load event ended). Page loads
are our stand-in for instagram.com (tests/support/instagram.py), served by
Playwright's routing, so the network plays no part. The first card after the browser
starts is reported apart (the worker starts the host when the browser starts).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

from bench.context import RunContext
from bench.harness import Figure, percentile

TARGET_MS = 300.0
SHOWN = """() => {
  const host = document.querySelector('#dmledger-root');
  const nav = performance.getEntriesByType('navigation')[0];
  return {shown: Number(host.dataset.shownAt), load: nav.loadEventEnd,
          dcl: nav.domContentLoadedEventEnd, start: nav.startTime};
}"""


def extension_available() -> str | None:
    """None when the browser figure can run here, else why not."""
    if not Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium is missing (make chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"playwright is not installed: {error}"
    return None


def _wait_card(browser: Any, handle: str) -> None:
    browser.page.locator(f'#dmledger-root .panel[data-verdict][data-handle="{handle}"]').wait_for(
        timeout=30000
    )


def card_in_the_tab(ctx: RunContext) -> list[Figure]:
    from playwright.sync_api import sync_playwright
    from tests.support.extension import seeded_home, start

    loads = max(12, ctx.sizes.repeats * 6)
    rng = random.Random(ctx.seed + 8)
    with tempfile.TemporaryDirectory(prefix="dmledger-ext-", dir=ctx.tmp) as folder:
        home = ctx.cache_home
        if home is None:  # P2 did not run: a small home of its own
            home = Path(folder) / "home"
            seeded_home(home)
        handles = ctx.handles or ["glow.skin", "quiet.lead", "brand.new.lead"]
        with sync_playwright() as driver:
            browser = start(driver, Path(folder), home)
            try:
                first = rng.choice(handles)
                browser.open(f"/{first}/")
                _wait_card(browser, first)
                cold = browser.page.evaluate(SHOWN)
                after_load: list[float] = []
                after_start: list[float] = []
                for _ in range(loads):
                    handle = rng.choice(handles)
                    browser.open(f"/{handle}/")
                    _wait_card(browser, handle)
                    t = browser.page.evaluate(SHOWN)
                    after_load.append(max(0.0, t["shown"] - t["load"]))
                    after_start.append(t["shown"] - t["start"])
                in_app: list[float] = []
                for _ in range(loads):
                    handle = rng.choice(handles)
                    before = browser.page.evaluate(
                        "path => { const t = performance.now(); window.spaGo(path); return t; }",
                        f"/{handle}/",
                    )
                    _wait_card(browser, handle)
                    in_app.append(browser.page.evaluate(SHOWN)["shown"] - before)
            finally:
                browser.close()
    p50, p95 = percentile(after_load, 0.5), percentile(after_load, 0.95)
    details: dict[str, Any] = {
        "page_loads": loads,
        "leads_in_cache": len(ctx.handles) if ctx.cache_home is not None else 4,
        "after_load_p50_ms": round(p50, 1),
        "after_navigation_start_p50_ms": round(percentile(after_start, 0.5), 1),
        "after_navigation_start_p95_ms": round(percentile(after_start, 0.95), 1),
        "first_card_after_browser_start_ms": round(max(0.0, cold["shown"] - cold["load"]), 1),
    }
    return [
        Figure(
            "P10",
            "extension card after the page's load (Chromium, native host): p95",
            round(p95, 1),
            "ms",
            None,
            None,
            None,
            f"p95 ≤ {TARGET_MS:.0f} ms",
            p95 <= TARGET_MS,
            details,
        ),
        Figure(
            "P10",
            "extension card after an in-app navigation (history.pushState): p95",
            round(percentile(in_app, 0.95), 1),
            "ms",
            None,
            None,
            None,
            f"p95 ≤ {TARGET_MS:.0f} ms",
            percentile(in_app, 0.95) <= TARGET_MS,
            {"navigations": loads, "p50_ms": round(percentile(in_app, 0.5), 1)},
        ),
    ]
