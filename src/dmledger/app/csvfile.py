"""Reading a spreadsheet someone saved as CSV: its encoding, delimiter, header and size.

People export leads from Excel, Google Sheets and old CRMs. What arrives may be UTF-8
with or without a byte-order mark, UTF-16 with one (Excel's "Unicode text"),
Windows-1252 or Latin-1 (Excel's plain "CSV"), separated by ``,`` or by ``;``
(Excel in most of Europe), with a header row or without one. Or it is not text at all:
a workbook, a picture, picked by mistake.

:func:`inspect` reads the whole file once before anything is imported, so a file that
cannot be read is refused with one line naming it and why, and nothing is
half-imported. :func:`rows` then streams it. The limits below are the only ones.

What DM Ledger writes as CSV goes through :class:`SpreadsheetWriter`: a cell a
spreadsheet would run as a formula is written with a leading ``'``
(:func:`spreadsheet_cell`), and :func:`rows` takes that mark off again
(:func:`original_text`), so an export imported back gives the text it held.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from dmledger.domain.text import MESSAGE_MAX_CHARS, NOTES_MAX_CHARS
from dmledger.errors import InvalidInput

# -- limits (the only place they are set) ---------------------------------------------
MAX_FIELD_CHARS = 131_072  # one cell; also the csv module's default field_size_limit
MAX_ROW_CHARS = 1_048_576  # one row, every cell together
MAX_COLUMNS = 1_000
# A cell holding line breaks: notes or a message typed over several lines (each at most
# 20,000 characters, twice that with CRLFs); longer, or over more lines than anyone
# types into one cell, a quote was left open and swallowed the rows after it.
MAX_MULTILINE_CELL_CHARS = 2 * max(NOTES_MAX_CHARS, MESSAGE_MAX_CHARS)
MAX_CELL_LINES = 1_000

DELIMITERS = (",", ";", "\t")
# Tried in order when the file has no byte-order mark and no --encoding was given.
# cp1252 before Latin-1: Excel writes cp1252, and both read "Café" the same way; Latin-1
# decodes any byte, so a binary file then shows as control characters (refused below).
DETECTED_ENCODINGS = ("utf-8", "cp1252", "latin-1")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHUNK = 1 << 20
# Control characters no spreadsheet writes into text (tab, newline, return are fine).
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
_MAGIC = {
    b"PK\x03\x04": "an Excel workbook or another zip file",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
    b"%PDF": "a PDF",
    b"\x89PNG": "a PNG picture",
    b"\xff\xd8\xff": "a JPEG picture",
}
# A cell starting with one of these is a formula (or the start of one) to Excel, LibreOffice
# and Google Sheets: OWASP's list for CSV injection, and a line feed.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n")
TEXT_MARK = "'"


def spreadsheet_cell(text: str) -> str:
    """``text`` as a cell a spreadsheet shows as text, never runs: with a leading ``'``
    when it starts with a :data:`FORMULA_LEADS` character, or with ``'`` marks before one
    (so ``'=x`` is marked too, and :func:`original_text` can tell the two apart)."""
    return TEXT_MARK + text if _needs_mark(text) else text


def original_text(cell: str) -> str:
    """The text :func:`spreadsheet_cell` made ``cell`` from; any other cell as it is."""
    if cell.startswith(TEXT_MARK) and _needs_mark(cell[1:]):
        return cell[1:]
    return cell


def _needs_mark(text: str) -> bool:
    return text.lstrip(TEXT_MARK).startswith(FORMULA_LEADS)


class SpreadsheetWriter:
    """``csv.writer`` for what DM Ledger exports: every cell passes through
    :func:`spreadsheet_cell` and is quoted, so a ``;`` inside a cell cannot split it into
    a new cell (a formula) in a spreadsheet that reads ``;`` as the separator."""

    def __init__(self, out: Any) -> None:
        self._writer = csv.writer(out, quoting=csv.QUOTE_ALL)

    def writerow(self, cells: Iterable[str]) -> None:
        self._writer.writerow([spreadsheet_cell(cell) for cell in cells])


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is written. ``header`` is None when its first row is data."""

    path: Path
    encoding: str
    delimiter: str
    header: tuple[str, ...] | None
    width: int  # cells in the first row

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, lower-case and trimmed; ``column 1``… when there is no header."""
        if self.header is None:
            return tuple(f"column {i}" for i in range(1, self.width + 1))
        return tuple(h.strip().lower() for h in self.header)

    @property
    def encoding_label(self) -> str:
        return {"utf-8-sig": "utf-8", "utf-16": "utf-16"}.get(self.encoding, self.encoding)


def inspect(
    path: Path,
    *,
    encoding: str | None = None,
    known_columns: Collection[str] = (),
    is_data: Callable[[str], bool] | None = None,
) -> CsvLayout:
    """Read the whole file once: decide its encoding and delimiter, check every limit.

    The first row is data, not a header, when none of its cells is one of
    ``known_columns`` and every non-empty cell passes ``is_data`` (e.g. a valid handle);
    without ``is_data`` the first row is always the header. Raises InvalidInput naming
    the file (and the line, where there is one) for a file that is missing, empty, not
    text, not in ``encoding``, or over a limit.
    """
    head = _head(path)
    if not head:
        raise InvalidInput(f"{path.name} is empty: expected a header row and one lead per line")
    chosen = _bom_encoding(head)
    if encoding is not None:
        candidates: tuple[str, ...] = (_codec(encoding),)
    elif chosen is not None:
        candidates = (chosen,)
    else:
        for magic, what in _MAGIC.items():
            if head.startswith(magic):
                raise InvalidInput(
                    f"{path.name} is not a CSV file: it is {what}; save it as CSV "
                    "(comma- or semicolon-separated) and import that"
                )
        candidates = DETECTED_ENCODINGS
    for index, candidate in enumerate(candidates):
        try:
            _check_text(path, candidate)
        except UnicodeDecodeError as error:
            if index + 1 < len(candidates):
                continue
            line = getattr(error, "line", "?")
            raise InvalidInput(
                f"{path.name} is not {_label(candidate)} text (line {line}: "
                f"byte 0x{error.object[error.start]:02x}): pass --encoding with the "
                "file's encoding, e.g. utf-8, cp1252, latin-1 or utf-16"
            ) from None
        return _layout(path, candidate, known_columns, is_data)
    raise AssertionError("unreachable: the last candidate raises")  # pragma: no cover


def rows(layout: CsvLayout) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, cells) for every data row; the header row is skipped. A cell
    an export marked as text (:func:`spreadsheet_cell`) comes back as the text it held."""
    with _open(layout.path, layout.encoding) as handle:
        reader = csv.reader(handle, delimiter=layout.delimiter)
        if layout.header is not None:
            next(reader, None)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines (Excel adds some at the end)
            yield reader.line_num, [original_text(cell) for cell in cells]


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(4096)
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None


def _bom_encoding(head: bytes) -> str | None:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def _codec(name: str) -> str:
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InvalidInput(
            f"encoding {name!r} is unknown: use e.g. utf-8, cp1252, latin-1 or utf-16"
        ) from None
    if info.name == "utf-8":
        return "utf-8-sig"  # a BOM is not part of the first cell
    return info.name


def _label(encoding: str) -> str:
    return {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "utf-16": "UTF-16"}.get(encoding, encoding)


def _check_text(path: Path, encoding: str) -> None:
    """Decode the whole file; refuse control characters. A decode error gets ``.line``."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line = 1
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            final = not chunk
            try:
                text = decoder.decode(chunk, final)
            except UnicodeDecodeError as error:
                before = error.object[: error.start].decode(encoding, errors="ignore")
                error.line = line + before.count("\n")  # type: ignore[attr-defined]
                raise
            bad = _NOT_TEXT.search(text)
            if bad is not None:
                where = line + text.count("\n", 0, bad.start())
                raise InvalidInput(
                    f"{path.name} is not a text file (line {where} holds the control "
                    f"character U+{ord(bad.group()):04X}): choose the CSV export of the "
                    "spreadsheet"
                )
            line += text.count("\n")
            if final:
                return


