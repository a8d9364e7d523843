"""CSV as clients export it: any of , ; tab |, UTF-8 with or without BOM, UTF-16, or Windows-1252."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

from maint.errors import InputError
from maint.sheets.table import RawSheet, Row

_SAMPLE_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def detect_encoding(sample: bytes, name: str) -> str:
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    if sample.startswith(b"PK\x03\x04"):
        raise InputError("this is an Excel (.xlsx) file with a .csv name; rename it to .xlsx", file=name)
    if b"\x00" in sample:
        raise InputError(
            "not a text file (binary, or UTF-16 without a byte-order mark); save it as CSV UTF-8", file=name
        )
    try:
        # the sample may end inside a multi-byte character: let the incremental decoder keep that tail
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"  # what Excel on Windows writes for "CSV (comma delimited)"


def detect_delimiter(first_line: str) -> str:
    """The candidate that splits the header line most often, counting only outside quotes."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in first_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(path: Path) -> RawSheet:
    name = path.name
    with path.open("rb") as raw:
        sample = raw.read(_SAMPLE_BYTES)
    if not sample.lstrip(b"".join(bom for bom, _ in _BOMS)).strip(b"\x00 \t\r\n"):
        raise InputError("the file is empty", file=name)
    encoding = detect_encoding(sample, name)
    if encoding == "cp1252":
        try:
            sample.decode("cp1252")
        except UnicodeDecodeError:
            raise InputError("unknown text encoding; save it as CSV UTF-8", file=name) from None
    text_sample = sample.decode(encoding, errors="ignore")
    first_line = next((line for line in text_sample.splitlines() if line.strip()), "")
    delimiter = detect_delimiter(first_line)
    notes = [f"read as CSV, {encoding}, delimiter {delimiter!r}"]
    return RawSheet(
        file=name,
        sheet=None,
        rows=_rows(path, encoding, delimiter),
        decimal_comma=True if delimiter == ";" else None,
        notes=notes,
        same_width=True,
    )


def _rows(path: Path, encoding: str, delimiter: str) -> Iterator[Row]:
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=delimiter, strict=False)
        line = 0
        try:
            for record in reader:
                line += 1
                yield line, record  # type: ignore[misc]  # list[str] is a list of cell values
        except UnicodeDecodeError:
            raise InputError(
                f"the file is not valid {encoding} text after row {line}; save it as CSV UTF-8",
                file=path.name,
                row=line + 1,
            ) from None
        except csv.Error as exc:
            raise InputError(f"broken CSV: {exc}", file=path.name, row=line + 1) from None
