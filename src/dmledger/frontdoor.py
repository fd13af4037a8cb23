"""Front doors that open lazily: a package's ``__init__`` names what the rest of the
code may use, and each name is imported from its module on first use.

So ``from dmledger.cloud import backend_of`` costs what ``cloud/urls.py`` costs, not
the whole cloud (SQLAlchemy's dialects, psycopg, python-oracledb): the native host and
``dmledger today --json`` start without them. A front door reads::

    if TYPE_CHECKING:  # what the type checker sees
        from dmledger.cloud.urls import backend_of
    __all__ = ["backend_of"]
    __getattr__ = lazy_exports(globals(), {"backend_of": "urls"})

A module may be exported under its own name (``"meta_keys": "meta_keys"``); any other
exported name is never also the name of one of the package's modules: importing the
module would set the package's attribute to the module, hiding the name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's ``__getattr__``: ``name`` imported from the module
    ``exports[name]`` (relative to the package whose ``globals()`` is ``namespace``),
    and kept in the package."""
    package = str(namespace["__name__"])

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(f"{package}.{module}")
        value = imported if module == name else getattr(imported, name)
        namespace[name] = value
        return value

    return __getattr__
