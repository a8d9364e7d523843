"""Reading client spreadsheets (.xlsx, .csv) into validated-ready rows, streamed.

`open_sheet(path, fields, sheet=..., columns=...)` finds the header row, maps it to the task's fields and
yields each non-empty data row as a `SheetRow` carrying its row number and any formatting problem the
reader found (hidden row, merged cells, a formula without a result).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from maint.errors import InputError
from maint.sheets.csvfile import read_csv
from maint.sheets.headers import HEADER_SEARCH_ROWS, Column, Field, describe_missing, match_header
from maint.sheets.table import RawSheet, Row
from maint.sheets.values import CellValue, is_blank
from maint.sheets.xlsxfile import read_xlsx

__all__ = ["Column", "Field", "Sheet", "SheetRow", "open_sheet"]


@dataclass(slots=True)  # one per data row: slots keep 100,000 of them small and quick
class SheetRow:
    number: int
    values: dict[str, CellValue]
    problems: tuple[tuple[str, str, str], ...] = ()  # (column letter, value, reason)


@dataclass
class Sheet:
    """A sheet whose header matched. Its data rows are read once, either as `rows` (one SheetRow each) or
    as `batches` of raw records, for callers that check a whole batch at once and turn only the batches
    that need it into SheetRows (`rows_of`)."""

    file: str
    sheet: str | None
    header_row: int
    columns: dict[str, Column]
    decimal_comma: bool | None
    records: Iterator[Row]  # the raw numbered rows after the header, empty ones included
    problems: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)  # by row number
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> Iterator[SheetRow]:
        return self.rows_of(self.records)

    def batches(self, size: int) -> Iterator[list[Row]]:
        while batch := list(islice(self.records, size)):
            yield batch

    def rows_of(self, records: Iterable[Row]) -> Iterator[SheetRow]:
        return _data_rows(records, self.columns, self.problems)


def read_raw(path: Path, sheet: str | None = None) -> RawSheet:
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path, sheet)
    if suffix in (".csv", ".txt", ".tsv"):
        if sheet:
            raise InputError("--sheet only applies to Excel files", file=path.name)
        return read_csv(path)
    raise InputError("unsupported file type; send .xlsx or .csv (save .xls/.ods as .xlsx)", file=path.name)


def open_sheet(
    path: Path, fields: Sequence[Field], *, sheet: str | None = None, columns: Mapping[str, str] | None = None
) -> Sheet:
    raw = read_raw(path, sheet)
    explicit = dict(columns or {})
    first_cells: list[CellValue] | None = None
    best: tuple[int, list[CellValue], list[str]] | None = None
    seen = 0
    for number, cells in raw.rows:
        if all(is_blank(c) for c in cells):
            continue
        seen += 1
        first_cells = first_cells if first_cells is not None else cells
        try:
            found, missing = match_header(cells, fields, explicit, raw.column_offset)
        except InputError as exc:
            raise InputError(exc.reason, file=raw.file, row=number, column=exc.column) from None
        if not missing:
            return Sheet(
                raw.file,
                raw.sheet,
                number,
                found,
                raw.decimal_comma,
                raw.rows,
                raw.problems,
                notes=raw.notes,
            )
        if best is None or len(missing) < len(best[2]):
            best = (number, cells, missing)
        if seen >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        raise InputError("the sheet is empty", file=raw.file)
    number, cells, missing = best
    raise InputError(describe_missing(missing, cells, fields), file=raw.file, row=number)


def _data_rows(
    records: Iterable[Row], columns: dict[str, Column], problems: dict[int, list[tuple[str, str, str]]]
) -> Iterator[SheetRow]:
    picks = [(name, col.index) for name, col in columns.items()]
    for number, cells in records:
        # any() is C-speed and settles almost every row; the exact test runs only for rows that look empty.
        # A row of spaces is not empty: it reaches validation and is reported, not silently dropped.
        if not any(cells) and all(is_blank(c) for c in cells):
            continue
        width = len(cells)
        values = {name: cells[index] if index < width else None for name, index in picks}
        found = problems.get(number)
        yield SheetRow(number, values, tuple(found) if found else ())
