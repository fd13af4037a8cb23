"""The one rule for cells a spreadsheet would run as formulas, and its inverse."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from dmledger.app.csvfile import (
    FORMULA_LEADS,
    SpreadsheetWriter,
    original_text,
    spreadsheet_cell,
)

# Text made mostly of the characters the rule is about, so the edge cases come up.
cell_text = st.text(alphabet=st.sampled_from([*FORMULA_LEADS, "'", "a", " ", ";", '"']), max_size=8)


@given(cell_text | st.text(max_size=20))
def test_a_cell_never_starts_a_formula_and_gives_its_text_back(text: str) -> None:
    cell = spreadsheet_cell(text)
    assert not cell.startswith(FORMULA_LEADS)
    assert original_text(cell) == text


@given(cell_text)
def test_a_cell_written_and_read_as_csv_gives_its_text_back(text: str) -> None:
    out = io.StringIO(newline="")
    SpreadsheetWriter(out).writerow([text, "x"])
    [row] = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert [original_text(cell) for cell in row] == [text, "x"]


def test_only_what_needs_it_is_marked() -> None:
    assert spreadsheet_cell("hello") == "hello"
    assert spreadsheet_cell("it's") == "it's"
    assert spreadsheet_cell("'quoted'") == "'quoted'"
    assert spreadsheet_cell("=1+1") == "'=1+1"
    assert spreadsheet_cell("'=1+1") == "''=1+1"
    assert original_text("'hello") == "'hello"  # a mark we did not write stays
