"""The extension as the stores ship it, in real Chromium: the store's zip loads with no
manifest warning, and a copy with a store's id is refused by the host until
``browser install --extension-id`` allows the id the card names."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from dmledger.native.install import EXTENSION_ID
from dmledger.native.package import build_zip
from support.extension import CARD, Browser, dmledger, launch, seeded_home, start

pytestmark = pytest.mark.browser

EXTENSIONS_INFO = """() => new Promise((done) => {
  const dev = chrome.developerPrivate;
  const ours = (all) => all.filter((e) => e.name === "DM Ledger");
  // Until every copy is enabled again after its reload (bounded by the test's timeout).
  const settled = () => dev.getExtensionsInfo({includeDisabled: true}, (all) => {
    if (ours(all).some((e) => e.state !== "ENABLED")) { setTimeout(settled, 100); return; }
    done(ours(all).map((e) => ({id: e.id, state: e.state, warnings: e.manifestErrors
      .map((m) => m.message).concat(e.installWarnings.map((w) => w.message))})));
  });
  // Reloading an unpacked extension in developer mode is what collects its manifest
  // warnings (chrome://extensions shows them under "Errors").
  dev.updateProfileConfiguration({inDeveloperMode: true}, () => dev.getExtensionsInfo({},
    (all) => {
      let left = ours(all).length;
      for (const e of ours(all)) {
        dev.reload(e.id, {failQuietly: true}, () => { if (--left === 0) settled(); });
      }
    }));
})"""


def unzipped(store: str, folder: Path) -> Path:
    target = folder / f"store-{store}"
    with zipfile.ZipFile(build_zip(store, folder / "dist")) as archive:
        archive.extractall(target)
    return target


def manifest_warnings(playwright: Any, folder: Path, extension: Path | None) -> list[Any]:
    profile = folder / "profile"
    profile.mkdir()
    context = launch(playwright, profile, extension=extension)
    try:
        page = context.new_page()
        page.goto("chrome://extensions")
        found: list[Any] = page.evaluate(EXTENSIONS_INFO)
        return found
    finally:
        context.close()


def test_the_unpacked_extension_loads_and_warns_only_of_firefoxs_background_entry(
    playwright: Any, tmp_path: Path
) -> None:
    [found] = manifest_warnings(playwright, tmp_path, None)
    assert found["id"] == EXTENSION_ID and found["state"] == "ENABLED"
    assert found["warnings"] == ["'background.scripts' requires manifest version of 2 or lower."]


def test_the_chrome_store_zip_loads_with_no_manifest_warning(
    playwright: Any, tmp_path: Path
) -> None:
    [found] = manifest_warnings(playwright, tmp_path, unzipped("chrome", tmp_path))
    assert found["state"] == "ENABLED" and found["warnings"] == []
    assert found["id"] != EXTENSION_ID  # no key: the id comes from elsewhere (a store)


def test_a_store_copy_is_refused_with_its_id_and_the_command_that_allows_it(
    home: Path, tmp_path: Path, playwright: Any
) -> None:
    seeded_home(home)
    store_copy = unzipped("chrome", tmp_path)
    browser: Browser = start(playwright, tmp_path, home, extension=store_copy)
    try:
        browser.open("/glow.skin/")
        browser.wait_verdict("unavailable", "glow.skin")
        text = browser.card_text()
        fix = browser.page.locator(f"{CARD} code").inner_text()
        store_id = fix.removeprefix("dmledger browser install --extension-id ")
        assert len(store_id) == 32 and store_id != EXTENSION_ID
        assert f"does not allow this copy of the extension (id {store_id})" in text
        # The command the card gives, for this browser's profile folder, lets it in.
        done = dmledger(
            home, "--json", "browser", "install", "--profile", str(browser.profile),
            "--extension-id", store_id,
        )  # fmt: skip
        assert json.loads(done.stdout)["store_extension_ids"] == [store_id]
        browser.open("/quiet.lead/")
        browser.wait_verdict("not-contacted", "quiet.lead")
        assert browser.errors == []
    finally:
        browser.close()
