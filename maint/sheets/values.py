"""Cell values as clients write them: "1.234,56 €", "-10%", "+5 %", "31.12.2026", Excel serial dates.

Every parser takes the raw cell (str, int, float, date, datetime or None) and returns a typed value
or raises ValueError with a reason a client understands; the caller adds file, row and column.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CellValue = str | int | float | bool | dt.date | dt.datetime | dt.time | dt.timedelta | None

# A currency before or after the amount: a symbol, a local abbreviation or any ISO 4217 code ("R 1 049,50",
# "104,99 ZAR", "CHF 1'049.50", "1.049,50 €"); anything else next to the digits makes the cell "not a number".
_AFFIX = re.compile(r"(?i)(?:[€$£¥₹₽₺₪₩₫฿₴₦]|r|rs\.?|kr\.?|zł|kč|ft|lei|fr\.?|[a-z]{3}|[a-z]{1,3}\$)\Z")
_AMOUNT = re.compile(
    r"(?P<sign>[+-]?)\s*(?P<pre>[^\d\s+\-.,']*)\s*(?P<sign2>[+-]?)\s*"
    r"(?P<num>\d(?:[\d.,' ]*\d)?|[.,]\d+)\s*(?P<post>[^\d\s]*)"
)
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2212": "-"})
_NUMBER = re.compile(r"^(?:\d+|\d{1,3}(?:[.,' ]\d{3})+)(?:[.,]\d+)?$|^[.,]\d+$")
_PLAIN = re.compile(r"\d{1,15}(?:\.\d{1,8})?\Z")
MAX_PRICE = Decimal("1e11")  # product.price is DECIMAL(15,4)
FOUR_PLACES = Decimal("0.0001")
# Excel's day zero for serial dates (1900 system, with its leap-year bug already accounted for).
_EXCEL_EPOCH = dt.date(1899, 12, 30)


class PercentCell(float):
    """A number an Excel cell shows as a percentage (number format 0% or 0.0%): 0.05 is shown as 5%."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"{Decimal(repr(float(self))) * 100:f}".rstrip("0").rstrip(".") + "%"


def is_blank(value: CellValue) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: CellValue) -> str:
    """The cell as the client sees it, for error tables."""
    if value is None:
        return ""
    if isinstance(value, PercentCell):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_decimal(value: CellValue, *, decimal_comma: bool | None = None) -> Decimal:
    """A number with optional currency, thousands separators and decimal comma.

    `decimal_comma` is the file's convention when known (semicolon CSVs use it); None decides per
    value: with both "." and "," the last one is the decimal mark, a lone "," followed by exactly three
    digits is a thousands separator, any other lone "," is a decimal mark.
    """
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a number")
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise ValueError("not a number")
    if decimal_comma is not True and _PLAIN.match(value):
        return Decimal(value)  # the common case, 100,000 times per list: skip the cleaning below
    match = _AMOUNT.fullmatch(value.translate(_SPACES).strip())
    if match is None:
        raise ValueError("empty" if not value.strip() else "not a number")
    pre, post, text = match["pre"], match["post"], match["num"]
    if (
        (pre and not _AFFIX.match(pre))
        or (post and not _AFFIX.match(post))
        or (match["sign"] and match["sign2"])
    ):
        raise ValueError("not a number")
    if not _NUMBER.match(text):
        raise ValueError("not a number")
    sign = match["sign"] or match["sign2"]
    text = text.replace("'", "").replace(" ", "")
    comma, dot = text.rfind(","), text.rfind(".")
    if comma >= 0 and dot >= 0:
        decimal_mark = "," if comma > dot else "."
    elif comma >= 0 or dot >= 0:
        mark = "," if comma >= 0 else "."
        other = "." if mark == "," else ","
        three_after = len(text) - text.rfind(mark) - 1 == 3
        if text.count(mark) > 1:
            decimal_mark = other  # "1.234.567": repeated marks can only be thousands separators
        elif three_after:
            # "1,050" / "1.050" is ambiguous: the file's convention decides; "1.050" with none is a decimal
            # point (how a plain number is written), a lone "1,050" is refused: 1050 or 1.05 would be a guess
            if decimal_comma is None and mark == ",":
                raise ValueError(
                    f"ambiguous: {value.strip()!r} could be {text.replace(',', '')} or "
                    f"{Decimal(text.replace(',', '.')).normalize()}; "
                    "write it with a decimal mark (1050.00 or 1,05) or without the comma"
                )
            decimal_mark = "," if decimal_comma else "."
        else:
            decimal_mark = mark
    else:
        decimal_mark = "."
    thousands = "." if decimal_mark == "," else ","
    text = sign + text.replace(thousands, "").replace(decimal_mark, ".")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number") from None


