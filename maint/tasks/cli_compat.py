"""The command-line contract every task shares, fitted onto invoke's and Fabric's parser.

- ``SHORT_FLAGS``: the one table of short flags for the whole tool (no per-task auto short flags).
- ``GLOBAL_FLAGS``: flags every task has (``--quiet``, ``--verbose``), added to its signature.
- ``MaintTask``: the task class that applies both, and carries the help's examples.
- Parser adjustments: an optional leading STORE; ``TASK --help``/``-h`` anywhere shows the task's
  help; a typo, a missing argument or a flag without its value is one line with the closest
  valid flag and the usage line, exit 2; Fabric's ``--dry``/``-R`` is ``--dry-run`` (refused by
  tasks that have none), and Fabric core flags maint would silently ignore are refused, all
  before any task runs, so before anything connects.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from fabric.exceptions import NothingToDo
from fabric.executor import Executor as FabricExecutor
from invoke import Task
from invoke.exceptions import Exit, ParseError
from invoke.parser.parser import ParseMachine, Parser, ParseResult
from invoke.program import Program

from maint import render

# python parameter name -> its short flag, the same in every task (README "Global flags").
# None of them is a Fabric core short flag (-c -d -D -e -f -F -h -H -i -l -p -r -R -S -t -T -V -w).
SHORT_FLAGS = {"dry_run": "n", "yes": "y", "json": "j", "all_": "a", "quiet": "q", "verbose": "v"}
GLOBAL_FLAGS = {
    "quiet": "print only errors (and the questions that need an answer)",
    "verbose": "also print what maint does, step by step (log lines on stderr)",
}
HELP_FLAGS = ("-h", "--help")
# Positionals a task may leave out (`fab info --all`) when it gives them a default of None.
OPTIONAL_POSITIONALS = frozenset({"store", "client", "duration", "note", "undofile"})

# Fabric/invoke core flags a maintainer could believe change what a task does, but maint ignores:
# refused before the task runs. `--dry`/`-R` is handled apart: it becomes the task's --dry-run.
MISLEADING_CORE_FLAGS = {
    "echo": "maint does not echo its remote commands; use --verbose",
    "warn-only": "maint never goes on past a failed step",
    "hide": "use --quiet",
    "pty": "maint runs its remote commands without a terminal",
    "hosts": "stores and their hosts come from the inventory: give a STORE or --all",
    "identity": "SSH keys come from ~/.ssh/config (or FABRIC_MAINT_SSH_CONFIG)",
    "ssh-config": "set FABRIC_MAINT_SSH_CONFIG or maint.ssh_config in fabric.yaml",
    "connect-timeout": "set maint.connect_timeout in fabric.yaml",
    "command-timeout": "maint sets its own timeouts per step",
    "prompt-for-login-password": "maint logs in with SSH keys only",
    "prompt-for-passphrase": "load the key into ssh-agent first",
    "prompt-for-sudo-password": "maint never uses sudo",
}


class MaintTask(Task):  # type: ignore[misc]
    """An invoke task with maint's contract: the short-flag table, --quiet/--verbose, examples."""

    def __init__(self, body: Callable[..., Any], *, examples: Iterable[str] = (), **kwargs: Any) -> None:
        kwargs["auto_shortflags"] = False
        help_ = dict(kwargs.pop("help", None) or {})
        for name, text in GLOBAL_FLAGS.items():
            help_.setdefault(name, text)
        super().__init__(body, help=help_, **kwargs)
        self.examples = tuple(examples)
        body.maint_task = self  # maint_task's wrapper adds the usage line to a UsageError

    def argspec(self, body: Callable[..., Any]) -> inspect.Signature:
        sig = super().argspec(body)
        params = list(sig.parameters.values())
        for name in GLOBAL_FLAGS:
            if name not in sig.parameters:
                params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=False))
        return sig.replace(parameters=params)

    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        if short and not opts.get("positional") and short not in taken_names:
            opts["names"] = [*opts["names"], short]
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Any]:
        args: list[Any] = super().get_arguments(ignore_unknown_help)
        params = self.argspec(self.body).parameters
        for arg in args:
            if arg.positional:  # a positional with a default may be left out (`fab info --all`)
                name = arg.attr_name or arg.name
                arg.optional_positional = params[name].default is not inspect.Parameter.empty
                if arg.optional_positional:
                    # invoke takes a positional with a default ("") as given, and then refuses
                    # `maint init FOLDER`; keep it open for a word, and put the default back at the end
                    arg.optional_default = params[name].default
                    arg.default = None
        return args

    def has_flag(self, name: str) -> bool:
        return name in self.argspec(self.body).parameters

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not getattr(self.body, "maint_contract", False):  # a body without maint_task: no global flags
            accepted = inspect.signature(self.body).parameters
            for name in GLOBAL_FLAGS:
                if name not in accepted:
                    kwargs.pop(name, None)
        return super().__call__(*args, **kwargs)


