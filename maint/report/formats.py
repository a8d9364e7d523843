"""Numbers and dates as the client reads them: decimal mark, grouping, day and month order, month names.

The locale is the client's `locale:` (inventory) or the agency's `maint.report.locale`, e.g. en_ZA or
de_DE; without one, British English ("20 Nov", "1,240", "99.31 %"). CLDR data through Babel, so a
locale is spelled as Babel knows it (`de_DE`, `de-DE` and `de` all work) and a wrong one is an error
naming where it was set. The words of the report stay English: only the numbers and dates follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from babel.numbers import format_decimal

from maint.errors import ConfigError

DEFAULT_LOCALE = "en_GB"
# An amount or count as `fab hours` writes it ("1,234.50", "1,905"): re-written in the client's locale.
_EN_NUMBER = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|\d+\.\d+(?![\d.,]))")


@dataclass(frozen=True)
class Formats:
    locale: Locale

    @classmethod
    def of(cls, name: str = "", where: str = "") -> Formats:
        """The formats of a locale name; '' gives the default. `where` names the setting in errors."""
        try:
            return cls(Locale.parse((name or DEFAULT_LOCALE).replace("-", "_")))
        except (UnknownLocaleError, ValueError, TypeError):
            raise ConfigError(
                f"{where or 'locale'}: {name!r} is not a locale (write it as en_ZA, de_DE, fr_FR …)"
            ) from None

    @property
    def name(self) -> str:
        return str(self.locale)

    def number(self, value: float | int | Decimal, places: int = 0) -> str:
        """1240 → '1,240' (en_GB), '1.240' (de_DE), '1 240' (en_ZA); `places` fixed decimals."""
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float) -> str:
        """99.3056 → '99.31 %' / '99,31 %'; exactly 100 stays '100 %' (never rounded up to it)."""
        return "100 %" if value >= 100 else f"{self.number(value, 2)} %"

    def day(self, when: date | datetime) -> str:
        """'20 Nov' (en_GB), '20. Nov.' (de_DE), 'Nov 20' (en_US)."""
        return format_skeleton("MMMd", when, locale=self.locale)

    def time(self, when: datetime) -> str:
        return format_skeleton("Hm", when, locale=self.locale)

    def day_time(self, when: datetime) -> str:
        return f"{self.day(when)} {self.time(when)}"

    def long_day(self, when: date | datetime) -> str:
        """'20 Nov 2026' / '20. Nov. 2026' / 'Nov 20, 2026'."""
        return format_skeleton("yMMMd", when, locale=self.locale)

    def month(self, when: date | datetime) -> str:
        """'November 2026' / 'Dezember 2026': the month's name in the client's language."""
        return format_skeleton("yMMMM", when, locale=self.locale)

    def amounts(self, text: str) -> str:
        """A line `fab hours` formatted ('R1,234.50', '1,905') with its numbers in this locale."""
        if self.name == DEFAULT_LOCALE:
            return text

        def one(match: re.Match[str]) -> str:
            raw = match.group(0).replace(",", "")
            places = len(raw.split(".", 1)[1]) if "." in raw else 0
            return self.number(Decimal(raw), places)

        return _EN_NUMBER.sub(one, text)


DEFAULT = Formats.of()