def _open(path: Path, encoding: str) -> TextIO:
    return path.open("r", encoding=encoding, newline="")


def _sniff_delimiter(first_line: str) -> str:
    """The delimiter used most in the first line, outside quotes; ``,`` by default."""
    outside = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: outside.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _layout(
    path: Path,
    encoding: str,
    known_columns: Collection[str],
    is_data: Callable[[str], bool] | None,
) -> CsvLayout:
    with _open(path, encoding) as handle:
        delimiter = _sniff_delimiter(handle.readline())
    first: list[str] | None = None
    lines = _RowLines()
    cells: list[str] = []
    row_start = 1  # the line the row being read starts on
    last_start = 1
    with _open(path, encoding) as handle:
        reader = csv.reader(lines.recorded(handle), delimiter=delimiter)
        try:
            for cells in reader:
                if first is None and any(cell.strip() for cell in cells):
                    first = cells
                _check_row(path, reader.line_num, cells)
                _check_line_breaks(path, row_start, cells)
                lines.next_row()
                last_start, row_start = row_start, reader.line_num + 1
        except csv.Error as error:
            if "field limit" in str(error):
                raise InvalidInput(_too_long(path, row_start, reader.line_num)) from None
            raise InvalidInput(
                f"{path.name} is not a readable CSV file (line {reader.line_num}: {error})"
            ) from None
    if cells and _ends_in_open_quote(lines.last_row, delimiter):
        raise InvalidInput(
            f"{path.name}, line {last_start + _breaks(cells[:-1])}: a quote opened there is "
            "never closed, so the rest of the file would be read as one cell; close or "
            "remove it; nothing was imported"
        )
    if first is None:
        raise InvalidInput(f"{path.name} is empty: expected a header row and one lead per line")
    names = [original_text(cell).strip() for cell in first]
    known = {name.strip().lower() for name in known_columns}
    data = (
        is_data is not None
        and not any(name.lower() in known for name in names)
        and any(names)
        and all(is_data(name) for name in names if name)
    )
    return CsvLayout(path, encoding, delimiter, None if data else tuple(first), len(first))