def adopt(task: Task) -> MaintTask:
    """A task made with invoke's @task, given the contract (its examples still missing)."""
    return MaintTask(
        task.body,
        name=task.name,
        aliases=task.aliases,
        positional=task.positional,
        optional=task.optional,
        iterable=task.iterable,
        incrementable=task.incrementable,
        help=dict(task.help),
        pre=task.pre,
        post=task.post,
        autoprint=task.autoprint,
    )


def usage_line(program: str, task: Any, name: str) -> str:
    parts = [program, name, "[options]"]
    takes_all = isinstance(task, MaintTask) and task.has_flag("all_")
    params = task.argspec(task.body).parameters if isinstance(task, MaintTask) else {}
    for arg in getattr(task, "positional", ()):
        optional = arg in params and params[arg].default is not inspect.Parameter.empty
        if arg == "store" and takes_all:
            parts.append("[STORE|--all]")
        elif optional:
            parts.append(f"[{arg.upper()}]")
        else:
            parts.append(arg.upper())
    return " ".join(parts)


def _program_name(program: Program) -> str:
    return os.path.basename(str(program.binary or program.name or "fab").split()[0])


def program_name() -> str:
    """`fab` or `maint`, as the user typed it."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "fab"
    return name if name in ("fab", "maint") else "fab"


def usage_hint(task: Any) -> str:
    """" usage: fab info [options] [STORE|--all]" for a task's own usage errors."""
    if not isinstance(task, MaintTask):
        return ""
    return f" usage: {usage_line(program_name(), task, task.name)}"


def _example(program: str, line: str) -> str:
    return re.sub(r"^(fab|maint) ", f"{program} ", line.strip())


def _print_task_help(self: Program, name: str) -> None:
    task = self.collection[name]
    if not isinstance(task, MaintTask):
        _original_print_task_help(self, name)
        return
    program = _program_name(self)
    ctx = self.parser.contexts[name]
    print(f"Usage: {usage_line(program, task, name)}")
    print()
    for line in (inspect.getdoc(task) or "").splitlines():
        print(f"  {line}" if line.strip() else "")
    print()
    if task.examples:
        print("Examples:")
        for line in task.examples:
            print(f"  {_example(program, line)}")
        print()
    print("Options:")
    self.print_columns(ctx.help_tuples())
    print("Short flags mean the same in every task: -n dry run, -y yes, -j JSON, -a all, -q quiet, -v verbose.")
    print("NO_COLOR=1 turns styling off; MAINT_YES=1 answers yes. Exit codes: see the README.")


_original_print_task_help = Program.print_task_help
Program.print_task_help = _print_task_help


def _closest(token: str, candidates: Iterable[str]) -> str | None:
    flag = token.split("=", 1)[0]
    pool = sorted(set(candidates))
    found = difflib.get_close_matches(flag, pool, n=1, cutoff=0.6)
    if not found:  # a prefix (`--stor`) or a flag with one dash too few (`-dry-run`)
        found = [c for c in pool if c.startswith(flag) and len(flag) >= 3] or [
            c for c in pool if c.lstrip("-") == flag.lstrip("-")
        ]
    return found[0] if found else None


def _usage_message(self: Program, exc: ParseError, tokens: list[str]) -> str:
    program = _program_name(self)
    ctx = getattr(exc, "context", None)
    text = str(exc)
    name = ctx.name if ctx is not None and getattr(ctx, "name", None) else None
    task = self.collection[name] if name and name in self.collection else None
    usage = f"usage: {usage_line(program, task, name)}" if task is not None and name else f"usage: {program} TASK [options]"
    where = f"{program} {name}" if name else program
    hint = f"(`{program} {name} --help` shows every flag)" if name else f"(`{program} --list` shows every task)"
    unknown = re.match(r"No idea what '(.*)' is!", text)
    if unknown:
        token = unknown.group(1)
        if token.startswith("-") and ctx is not None:
            flags = [f for f in ctx.flags if f.startswith("--")] + [f for f in ctx.inverse_flags]
            best = _closest(token, flags)
            suggestion = f"; did you mean {best}?" if best else ""
            return f"{where}: unknown flag {token}{suggestion} {usage} {hint}"
        tasks = list(self.collection.task_names)
        best = _closest(token, tasks)
        if name:
            return f"{where}: unexpected argument {token!r} {usage} {hint}"
        suggestion = f"; did you mean {best}?" if best else ""
        return f"{program}: no task {token!r}{suggestion} {usage} {hint}"
    missing = re.match(r"'(.*)' did not receive required positional arguments: (.*)", text)
    if missing:
        args = [a.strip(" '") for a in missing.group(2).split(",")]
        helps = []
        for arg in args:
            helped = ctx.args[arg].help if ctx is not None and arg in ctx.args else ""
            helps.append(f"{arg.upper()} ({helped})" if helped else arg.upper())
        return f"{where}: missing {', '.join(helps)} {usage} {hint}"
    needs_value = re.match(r"Flag <Argument: ([^ >(]+).*needed value", text)
    if needs_value:
        flag = "--" + needs_value.group(1).replace("_", "-").rstrip("-")
        return f"{where}: {flag} needs a value {usage} {hint}"
    return f"{where}: {text} {usage} {hint}"


