"""A sheet as a header plus a stream of numbered rows, whatever the file format."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from maint.sheets.values import CellValue

Row = tuple[int, list[CellValue]]  # (row number as the client's program shows it, cells)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: how spreadsheets name columns in error tables."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass
class RawSheet:
    """What a reader yields: rows in file order, before the header is found.

    `column_offset` is the index of the first column the rows start at (an xlsx sheet may start at C3);
    `decimal_comma` is the file's number convention when the format tells it (semicolon CSVs).
    `problems` collects (row, column, value, reason) the reader found in the cell formatting (hidden
    rows, merged cells, formulas without a saved result), keyed by row so they join the validation table.
    """

    file: str
    sheet: str | None
    rows: Iterator[Row]
    column_offset: int = 0
    decimal_comma: bool | None = None
    problems: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # (top, left, bottom, right)
    same_width: bool = False  # CSV: every line must have as many fields as the header

    @property
    def label(self) -> str:
        """How errors name where a row is: the file, and the sheet of a workbook."""
        return f"{self.file} [{self.sheet}]" if self.sheet else self.file
