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

from dmledger.errors import InvalidInput
from dmledger.native.install import (
    BROWSERS,
    CHROMIUM_BROWSERS,
    EXTENSION_ID,
    FIREFOX_ID,
    HOST_NAME,
    Installer,
    extension_dir,
    extension_id_of,
    launcher_text,
    parse_extension_ids,
    targets,
)

USER = Path("/users/sam")
HOME = Path("/data/dml")

MAC_CHROME = USER / "Library/Application Support/Google/Chrome/NativeMessagingHosts"
EXPECTED = {
    ("linux", "chrome"): [USER / ".config/google-chrome/NativeMessagingHosts"],
    ("linux", "chromium"): [USER / ".config/chromium/NativeMessagingHosts"],
    ("linux", "edge"): [USER / ".config/microsoft-edge/NativeMessagingHosts"],
    ("linux", "brave"): [USER / ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts"],
    ("linux", "firefox"): [USER / ".mozilla/native-messaging-hosts"],
    ("darwin", "chrome"): [MAC_CHROME],
    ("darwin", "chromium"): [USER / "Library/Application Support/Chromium/NativeMessagingHosts"],
    ("darwin", "edge"): [USER / "Library/Application Support/Microsoft Edge/NativeMessagingHosts"],
    # Brave on macOS reads Chrome's folder (and sometimes its own): both.
    ("darwin", "brave"): [
        USER / "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
        MAC_CHROME,
    ],
    ("darwin", "firefox"): [USER / "Library/Application Support/Mozilla/NativeMessagingHosts"],
}
CHROME_KEY = r"Software\Google\Chrome\NativeMessagingHosts\com.dmledger.host"
WINDOWS_KEYS = {
    "chrome": [CHROME_KEY],
    "chromium": [r"Software\Chromium\NativeMessagingHosts\com.dmledger.host"],
    "edge": [r"Software\Microsoft\Edge\NativeMessagingHosts\com.dmledger.host"],
    # Brave on Windows reads Chrome's key (and sometimes its own): both.
    "brave": [
        r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts\com.dmledger.host",
        CHROME_KEY,
    ],
    "firefox": [r"Software\Mozilla\NativeMessagingHosts\com.dmledger.host"],
}
OTHER_ID = "abcdefghijklmnopabcdefghijklmnop"


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
    found = targets(system, USER, HOME, (browser,))
    assert [t.manifest for t in found] == [
        folder / f"{HOST_NAME}.json" for folder in EXPECTED[(system, browser)]
    ]
    assert all(t.registry_key is None and t.launcher.parent == t.manifest.parent for t in found)


@pytest.mark.parametrize("browser", BROWSERS)
def test_windows_uses_a_registry_key_per_browser_naming_one_manifest(browser: str) -> None:
    found = targets("windows", USER, HOME, (browser,))
    assert [t.registry_key for t in found] == WINDOWS_KEYS[browser]
    name = f"{HOST_NAME}.firefox.json" if browser == "firefox" else f"{HOST_NAME}.json"
    assert {t.manifest for t in found} == {HOME.resolve() / "native" / name}


@pytest.mark.parametrize("system", ["linux", "darwin", "windows"])
def test_a_profile_folder_gets_its_own_manifest(system: str, tmp_path: Path) -> None:
    [target] = targets(system, USER, HOME, BROWSERS, tmp_path / "p")
    assert target.manifest == tmp_path / "p" / "NativeMessagingHosts" / f"{HOST_NAME}.json"


def test_firefox_has_no_profile_folder_so_profile_is_refused_for_it_alone() -> None:
    with pytest.raises(InvalidInput, match="Firefox reads the native host only from"):
        targets("linux", USER, HOME, ("firefox",), Path("/p"))


def test_an_unknown_browser_or_system_is_refused_by_name() -> None:
    from dmledger.native.install import parse_browsers

    with pytest.raises(InvalidInput, match=r"'netscape' is not one of: chrome, .*firefox, all"):
        parse_browsers("netscape")
    with pytest.raises(InvalidInput, match="'beos'"):
        targets("beos", USER, HOME, BROWSERS)


@pytest.mark.parametrize(
    "bad",
    [
        "ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP",  # capitals
        "abcdefghijklmnopabcdefghijklmnoq",  # q is past p
        "abcdefghijklmnop",  # too short
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",  # an origin, not an id
        "",
    ],
)
def test_an_extension_id_is_32_letters_a_to_p_and_the_refusal_names_value_and_rule(
    bad: str,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_extension_ids(["elbjedidhbmeiaeppbinbpjpolghpemo", bad])
    assert repr(bad) in str(refused.value)
    assert "32 letters from a to p" in str(refused.value)


def test_extension_ids_are_kept_once_each_in_the_order_given() -> None:
    assert parse_extension_ids([OTHER_ID, EXTENSION_ID, OTHER_ID]) == (OTHER_ID, EXTENSION_ID)


def test_store_copies_are_allowed_beside_the_fixed_id_and_stay_allowed(tmp_path: Path) -> None:
    installer = Installer(tmp_path / "home", system="linux", user_home=tmp_path / "user")
    report = installer.install(BROWSERS, extension_ids=(OTHER_ID,))
    by_browser = {p.browser: json.loads(Path(p.manifest).read_text()) for p in report.manifests}
    for browser in CHROMIUM_BROWSERS:
        assert by_browser[browser]["allowed_origins"] == [
            f"chrome-extension://{EXTENSION_ID}/",
            f"chrome-extension://{OTHER_ID}/",
        ]
        assert "allowed_extensions" not in by_browser[browser]
    assert by_browser["firefox"]["allowed_extensions"] == [FIREFOX_ID]
    assert "allowed_origins" not in by_browser["firefox"]
    # Installing again without the option keeps the store copy working.
    again = installer.install(("chrome",))
    assert again.store_extension_ids == [OTHER_ID]
    manifest = json.loads(Path(again.manifests[0].manifest).read_text())
    assert manifest["allowed_origins"][1] == f"chrome-extension://{OTHER_ID}/"
    assert installer.status().store_extension_ids == [OTHER_ID]


def test_extension_ids_for_firefox_alone_are_refused(tmp_path: Path) -> None:
    installer = Installer(tmp_path / "home", system="linux", user_home=tmp_path / "user")
    with pytest.raises(InvalidInput, match=f"Firefox's add-on has the id {FIREFOX_ID}"):
        installer.install(("firefox",), extension_ids=(OTHER_ID,))
    assert not (tmp_path / "user").exists()


def test_an_older_record_of_placements_alone_is_still_read(tmp_path: Path) -> None:
    installer = Installer(tmp_path / "home", system="linux", user_home=tmp_path / "user")
    report = installer.install(("chrome",))
    record = tmp_path / "home" / "native" / "installed.json"
    rows = json.loads(record.read_text())["placements"]
    record.write_text(json.dumps(rows))  # as install wrote it before store ids existed
    assert [p.manifest for p in installer.status().manifests] == report.to_dict()["manifest_paths"]
    installer.uninstall()
    assert not Path(report.manifests[0].manifest).exists()


def test_brave_on_macos_shares_chromes_manifest_and_uninstall_keeps_what_chrome_needs(
    tmp_path: Path,
) -> None:
    user = tmp_path / "user"
    installer = Installer(tmp_path / "home", system="darwin", user_home=user)
    installer.install(("chrome", "brave"))
    chrome = user / "Library/Application Support/Google/Chrome/NativeMessagingHosts"
    brave = user / "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts"
    assert (chrome / f"{HOST_NAME}.json").exists() and (brave / f"{HOST_NAME}.json").exists()
    installer.uninstall(("brave",))
    assert (chrome / f"{HOST_NAME}.json").exists()  # Chrome still uses it
    assert not (brave / f"{HOST_NAME}.json").exists()
    installer.uninstall()
    assert not (chrome / f"{HOST_NAME}.json").exists()


def test_brave_alone_on_windows_sets_chromes_key_too_and_uninstall_clears_both(
    tmp_path: Path,
) -> None:
    registry = MemoryRegistry()
    home = tmp_path / "home"
    installer = Installer(home, system="windows", user_home=tmp_path, registry=registry)
    installer.install(("brave",))
    assert sorted(registry.keys) == sorted(WINDOWS_KEYS["brave"])
    installer.install(("chrome",))
    installer.uninstall(("brave",))
    assert list(registry.keys) == [CHROME_KEY]  # Chrome, still installed, keeps its key
    installer.uninstall()
    assert registry.keys == {}


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
    firefox = home.resolve() / "native" / f"{HOST_NAME}.firefox.json"
    expected = {key: str(manifest) for b in CHROMIUM_BROWSERS for key in WINDOWS_KEYS[b]}
    assert registry.keys == {**expected, WINDOWS_KEYS["firefox"][0]: str(firefox)}
    written = json.loads(manifest.read_text(encoding="utf-8"))
    assert written["path"].endswith("dmledger-native-host.bat")
    assert written["allowed_origins"] == [f"chrome-extension://{EXTENSION_ID}/"]
    assert json.loads(firefox.read_text())["allowed_extensions"] == [FIREFOX_ID]
    launcher = Path(report.manifests[0].launcher)
    assert launcher == home.resolve() / "native" / "dmledger-native-host.bat"
    assert launcher.read_bytes().startswith(b"@echo off\r\n")
    assert all(p.points_here for p in installer.status().manifests)
    installer.uninstall(("edge",))
    assert WINDOWS_KEYS["edge"][0] not in registry.keys and manifest.exists()
    installer.uninstall()
    assert registry.keys == {} and not manifest.exists() and not firefox.exists()


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
    assert len(report["manifest_paths"]) == 5
    for path in report["manifest_paths"]:
        assert Path(path).is_relative_to(user / ".config") or Path(path).is_relative_to(
            user / ".mozilla/native-messaging-hosts"
        )
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
    assert [p["points_here"] for p in status["manifests"]] == [True] * 5
    profile = tmp_path / "profile"
    assert _cli(home, user, "install", "--profile", str(profile)).returncode == 0
    assert (profile / "NativeMessagingHosts" / f"{HOST_NAME}.json").exists()
    bad = _cli(home, user, "install", "--browser", "netscape")
    assert bad.returncode == 1 and "'netscape' is not one of" in bad.stderr
    bad_id = _cli(home, user, "install", "--extension-id", "not-an-id")
    assert bad_id.returncode == 1 and "'not-an-id' is not a Chrome extension id" in bad_id.stderr
    assert "Traceback" not in bad_id.stderr
    store = _cli(home, user, "install", "--browser", "chrome", "--extension-id", OTHER_ID)
    assert json.loads(store.stdout)["store_extension_ids"] == [OTHER_ID]
    chrome = json.loads(Path(report["manifest_paths"][0]).read_text())
    assert f"chrome-extension://{OTHER_ID}/" in chrome["allowed_origins"]

    removed = json.loads(_cli(home, user, "uninstall").stdout)
    assert len(removed["removed"]) == 6
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