def _task_asked_help(self: Program, tokens: list[str]) -> str | None:
    """`fab TASK ... --help` or `-h`: the task's help, whatever else the line holds."""
    if not tokens or tokens[0].startswith("-") or tokens[0] not in self.collection:
        return None
    head = tokens[: tokens.index("--")] if "--" in tokens else tokens
    return str(tokens[0]) if any(t in HELP_FLAGS for t in head[1:]) else None


def _refuse(self: Program, message: str, tokens: list[str]) -> Exit:
    if "--json" in tokens or "-j" in tokens:
        name = tokens[0] if tokens and tokens[0] in self.collection else ""
        render.print_json(
            render.envelope(name, datetime.now(UTC), [], exit_code=2, error=message, ok=False)
        )
    return Exit(f"error: {message}", code=2)


def _apply_core_flags(self: Program, tokens: list[str]) -> None:
    """`--dry`/`-R` becomes each task's --dry-run; core flags maint would ignore are refused."""
    for flag, reason in MISLEADING_CORE_FLAGS.items():
        arg = self.args[flag] if flag in self.args else None
        if arg is not None and arg.got_value and arg.value not in (None, False, [], ""):
            raise _refuse(self, f"Fabric's --{flag} does nothing in maint's tasks: {reason}", tokens)
    dry = self.args["dry"] if "dry" in self.args else None
    if dry is None or not dry.value:
        return
    for ctx in self.tasks:
        task = self.collection[ctx.name]
        if isinstance(task, MaintTask) and task.has_flag("dry_run"):
            ctx.args["dry_run"].value = True
            continue
        raise _refuse(
            self,
            f"{_program_name(self)} {ctx.name} has no dry run (--dry/-R would run it for real); "
            "run it without --dry",
            tokens,
        )
    # Fabric's own meaning (blank every command) is not wanted: the tasks' dry run plans with real facts.
    dry.value = False
    self.config.run.dry = False


def _parse_tasks(self: Program) -> None:
    tokens = list(self.core.unparsed)
    asked = _task_asked_help(self, tokens)
    if asked:  # whatever else the line holds (a typo, a missing FILE), help wins
        self.parser = self._make_parser()
        self.args.help.value = asked
        self.tasks = ParseResult()
        return
    try:
        _original_parse_tasks(self)
    except ParseError as exc:
        raise _refuse(self, _usage_message(self, exc, tokens), tokens) from None
    _apply_core_flags(self, tokens)


_original_parse_tasks = Program.parse_tasks
Program.parse_tasks = _parse_tasks


def _parse_cleanup(self: Program) -> None:
    # `maint --help | head` closes the pipe early: end quietly, not with a traceback.
    try:
        _original_parse_cleanup(self)
    except BrokenPipeError:
        silence_stdout()
        raise Exit(code=0) from None


_original_parse_cleanup = Program.parse_cleanup
Program.parse_cleanup = _parse_cleanup


def silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


_complete_context = ParseMachine.complete_context


def _complete_with_optional_positionals(self: Any) -> None:
    # invoke treats every positional as required, but `fab info demo` and `fab info --all` must both
    # work: a missing STORE is "", and the task asks for a STORE or --all itself.
    if self.context is not None:
        for arg in self.context.positional_args:
            if arg.value is None and getattr(arg, "optional_positional", arg.name in OPTIONAL_POSITIONALS):
                default = getattr(arg, "optional_default", "")
                arg.set_value("" if default is None else default, cast=False)
    _complete_context(self)


ParseMachine.complete_context = _complete_with_optional_positionals  # type: ignore[method-assign]

_handle = ParseMachine.handle


def _handle_flags_before_positionals(self: Any, token: str) -> None:
    # invoke lets a missing positional swallow any token, so `fab info -R demo` took "-R" as the
    # STORE and `fab info --stor demo` took "--stor": a flag is a flag, known or not.
    context = self.context
    # invoke lets a missing positional swallow `--help`; let core flags win instead.
    if (
        context is not None
        and token.startswith("-")
        and token != "-"
        and token not in context.flags
        and token not in context.inverse_flags
        and not self.waiting_for_flag_value
        and context.missing_positional_args
    ):
        if self.initial is not None and token in self.initial.flags:
            flag = self.initial.flags[token]
            if flag.name == "help":
                flag.value = context.name
            else:
                self.switch_to_flag(token)
            return
        self.error(f"No idea what {token!r} is!")
    _handle(self, token)


ParseMachine.handle = _handle_flags_before_positionals  # type: ignore[method-assign]

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
