"""Install the periodic run: a systemd user timer or a crontab entry (the user picks).

Everything is planned first as text (what would be written where), so ``--dry-run`` can show it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from maint.errors import InputError, RemoteCommandError

UNIT = "maint-health"
CRON_MARK = "# maint health (managed by `fab health --install-schedule`)"
ENV_FILE = "health.env"  # under <config_home>/maint/
SECRET_RE = re.compile(r"PASSWORD|SECRET|TOKEN|WEBHOOK", re.IGNORECASE)
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class ScheduleFile:
    path: Path | None  # None: the user's crontab
    content: str
    mode: int = 0o644
    secret: bool = False  # shown with values masked


@dataclass(frozen=True)
class SchedulePlan:
    using: str
    every: int
    files: tuple[ScheduleFile, ...]
    activate: tuple[tuple[str, ...], ...]  # commands run after writing
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        lines = [f"Run `{UNIT}` every {self.every} min using {self.using}:"]
        for f in self.files:
            lines.append(f"--- {f.path or 'crontab (current user)'}{f' (mode {f.mode:o})' if f.path else ''}")
            lines.append((mask(f.content) if f.secret else f.content).rstrip("\n"))
        for cmd in self.activate:
            lines.append("$ " + shlex.join(cmd))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def mask(env_text: str) -> str:
    """An environment file as it may be shown: values of secret-looking names replaced."""
    return "\n".join(
        f"{line.split('=', 1)[0]}=***" if "=" in line and SECRET_RE.search(line.split("=", 1)[0]) else line
        for line in env_text.splitlines()
    )


def environment_file(settings: Mapping[str, str]) -> str:
    """The settings the schedule runs with, as ``NAME='value'`` lines both ``sh`` (cron) and systemd's
    EnvironmentFile read alike; values with a quote or a line break can't be written so, and are refused."""
    lines = ["# written by `fab health --install-schedule`: the settings the schedule was made with"]
    for name, value in sorted(settings.items()):
        if not ENV_NAME_RE.match(name):
            raise InputError(f"environment variable {name!r}: not a plain name", column=name)
        if "'" in value or "\n" in value or "\\" in value:
            raise InputError(
                f"{name}: a value with a quote, backslash or line break can't go into the schedule's "
                "environment file; use a path without them",
                column=name,
            )
        lines.append(f"{name}='{value}'")
    return "\n".join(lines) + "\n"


