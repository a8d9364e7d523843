"""Validation problems as data: every one is collected, then shown as one table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from maint.errors import InputError

MAX_LISTED = 50  # the table lists this many; the message counts the rest


@dataclass(frozen=True)
class Issue:
    file: str
    row: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
        }


class SheetInvalidError(InputError):
    """The sheet has invalid rows; `issues` holds all of them for the error table."""

    def __init__(self, issues: list[Issue]) -> None:
        first = issues[0]
        more = f" (and {len(issues) - 1} more problem(s); see the table)" if len(issues) > 1 else ""
        super().__init__(
            first.reason + more,
            file=first.file,
            row=first.row,
            column=first.column or None,
            value=first.value,
        )
        self.issues = issues


def issue_table(issues: Iterable[Issue], limit: int = MAX_LISTED) -> list[list[str]]:
    rows = [[i.file, str(i.row), i.column, _short(i.value), i.reason] for i in issues]
    if len(rows) > limit:
        rows = rows[:limit] + [["…", "", "", "", f"{len(rows) - limit} more"]]
    return rows


def _short(value: str, width: int = 40) -> str:
    flat = value.replace("\n", "⏎")
    return flat if len(flat) <= width else flat[: width - 1] + "…"
