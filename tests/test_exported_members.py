"""Every front door (a package ``__init__`` with ``__all__``) lists only public names
that exist: each resolves at run time, a module only under its own name, and what the
type checker is shown (the ``TYPE_CHECKING`` imports of a lazy front door) is what
runs. The rest of the code may import from a front door only what it lists
(``test_layering.py``)."""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

import dmledger

PACKAGE = Path(dmledger.__file__).parent


def _front_doors() -> list[tuple[str, Path]]:
    doors = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        if "__all__" in init.read_text(encoding="utf-8"):
            relative = init.parent.relative_to(PACKAGE.parent)
            doors.append((".".join(relative.parts), init))
    return doors


FRONT_DOORS = _front_doors()


def _type_checking_names(init: Path) -> set[str] | None:
    """The names a front door imports under ``if TYPE_CHECKING:`` (None: no such block)."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            return {
                alias.asname or alias.name
                for statement in node.body
                if isinstance(statement, ast.ImportFrom)
                for alias in statement.names
            }
    return None


def test_the_stores_and_their_rooms_have_front_doors() -> None:
    names = {name for name, _ in FRONT_DOORS}
    assert {"dmledger.cloud", "dmledger.local"} <= names
    for room in ("connecting", "driver_errors", "schema", "exchange", "analytics"):
        assert f"dmledger.cloud.{room}" in names


@pytest.mark.parametrize(("name", "init"), FRONT_DOORS, ids=[name for name, _ in FRONT_DOORS])
def test_a_front_door_lists_only_public_names_that_exist(name: str, init: Path) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    for member in exported:
        assert not member.startswith("_"), f"{name}.__all__ lists the private {member!r}"
        value = getattr(module, member)
        submodule = init.parent / member
        if isinstance(value, types.ModuleType):
            assert value.__name__ == f"{name}.{member}", f"{name}.{member} is another module"
        else:
            assert not (submodule.with_suffix(".py").exists() or submodule.is_dir()), (
                f"{name}.{member} is also a module's name: importing it would hide the name"
            )


@pytest.mark.parametrize(("name", "init"), FRONT_DOORS, ids=[name for name, _ in FRONT_DOORS])
def test_what_the_type_checker_sees_is_what_runs(name: str, init: Path) -> None:
    seen = _type_checking_names(init)
    module = importlib.import_module(name)
    if seen is None or "lazy_exports" not in init.read_text(encoding="utf-8"):
        pytest.skip(f"{name} is not a lazy front door")
    assert seen == set(module.__all__)
    for member in module.__all__:
        value = getattr(module, member)
        home = getattr(value, "__module__", None)
        if isinstance(value, type | types.FunctionType) and home is not None:
            assert getattr(importlib.import_module(home), value.__name__) is value
