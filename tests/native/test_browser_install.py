"""``browser install``: the manifest locations of every OS and browser, the launcher,
the extension id, and the commands end to end on this machine (Linux)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from dmledger.native.install import (
    BROWSERS,
    EXTENSION_ID,
    HOST_NAME,
    Installer,
    extension_dir,
    extension_id_of,
    launcher_text,
    targets,
)

USER = Path("/users/sam")
HOME = Path("/data/dml")

EXPECTED = {
    ("linux", "chrome"): USER / ".config/google-chrome/NativeMessagingHosts",
    ("linux", "chromium"): USER / ".config/chromium/NativeMessagingHosts",
    ("linux", "edge"): USER / ".config/microsoft-edge/NativeMessagingHosts",
    ("linux", "brave"): USER / ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    ("darwin", "chrome"): USER / "Library/Application Support/Google/Chrome/NativeMessagingHosts",
    ("darwin", "chromium"): USER / "Library/Application Support/Chromium/NativeMessagingHosts",
    ("darwin", "edge"): USER / "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
    ("darwin", "brave"): USER
    / "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
}
WINDOWS_KEYS = {
    "chrome": r"Software\Google\Chrome\NativeMessagingHosts\com.dmledger.host",
    "chromium": r"Software\Chromium\NativeMessagingHosts\com.dmledger.host",
    "edge": r"Software\Microsoft\Edge\NativeMessagingHosts\com.dmledger.host",
    "brave": r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts\com.dmledger.host",
}


class MemoryRegistry:
    """HKEY_CURRENT_USER as a dict, for testing the Windows layout on Linux."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def set_default(self, key: str, value: str) -> None:
        self.keys[key] = value

    def get_default(self, key: str) -> str | None:
        return self.keys.get(key)

    def delete(self, key: str) -> None:
        self.keys.pop(key, None)


@pytest.mark.parametrize(("system", "browser"), sorted(EXPECTED))
def test_manifest_locations_on_linux_and_macos(system: str, browser: str) -> None:
    [target] = targets(system, USER, HOME, (browser,))
    assert target.manifest == EXPECTED[(system, browser)] / f"{HOST_NAME}.json"
    assert target.registry_key is None


@pytest.mark.parametrize("browser", BROWSERS)
def test_windows_uses_a_registry_key_per_browser_naming_one_manifest(browser: str) -> None:
    [target] = targets("windows", USER, HOME, (browser,))
    assert target.registry_key == WINDOWS_KEYS[browser]
    assert target.manifest == HOME.resolve() / "native" / f"{HOST_NAME}.json"


@pytest.mark.parametrize("system", ["linux", "darwin", "windows"])
def test_a_profile_folder_gets_its_own_manifest(system: str, tmp_path: Path) -> None:
    [target] = targets(system, USER, HOME, BROWSERS, tmp_path / "p")
    assert target.manifest == tmp_path / "p" / "NativeMessagingHosts" / f"{HOST_NAME}.json"


def test_an_unknown_browser_or_system_is_refused_by_name() -> None:
    from dmledger.errors import InvalidInput
    from dmledger.native.install import parse_browsers

    with pytest.raises(InvalidInput, match="'firefox' is not one of: chrome"):
        parse_browsers("firefox")
    with pytest.raises(InvalidInput, match="'beos'"):
        targets("beos", USER, HOME, BROWSERS)


