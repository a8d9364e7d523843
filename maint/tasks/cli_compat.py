"""One adjustment to invoke's parser: an optional leading positional.

invoke treats every positional argument as required, but ``fab info demo`` and ``fab info --all``
must both work. When a task's context is complete and a positional named in
OPTIONAL_POSITIONALS got no value, it is given ``""``; the task then asks for a STORE or --all
itself, with a clear error, before any connection opens.
"""

from __future__ import annotations

import re
from typing import Any

from fabric.exceptions import NothingToDo
from fabric.executor import Executor as FabricExecutor
from invoke.exceptions import Exit
from invoke.parser.parser import ParseMachine, Parser

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
    context = self.context
    # invoke lets a missing positional swallow `--help`; let core flags win instead.
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

_parse_argv = Parser.parse_argv
_NEGATIVE = re.compile(r"^-\d")
_MARK = "\x00negative:"


def _negative_words_are_values(self: Any, argv: list[str]) -> Any:
    """`fab log demo -1h`: a negative number is a value (which the task then refuses with a clear
    error), not the short flags -1 and -h (which printed the help and exited 0)."""
    end = argv.index("--") if "--" in argv else len(argv)  # words after `--` are left as they are
    argv = [_MARK + w if n < end and _NEGATIVE.match(w) else w for n, w in enumerate(argv)]
    result = _parse_argv(self, argv)
    for context in result:
        for arg in context.args.values():
            if isinstance(arg.value, str) and arg.value.startswith(_MARK):
                arg.value = arg.value[len(_MARK) :]
    result.unparsed = [w[len(_MARK) :] if w.startswith(_MARK) else w for w in result.unparsed]
    return result


Parser.parse_argv = _negative_words_are_values  # type: ignore[method-assign]

_expand_calls = FabricExecutor.expand_calls


def _remote_command_needs_a_host(self: Any, calls: Any, apply_hosts: bool = True) -> Any:
    """`fab log demo -- -1h`: words after `--` are a remote command for Fabric; with no host to
    run it on, a one-line error (exit 50) instead of a NothingToDo traceback."""
    try:
        return _expand_calls(self, calls, apply_hosts)
    except NothingToDo:
        words = (
            " ".join(self.core.remainder) if isinstance(self.core.remainder, list) else self.core.remainder
        )
        raise Exit(
            f"error: {words!r} after '--' is a remote command, but no host was given (-H); "
            "give task arguments before '--'",
            code=50,
        ) from None


FabricExecutor.expand_calls = _remote_command_needs_a_host  # type: ignore[method-assign]
