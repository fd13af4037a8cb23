"""The layers of ARCHITECTURE.md, checked on the source with ``ast``.

- no import cycle between the packages of ``dmledger``, nor inside any package
  between its modules (a subpackage counting as one): lazy imports inside functions
  and ``TYPE_CHECKING`` imports count, as a cycle hidden in a function is still one;
- code outside ``cloud/`` and ``local/`` imports only their front doors (the names in
  ``dmledger.cloud.__all__`` and ``dmledger.local.__all__``);
- the interfaces (``cli/``, ``web/``, ``native/``) never reach past ``Ledger`` into
  its stores (``ledger.cloud``, ``ledger.local``);
- no SQL outside the stores (``cloud/``, ``local/``);
- the local store's meta keys are spelled only in ``local/meta_keys.py``.

Each check is a function of a source folder, so the last test runs them on a small
package that breaks every rule once: a check that finds nothing there is broken.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import dmledger

PACKAGE = Path(dmledger.__file__).parent
INTERFACES = ("cli", "web", "native")
STORES = ("cloud", "local")
STORE_ATTRIBUTES = {"cloud", "local", "_cloud", "_local"}
META_CALLS = {"get_meta", "set_meta", "delete_meta"}
META_KEYS_MODULE = Path("local", "meta_keys.py")
# A receiver that is a Ledger: `ledger`, `state.ledger`, `st.ledger()`.
LEDGER_RECEIVER = re.compile(r"(^|\.)ledger(\(\))?$")
SQL_TEXT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|MERGE)\s")
SQL_BUILDERS = {"text", "select", "insert", "update", "delete", "exec_driver_sql"}


def _modules(root: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        yield path.relative_to(root), ast.parse(path.read_text(encoding="utf-8"))


def _package_of(root: Path, dotted: str) -> str | None:
    """The top-level package (or module) of ``root`` a dotted name is in, or None."""
    parts = dotted.split(".")
    if parts[0] != root.name:
        return None
    if len(parts) == 1:
        return "__init__"
    first = parts[1]
    return first if (root / first).is_dir() or (root / f"{first}.py").is_file() else "__init__"


def _imports(root: Path, relative: Path, tree: ast.Module) -> Iterator[str]:
    """Every dotted name a module imports, relative imports resolved."""
    here = [root.name, *relative.with_suffix("").parts]
    if here[-1] == "__init__":
        here.pop()
    else:
        here.pop()  # a module's own package is the base of `from . import`
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _is_module(root: Path, dotted: str) -> bool:
    path = root.parent.joinpath(*dotted.split("."))
    return (path / "__init__.py").is_file() or path.with_suffix(".py").is_file()


def _targets(root: Path, relative: Path, tree: ast.Module) -> Iterator[str]:
    """What a module imports, each as the module it loads: ``from pkg import mod``
    is ``pkg.mod``, ``from pkg import name`` is ``pkg`` (its ``__init__``)."""
    here = [root.name, *relative.with_suffix("").parts]
    here.pop()  # a module's base for `from . import`; a package's __init__ is its own
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                dotted = f"{module}.{alias.name}"
                yield dotted if _is_module(root, dotted) else module


def module_graph(root: Path, package: Path) -> dict[str, set[str]]:
    """Inside the package folder ``root / package``: which of its children (a module,
    or a subpackage as one; ``__init__`` for the package's own front door) each child
    imports, itself left out."""
    prefix = ".".join([root.name, *package.parts])
    folder = root / package
    graph: dict[str, set[str]] = {}
    for relative, tree in _modules(folder):
        source = relative.parts[0].removesuffix(".py")
        for dotted in _targets(root, package / relative, tree):
            if dotted == prefix:
                target = "__init__"
            elif dotted.startswith(prefix + "."):
                target = dotted[len(prefix) + 1 :].split(".")[0]
            else:
                continue
            if target != source:
                graph.setdefault(source, set()).add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle of a graph, as the nodes along it (first repeated last)."""
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def walk(path: list[str]) -> None:
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt == path[0]:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    cycles.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:
                walk([*path, nxt])

    for start in sorted(graph):
        walk([start])
    return cycles


def inner_cycles(root: Path) -> list[str]:
    """``package: a → b → a`` for each cycle between the modules of one package."""
    found = []
    for init in sorted(root.rglob("__init__.py")):
        package = init.parent.relative_to(root)
        for cycle in _cycles(module_graph(root, package)):
            found.append(f"{package.as_posix()}: {' → '.join(cycle)}")
    return found


def _front_door(root: Path, store: str) -> set[str]:
    """The names a store's ``__init__`` lists in ``__all__``."""
    init = root / store / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8")) if init.is_file() else ast.Module([], [])
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def past_front_doors(root: Path) -> list[str]:
    """``file:line import`` for each import, outside the stores, of a store's module
    or of a name its front door does not list."""
    doors = {f"{root.name}.{store}": _front_door(root, store) for store in STORES}
    found = []
    for relative, tree in _modules(root):
        if relative.parts[0] in STORES:
            continue
        here = [root.name, *relative.with_suffix("").parts][:-1]
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                modules, names = [module], [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                door = next((d for d in doors if module == d or module.startswith(d + ".")), None)
                if door is not None and (module != door or not set(names) <= doors[door]):
                    found.append(f"{relative}:{node.lineno} {ast.unparse(node)}")
    return sorted(found)


def package_graph(root: Path) -> dict[str, set[str]]:
    """Which top-level packages each one imports (itself left out)."""
    graph: dict[str, set[str]] = {}
    for relative, tree in _modules(root):
        source = relative.parts[0].removesuffix(".py") if len(relative.parts) else "__init__"
        for dotted in _imports(root, relative, tree):
            target = _package_of(root, dotted)
            if target is not None and target != source:
                graph.setdefault(source, set()).add(target)
    return graph


def import_cycles(root: Path) -> list[list[str]]:
    """Each cycle of the package graph, as the packages along it (first repeated last)."""
    return _cycles(package_graph(root))


def store_reaches(root: Path) -> list[str]:
    """``file:line expression`` for each place an interface touches a Ledger's store."""
    found = []
    for relative, tree in _modules(root):
        if relative.parts[0] not in INTERFACES:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in STORE_ATTRIBUTES
                and LEDGER_RECEIVER.search(ast.unparse(node.value))
            ):
                found.append(f"{relative}:{node.lineno} {ast.unparse(node)}")
    return sorted(found)


def sql_outside_stores(root: Path) -> list[str]:
    """``file:line what`` for each statement built or written outside the stores."""
    found = []
    for relative, tree in _modules(root):
        if relative.parts[0] in STORES:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SQL_TEXT.match(node.value):
                    found.append(f"{relative}:{node.lineno} {node.value[:40]!r}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = ast.unparse(node.func.value)
                if node.func.attr == "exec_driver_sql" or (
                    node.func.attr in SQL_BUILDERS and receiver in ("sa", "sqlalchemy")
                ):
                    found.append(f"{relative}:{node.lineno} {ast.unparse(node.func)}()")
    return sorted(found)


def literal_meta_keys(root: Path) -> list[str]:
    """``file:line key`` for each meta key passed as a string literal."""
    found = []
    for relative, tree in _modules(root):
        if relative == META_KEYS_MODULE:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in META_CALLS
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
            ):
                found.append(f"{relative}:{node.lineno} {node.args[1].value!r}")
    return sorted(found)


def test_no_import_cycle_between_packages() -> None:
    assert import_cycles(PACKAGE) == []


def test_no_import_cycle_inside_a_package() -> None:
    assert inner_cycles(PACKAGE) == []


def test_code_outside_the_stores_uses_only_their_front_doors() -> None:
    assert past_front_doors(PACKAGE) == []


def test_no_service_imports_the_ledger_back() -> None:
    """Ledger builds the services and hands each its collaborators; only the workflows
    that open a home (init, join, the pack, the demo, the quick Today, the repair) sit
    above it."""
    above = {"ledger.py", "home.py", "onboarding.py", "demo.py", "quick_today.py", "repair.py"}
    found = [
        str(relative)
        for relative, tree in _modules(PACKAGE / "app")
        if relative.name not in above
        and any(t == "dmledger.app.ledger" for t in _targets(PACKAGE, Path("app", relative), tree))
    ]
    assert found == []


def test_the_setup_pack_sits_below_app() -> None:
    graph = package_graph(PACKAGE)
    assert "app" in graph["cli"]  # the graph is built at all
    assert not graph.get("setup_pack", set()) & {"app", "cli", "web", "native", "sync"}


def test_interfaces_never_reach_past_ledger_into_its_stores() -> None:
    assert store_reaches(PACKAGE) == []


def test_no_sql_outside_the_stores() -> None:
    assert sql_outside_stores(PACKAGE) == []


def test_meta_keys_are_spelled_only_in_meta_keys() -> None:
    assert literal_meta_keys(PACKAGE) == []


def test_each_check_finds_a_breach_of_its_rule(tmp_path: Path) -> None:
    root = tmp_path / "dmledger"
    files = {
        "__init__.py": "",
        "app/__init__.py": "",
        "app/ledger.py": (
            "import sqlalchemy as sa\n"
            "def reset(conn):\n"
            "    conn.exec_driver_sql('DELETE FROM prospects')\n"
            "    conn.execute(sa.text('x'))\n"
            "    store.delete_meta(conn, 'pull_version')\n"
            "def pack():\n"
            "    from dmledger.setup_pack.onboarding import make_pack\n"
            "from dmledger.local.store import get\n"
            "from dmledger.local import get as got\n"
        ),
        "setup_pack/__init__.py": "",
        "setup_pack/onboarding.py": "from dmledger.app.ledger import Ledger\n",
        "cli/__init__.py": "",
        "cli/cloud_cmds.py": (
            "from ..app import ledger as _l\n"
            "def purge(st):\n"
            "    st.ledger().cloud.purge()\n"
            "    report.cloud\n"
        ),
        "local/__init__.py": '__all__ = ["LocalStore"]\n',
        "cli/a.py": "def f():\n    from . import b\n",
        "cli/b.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from dmledger.cli import a\n"
        ),
        "local/store.py": "def get(conn):\n    conn.exec_driver_sql('SELECT 1')\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    assert import_cycles(root) == [["app", "setup_pack", "app"]]
    assert inner_cycles(root) == [".: app → setup_pack → app", "cli: a → b → a"]
    assert past_front_doors(root) == [
        "app/ledger.py:8 from dmledger.local.store import get",
        "app/ledger.py:9 from dmledger.local import get as got",
    ]
    assert package_graph(root)["cli"] == {"app"}  # a relative import resolved
    assert store_reaches(root) == ["cli/cloud_cmds.py:3 st.ledger().cloud"]
    assert sql_outside_stores(root) == [
        "app/ledger.py:3 'DELETE FROM prospects'",
        "app/ledger.py:3 conn.exec_driver_sql()",
        "app/ledger.py:4 sa.text()",
    ]
    assert literal_meta_keys(root) == ["app/ledger.py:5 'pull_version'"]