def test_the_extension_id_constant_is_the_one_of_the_manifest_key() -> None:
    manifest = json.loads((extension_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert extension_id_of(manifest["key"]) == EXTENSION_ID
    assert len(EXTENSION_ID) == 32 and set(EXTENSION_ID) <= set("abcdefghijklmnop")


def test_the_extension_asks_for_the_minimal_permissions_and_loads_no_remote_code() -> None:
    folder = extension_dir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["manifest_version"] == 3
    assert sorted(manifest["permissions"]) == ["nativeMessaging", "storage"]
    assert manifest["host_permissions"] == ["https://www.instagram.com/*"]
    assert [c["matches"] for c in manifest["content_scripts"]] == [["https://www.instagram.com/*"]]
    for path in folder.iterdir():
        if path.suffix in (".js", ".html"):
            text = path.read_text(encoding="utf-8")
            assert "http://" not in text and "https://cdn" not in text, path.name
            assert "innerHTML" not in text and "eval(" not in text, path.name


def test_the_windows_install_writes_registry_keys_and_uninstall_removes_them(
    tmp_path: Path,
) -> None:
    registry = MemoryRegistry()
    home = tmp_path / "home"
    installer = Installer(home, system="windows", user_home=tmp_path, registry=registry)
    report = installer.install(BROWSERS)
    manifest = home.resolve() / "native" / f"{HOST_NAME}.json"
    assert registry.keys == {key: str(manifest) for key in WINDOWS_KEYS.values()}
    written = json.loads(manifest.read_text(encoding="utf-8"))
    assert written["path"].endswith("dmledger-native-host.bat")
    assert written["allowed_origins"] == [f"chrome-extension://{EXTENSION_ID}/"]
    launcher = Path(report.manifests[0].launcher)
    assert launcher == home.resolve() / "native" / "dmledger-native-host.bat"
    assert launcher.read_bytes().startswith(b"@echo off\r\n")
    assert all(p.points_here for p in installer.status().manifests)
    installer.uninstall(("edge",))
    assert WINDOWS_KEYS["edge"] not in registry.keys and manifest.exists()
    installer.uninstall()
    assert registry.keys == {} and not manifest.exists()


def test_launcher_texts_quote_the_paths_and_pass_the_browsers_arguments() -> None:
    sh = launcher_text(Path("/tmp/it's home"), "linux", "/opt/py thon/bin/python")
    assert sh.startswith("#!/bin/sh\n")
    assert "exec '/opt/py thon/bin/python' -m dmledger --home '/tmp/it'\"'\"'s home'" in sh
    assert sh.rstrip().endswith('native-host "$@"')
    bat = launcher_text(Path("C:/Users/Sam/dml"), "windows", r"C:\Py\python.exe")
    assert '"C:\\Py\\python.exe" -m dmledger --home' in bat and bat.rstrip().endswith("%*")


def test_uninstall_leaves_a_manifest_that_now_belongs_to_another_home(tmp_path: Path) -> None:
    first = Installer(tmp_path / "a", system="linux", user_home=tmp_path / "user")
    second = Installer(tmp_path / "b", system="linux", user_home=tmp_path / "user")
    first.install(("chrome",))
    second.install(("chrome",))  # the browser now starts b's host
    first.uninstall()
    manifest = tmp_path / "user/.config/google-chrome/NativeMessagingHosts" / f"{HOST_NAME}.json"
    launcher = manifest.parent / "dmledger-native-host"
    assert json.loads(manifest.read_text())["path"] == str(launcher)
    assert str(tmp_path / "b") in launcher.read_text()  # b's launcher, left in place
    found = first.status().manifests
    assert [(p.browser, p.points_here) for p in found] == [("chrome", False)]


def _cli(home: Path, user: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dmledger", "--home", str(home), "--json", "browser", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(user)},
        timeout=60,
    )


@pytest.mark.skipif(sys.platform != "linux", reason="the end-to-end install runs on Linux")
def test_install_status_uninstall_end_to_end_and_the_launcher_runs_the_host(
    tmp_path: Path,
) -> None:
    from dmledger.app.ledger import Ledger

    home, user = tmp_path / "home", tmp_path / "user"
    Ledger.init_home(home, "Sarah", actor="sarah.sells")[0].close()
    done = _cli(home, user, "install")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["extension_id"] == EXTENSION_ID
    assert report["extension_dir"] == str(extension_dir())
    assert len(report["manifest_paths"]) == 4
    for path in report["manifest_paths"]:
        assert Path(path).is_relative_to(user / ".config")
        manifest = json.loads(Path(path).read_text())
        assert manifest["name"] == HOST_NAME and manifest["type"] == "stdio"
        assert Path(manifest["path"]).is_absolute()

    launcher = Path(report["manifests"][0]["launcher"])
    assert launcher.parent == Path(report["manifest_paths"][0]).parent  # outside the home
    assert not launcher.is_relative_to(home)
    Ledger.open(home).close()  # opening the home makes its own files private…
    assert os.access(launcher, os.X_OK)  # …and the launcher stays executable
    body = json.dumps({"id": 1, "type": "hello"}).encode()
    run = subprocess.run(
        [str(launcher), f"chrome-extension://{EXTENSION_ID}/"],
        input=struct.pack("=I", len(body)) + body,
        capture_output=True,
        timeout=60,
    )
    reply = json.loads(run.stdout[4:])
    assert reply["ok"] and reply["hello"]["operator"] == "Sarah"

    status = json.loads(_cli(home, user, "status").stdout)
    assert [p["points_here"] for p in status["manifests"]] == [True] * 4
    profile = tmp_path / "profile"
    assert _cli(home, user, "install", "--profile", str(profile)).returncode == 0
    assert (profile / "NativeMessagingHosts" / f"{HOST_NAME}.json").exists()
    bad = _cli(home, user, "install", "--browser", "netscape")
    assert bad.returncode == 1 and "'netscape' is not one of" in bad.stderr

    removed = json.loads(_cli(home, user, "uninstall").stdout)
    assert len(removed["removed"]) == 5
    assert not any(Path(p).exists() for p in report["manifest_paths"])
    assert not launcher.exists()
    assert json.loads(_cli(home, user, "status").stdout)["manifests"] == []


def test_the_human_output_says_where_the_extension_is_and_the_one_step(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dmledger",
            "--home",
            str(tmp_path / "h"),
            "browser",
            "install",
            "--profile",
            str(tmp_path / "p"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert str(extension_dir()) in done.stdout.replace("\n", "")
    assert "Load unpacked" in done.stdout
    assert "not set up yet" in done.stderr and "init" in done.stderr
