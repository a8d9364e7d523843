"""One adjustment to invoke's parser: an optional leading positional.

invoke treats every positional argument as required, but ``fab info demo`` and ``fab info --all``
must both work. When a task's context is complete and a positional named in
OPTIONAL_POSITIONALS got no value, it is given ``""``; the task then asks for a STORE or --all
itself, with a clear error, before any connection opens.
"""

from __future__ import annotations

from typing import Any

from invoke.parser.parser import ParseMachine

OPTIONAL_POSITIONALS = frozenset({"store", "client", "duration", "note"})
_complete_context = ParseMachine.complete_context


def _complete_with_optional_positionals(self: Any) -> None:
    if self.context is not None:
        for arg in self.context.positional_args:
            if arg.value is None and arg.name in OPTIONAL_POSITIONALS:
                arg.value = ""
    _complete_context(self)


ParseMachine.complete_context = _complete_with_optional_positionals  # type: ignore[method-assign]

_handle = ParseMachine.handle


def _handle_help_before_positionals(self: Any, token: str) -> None:
    # invoke lets a missing positional swallow `--help`; let core flags win instead.
    context = self.context
    if (
        context is not None
        and token.startswith("-")
        and token not in context.flags
        and token not in context.inverse_flags
        and not self.waiting_for_flag_value
        and self.initial is not None
        and token in self.initial.flags
        and context.missing_positional_args
    ):
        flag = self.initial.flags[token]
        if flag.name == "help":
            flag.value = context.name
        else:
            self.switch_to_flag(token)
        return
    _handle(self, token)


ParseMachine.handle = _handle_help_before_positionals  # type: ignore[method-assign]
