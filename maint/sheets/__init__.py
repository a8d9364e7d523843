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
from maint.sheets.table import RawSheet, Row, column_letter
from maint.sheets.values import CellValue, is_blank
from maint.sheets.xlsxfile import open_workbook, read_xlsx, visible_sheets

__all__ = ["Column", "Field", "Sheet", "SheetRow", "no_rows_error", "open_sheet", "open_sheets"]


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
    ignored: list[str] = field(default_factory=list)  # other sheets of the workbook, without a known header

    @property
    def label(self) -> str:
        """How errors name where a row is: the file, and the sheet of a workbook ("list.xlsx [Members]")."""
        return f"{self.file} [{self.sheet}]" if self.sheet else self.file

    @property
    def rows(self) -> Iterator[SheetRow]:
        return self.rows_of(self.records)

    def batches(self, size: int) -> Iterator[list[Row]]:
        while batch := list(islice(self.records, size)):
            yield batch

    def rows_of(self, records: Iterable[Row]) -> Iterator[SheetRow]:
        return _data_rows(records, self.columns, self.problems)


def _check_file(path: Path, sheet: str | None) -> str:
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".txt", ".tsv"):
        if sheet:
            raise InputError("--sheet only applies to Excel files", file=path.name)
        return "csv"
    raise InputError("unsupported file type; send .xlsx or .csv (save .xls/.ods as .xlsx)", file=path.name)


def read_raw(path: Path, sheet: str | None = None) -> RawSheet:
    if _check_file(path, sheet) == "xlsx":
        return read_xlsx(path, sheet)
    return read_csv(path)


def open_sheet(
    path: Path, fields: Sequence[Field], *, sheet: str | None = None, columns: Mapping[str, str] | None = None
) -> Sheet:
    """The one sheet to read: `sheet`, or the file's first (visible) one."""
    return _header(read_raw(path, sheet), fields, dict(columns or {}))


def open_sheets(
    path: Path, fields: Sequence[Field], *, sheet: str | None = None, columns: Mapping[str, str] | None = None
) -> list[Sheet]:
    """Every sheet to read, as one unit: `sheet` alone when named; else, of a workbook, every visible
    sheet whose header these fields recognise (the others are listed in the first one's `ignored`). A
    workbook where no sheet has the header fails as its first sheet does."""
    explicit = dict(columns or {})
    if sheet or _check_file(path, sheet) == "csv":
        return [open_sheet(path, fields, sheet=sheet, columns=explicit)]
    workbook = open_workbook(path)
    names = visible_sheets(workbook)
    if len(names) <= 1:
        return [_header(read_xlsx(path, None, workbook), fields, explicit)]
    found: list[Sheet] = []
    ignored: list[str] = []
    first_error: InputError | None = None
    for name in names:
        try:
            found.append(_header(read_xlsx(path, name, workbook), fields, explicit))
        except InputError as exc:
            if "merged header" in exc.reason:
                raise  # a header the fields recognise, but unusable: not a sheet to leave out
            first_error = first_error or exc
            ignored.append(name)
    if not found:
        assert first_error is not None
        raise first_error
    found[0].ignored = ignored
    return found


def no_rows_error(sheets: Sequence[Sheet]) -> InputError:
    """A file whose header is all there is (a template sent back unfilled): said plainly, rather than
    "No changes", which would read as if every row were already applied."""
    first = sheets[0]
    where = first.label if len(sheets) == 1 else first.file
    return InputError(
        f"no rows below the header (row {first.header_row}): the file has nothing to apply",
        file=where,
        row=first.header_row,
    )


def _header(raw: RawSheet, fields: Sequence[Field], explicit: dict[str, str]) -> Sheet:
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
            raise InputError(exc.reason, file=raw.label, row=number, column=exc.column) from None
        if not missing:
            _refuse_merged_header(raw, number)
            records = raw.rows
            if raw.same_width:
                records = _same_width(records, len(cells), number, raw.problems)
            return Sheet(
                raw.file,
                raw.sheet,
                number,
                found,
                raw.decimal_comma,
                records,
                raw.problems,
                notes=raw.notes,
            )
        if best is None or len(missing) < len(best[2]):
            best = (number, cells, missing)
        if seen >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        raise InputError("the sheet is empty" if raw.sheet else "the file is empty", file=raw.label)
    number, cells, missing = best
    raise InputError(describe_missing(missing, cells, fields), file=raw.label, row=number)


def _refuse_merged_header(raw: RawSheet, header_row: int) -> None:
    """A merged cell in the header row (a two-row header, a title over several columns) leaves columns
    without a name of their own, or names for rows that are data: refused, naming the merged range."""
    for top, left, bottom, right in raw.merged:
        if top <= header_row <= bottom:
            cells = f"{column_letter(left)}{top}:{column_letter(right)}{bottom}"
            raise InputError(
                f"merged header cells {cells}; unmerge them so that each column has its own header in one row",
                file=raw.label,
                row=top,
                column=column_letter(left),
            )


def _same_width(
    records: Iterator[Row], width: int, header_row: int, problems: dict[int, list[tuple[str, str, str]]]
) -> Iterator[Row]:
    """CSV lines with more or fewer fields than the header: an extra field means a value landed in the
    wrong column (an unquoted "1,5" in a comma file), so the line is an error, never read as if it fit."""
    for number, cells in records:
        if len(cells) != width and any(cells):
            problems.setdefault(number, []).append(
                (
                    "",
                    ",".join(str(c) for c in cells)[:60],
                    f"line {number} has {len(cells)} fields, the header (line {header_row}) has {width}; "
                    "quote values that contain the delimiter",
                )
            )
        yield number, cells


def _data_rows(
    records: Iterable[Row], columns: dict[str, Column], problems: dict[int, list[tuple[str, str, str]]]
) -> Iterator[SheetRow]:
    picks = [(name, col.index) for name, col in columns.items()]
    letters = {col.letter for col in columns.values()} | {""}
    for number, cells in records:
        # any() is C-speed and settles almost every row; the exact test runs only for rows that look empty.
        # A row of spaces is not empty: it reaches validation and is reported, not silently dropped.
        if not any(cells) and all(is_blank(c) for c in cells):
            continue
        width = len(cells)
        values = {name: cells[index] if index < width else None for name, index in picks}
        found = problems.get(number)
        if found:
            # a formula or a merge in a column no field reads doesn't matter; a row-wide problem does
            found = [p for p in found if p[0] in letters]
        yield SheetRow(number, values, tuple(found) if found else ())
