"""Reading rows out of a damaged ``local_data.db`` page by page.

SQLite's own recovery (the ``sqlite3`` shell's ``.recover``) needs the
``sqlite_dbpage`` table, which the library Debian and most distributions ship is built
without (``.recover`` stops at "no such table: sqlite_dbpage"). This module reads the
file format itself (https://www.sqlite.org/fileformat2.html), the same way: the
write-ahead log's committed frames laid over the file's pages, the schema from page 1,
each wanted table's b-tree walked from its root, and the table-leaf pages no walk
reached (under an interior page that is damaged) read on their own and given to the
table whose columns their rows fit. Pages on the freelist are never read: they hold
rows already deleted. What cannot be read is listed, never guessed.

Standard library only; the file is read through ``mmap``, not into memory.
"""

from __future__ import annotations

import mmap
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Row = dict[str, Any]


class PageError(Exception):
    """A page or cell that does not parse as SQLite's format says it must."""


@dataclass
class Salvage:
    """The rows read from one file: per table, by rowid."""

    tables: dict[str, dict[int, Row]] = field(default_factory=dict)
    #: Pages and cells that could not be read, said for a person.
    unreadable: list[str] = field(default_factory=list)
    #: The table each unreadable leaf or cell belonged to, with its count (when known).
    unreadable_rows: dict[str, int] = field(default_factory=dict)
    schema_read: bool = True
    #: Per table, per rowid: the values its indexes hold for that row (a second copy of
    #: the indexed columns, to tell which copy damage changed).
    indexed: dict[str, dict[int, Row]] = field(default_factory=dict)

    def rows(self, table: str) -> list[Row]:
        return [self.tables.get(table, {})[k] for k in sorted(self.tables.get(table, {}))]


def read_rows(path: Path, tables: dict[str, list[str]]) -> Salvage:
    """Every row of ``tables`` (name → its columns as this agent makes them, the fallback
    when the file's schema cannot be read) that can be read from ``path``."""
    with _Pages.open(path) as pages:
        return _Reader(pages, tables).read()


# -- pages (with the write-ahead log's committed frames over them) -------------------


