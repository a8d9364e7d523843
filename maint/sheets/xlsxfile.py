"""Excel files: values through python-calamine (fast), formatting through openpyxl only when needed.

A quick byte scan of the sheet's XML tells whether it has hidden rows or formulas at all; only then is
openpyxl loaded to find which rows and cells (it is ten times slower than calamine). Merged cells come
from calamine directly.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

from python_calamine import CalamineWorkbook

from maint.errors import InputError
from maint.sheets.table import RawSheet, Row, column_letter
from maint.sheets.values import PercentCell, cell_text

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_HIDDEN_ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*\bhidden=\"(?:1|true)\"")
_FORMULA = re.compile(rb"<(?:\w+:)?f[ >/]")
# number formats that show a percentage: built-in 9 (0%) and 10 (0.00%), or a custom code with a "%"
_PERCENT_BUILTIN = re.compile(rb"<(?:\w+:)?xf\b[^>]*\bnumFmtId=\"(?:9|10)\"")
_PERCENT_CUSTOM = re.compile(rb"<(?:\w+:)?numFmt\b[^>]*formatCode=\"[^\"]*%")
_CHUNK = 1 << 20

Problems = dict[int, list[tuple[str, str, str]]]


def open_workbook(path: Path) -> Any:
    """The workbook, or a plain sentence for what a client may have sent instead."""
    name = path.name
    with path.open("rb") as stream:
        head = stream.read(4096)
    if not head.strip(b"\x00 \t\r\n"):
        raise InputError("the file is empty", file=name)
    if not head.startswith(b"PK\x03\x04"):
        text = head.lstrip(b"\xef\xbb\xbf")
        looks_like_text = b"\x00" not in text and all(b >= 32 or b in b"\t\r\n" for b in text[:1024])
        if looks_like_text:
            raise InputError(
                "this is not an xlsx workbook; it looks like CSV text: rename it to .csv", file=name
            )
        raise InputError("this is not an xlsx workbook (an old .xls? save it from Excel as .xlsx)", file=name)
    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for damaged or foreign files
        raise InputError(
            f"the workbook is damaged and can't be read ({type(exc).__name__}); open it in Excel or "
            "LibreOffice and save it again",
            file=name,
        ) from None


def visible_sheets(workbook: Any) -> list[str]:
    return [m.name for m in workbook.sheets_metadata if str(m.visible).endswith("Visible")]


def read_xlsx(path: Path, sheet: str | None = None, workbook: Any = None) -> RawSheet:
    name = path.name
    workbook = workbook if workbook is not None else open_workbook(path)
    visible = visible_sheets(workbook)
    if sheet is None:
        if not visible:
            raise InputError("the workbook has no visible sheet", file=name)
        sheet = visible[0]
    elif sheet not in workbook.sheet_names:
        raise InputError(
            f"no sheet named {sheet!r}; the workbook has {', '.join(map(repr, workbook.sheet_names))}",
            file=name,
        )
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the formatting scan inflates the sheet's XML while calamine parses it: zlib and calamine both
        # release the GIL, so the scan costs next to nothing on a second core
        scan = pool.submit(_formatting, path, sheet)
        data = workbook.get_sheet_by_name(sheet)
        hidden_rows, formula_cells, percent_cells = scan.result()
    column_offset = data.start[1] if data.start else 0
    problems: Problems = {}
    merged = []
    for (top, left), (bottom, right) in data.merged_cell_ranges or []:
        merged.append((top + 1, left, bottom + 1, right))
        cells = f"{column_letter(left)}{top + 1}:{column_letter(right)}{bottom + 1}"
        problems.setdefault(top + 1, []).append(
            (column_letter(left), cells, "merged cells; unmerge them and fill every row")
        )
    for row in hidden_rows:
        problems.setdefault(row, []).append(("", "", "hidden row; unhide it or delete it"))
    return RawSheet(
        file=name,
        sheet=sheet,
        rows=_rows(data, column_offset, formula_cells, percent_cells, problems),
        column_offset=column_offset,
        problems=problems,
        notes=[f"read sheet {sheet!r} of {name}"],
        merged=merged,
    )


def _rows(
    data: object,
    column_offset: int,
    formulas: set[tuple[int, int]],
    percents: set[tuple[int, int]],
    problems: Problems,
) -> Iterator[Row]:
    # calamine yields rows from the sheet's first row, and cells from the first used column
    for index, values in enumerate(data.iter_rows(), 1):  # type: ignore[attr-defined]
        number: int = index
        if formulas:
            for position, value in enumerate(values):
                column = position + column_offset
                if (number, column) not in formulas:
                    continue
                if value is None or value == "":
                    reason = "formula without a saved result; paste values instead"
                else:
                    # a saved result may be stale (another file changed, calculation off): maint reads
                    # values only, so a formula is refused, never applied on trust
                    reason = "formula (its saved result may be out of date); paste values instead"
                problems.setdefault(number, []).append((column_letter(column), cell_text(value), reason))
        if percents:
            for position, value in enumerate(values):
                if (number, position + column_offset) in percents and isinstance(value, int | float):
                    values[position] = PercentCell(value)
        yield number, values


Formatting = tuple[list[int], set[tuple[int, int]], set[tuple[int, int]]]


def _formatting(path: Path, sheet: str) -> Formatting:
    """Hidden rows, formula cells and percent-formatted cells ((row, 0-based column)) of one sheet, or
    nothing when it has none."""
    with zipfile.ZipFile(path) as archive:
        member = _sheet_member(archive, sheet)
        percents = _has_percent_format(archive)
        if member is None or not (percents or _has_formatting(archive, member)):
            return [], set(), set()
    return _formatting_with_openpyxl(path, sheet)


def _has_percent_format(archive: zipfile.ZipFile) -> bool:
    try:
        styles = archive.read("xl/styles.xml")
    except KeyError:
        return False
    return bool(_PERCENT_BUILTIN.search(styles) or _PERCENT_CUSTOM.search(styles))


def _sheet_member(archive: zipfile.ZipFile, sheet: str) -> str | None:
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels.iter(f"{_NS_PKG_REL}Relationship")}
    for node in book.iter(f"{_NS_MAIN}sheet"):
        if node.get("name") == sheet:
            target = targets.get(node.get(f"{_NS_REL}id"), "")
            return target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
    return None


def _has_formatting(archive: zipfile.ZipFile, member: str) -> bool:
    tail = b""
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            window = tail + chunk
            # plain substring tests first (C speed); the regexes only confirm a hit
            if (b'hidden="' in window and _HIDDEN_ROW.search(window)) or (
                (b"<f" in window or b":f" in window) and _FORMULA.search(window)
            ):
                return True
            tail = window[-256:]
    return False


def _formatting_with_openpyxl(path: Path, sheet: str) -> Formatting:
    import openpyxl  # slow to import and to run: only for sheets that need it

    workbook = openpyxl.load_workbook(path, data_only=False)
    try:
        worksheet = workbook[sheet]
        hidden = sorted(r for r, dims in worksheet.row_dimensions.items() if dims.hidden)
        formulas: set[tuple[int, int]] = set()
        percents: set[tuple[int, int]] = set()
        for row in worksheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    formulas.add((cell.row, cell.column - 1))
                elif cell.data_type == "n" and "%" in str(cell.number_format):
                    percents.add((cell.row, cell.column - 1))
    finally:
        workbook.close()
    return hidden, formulas, percents
