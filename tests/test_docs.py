"""The repository's docs stand alone and stay true to the tree.

- every repository path a doc names (in backquotes) exists: a file or folder of the
  repository whose path is, or ends with, what the doc wrote (``cloud/store.py``,
  ``src/dmledger/cloud/store.py`` and ``store.py`` all name one file);
- no doc points at a file outside the repository: a relative link resolves to a file
  of the repository;
- no file in ``src/`` names an issue number or a benchmark id: code names features.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOP_DOCS = ("README.md", "ARCHITECTURE.md", "CHANGELOG.md", "bench/README.md")
DOCS = sorted([*(REPO / name for name in TOP_DOCS), *(REPO / "docs").glob("*.md")])
# A path-like token: words, dots, dashes and slashes, ending in a known file type or "/".
PATH = re.compile(r"^[\w.\-/]+(\.(py|md|js|json|toml|html|css|txt|sql|sh|cfg|yml|yaml|png)|/)$")
# Not a repository path: a home's files, an API route, a URL, a placeholder.
NOT_REPO = re.compile(r"^(/|~|\.\./|https?:)|HOME|[A-Z]{3,}/|\*|://")
# Made by a home, `make` or a build, never committed.
MADE_ELSEWHERE = {"config.toml", ".home/", ".venv/", "build/screenshots/", "dist/"}
# Written by `dmledger browser install` into the browsers' folders on a user's machine.
ON_A_USERS_MACHINE = re.compile(r"NativeMessagingHosts|^com\.dmledger\.host")
ISSUE_OR_BENCH_ID = re.compile(r"issue [0-9]+|\bP[0-9]+\b")


def _repository_paths() -> set[str]:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    paths = set(tracked)
    for name in tracked:
        parts = name.split("/")
        paths.update("/".join(parts[:i]) + "/" for i in range(1, len(parts)))
    return paths


def _named_paths(doc: Path) -> list[str]:
    return [
        token
        for token in re.findall(r"`([^`\s]+)`", doc.read_text(encoding="utf-8"))
        if PATH.match(token)
        and not NOT_REPO.search(token)
        and not ON_A_USERS_MACHINE.search(token)
        and token not in MADE_ELSEWHERE
    ]


def _exists(token: str, paths: set[str]) -> bool:
    token = token.removeprefix("./")
    return any(path == token or path.endswith("/" + token) for path in paths)


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(REPO)) for d in DOCS])
def test_every_path_a_doc_names_exists(doc: Path) -> None:
    paths = _repository_paths()
    missing = sorted({token for token in _named_paths(doc) if not _exists(token, paths)})
    assert missing == [], f"{doc.name} names paths the repository lacks"


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(REPO)) for d in DOCS])
def test_no_doc_points_outside_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    relative = re.findall(r"\]\((?!https?:|#|mailto:)([^)#\s]+)", text)
    relative += re.findall(r"`(\.\./[^`\s]*)`", text)
    for target in relative:
        resolved = (doc.parent / target).resolve()
        assert resolved.is_relative_to(REPO) and resolved.exists(), f"{doc.name}: {target}"
    assert "DESIGN.md" not in text


def test_the_docs_name_paths_at_all() -> None:
    assert len(_named_paths(REPO / "ARCHITECTURE.md")) > 30


def test_no_issue_number_or_benchmark_id_in_src() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / "src").rglob("*"))
        if path.is_file() and path.suffix in {".py", ".js", ".html", ".css", ".json", ".toml"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ISSUE_OR_BENCH_ID.search(line)
    ]
    assert found == []


def test_the_architecture_fits_on_a_page() -> None:
    lines = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines()
    assert 150 <= len(lines) <= 250