class _Pages:
    def __init__(self, data: bytes | mmap.mmap, wal: dict[int, bytes], page_size: int) -> None:
        self.data = data
        self.wal = wal
        self.size = page_size
        self.count = max(len(data) // page_size, max(wal, default=0))
        reserved = data[20] if len(data) > 20 else 0
        self.usable = page_size - reserved

    @classmethod
    def open(cls, path: Path) -> _PagesContext:
        return _PagesContext(path)

    def page(self, number: int) -> bytes:
        if number < 1 or number > self.count:
            raise PageError(f"page {number} is past the end of the file")
        found = self.wal.get(number)
        if found is not None:
            return found
        start = (number - 1) * self.size
        chunk = bytes(self.data[start : start + self.size])
        if len(chunk) < self.size:
            raise PageError(f"page {number} is cut short")
        return chunk


class _PagesContext:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None
        self._map: mmap.mmap | None = None

    def __enter__(self) -> _Pages:
        self._file = self.path.open("rb")
        size = self.path.stat().st_size
        data: bytes | mmap.mmap = (
            mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        )
        if isinstance(data, mmap.mmap):
            self._map = data
        page_size = _page_size(bytes(data[:100]))
        wal, wal_page = _wal_frames(Path(f"{self.path}-wal"))
        if wal_page and wal_page != page_size and not size:
            page_size = wal_page
        if wal_page and wal_page != page_size:
            wal = {}  # a log of another file (its page size differs): not ours to lay over
        return _Pages(data, wal, page_size)

    def __exit__(self, *_exc: object) -> None:
        if self._map is not None:
            self._map.close()
        self._file.close()


def _page_size(head: bytes) -> int:
    if len(head) >= 18:
        (raw,) = struct.unpack(">H", head[16:18])
        size = 65536 if raw == 1 else raw
        if size >= 512 and not size & (size - 1):
            return size
    return 4096  # every store DM Ledger makes


def _wal_frames(path: Path) -> tuple[dict[int, bytes], int]:
    """The pages of the log's committed transactions (the latest copy of each), and
    its page size; frames after the last commit, or whose checksum fails, are not
    part of the database and are left out, as SQLite leaves them."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}, 0
    if len(data) < 32:
        return {}, 0
    magic, _version, page_size, _seq, salt1, salt2 = struct.unpack(">6I", data[:24])
    if magic not in (0x377F0682, 0x377F0683) or page_size < 512 or page_size & (page_size - 1):
        return {}, 0
    order = ">" if magic & 1 else "<"
    s1, s2 = _checksum(data[:24], 0, 0, order)
    if (s1, s2) != struct.unpack(">2I", data[24:32]):
        return {}, 0
    committed: dict[int, bytes] = {}
    pending: dict[int, bytes] = {}
    offset = 32
    while offset + 24 + page_size <= len(data):
        head = data[offset : offset + 24]
        number, commit, f1, f2, c1, c2 = struct.unpack(">6I", head)
        if (f1, f2) != (salt1, salt2):
            break
        body = data[offset + 24 : offset + 24 + page_size]
        s1, s2 = _checksum(head[:8], s1, s2, order)
        s1, s2 = _checksum(body, s1, s2, order)
        if (s1, s2) != (c1, c2):
            break
        pending[number] = body
        if commit:
            committed.update(pending)
            pending = {}
        offset += 24 + page_size
    return committed, page_size


def _checksum(data: bytes, s1: int, s2: int, order: str) -> tuple[int, int]:
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s1 = (s1 + words[i] + s2) & 0xFFFFFFFF
        s2 = (s2 + words[i + 1] + s1) & 0xFFFFFFFF
    return s1, s2


# -- b-trees and records ------------------------------------------------------------


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        if at + i >= len(data):
            raise PageError("a number runs past the end of its page")
        byte = data[at + i]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + i + 1
    if at + 8 >= len(data):
        raise PageError("a number runs past the end of its page")
    return (value << 8) | data[at + 8], at + 9


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


class _Reader:
    def __init__(self, pages: _Pages, wanted: dict[str, list[str]]) -> None:
        self.pages = pages
        self.wanted = wanted
        self.found = Salvage()
        self.reached: set[int] = set()
        self.index_roots: list[tuple[str, int, list[str]]] = []
        self.other_roots: list[int] = []  # b-trees of tables (and indexes) not read

    def read(self) -> Salvage:
        schema = self._schema()
        self.found.schema_read = schema is not None
        columns = dict(self.wanted)
        roots: dict[str, int] = {}
        for name, (root, sql) in (schema or {}).items():
            if name in self.wanted:
                roots[name] = root
                columns[name] = _columns_of(sql) or self.wanted[name]
        for name, root in roots.items():
            for number, leaf in self._walk(name, root):
                self._take_leaf(name, columns[name], number, leaf)
        for table, index_root, index_columns in self.index_roots:
            if table in self.wanted and index_columns:
                self._read_index(table, index_root, index_columns)
        for root in self.other_roots:
            self._mark(root)
        self._orphans(columns, set(roots))
        return self.found

    def _mark(self, root: int) -> None:
        """Mark a b-tree the repair does not read (the cache of leads, its indexes, the
        search index) as reached, from its interior pages alone: its leaves are neither
        read nor taken for orphans."""
        stack = [root]
        while stack:
            number = stack.pop()
            if number in self.reached:
                continue
            self.reached.add(number)
            try:
                page = self.pages.page(number)
                start = 100 if number == 1 else 0
                kind = page[start]
                if kind not in (0x02, 0x05):
                    continue  # a leaf: marked, not read
                (cells,) = struct.unpack(">H", page[start + 3 : start + 5])
                stack.append(struct.unpack(">I", page[start + 8 : start + 12])[0])
                for i in range(cells):
                    at = start + 12 + 2 * i
                    (cell,) = struct.unpack(">H", page[at : at + 2])
                    stack.append(struct.unpack(">I", page[cell : cell + 4])[0])
            except (PageError, struct.error):
                continue

    def _read_index(self, table: str, root: int, names: list[str]) -> None:
        """The index's entries (its columns, then the rowid) by rowid; a page that
        cannot be read leaves its entries out (the table's copy then stands alone)."""
        held = self.found.indexed.setdefault(table, {})
        stack = [root]
        seen: set[int] = set()
        while stack:
            number = stack.pop()
            if number in seen:
                continue
            seen.add(number)
            self.reached.add(number)
            try:
                page = self.pages.page(number)
                kind = page[0]
                if kind not in (0x02, 0x0A):
                    continue
                (cells,) = struct.unpack(">H", page[3:5])
                head = 12 if kind == 0x02 else 8
                if kind == 0x02:
                    stack.append(struct.unpack(">I", page[8:12])[0])
                for i in range(cells):
                    (at,) = struct.unpack(">H", page[head + 2 * i : head + 2 + 2 * i])
                    if kind == 0x02:
                        stack.append(struct.unpack(">I", page[at : at + 4])[0])
                        at += 4
                    values = _record(self._index_payload(page, at))
                    if len(values) == len(names) + 1 and isinstance(values[-1], int):
                        held.setdefault(values[-1], {}).update(zip(names, values, strict=False))
            except (PageError, struct.error, IndexError):
                continue

    def _index_payload(self, page: bytes, at: int) -> bytes:
        size, at = _varint(page, at)
        usable = self.pages.usable
        most = ((usable - 12) * 64 // 255) - 23
        if size <= most:
            return page[at : at + size]
        least = ((usable - 12) * 32 // 255) - 23
        local = least + (size - least) % (usable - 4)
        if local > most:
            local = least
        parts = [page[at : at + local]]
        (next_page,) = struct.unpack(">I", page[at + local : at + local + 4])
        got = local
        while got < size and next_page:
            over = self.pages.page(next_page)
            take = over[4 : 4 + min(usable - 4, size - got)]
            parts.append(take)
            got += len(take)
            (next_page,) = struct.unpack(">I", over[:4])
        return b"".join(parts)

    # The schema: sqlite_master, a table b-tree rooted at page 1.
    def _schema(self) -> dict[str, tuple[int, str]] | None:
        tables: dict[str, tuple[int, str]] = {}
        indexes: list[tuple[str, str, int, str | None]] = []
        try:
            for _number, leaf in self._walk("sqlite_master", 1, note=False):
                for _rowid, values in self._cells(leaf, 100 if _number == 1 else 0):
                    kind, name, table, root, sql = (list(values) + [None] * 5)[:5]
                    if not isinstance(name, str) or not isinstance(root, int):
                        continue
                    if name not in self.wanted and table not in self.wanted and root > 0:
                        self.other_roots.append(root)
                    if kind == "table":
                        tables[name] = (root, str(sql or ""))
                    elif kind == "index" and isinstance(table, str):
                        indexes.append((table, name, root, None if sql is None else str(sql)))
        except PageError:
            return None
        for table, name, root, sql in indexes:
            if table in tables and table in self.wanted:
                columns = _index_columns(tables[table][1], name, sql)
                self.index_roots.append((table, root, columns))
        return tables or None

    def _walk(self, table: str, root: int, *, note: bool = True) -> Iterator[tuple[int, bytes]]:
        """The leaf pages of one table's b-tree (interior pages followed; a page that
        cannot be read is noted and its subtree left to the orphan scan)."""
        stack = [root]
        while stack:
            number = stack.pop()
            if number in self.reached:
                continue
            self.reached.add(number)
            try:
                page = self.pages.page(number)
                start = 100 if number == 1 else 0
                kind = page[start]
                if kind == 0x0D:
                    yield number, page
                elif kind == 0x05:
                    stack.extend(self._children(page, start))
                else:
                    raise PageError(f"page {number} is not a page of a table (type {kind})")
            except PageError as error:
                if not note:
                    raise
                self.found.unreadable.append(f"{table}: {error}")
                self.found.unreadable_rows.setdefault(table, 0)

    def _children(self, page: bytes, start: int) -> list[int]:
        cells, right = struct.unpack(">H", page[start + 3 : start + 5])[0], None
        (right,) = struct.unpack(">I", page[start + 8 : start + 12])
        out = [right]
        for i in range(cells):
            (at,) = struct.unpack(">H", page[start + 12 + 2 * i : start + 14 + 2 * i])
            if at + 4 > len(page):
                raise PageError("an interior cell points past its page")
            out.append(struct.unpack(">I", page[at : at + 4])[0])
        for child in out:
            if child < 1 or child > self.pages.count:
                raise PageError(f"a child page number ({child}) is past the end of the file")
        return out

    def _cells(self, page: bytes, start: int) -> Iterator[tuple[int, list[Any]]]:
        (cells,) = struct.unpack(">H", page[start + 3 : start + 5])
        for i in range(cells):
            pointer = start + 8 + 2 * i
            if pointer + 2 > len(page):
                raise PageError("the page's cell list runs past its end")
            (at,) = struct.unpack(">H", page[pointer : pointer + 2])
            yield self._cell(page, at)

    def _cell(self, page: bytes, at: int) -> tuple[int, list[Any]]:
        if at < 8 or at >= len(page):
            raise PageError("a cell starts outside its page")
        size, at = _varint(page, at)
        rowid, at = _varint(page, at)
        usable = self.pages.usable
        most = usable - 35
        if size <= most:
            payload = page[at : at + size]
            if len(payload) < size:
                raise PageError("a cell runs past the end of its page")
        else:
            least = ((usable - 12) * 32 // 255) - 23
            local = least + (size - least) % (usable - 4)
            if local > most:
                local = least
            payload = page[at : at + local]
            (next_page,) = struct.unpack(">I", page[at + local : at + local + 4])
            parts = [payload]
            got = len(payload)
            seen: set[int] = set()
            while got < size:
                if next_page in seen or not next_page:
                    raise PageError("a long row's overflow chain is broken")
                seen.add(next_page)
                over = self.pages.page(next_page)
                self.reached.add(next_page)
                take = over[4 : 4 + min(usable - 4, size - got)]
                parts.append(take)
                got += len(take)
                (next_page,) = struct.unpack(">I", over[:4])
            payload = b"".join(parts)
        return _signed(rowid), _record(payload)

    def _take_leaf(self, table: str, columns: list[str], number: int, page: bytes) -> None:
        start = 100 if number == 1 else 0
        try:
            (cells,) = struct.unpack(">H", page[start + 3 : start + 5])
        except struct.error:
            cells = 0
        read = 0
        for i in range(cells):
            pointer = start + 8 + 2 * i
            try:
                (at,) = struct.unpack(">H", page[pointer : pointer + 2])
                rowid, values = self._cell(page, at)
                row = _row(columns, rowid, values)
            except (PageError, struct.error, UnicodeDecodeError, ValueError):
                continue
            self.found.tables.setdefault(table, {}).setdefault(rowid, row)
            read += 1
        if read < cells:
            self.found.unreadable.append(f"{table}: {cells - read} rows on page {number}")
            self.found.unreadable_rows[table] = self.found.unreadable_rows.get(table, 0) + (
                cells - read
            )

    def _orphans(self, columns: dict[str, list[str]], walked: set[str]) -> None:
        """Table-leaf pages no walk reached: each row goes to the one wanted table whose
        columns it fits (a row fitting none, or two, is left)."""
        free = self._freelist()
        for number in range(2, self.pages.count + 1):
            if number in self.reached or number in free:
                continue
            try:
                page = self.pages.page(number)
            except PageError:
                continue
            if page[0] != 0x0D:
                continue
            try:
                cells = list(self._cells(page, 0))
            except (PageError, struct.error, UnicodeDecodeError, ValueError):
                continue
            for rowid, values in cells:
                fits = [t for t in columns if _fits(t, columns[t], values)]
                if len(fits) == 1:
                    table = fits[0]
                    row = _row(columns[table], rowid, values)
                    self.found.tables.setdefault(table, {}).setdefault(rowid, row)

    def _freelist(self) -> set[int]:
        free: set[int] = set()
        try:
            head = self.pages.page(1)[:100]
            trunk, total = struct.unpack(">II", head[32:40])
            while trunk and trunk not in free and len(free) <= total:
                free.add(trunk)
                page = self.pages.page(trunk)
                following, leaves = struct.unpack(">II", page[:8])
                for i in range(min(leaves, (len(page) - 8) // 4)):
                    free.add(struct.unpack(">I", page[8 + 4 * i : 12 + 4 * i])[0])
                trunk = following
        except (PageError, struct.error):
            pass
        return free


def _record(payload: bytes) -> list[Any]:
    header, at = _varint(payload, 0)
    if header > len(payload) or header < 1:
        raise PageError("a row's header is longer than the row")
    types: list[int] = []
    while at < header:
        kind, at = _varint(payload, at)
        types.append(kind)
    values: list[Any] = []
    body = header
    for kind in types:
        if kind == 0:
            values.append(None)
            continue
        if kind in (8, 9):
            values.append(kind - 8)
            continue
        if 1 <= kind <= 6:
            width = (0, 1, 2, 3, 4, 6, 8)[kind]
            chunk = payload[body : body + width]
            if len(chunk) < width:
                raise PageError("a row ends early")
            values.append(int.from_bytes(chunk, "big", signed=True))
            body += width
            continue
        if kind == 7:
            values.append(struct.unpack(">d", payload[body : body + 8])[0])
            body += 8
            continue
        if kind in (10, 11):
            raise PageError("a row uses a reserved type")
        width = (kind - 12) // 2
        chunk = payload[body : body + width]
        if len(chunk) < width:
            raise PageError("a row ends early")
        # Damaged text is kept with U+FFFD where bytes were lost: a message partly
        # readable is a DM that happened; a key with U+FFFD is refused by the caller.
        values.append(chunk.decode("utf-8", errors="replace") if kind % 2 else bytes(chunk))
        body += width
    return values


def _row(columns: list[str], rowid: int, values: list[Any]) -> Row:
    if len(values) > len(columns):
        raise PageError("a row has more values than its table has columns")
    row: Row = dict.fromkeys(columns)
    row.update(zip(columns, values, strict=False))
    row["_rowid"] = rowid
    key = columns[0]
    if row[key] is None:
        row[key] = rowid  # an INTEGER PRIMARY KEY is stored as the rowid
    return row


def _fits(table: str, columns: list[str], values: list[Any]) -> bool:
    """Could this row be one of ``table``'s? Its values' count and kinds must fit."""
    if not values or len(values) > len(columns) or len(values) < min(2, len(columns)):
        return False
    shape = _SHAPES.get(table)
    if shape is None:
        return False
    if len(values) < len(shape) or not all(
        i >= len(shape) or _kind(v) in shape[i] for i, v in enumerate(values)
    ):
        return False
    ops = OPS.get(table)
    return ops is None or values[1] in ops


def _kind(value: Any) -> str:
    if value is None:
        return "n"
    if isinstance(value, int):
        return "i"
    if isinstance(value, str):
        return "t"
    return "b"


# Per table, the kinds each leading column's values may have (n null, i integer,
# t text): enough to tell our tables' rows apart when no walk reached them.
_SHAPES = {
    # id, target, actor, operator, message, timestamp, synced, client id
    "outreach_logs": ("n", "t", "t", "t", "t", "t", "i", "t"),
    # seq, op, target
    "outbox": ("n", "t", "t"),
    # seq, op, name
    "team_outbox": ("n", "t", "t"),
}


# What an op may be, per queue of edits (the two queues' rows are alike otherwise).
OPS = {
    "outbox": frozenset({"add", "status", "notes", "append", "delete", "reply", "follow_up"}),
    "team_outbox": frozenset({"template", "template_delete", "rule"}),
}


def _index_columns(table_sql: str, index: str, index_sql: str | None) -> list[str]:
    """The columns of ``index``, from SQLite given its table's CREATE statement and its
    own (an autoindex has none: the table's makes it)."""
    try:
        db = sqlite3.connect(":memory:")
        try:
            db.execute(table_sql)
            if index_sql:
                db.execute(index_sql)
            return [str(r[2]) for r in db.execute(f'PRAGMA index_info("{index}")')]
        finally:
            db.close()
    except sqlite3.Error:
        return []


def _columns_of(sql: str) -> list[str] | None:
    """A table's columns, in the order its rows hold them, from its CREATE statement."""
    try:
        db = sqlite3.connect(":memory:")
        try:
            db.execute(sql)
            name = sql.split("(", 1)[0].split()[-1].strip('"`[]')
            return [r[1] for r in db.execute(f'PRAGMA table_info("{name}")')]
        finally:
            db.close()
    except (sqlite3.Error, IndexError):
        return None
