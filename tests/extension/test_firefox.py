"""The same extension in Debian's Firefox ESR, with the real native host installed by
``dmledger browser install --browser firefox``, driven over WebDriver BiDi
(support/firefox.py); and Mozilla's ``web-ext lint`` on the addons.mozilla.org zip.

Without firefox-esr (``make firefox``) or web-ext (``make web-ext``) these skip with
the reason, and fail under CI=true.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmledger.app.ledger import Ledger
from dmledger.native.install import FIREFOX_ID, HOST_NAME, extension_dir
from dmledger.native.package import build_zip
from support.env import IN_CI
from support.extension import THREADS, seeded_home
from support.firefox import FIREFOX, Firefox, start

REPO = Path(__file__).resolve().parents[2]
WEB_EXT = REPO / "node_modules" / ".bin" / "web-ext"
pytestmark = pytest.mark.firefox

PANEL = "document.querySelector('#dmledger-root')?.shadowRoot?.querySelector('.panel')"


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason + " (CI=true: the Firefox tests must run)")
    pytest.skip(reason)


@pytest.fixture
def firefox_in(tmp_path: Path) -> Iterator[list[Firefox]]:
    """Firefoxes started by a test, closed after it."""
    if not Path(FIREFOX).exists():
        _missing(f"{FIREFOX} is missing: install Debian's firefox-esr (make firefox)")
    started: list[Firefox] = []
    yield started
    for browser in started:
        browser.close()


def verdict(browser: Firefox, handle: str) -> str:
    """The card's verdict for ``handle``, once the card shows that lead."""
    found: str = browser.wait_for(
        f"{PANEL}?.dataset.handle === {json.dumps(handle)} && {PANEL}.dataset.verdict"
    )
    return found


def test_the_card_answers_in_firefox_from_the_real_host(
    firefox_in: list[Firefox], home: Path, tmp_path: Path
) -> None:
    seeded_home(home)
    browser = start(tmp_path, home, THREADS)
    firefox_in.append(browser)
    assert browser.addon_id == FIREFOX_ID
    manifest = tmp_path / "user" / ".mozilla" / "native-messaging-hosts" / f"{HOST_NAME}.json"
    assert json.loads(manifest.read_text())["allowed_extensions"] == [FIREFOX_ID]
    browser.open("/glow.skin/")
    assert verdict(browser, "glow.skin") == "contacted"
    assert "marcus.closes" in browser.evaluate(f"{PANEL}.innerText")
    # The card is styled (its stylesheet reached the shadow root) and fixed on screen.
    card = "document.querySelector('#dmledger-root').shadowRoot.querySelector('.card')"
    assert browser.evaluate(f"getComputedStyle({card}).position") == "fixed"
    browser.evaluate("window.spaGo('/quiet.lead/')")
    assert verdict(browser, "quiet.lead") == "not-contacted"
    assert browser.bidi.failures == []


def test_setting_a_status_in_firefox_is_recorded_in_the_home(
    firefox_in: list[Firefox], home: Path, tmp_path: Path
) -> None:
    seeded_home(home)
    browser = start(tmp_path, home, THREADS)
    firefox_in.append(browser)
    browser.open("/quiet.lead/")
    assert verdict(browser, "quiet.lead") == "not-contacted"
    root = "document.querySelector('#dmledger-root').shadowRoot"
    browser.evaluate(
        f"""(() => {{
          const menu = {root}.querySelector('select[name="status"]');
          menu.value = "warm";
          menu.dispatchEvent(new Event("input", {{bubbles: true}}));
          menu.dispatchEvent(new Event("change", {{bubbles: true}}));
          {root}.querySelector('[data-action="set-status"]').click();
          return true;
        }})()"""
    )
    browser.wait_for(f"{root}.querySelector('[data-status=\"warm\"]') !== null")
    ledger = Ledger.open(home)
    try:
        assert ledger.card("quiet.lead").status == "warm"
    finally:
        ledger.close()


def test_without_the_host_the_firefox_card_names_the_install_command(
    firefox_in: list[Firefox], home: Path, tmp_path: Path
) -> None:
    seeded_home(home)
    browser = start(tmp_path, home, THREADS, install=False)
    firefox_in.append(browser)
    browser.open("/glow.skin/")
    assert verdict(browser, "glow.skin") == "unavailable"
    assert "not installed" in browser.evaluate(f"{PANEL}.innerText")
    fix = browser.evaluate(f"{PANEL}.querySelector('code').textContent")
    assert fix == "dmledger browser install"


def test_where_adopted_style_sheets_throws_the_card_gets_a_style_element(
    firefox_in: list[Firefox], home: Path, tmp_path: Path
) -> None:
    """Older Firefox refuses a constructed sheet from a content script; the card then
    styles itself with a <style> element. The refusal is made here by a copy of the
    extension whose content scripts see a throwing adoptedStyleSheets."""
    seeded_home(home)
    copy = tmp_path / "extension"
    shutil.copytree(extension_dir(), copy)
    card_js = copy / "card.js"
    card_js.write_text(
        "Object.defineProperty(ShadowRoot.prototype, 'adoptedStyleSheets', {set() {"
        " throw new TypeError('refused, as older Firefox does'); }});\n" + card_js.read_text()
    )
    browser = start(tmp_path, home, THREADS, extension=copy)
    firefox_in.append(browser)
    browser.open("/glow.skin/")
    assert verdict(browser, "glow.skin") == "contacted"
    shadow = "document.querySelector('#dmledger-root').shadowRoot"
    assert browser.evaluate(f"{shadow}.querySelectorAll('style').length") == 1
    assert browser.evaluate(f"{shadow}.adoptedStyleSheets.length") == 0
    card = f"{shadow}.querySelector('.card')"
    assert browser.evaluate(f"getComputedStyle({card}).position") == "fixed"


def test_web_ext_lint_finds_nothing_in_the_firefox_zip(tmp_path: Path) -> None:
    if not WEB_EXT.exists():
        _missing(f"{WEB_EXT} is missing: run `make web-ext` (npm ci, package-lock.json)")
    built = build_zip("firefox", tmp_path / "dist")
    source = tmp_path / "firefox"
    with zipfile.ZipFile(built) as archive:
        archive.extractall(source)
    done = subprocess.run(
        [str(WEB_EXT), "lint", "--source-dir", str(source), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stdout)
    found = [
        (m["code"], m["message"]) for k in ("errors", "warnings", "notices") for m in report[k]
    ]
    assert found == []
    assert done.returncode == 0
