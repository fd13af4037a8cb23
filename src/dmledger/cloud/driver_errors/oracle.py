"""python-oracledb's errors, read by their ORA-/DPY- numbers.

:func:`classify_oracle` says what a failed *statement* means for the sync (the kinds
of ``driver_errors.kinds.Refusal``); ``driver_errors.translation`` writes the message.
The tables of codes, :func:`exception_chain` and :func:`error_codes` are shared with
``connecting/oracle_failures.py``, which explains why a *connect* failed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import oracledb

if TYPE_CHECKING:
    from dmledger.cloud.driver_errors.kinds import Refusal

logger = logging.getLogger(__name__)


_CODE_RE = re.compile(r"\b(DPY|DPI|ORA|TNS)-(\d{4,5})\b")

WRONG_LOGIN = {"ORA-01017", "DPY-4001", "ORA-01005"}
NO_PRIVILEGE = {"ORA-01031", "ORA-01950", "ORA-01536", "ORA-01045"}
BAD_DESCRIPTOR = {"DPY-4017", "DPY-4018", "DPY-4021", "DPY-2049"}
TIMEOUT = {"DPY-4024", "ORA-12170", "ORA-12535"}
# Nothing accepts sessions for the service: database stopped, starting, full, no listener.
NOT_SERVING = {
    "DPY-6000",
    "DPY-6001",
    "DPY-6003",
    "ORA-12514",
    "ORA-12541",
    "ORA-12505",
    "ORA-12528",
    "ORA-12516",
    "ORA-12519",
    "ORA-12520",
    "ORA-01033",
    "ORA-01034",
    "ORA-01089",
    "ORA-01090",
}
SERVER_NAME_MISMATCH = {"DPY-6002", "DPY-6006"}

# What a failed statement means for the sync, by code (driver_errors.Refusal).
_BUSY = {
    "ORA-00060",  # deadlock detected
    "ORA-08177",  # cannot serialize access
    "ORA-00054",  # resource busy (NOWAIT)
    "ORA-30006",  # resource busy, WAIT timeout expired
}
_LOGIN = WRONG_LOGIN | {"ORA-28000", "ORA-28001"}  # wrong login, locked, expired
_SCHEMA = {"ORA-00942", "ORA-00904"}  # table or view does not exist, invalid identifier
_ROW = {
    "ORA-00001",  # unique constraint
    "ORA-01400",  # cannot insert NULL
    "ORA-01407",  # cannot update to NULL
    "ORA-02290",  # check constraint
    "ORA-02291",  # parent key not found
    "ORA-02292",  # child record found
    "ORA-01438",  # value larger than precision
    "ORA-01722",  # invalid number
    "ORA-12899",  # value too large for column
    "ORA-01841",  # (full) year out of range
    "ORA-01847",  # day of month out of range
    "ORA-01861",  # literal does not match format
}
_ROW_USER_RANGE = range(20000, 21000)  # raise_application_error in a trigger
# The connection is gone or was never made: DPY-1001 not connected, DPY-4011 closed
# (the driver folds ORA-03113, ORA-03135 … into it), DPY-6xxx connect failures.
_UNREACHABLE = TIMEOUT | NOT_SERVING | {"DPY-1001", "DPY-4011", "DPY-6005"}


def classify_oracle(error: BaseException) -> Refusal | None:
    """The kind of a python-oracledb error raised by a statement, from its codes.

    None when ``error`` is not the driver's (the caller decides then).
    """
    if not isinstance(error, oracledb.Error):
        return None
    codes = error_codes([error])
    detail = error.args[0] if error.args else None
    if getattr(detail, "is_session_dead", False) or codes & _UNREACHABLE:
        return "unreachable"
    if codes & _BUSY:
        return "busy"
    if codes & _LOGIN:
        return "login"
    if codes & NO_PRIVILEGE:
        return "right"
    if codes & _SCHEMA:
        return "schema"
    ora_numbers = {int(code[4:]) for code in codes if code.startswith("ORA-")}
    if codes & _ROW or any(number in _ROW_USER_RANGE for number in ora_numbers):
        return "row"
    return "other"


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error a SQLAlchemy wrapper holds, and their causes."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            todo.append(orig)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)


def error_codes(chain: list[BaseException]) -> set[str]:
    """Every DPY-/ORA- code in the chain: structured ``full_code`` plus message text.

    Thin mode folds the wrapped error into the text (``DPY-6005 ... DPY-2018 ...``,
    ``DPY-6000 ... (Similar to ORA-12506)``), so the text is part of the answer.
    """
    codes: set[str] = set()
    for item in chain:
        if not isinstance(item, oracledb.Error):
            continue
        error = item.args[0] if item.args else None
        full_code = getattr(error, "full_code", None)
        if isinstance(full_code, str) and full_code:
            codes.add(full_code)
        code = getattr(error, "code", None)
        if isinstance(code, int) and code > 0:
            codes.add(f"ORA-{code:05d}")
        codes.update(f"{prefix}-{number}" for prefix, number in _CODE_RE.findall(str(item)))
    return codes
