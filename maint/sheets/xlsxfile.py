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
from xml.etree import ElementTree

from python_calamine import CalamineWorkbook

from maint.errors import InputError
from maint.sheets.table import RawSheet, Row, column_letter

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_HIDDEN_ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*\bhidden=\"(?:1|true)\"")
_FORMULA = re.compile(rb"<(?:\w+:)?f[ >/]")
_CHUNK = 1 << 20

Problems = dict[int, list[tuple[str, str, str]]]


def read_xlsx(path: Path, sheet: str | None = None) -> RawSheet:
    name = path.name
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for damaged or foreign files
        raise InputError(f"cannot read the Excel file ({type(exc).__name__}: {exc})", file=name) from None
    visible = [m.name for m in workbook.sheets_metadata if str(m.visible).endswith("Visible")]
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
        hidden_rows, formula_cells = scan.result()
    column_offset = data.start[1] if data.start else 0
    problems: Problems = {}
    for (top, left), (bottom, right) in data.merged_cell_ranges or []:
        cells = f"{column_letter(left)}{top + 1}:{column_letter(right)}{bottom + 1}"
        problems.setdefault(top + 1, []).append(
            (column_letter(left), cells, "merged cells; unmerge them and fill every row")
        )
    for row in hidden_rows:
        problems.setdefault(row, []).append(("", "", "hidden row; unhide it or delete it"))
    return RawSheet(
        file=name,
        sheet=sheet,
        rows=_rows(data, column_offset, formula_cells, problems),
        column_offset=column_offset,
        problems=problems,
        notes=[f"read sheet {sheet!r} of {name}"],
    )


def _rows(
    data: object, column_offset: int, formulas: set[tuple[int, int]], problems: Problems
) -> Iterator[Row]:
    # calamine yields rows from the sheet's first row, and cells from the first used column
    for index, values in enumerate(data.iter_rows(), 1):  # type: ignore[attr-defined]
        number: int = index
        if formulas:
            for position, value in enumerate(values):
                column = position + column_offset
                if (number, column) in formulas and (value is None or value == ""):
                    problems.setdefault(number, []).append(
                        (column_letter(column), "", "formula without a saved result; paste values instead")
                    )
        yield number, values


def _formatting(path: Path, sheet: str) -> tuple[list[int], set[tuple[int, int]]]:
    """Hidden rows and formula cells (row, 0-based column) of one sheet, or nothing when it has none."""
    with zipfile.ZipFile(path) as archive:
        member = _sheet_member(archive, sheet)
        if member is None or not _has_formatting(archive, member):
            return [], set()
    return _formatting_with_openpyxl(path, sheet)


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


def _formatting_with_openpyxl(path: Path, sheet: str) -> tuple[list[int], set[tuple[int, int]]]:
    import openpyxl  # slow to import and to run: only for sheets that need it

    workbook = openpyxl.load_workbook(path, data_only=False)
    try:
        worksheet = workbook[sheet]
        hidden = sorted(r for r, dims in worksheet.row_dimensions.items() if dims.hidden)
        formulas = {
            (cell.row, cell.column - 1)
            for row in worksheet.iter_rows()
            for cell in row
            if cell.data_type == "f"
        }
    finally:
        workbook.close()
    return hidden, formulas
