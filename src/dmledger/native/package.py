"""The extension as the stores take it, built from the one folder the package ships.

The unpacked folder serves every browser: its manifest has a ``key`` (so Chrome gives
it the fixed id the host allows), and both ``background.service_worker`` (Chromium)
and ``background.scripts`` (Firefox; Chromium 121 and later ignore it). A store
refuses a manifest with a ``key`` — it assigns the id itself — and each browser warns
about the other's background entry, so each store gets a zip of its own: the same
files, the manifest without ``key`` and without the other browser's entry.
``make extension`` writes them into ``dist/``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from dmledger.errors import InvalidInput

from .install import extension_dir

STORES: tuple[str, ...] = ("chrome", "firefox")
# Every entry gets this date: the same folder always makes the same bytes.
_DATE = (2026, 1, 1, 0, 0, 0)


def store_manifest(manifest: dict[str, Any], store: str) -> dict[str, Any]:
    """``manifest`` as ``store`` takes it (``chrome`` also serves Edge Add-ons)."""
    if store not in STORES:
        raise InvalidInput(f"store {store!r} is not one of: {', '.join(STORES)}")
    found = {k: v for k, v in manifest.items() if k != "key"}
    background = dict(found.get("background", {}))
    background.pop("scripts" if store == "chrome" else "service_worker", None)
    found["background"] = background
    return found


def build_zip(store: str, out_dir: Path, source: Path | None = None) -> Path:
    """Write ``dmledger-extension-STORE-VERSION.zip`` into ``out_dir``; returns its path."""
    folder = source or extension_dir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    shipped = store_manifest(manifest, store)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"dmledger-extension-{store}-{manifest['version']}.zip"
    temporary = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            if any(part.startswith((".", "__")) for part in name.split("/")):
                continue  # editor and interpreter leftovers are not the extension
            data = (
                (json.dumps(shipped, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
                if name == "manifest.json"
                else path.read_bytes()
            )
            entry = zipfile.ZipInfo(name, date_time=_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    temporary.replace(target)
    return target


def build_all(out_dir: Path) -> list[Path]:
    """One zip per store."""
    return [build_zip(store, out_dir) for store in STORES]


__all__ = ["STORES", "build_all", "build_zip", "store_manifest"]
