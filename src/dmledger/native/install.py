"""Where each browser looks for the native host, and writing it there.

Chrome, Chromium, Edge, Brave and Firefox find a native messaging host by its
manifest: a JSON file named after the host in a per-user folder (Linux, macOS), or a
file named by the default value of a per-user registry key (Windows). A Chromium
browser started with ``--user-data-dir DIR`` also reads ``DIR/NativeMessagingHosts``
(``--profile``); Firefox has no such folder per profile. The manifest names the
extensions allowed to start the host: Chromium's ``allowed_origins`` (the unpacked
extension's fixed id, and the ids ``--extension-id`` adds for copies installed from a
store, which assigns its own), Firefox's ``allowed_extensions`` (the add-on id in
``browser_specific_settings.gecko.id``, the same from every source).

Brave on macOS and Windows reads Chrome's locations, and may read its own, so Brave's
manifest is written to both (docs/browsers.md has the evidence and its dates).

The browser starts the host with no arguments of ours, so the manifest points at a
launcher that runs this Python with ``-m dmledger --home HOME native-host``: the
installed host is bound to that home. The launcher sits beside each manifest, outside
the home, because opening a home makes every file in it private and not executable
(``settings.secure_home``); on Windows, where that does not stop a ``.bat``, it is
``HOME/native/dmledger-native-host.bat``. What install wrote is recorded in
``HOME/native/installed.json`` for ``uninstall`` and ``status``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dmledger.errors import InvalidInput

HOST_NAME = "com.dmledger.host"
# Derived from the public key in extension/manifest.json (tests check they match).
EXTENSION_ID = "elbjedidhbmeiaeppbinbpjpolghpemo"
# extension/manifest.json's browser_specific_settings.gecko.id (tests check they match).
FIREFOX_ID = "dmledger@dmledger"
CHROMIUM_BROWSERS: tuple[str, ...] = ("chrome", "chromium", "edge", "brave")
BROWSERS: tuple[str, ...] = (*CHROMIUM_BROWSERS, "firefox")
SYSTEMS: tuple[str, ...] = ("linux", "darwin", "windows")
_CHROME_ID = re.compile(r"[a-p]{32}")

# Under the user's home folder: the folders each browser reads manifests from.
_FOLDERS: dict[str, dict[str, tuple[str, ...]]] = {
    "linux": {
        "chrome": (".config/google-chrome/NativeMessagingHosts",),
        "chromium": (".config/chromium/NativeMessagingHosts",),
        "edge": (".config/microsoft-edge/NativeMessagingHosts",),
        "brave": (".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",),
        "firefox": (".mozilla/native-messaging-hosts",),
    },
    "darwin": {
        "chrome": ("Library/Application Support/Google/Chrome/NativeMessagingHosts",),
        "chromium": ("Library/Application Support/Chromium/NativeMessagingHosts",),
        "edge": ("Library/Application Support/Microsoft Edge/NativeMessagingHosts",),
        "brave": (
            "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            "Library/Application Support/Google/Chrome/NativeMessagingHosts",
        ),
        "firefox": ("Library/Application Support/Mozilla/NativeMessagingHosts",),
    },
}
# Under HKEY_CURRENT_USER; the host's key is KEY\com.dmledger.host.
_REGISTRY: dict[str, tuple[str, ...]] = {
    "chrome": (r"Software\Google\Chrome\NativeMessagingHosts",),
    "chromium": (r"Software\Chromium\NativeMessagingHosts",),
    "edge": (r"Software\Microsoft\Edge\NativeMessagingHosts",),
    "brave": (
        r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts",
        r"Software\Google\Chrome\NativeMessagingHosts",
    ),
    "firefox": (r"Software\Mozilla\NativeMessagingHosts",),
}
RECORD = "installed.json"


def extension_dir() -> Path:
    """The unpacked extension shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "extension"


def extension_id_of(public_key_b64: str) -> str:
    """Chrome's id for an extension whose manifest ``key`` is this base64 DER public key:
    the first 32 hex digits of its SHA-256, written with the letters a-p for 0-f."""
    digest = hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def current_system() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "darwin"
    return "linux"


def parse_browsers(choice: str) -> tuple[str, ...]:
    if choice == "all":
        return BROWSERS
    if choice not in BROWSERS:
        raise InvalidInput(f"browser {choice!r} is not one of: {', '.join(BROWSERS)}, all")
    return (choice,)