class _RowLines:
    """The physical lines the csv reader took for the row it last gave: the csv module
    reads an open quote to the end of the file as a cell without a word, so the last
    row's own text is looked at again (:func:`_ends_in_open_quote`)."""

    def __init__(self) -> None:
        self._reading: list[str] = []
        self.last: list[str] = []

    def recorded(self, handle: TextIO) -> Iterator[str]:
        for line in handle:
            self._reading.append(line)
            yield line

    def next_row(self) -> None:
        self.last, self._reading = self._reading, []

    @property
    def last_row(self) -> str:
        return "".join(self.last)


def _ends_in_open_quote(text: str, delimiter: str) -> bool:
    """True when a quoted cell in ``text`` (one row) is still open at its end, read as
    the csv module reads: a quote opens a cell only at its start, ``""`` inside one is a
    quote."""
    state = "start"  # of a cell; or "plain", "quoted", "closed" (just after its quote)
    for char in text:
        if state == "quoted":
            if char == '"':
                state = "closed"
        elif char == '"' and state in ("start", "closed"):
            state = "quoted"
        elif char == delimiter or char in "\r\n":
            state = "start"
        else:
            state = "plain"
    return state == "quoted"


def _breaks(cells: list[str]) -> int:
    """Line breaks inside cells, counted as the file's lines are (CRLF, LF or CR)."""
    return sum(cell.count("\n") + cell.count("\r") - cell.count("\r\n") for cell in cells)


def _check_line_breaks(path: Path, row_start: int, cells: list[str]) -> None:
    """A quoted cell over several lines is notes typed that way, up to a point; longer,
    it is a quote left open that swallowed the lines after it."""
    if not cells or max(map(len, cells)) <= MAX_CELL_LINES:
        return  # the common case, at C speed: too short to break either limit
    for index, cell in enumerate(cells):
        breaks = _breaks([cell])
        if breaks and (len(cell) > MAX_MULTILINE_CELL_CHARS or breaks >= MAX_CELL_LINES):
            raise InvalidInput(
                f"{path.name}, line {row_start + _breaks(cells[:index])}: a quoted cell "
                f"opened there runs over {breaks + 1:,} lines and {len(cell):,} characters, "
                f"more than a cell may ({MAX_CELL_LINES:,} lines, "
                f"{MAX_MULTILINE_CELL_CHARS:,} characters): is a quote left unclosed? "
                "nothing was imported"
            )


def _check_row(path: Path, line: int, cells: list[str]) -> None:
    if len(cells) > MAX_COLUMNS:
        raise InvalidInput(
            f"{path.name}, line {line}: {len(cells)} columns, more than the limit of {MAX_COLUMNS}"
        )
    if cells and max(map(len, cells)) > MAX_FIELD_CHARS:
        raise InvalidInput(_too_long(path, line))
    if sum(map(len, cells)) > MAX_ROW_CHARS:
        raise InvalidInput(
            f"{path.name}, line {line}: the row is longer than the limit of "
            f"{MAX_ROW_CHARS:,} characters; nothing was imported"
        )


def _too_long(path: Path, line: int, reached: int | None = None) -> str:
    if reached is not None and reached > line:
        return (
            f"{path.name}, line {line}: a quoted cell opened there is still open at line "
            f"{reached}, past the limit of {MAX_FIELD_CHARS:,} characters (an unclosed "
            "quote makes the rest of the file one cell); nothing was imported"
        )
    return (
        f"{path.name}, line {line}: a cell is longer than the limit of {MAX_FIELD_CHARS:,} "
        "characters (an unclosed quote makes the rest of the file one cell); "
        "nothing was imported"
    )
