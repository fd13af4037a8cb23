"""Where each browser looks for the native host, and writing it there.

Chrome, Chromium, Edge and Brave find a native messaging host by its manifest: a
JSON file named after the host in a per-user folder (Linux, macOS), or a file named
by the default value of a per-user registry key (Windows). A custom
``--user-data-dir`` also reads ``DIR/NativeMessagingHosts`` (``--profile``).

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
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dmledger.errors import InvalidInput

HOST_NAME = "com.dmledger.host"
# Derived from the public key in extension/manifest.json (tests check they match).
EXTENSION_ID = "elbjedidhbmeiaeppbinbpjpolghpemo"
BROWSERS: tuple[str, ...] = ("chrome", "chromium", "edge", "brave")
SYSTEMS: tuple[str, ...] = ("linux", "darwin", "windows")

# Under the user's home folder; each browser reads NativeMessagingHosts/ inside it.
_USER_DATA = {
    "linux": {
        "chrome": ".config/google-chrome",
        "chromium": ".config/chromium",
        "edge": ".config/microsoft-edge",
        "brave": ".config/BraveSoftware/Brave-Browser",
    },
    "darwin": {
        "chrome": "Library/Application Support/Google/Chrome",
        "chromium": "Library/Application Support/Chromium",
        "edge": "Library/Application Support/Microsoft Edge",
        "brave": "Library/Application Support/BraveSoftware/Brave-Browser",
    },
}
# Under HKEY_CURRENT_USER; the host's key is KEY\com.dmledger.host.
_REGISTRY = {
    "chrome": r"Software\Google\Chrome\NativeMessagingHosts",
    "chromium": r"Software\Chromium\NativeMessagingHosts",
    "edge": r"Software\Microsoft\Edge\NativeMessagingHosts",
    "brave": r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts",
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
    """Where install writes for ``browsers`` on ``system`` (or only into ``profile``)."""
    if system not in SYSTEMS:
        raise InvalidInput(f"system {system!r} is not one of: {', '.join(SYSTEMS)}")
    file_name = f"{HOST_NAME}.json"
    launcher = launcher_name(system)
    if profile is not None:
        folder = profile.resolve() / "NativeMessagingHosts"
        return [Target("profile", folder / file_name, folder / launcher)]
    if system == "windows":
        shared = native_dir(home)
        return [
            Target(b, shared / file_name, shared / launcher, _REGISTRY[b] + "\\" + HOST_NAME)
            for b in browsers
        ]
    found = []
    for browser in browsers:
        folder = user_home / _USER_DATA[system][browser] / "NativeMessagingHosts"
        found.append(Target(browser, folder / file_name, folder / launcher))
    return found


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


def manifest_for(launcher: Path) -> dict[str, Any]:
    return {
        "name": HOST_NAME,
        "description": "DM Ledger: the status card and DM log in the Instagram tab",
        "path": str(launcher),
        "type": "stdio",
        "allowed_origins": [f"chrome-extension://{EXTENSION_ID}/"],
    }


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


@dataclass
class InstallReport:
    extension_dir: str
    extension_id: str
    host_name: str
    home: str
    manifests: list[Placement] = field(default_factory=list)
    removed: list[Placement] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["manifest_paths"] = [p.manifest for p in self.manifests]
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

    def _report(self) -> InstallReport:
        return InstallReport(
            extension_dir=str(extension_dir()),
            extension_id=EXTENSION_ID,
            host_name=HOST_NAME,
            home=str(self.home.resolve()),
        )

    def install(self, browsers: tuple[str, ...], profile: Path | None = None) -> InstallReport:
        """Write a launcher and a manifest at each target; returns what was written."""
        chosen = targets(self.system, self.user_home, self.home, browsers, profile)
        native_dir(self.home).mkdir(parents=True, exist_ok=True)
        report = self._report()
        for target in chosen:
            target.manifest.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(target.launcher, launcher_text(self.home, self.system, self.python))
            if self.system != "windows":
                target.launcher.chmod(0o755)
            manifest = json.dumps(manifest_for(target.launcher), indent=2) + "\n"
            _write_atomic(target.manifest, manifest)
            if target.registry_key is not None:
                self.registry.set_default(target.registry_key, str(target.manifest))
            report.manifests.append(
                Placement(
                    target.browser, str(target.manifest), str(target.launcher), target.registry_key
                )
            )
        recorded = {(p.manifest, p.registry_key): p for p in self._recorded()}
        for placed in report.manifests:
            recorded[(placed.manifest, placed.registry_key)] = placed
        self._save_record(list(recorded.values()))
        return report

    def uninstall(
        self, browsers: tuple[str, ...] | None = None, profile: Path | None = None
    ) -> InstallReport:
        """Remove what install wrote (all of it, or for ``browsers`` / ``profile``).

        A manifest or launcher now belonging to another home is left alone."""
        recorded = self._recorded()
        if browsers is None and profile is None:
            chosen = recorded
        else:
            wanted = targets(self.system, self.user_home, self.home, browsers or (), profile)
            keys = {(str(t.manifest), t.registry_key) for t in wanted}
            chosen = [p for p in recorded if (p.manifest, p.registry_key) in keys]
        left = [p for p in recorded if p not in chosen]
        report = self._report()
        for placed in chosen:
            if placed.registry_key is not None and self._registry_points_here(placed):
                self.registry.delete(placed.registry_key)
            if any(p.manifest == placed.manifest for p in left):
                continue  # Windows: one manifest serves the browsers still installed
            if self._points_here(placed):
                Path(placed.manifest).unlink()
                Path(placed.launcher).unlink(missing_ok=True)
            report.removed.append(placed)
        report.manifests = left
        if left:
            self._save_record(left)
        else:
            (native_dir(self.home) / RECORD).unlink(missing_ok=True)
        return report

    def status(self) -> InstallReport:
        """What is installed for this home, and what each browser location holds now."""
        report = self._report()
        seen: set[tuple[str, str | None]] = set()
        for placed in self._recorded():
            seen.add((placed.manifest, placed.registry_key))
            report.manifests.append(self._probe(placed))
        for target in targets(self.system, self.user_home, self.home, BROWSERS):
            if (str(target.manifest), target.registry_key) in seen:
                continue
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

    def _recorded(self) -> list[Placement]:
        path = native_dir(self.home) / RECORD
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [
            Placement(
                str(r["browser"]), str(r["manifest"]), str(r["launcher"]), r.get("registry_key")
            )
            for r in rows
            if isinstance(r, dict) and {"browser", "manifest", "launcher"} <= r.keys()
        ]

    def _save_record(self, placements: list[Placement]) -> None:
        rows = [
            {
                "browser": p.browser,
                "manifest": p.manifest,
                "launcher": p.launcher,
                "registry_key": p.registry_key,
            }
            for p in placements
        ]
        _write_atomic(native_dir(self.home) / RECORD, json.dumps(rows, indent=2) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename: never a half-written manifest."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