@dataclass(slots=True)
class PriceChange:
    """An absolute price, or a relative change in percent ("-10%", "+5%") applied to the current price."""

    amount: Decimal
    percent: bool = False

    def exact(self, current: Decimal) -> Decimal:
        """The new price before any rounding (a percent change of 199.99 by -3 % is 193.9903)."""
        if not self.percent:
            return self.amount
        return current * (Decimal(100) + self.amount) / Decimal(100)

    def apply_to(self, current: Decimal, places: int = 4) -> Decimal:
        """The new price; a percent change is rounded half up to `places` decimals (the store's currency:
        a customer never sees 193.9903), an absolute price only to the store's 4."""
        if not self.percent:
            return self.amount.quantize(FOUR_PLACES, ROUND_HALF_UP)
        step = Decimal(1).scaleb(-min(max(places, 0), 4))
        return self.exact(current).quantize(step, ROUND_HALF_UP).quantize(FOUR_PLACES)


def parse_price(
    value: CellValue, *, decimal_comma: bool | None = None, change_column: bool = False
) -> PriceChange:
    """A price cell: absolute ("19,99 €") or a percent change ("-10%", "+5 %").

    A number Excel formats as a percentage (PercentCell) is a change in a column headed as one
    (`change_column`: "Change", "Änderung", "%"); in a price column it is refused: 0.05 shown as "5%"
    could be meant as a price of 0.05 or as +5 %.
    """
    if is_blank(value):
        raise ValueError("empty")
    if isinstance(value, PercentCell):
        if not change_column:
            raise ValueError(
                f"a percent-formatted cell ({value}) in a price column is ambiguous (a price of "
                f"{float(value):g} or a change of {value}?); type the price, or head the column 'Change'"
            )
        value = str(value)
    if isinstance(value, str) and value.strip().endswith("%"):
        amount = parse_decimal(value.strip()[:-1], decimal_comma=decimal_comma)
        if amount <= -100:
            raise ValueError("a change of -100% or less would make the price zero or negative")
        return PriceChange(amount, percent=True)
    amount = parse_decimal(value, decimal_comma=decimal_comma)
    if amount < 0:
        raise ValueError("negative price")
    if amount >= MAX_PRICE:
        raise ValueError("price too large for the store (decimal 15,4)")
    return PriceChange(amount)


def parse_int(value: CellValue, *, minimum: int = 0) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("not a whole number")
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        raise ValueError("not a whole number")
    number = int(text)
    if number < minimum:
        raise ValueError(f"must be {minimum} or more")
    return number


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%y")


def parse_date(value: CellValue) -> dt.date:
    """A date cell: a real date, an Excel serial number, ISO "2026-12-31" or European "31.12.2026".

    US-style "12/31/2026" is refused rather than guessed: 03/04 is ambiguous.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise ValueError("not a date")
    if not isinstance(value, str):
        raise ValueError("not a date")
    text = value.strip()
    if " " in text or "T" in text:
        text = re.split(r"[ T]", text, maxsplit=1)[0]
    for fmt in _DATE_FORMATS:
        try:
            parsed = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if parsed.year < 1970 or parsed.year > 2200:
            raise ValueError("date out of range")
        return parsed
    raise ValueError("not a date (use 2026-12-31 or 31.12.2026)")