def parse_extension_ids(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Chrome extension ids as given (``--extension-id``), each checked, duplicates once."""
    found: list[str] = []
    for value in values:
        if not _CHROME_ID.fullmatch(value):
            raise InvalidInput(
                f"extension id {value!r} is not a Chrome extension id: 32 letters from a to "
                "p (chrome://extensions shows it under the extension, with Developer mode on)"
            )
        if value not in found:
            found.append(value)
    return tuple(found)


def kind_of(browser: str) -> str:
    """``firefox`` or ``chromium``: which manifest a browser (or ``profile``) reads."""
    return "firefox" if browser == "firefox" else "chromium"


@dataclass(frozen=True)
class Target:
    """One place a manifest goes: the file, the launcher it names, and on Windows the
    registry key that names the manifest."""

    browser: str
    manifest: Path
    launcher: Path
    registry_key: str | None = None


def targets(
    system: str,
    user_home: Path,
    home: Path,
    browsers: tuple[str, ...],
    profile: Path | None = None,
) -> list[Target]:
    """Where install writes for ``browsers`` on ``system`` (or only into ``profile``, a
    Chromium user-data folder: Firefox reads no manifest from its profile)."""
    if system not in SYSTEMS:
        raise InvalidInput(f"system {system!r} is not one of: {', '.join(SYSTEMS)}")
    launcher = launcher_name(system)
    if profile is not None:
        if "firefox" in browsers and len(browsers) == 1:
            raise InvalidInput(
                "--profile is a Chromium browser's --user-data-dir folder; Firefox reads "
                "the native host only from its per-user location: leave out --profile"
            )
        folder = profile.resolve() / "NativeMessagingHosts"
        return [Target("profile", folder / manifest_name("chromium"), folder / launcher)]
    found: list[Target] = []
    for browser in browsers:
        file_name = manifest_name(kind_of(browser)) if system == "windows" else f"{HOST_NAME}.json"
        if system == "windows":
            shared = native_dir(home)
            found.extend(
                Target(browser, shared / file_name, shared / launcher, key + "\\" + HOST_NAME)
                for key in _REGISTRY[browser]
            )
            continue
        for relative in _FOLDERS[system][browser]:
            folder = user_home / relative
            found.append(Target(browser, folder / file_name, folder / launcher))
    return found


def manifest_name(kind: str) -> str:
    """The manifest's file name; on Windows, where one folder holds both, Firefox's
    differs (its manifest names extensions another way)."""
    return f"{HOST_NAME}.firefox.json" if kind == "firefox" else f"{HOST_NAME}.json"


def native_dir(home: Path) -> Path:
    return home.resolve() / "native"


def launcher_name(system: str) -> str:
    return "dmledger-native-host.bat" if system == "windows" else "dmledger-native-host"


def launcher_text(home: Path, system: str, python: str) -> str:
    """The script the browser runs: this Python, bound to ``home``. Chrome passes the
    caller's origin (and on Windows ``--parent-window=``); they are passed along."""
    resolved = str(home.resolve())
    if system == "windows":
        return f'@echo off\r\n"{python}" -m dmledger --home "{resolved}" native-host %*\r\n'
    return (
        "#!/bin/sh\n"
        "# Written by `dmledger browser install`; the browser runs it to reach DM Ledger.\n"
        f'exec {_sh_quote(python)} -m dmledger --home {_sh_quote(resolved)} native-host "$@"\n'
    )


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def manifest_for(
    launcher: Path, kind: str = "chromium", extension_ids: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The host manifest for a Chromium browser (the fixed id, then ``extension_ids``)
    or for Firefox (its add-on id)."""
    manifest: dict[str, Any] = {
        "name": HOST_NAME,
        "description": "DM Ledger: the status card and DM log in the Instagram tab",
        "path": str(launcher),
        "type": "stdio",
    }
    if kind == "firefox":
        manifest["allowed_extensions"] = [FIREFOX_ID]
    else:
        ids = [EXTENSION_ID, *(i for i in extension_ids if i != EXTENSION_ID)]
        manifest["allowed_origins"] = [f"chrome-extension://{i}/" for i in ids]
    return manifest


class Registry(Protocol):
    """The few registry operations install needs, under HKEY_CURRENT_USER."""

    def set_default(self, key: str, value: str) -> None: ...

    def get_default(self, key: str) -> str | None: ...

    def delete(self, key: str) -> None: ...


class WindowsRegistry:
    """HKEY_CURRENT_USER through ``winreg`` (only importable on Windows)."""

    def __init__(self) -> None:
        self._winreg: Any = importlib.import_module("winreg")

    def set_default(self, key: str, value: str) -> None:
        with self._winreg.CreateKey(self._winreg.HKEY_CURRENT_USER, key) as handle:
            self._winreg.SetValueEx(handle, "", 0, self._winreg.REG_SZ, value)

    def get_default(self, key: str) -> str | None:
        try:
            with self._winreg.OpenKey(self._winreg.HKEY_CURRENT_USER, key) as handle:
                value, _kind = self._winreg.QueryValueEx(handle, "")
        except OSError:
            return None
        return str(value)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._winreg.DeleteKey(self._winreg.HKEY_CURRENT_USER, key)


@dataclass
class Placement:
    browser: str
    manifest: str
    launcher: str
    registry_key: str | None = None
    present: bool = True
    points_here: bool = True  # False: another home's (or another tool's) host is there

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.browser, self.manifest, self.registry_key)


@dataclass
class InstallReport:
    extension_dir: str
    extension_id: str
    firefox_id: str
    host_name: str
    home: str
    store_extension_ids: list[str] = field(default_factory=list)  # --extension-id's
    manifests: list[Placement] = field(default_factory=list)
    removed: list[Placement] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["manifest_paths"] = list(dict.fromkeys(p.manifest for p in self.manifests))
        return data


class Installer:
    """install / uninstall / status for one home. ``system``, ``user_home`` and
    ``registry`` are parameters so every OS's layout is testable anywhere."""

    def __init__(
        self,
        home: Path,
        *,
        system: str | None = None,
        user_home: Path | None = None,
        registry: Registry | None = None,
        python: str | None = None,
    ) -> None:
        self.home = home
        self.system = system or current_system()
        self.user_home = user_home or Path.home()
        self._registry = registry
        self.python = python or sys.executable

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = WindowsRegistry()
        return self._registry

    def _report(self, store_ids: tuple[str, ...] = ()) -> InstallReport:
        return InstallReport(
            extension_dir=str(extension_dir()),
            extension_id=EXTENSION_ID,
            firefox_id=FIREFOX_ID,
            host_name=HOST_NAME,
            home=str(self.home.resolve()),
            store_extension_ids=list(store_ids),
        )

    def install(
        self,
        browsers: tuple[str, ...],
        profile: Path | None = None,
        extension_ids: tuple[str, ...] = (),
    ) -> InstallReport:
        """Write a launcher and a manifest at each target; returns what was written.

        ``extension_ids`` (checked by :func:`parse_extension_ids`) are allowed beside
        the unpacked extension's id, and so are those an earlier install allowed: a
        store copy keeps working when install runs again."""
        chosen = targets(self.system, self.user_home, self.home, browsers, profile)
        if extension_ids and all(kind_of(t.browser) == "firefox" for t in chosen):
            raise InvalidInput(
                "--extension-id allows a copy of the extension installed from the Chrome "
                "Web Store or Edge Add-ons; Firefox's add-on has the id "
                f"{FIREFOX_ID} wherever it comes from: leave out --extension-id"
            )
        placements, allowed = self._recorded()
        store_ids = tuple(dict.fromkeys((*allowed, *extension_ids)))
        native_dir(self.home).mkdir(parents=True, exist_ok=True)
        report = self._report(store_ids)
        for target in chosen:
            target.manifest.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(target.launcher, launcher_text(self.home, self.system, self.python))
            if self.system != "windows":
                target.launcher.chmod(0o755)
            written = manifest_for(target.launcher, kind_of(target.browser), store_ids)
            _write_atomic(target.manifest, json.dumps(written, indent=2) + "\n")
            if target.registry_key is not None:
                self.registry.set_default(target.registry_key, str(target.manifest))
            report.manifests.append(
                Placement(
                    target.browser, str(target.manifest), str(target.launcher), target.registry_key
                )
            )
        recorded = {p.key: p for p in placements}
        for placed in report.manifests:
            recorded[placed.key] = placed
        self._save_record(list(recorded.values()), store_ids)
        return report

    def uninstall(
        self, browsers: tuple[str, ...] | None = None, profile: Path | None = None
    ) -> InstallReport:
        """Remove what install wrote (all of it, or for ``browsers`` / ``profile``).

        A manifest or launcher now belonging to another home is left alone, and so is
        one that a browser still installed reads too (Brave reads Chrome's)."""
        recorded, store_ids = self._recorded()
        if browsers is None and profile is None:
            chosen = recorded
        else:
            wanted = targets(self.system, self.user_home, self.home, browsers or (), profile)
            keys = {(t.browser, str(t.manifest), t.registry_key) for t in wanted}
            chosen = [p for p in recorded if p.key in keys]
        left = [p for p in recorded if p not in chosen]
        report = self._report(store_ids)
        owned = [p for p in chosen if self._points_here(p)]  # before anything is removed
        for placed in chosen:
            shared_key = any(p.registry_key == placed.registry_key for p in left)
            if (
                placed.registry_key is not None
                and not shared_key
                and self._registry_points_here(placed)
            ):
                self.registry.delete(placed.registry_key)
            report.removed.append(placed)
        for placed in owned:
            # A manifest or launcher that a browser still installed uses stays.
            if not any(p.manifest == placed.manifest for p in left):
                Path(placed.manifest).unlink(missing_ok=True)
            if not any(p.launcher == placed.launcher for p in left):
                Path(placed.launcher).unlink(missing_ok=True)
        report.manifests = left
        if left:
            self._save_record(left, store_ids)
        else:
            (native_dir(self.home) / RECORD).unlink(missing_ok=True)
        return report

    def status(self) -> InstallReport:
        """What is installed for this home, and what each browser location holds now."""
        placements, store_ids = self._recorded()
        report = self._report(store_ids)
        seen: set[tuple[str, str | None]] = set()
        for placed in placements:
            seen.add((placed.manifest, placed.registry_key))
            report.manifests.append(self._probe(placed))
        for target in targets(self.system, self.user_home, self.home, BROWSERS):
            if (str(target.manifest), target.registry_key) in seen:
                continue
            seen.add((str(target.manifest), target.registry_key))
            probe = self._probe(
                Placement(
                    target.browser, str(target.manifest), str(target.launcher), target.registry_key
                )
            )
            if probe.present:  # another home's host, found where a browser looks
                report.manifests.append(probe)
        return report

    # -- helpers -----------------------------------------------------------------------

    def _probe(self, placed: Placement) -> Placement:
        present = Path(placed.manifest).exists() and Path(placed.launcher).exists()
        points = self._points_here(placed)
        if placed.registry_key is not None:
            value = self.registry.get_default(placed.registry_key)
            present = present and value is not None
            points = points and value == placed.manifest
        return Placement(
            placed.browser, placed.manifest, placed.launcher, placed.registry_key, present, points
        )

    def _points_here(self, placed: Placement) -> bool:
        """The manifest names the launcher, and the launcher runs this home's host."""
        try:
            data = json.loads(Path(placed.manifest).read_text(encoding="utf-8"))
            with open(placed.launcher, encoding="utf-8", newline="") as handle:
                script = handle.read()
        except (OSError, ValueError):
            return False
        if not isinstance(data, dict) or data.get("path") != placed.launcher:
            return False
        return launcher_text(self.home, self.system, self.python).split("-m dmledger")[1] in script

    def _registry_points_here(self, placed: Placement) -> bool:
        assert placed.registry_key is not None
        return self.registry.get_default(placed.registry_key) == placed.manifest

    def _recorded(self) -> tuple[list[Placement], tuple[str, ...]]:
        """What install wrote, and the store copies' ids it allowed. The record is
        ``{"placements": [...], "extension_ids": [...]}``; a plain list is an older
        record of placements alone."""
        path = native_dir(self.home) / RECORD
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return [], ()
        rows = data.get("placements", []) if isinstance(data, dict) else data
        ids = data.get("extension_ids", []) if isinstance(data, dict) else []
        placements = [
            Placement(
                str(r["browser"]), str(r["manifest"]), str(r["launcher"]), r.get("registry_key")
            )
            for r in rows
            if isinstance(r, dict) and {"browser", "manifest", "launcher"} <= r.keys()
        ]
        return placements, tuple(i for i in ids if isinstance(i, str) and _CHROME_ID.fullmatch(i))

    def _save_record(self, placements: list[Placement], store_ids: tuple[str, ...]) -> None:
        rows = [
            {
                "browser": p.browser,
                "manifest": p.manifest,
                "launcher": p.launcher,
                "registry_key": p.registry_key,
            }
            for p in placements
        ]
        record = {"placements": rows, "extension_ids": list(store_ids)}
        _write_atomic(native_dir(self.home) / RECORD, json.dumps(record, indent=2) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename: never a half-written manifest."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