def carried_environment(resolved: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """What the scheduled run needs to see what this one sees: the resolved inventory, state folder,
    SSH config and known_hosts, and every other FABRIC_MAINT_* variable set in this shell."""
    carried = {k: v for k, v in environ.items() if k.startswith("FABRIC_MAINT_")}
    carried.update({k: v for k, v in resolved.items() if v})
    return carried


def lingering_note(user: str, linger_dir: Path = Path("/var/lib/systemd/linger")) -> str:
    if (linger_dir / user).exists():
        return f"lingering is on for {user}: the timer also runs while you are logged out"
    return (
        "a systemd user timer runs only while you are logged in; to run it while logged out, "
        f"enable lingering: loginctl enable-linger {user}"
    )


def cron_spec(every: int) -> str:
    if 1 <= every < 60 and 60 % every == 0:
        return f"*/{every} * * * *" if every > 1 else "* * * * *"
    if every % 60 == 0 and 24 % (every // 60) == 0:
        hours = every // 60
        return f"0 */{hours} * * *" if hours < 24 else "0 0 * * *"
    raise InputError(
        f"--every {every}: cron needs a divisor of 60 minutes or of 24 hours (e.g. 5, 15, 30, 60, 120)",
        column="--every",
    )


def plan_schedule(
    using: str,
    every: int,
    command: list[str],
    workdir: Path,
    config_home: Path,
    environment: Mapping[str, str] | None = None,
    *,
    user: str = "",
) -> SchedulePlan:
    """What to write for ``command`` (run in ``workdir``, with ``environment``) every ``every`` minutes.

    The environment goes into ``<config_home>/maint/health.env`` (mode 0600: it may hold an SMTP
    password), which cron sources and systemd reads as its EnvironmentFile.
    """
    if every < 1 or every > 1440:
        raise InputError(f"--every {every}: give minutes between 1 and 1440", column="--every")
    run = shlex.join(command)
    env = dict(environment or {})
    env_path = config_home / "maint" / ENV_FILE
    env_files = (ScheduleFile(env_path, environment_file(env), 0o600, secret=True),) if env else ()
    carried = [f"the schedule runs with {', '.join(sorted(env))} as set now (in {env_path})"] if env else []
    if using == "cron":
        source = f"set -a && . {shlex.quote(str(env_path))} && set +a && " if env else ""
        line = f"{cron_spec(every)} cd {shlex.quote(str(workdir))} && {source}{run} >/dev/null 2>&1 {CRON_MARK}\n"
        return SchedulePlan("cron", every, (*env_files, ScheduleFile(None, line)), (), tuple(carried))
    if using == "systemd":
        units = config_home / "systemd" / "user"
        service = (
            "[Unit]\nDescription=maint: health checks of client stores\n\n"
            f"[Service]\nType=oneshot\nWorkingDirectory={workdir}\n"
            + (f"EnvironmentFile={env_path}\n" if env else "")
            + f"ExecStart={run}\n"
            # The exit code is the monitoring state (1/2/3 are findings, not a failed unit).
            "SuccessExitStatus=1 2 3\n"
        )
        timer = (
            f"[Unit]\nDescription=maint: health checks every {every} min\n\n"
            f"[Timer]\nOnBootSec={every}min\nOnUnitActiveSec={every}min\nUnit={UNIT}.service\n\n"
            "[Install]\nWantedBy=timers.target\n"
        )
        return SchedulePlan(
            "systemd",
            every,
            (
                *env_files,
                ScheduleFile(units / f"{UNIT}.service", service),
                ScheduleFile(units / f"{UNIT}.timer", timer),
            ),
            (
                ("systemctl", "--user", "daemon-reload"),
                ("systemctl", "--user", "enable", "--now", f"{UNIT}.timer"),
            ),
            (*carried, lingering_note(user or os.environ.get("USER", "") or "$USER")),
        )
    raise InputError(f"--using {using!r}: choose systemd or cron", column="--using")


def merge_crontab(existing: str, line: str) -> str:
    """Replace our previous entry (found by its marker) or append; other entries stay as they were."""
    kept = [row for row in existing.splitlines() if CRON_MARK not in row]
    return "\n".join([*kept, line.rstrip("\n")]) + "\n"


def install(plan: SchedulePlan, crontab: str = "crontab") -> list[str]:
    """Write the plan; return notes (e.g. systemctl not available here: how to enable by hand)."""
    notes: list[str] = []
    for f in plan.files:
        if f.path is None:
            current = subprocess.run([crontab, "-l"], capture_output=True, text=True, check=False)
            existing = current.stdout if current.returncode == 0 else ""
            done = subprocess.run(
                [crontab, "-"],
                input=merge_crontab(existing, f.content),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RemoteCommandError(f"crontab - failed: {done.stderr.strip()}")
            notes.append("crontab entry installed")
        else:
            f.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created with its final mode, so a secret is never readable by others, not even briefly.
            fd = os.open(f.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, f.mode)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(f.content)
            os.chmod(f.path, f.mode)
            notes.append(f"wrote {f.path} (mode {f.mode:o})")
    for cmd in plan.activate:
        try:
            done = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            notes.append(f"could not run {shlex.join(cmd)} ({type(exc).__name__}); run it yourself")
            continue
        if done.returncode != 0:
            notes.append(f"{shlex.join(cmd)} failed ({done.stderr.strip()[:200]}); run it in a user session")
    return [*notes, *plan.notes]
