"""``make extension``: one zip per store, the extension folder with a manifest the store
takes (no ``key``; only that browser's background entry), the same bytes every time."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from dmledger.errors import InvalidInput
from dmledger.native.install import FIREFOX_ID, extension_dir
from dmledger.native.package import STORES, build_all, build_zip, store_manifest

REPO = Path(__file__).resolve().parents[2]


def _unpacked() -> dict[str, object]:
    loaded: dict[str, object] = json.loads((extension_dir() / "manifest.json").read_text())
    return loaded


def test_the_unpacked_extension_keeps_its_key_and_both_background_entries() -> None:
    manifest = _unpacked()
    assert "key" in manifest  # the fixed id the host allows
    assert manifest["background"] == {
        "service_worker": "background.js",
        "scripts": ["background.js"],
        "type": "module",
    }
    gecko = manifest["browser_specific_settings"]["gecko"]  # type: ignore[index]
    assert gecko["id"] == FIREFOX_ID
    # Chromium loads background.scripts beside service_worker from 121 on (before, it
    # refused the extension).
    assert int(str(manifest["minimum_chrome_version"])) >= 121


@pytest.mark.parametrize("store", STORES)
def test_each_store_zip_has_every_file_and_a_manifest_without_key(
    store: str, tmp_path: Path
) -> None:
    built = build_zip(store, tmp_path)
    assert built.name == f"dmledger-extension-{store}-{_unpacked()['version']}.zip"
    folder = extension_dir()
    expected = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".") and "__pycache__" not in p.parts
    )
    with zipfile.ZipFile(built) as archive:
        assert sorted(archive.namelist()) == expected
        assert archive.testzip() is None
        manifest = json.loads(archive.read("manifest.json"))
        for name in expected:
            if name != "manifest.json":
                assert archive.read(name) == (folder / name).read_bytes(), name
    assert "key" not in manifest
    assert manifest == store_manifest(_unpacked(), store)
    background = manifest["background"]
    if store == "chrome":
        assert background == {"service_worker": "background.js", "type": "module"}
    else:
        assert background == {"scripts": ["background.js"], "type": "module"}
    rest = {k: v for k, v in _unpacked().items() if k not in ("key", "background")}
    assert {k: v for k, v in manifest.items() if k != "background"} == rest


def test_a_zip_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    first = build_zip("chrome", tmp_path / "a").read_bytes()
    assert build_zip("chrome", tmp_path / "b").read_bytes() == first


def test_editor_and_interpreter_leftovers_stay_out(tmp_path: Path) -> None:
    source = tmp_path / "ext"
    source.mkdir()
    (source / "manifest.json").write_text(json.dumps({"version": "1", "key": "K"}))
    (source / "a.js").write_text("1")
    (source / ".a.js.swp").write_text("x")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "x.pyc").write_text("x")
    with zipfile.ZipFile(build_zip("firefox", tmp_path / "out", source)) as archive:
        assert sorted(archive.namelist()) == ["a.js", "manifest.json"]


def test_an_unknown_store_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match="store 'opera' is not one of: chrome, firefox"):
        store_manifest(_unpacked(), "opera")


def test_build_all_makes_one_zip_per_store(tmp_path: Path) -> None:
    assert [p.name.split("-")[2] for p in build_all(tmp_path)] == list(STORES)


def test_make_extension_prints_the_zips_it_wrote() -> None:
    done = subprocess.run(
        ["make", "-s", "extension"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    written = [REPO / line for line in done.stdout.split()]
    assert [p.parent.name for p in written] == ["dist", "dist"]
    for path in written:
        with zipfile.ZipFile(path) as archive:
            assert "key" not in json.loads(archive.read("manifest.json"))
