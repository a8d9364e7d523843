"""One error tree. Each class carries the process exit code the CLI ends with.

Exit codes 0-3 keep their monitoring meaning (ok, warning, critical, unknown) for
`check` and `health`; errors that stop a task use 3 (cancelled) and 10 and up.
"""

from __future__ import annotations


class MaintError(Exception):
    """Base of every expected failure: a one-line message, no traceback."""

    exit_code = 2

    def __init__(self, message: str, *, store: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.store = store

    def __str__(self) -> str:
        return f"{self.store}: {self.message}" if self.store else self.message


class CancelledByUser(MaintError):
    exit_code = 3


class UsageError(MaintError):
    """The command line itself is wrong: an unknown flag, a missing argument, flags that conflict."""

    exit_code = 2


class ConfigError(MaintError):
    """Bad configuration, inventory or playbook data."""

    exit_code = 10


class InventoryError(ConfigError):
    """An inventory file is missing or invalid; the message names the file and key."""

    exit_code = 11


class PlaybookError(ConfigError):
    """A playbook (matrix, advisories, health checks, plans) is malformed."""

    exit_code = 12


class ConnectError(MaintError):
    """The host could not be reached or the login was refused."""

    exit_code = 20


class HostKeyError(ConnectError):
    """The host key is unknown or changed; never auto-accepted."""

    exit_code = 21


class AuthError(ConnectError):
    exit_code = 22


class FactError(MaintError):
    """A read-only probe failed or gave something it could not understand."""

    exit_code = 30


class NotOpenCartError(FactError):
    exit_code = 31


class ConfigFileError(FactError):
    """The store's own config.php could not be parsed."""

    exit_code = 32


class RemoteCommandError(MaintError):
    exit_code = 40


class SqlError(MaintError):
    exit_code = 41


class DbAuthError(SqlError):
    exit_code = 42


class InputError(MaintError):
    """Bad user input (a spreadsheet, a duration, a flag); names file, row and column where known."""

    exit_code = 50

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
        store: str | None = None,
    ) -> None:
        if file is None and row is None and column and column not in reason:
            # A command-line argument, not a spreadsheet cell.
            column_label = column if column.startswith("-") else f"argument {column!r}"
        elif file is None and row is None:
            column_label = ""  # the reason already names the argument
        else:
            column_label = f"column {column!r}" if column else ""
        where = ", ".join(part for part in (file or "", f"row {row}" if row is not None else "", column_label) if part)
        super().__init__(f"{where}: {reason}" if where else reason, store=store)
        self.file, self.row, self.column, self.value, self.reason = file, row, column, value, reason


class PreconditionError(MaintError):
    exit_code = 60


class LockError(PreconditionError):
    """Another run holds the store's lock."""

    exit_code = 61


class BudgetError(PreconditionError):
    """The client's plan is spent and the config blocks work over budget."""

    exit_code = 62


class VerificationError(MaintError):
    exit_code = 70
