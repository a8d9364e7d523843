"""Finding the header row and matching its names to the fields a task needs.

Names are compared case-insensitively on their letters and digits only, against each
field's aliases (English, German, French, Dutch: what our clients send). `--columns price=Preis` maps a
field to a header explicitly and wins over aliases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from maint.errors import InputError
from maint.sheets.table import column_letter
from maint.sheets.values import CellValue, cell_text

HEADER_SEARCH_ROWS = 20  # a title block above the header is common; further down is not a header


@dataclass(frozen=True)
class Field:
    name: str
    aliases: tuple[str, ...]
    required: bool = False


@dataclass(frozen=True)
class Column:
    index: int  # position in the row as read (0-based, relative to the reader's first column)
    header: str
    letter: str  # the spreadsheet's column letter, for error tables


def normalise(header: str) -> str:
    # only letters and digits count: "Art.-Nr.", "art nr" and "Preis (€)" match "artnr" and "preis"
    return re.sub(r"[\W_]+", "", header.strip().lower())


_CHANGE_WORDS = (
    "change",
    "änderung",
    "anderung",
    "aenderung",
    "percent",
    "prozent",
    "pourcentage",
    "wijziging",
)


def is_change_header(header: str) -> bool:
    """A column whose header says it holds changes ("Price change", "Änderung %"): there a cell Excel
    formats as a percentage is a percent change, not a price."""
    text = header.lower()
    return "%" in text or any(word in text for word in _CHANGE_WORDS)


def parse_columns_option(option: str, fields: Iterable[Field]) -> dict[str, str]:
    """`price=Preis,sku=Artikel` → {"price": "Preis", "sku": "Artikel"}, checking the field names."""
    known = {f.name for f in fields}
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in option.split(","))):
        field, sep, header = part.partition("=")
        field, header = field.strip().lower(), header.strip()
        if not sep or not header:
            raise InputError(f"--columns expects field=Header pairs, got {part!r}")
        if field not in known:
            raise InputError(f"--columns: unknown field {field!r}; known: {', '.join(sorted(known))}")
        mapping[field] = header
    return mapping


def match_header(
    cells: Sequence[CellValue], fields: Sequence[Field], explicit: Mapping[str, str], column_offset: int = 0
) -> tuple[dict[str, Column], list[str]]:
    """Map fields to columns of one candidate header row; returns the mapping and the missing required fields.

    Raises InputError when two columns claim the same field, since picking one would be a guess.
    """
    by_name: dict[str, list[int]] = {}
    for index, cell in enumerate(cells):
        text = cell_text(cell)
        if text:
            by_name.setdefault(normalise(text), []).append(index)
    found: dict[str, Column] = {}
    for field in fields:
        wanted = (
            [normalise(explicit[field.name])]
            if field.name in explicit
            else [normalise(a) for a in (field.name, *field.aliases)]
        )
        hits = sorted({i for name in wanted for i in by_name.get(name, [])})
        if len(hits) > 1:
            letters = ", ".join(column_letter(i + column_offset) for i in hits)
            raise InputError(
                f"columns {letters} all look like {field.name!r}; choose one with --columns "
                f"{field.name}=<header>",
                column=field.name,
            )
        if hits:
            index = hits[0]
            found[field.name] = Column(index, cell_text(cells[index]), column_letter(index + column_offset))
    missing = [f.name for f in fields if f.required and f.name not in found]
    return found, missing


def describe_missing(missing: Sequence[str], cells: Sequence[CellValue], fields: Sequence[Field]) -> str:
    headers = ", ".join(repr(cell_text(c)) for c in cells if cell_text(c)) or "none"
    hints = "; ".join(
        f"{f.name} (or {', '.join(f.aliases[:4])})" for f in fields if f.name in missing and f.aliases
    )
    return (
        f"missing required column(s) {', '.join(missing)}: accepted names {hints}; "
        f"headers found: {headers}; map one with --columns {missing[0]}=<header>"
    )
