"""Install the periodic run: a systemd user timer or a crontab entry (the user picks).

Everything is planned first as text (what would be written where), so ``--dry-run`` can show it.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from maint.errors import InputError, RemoteCommandError

UNIT = "maint-health"
CRON_MARK = "# maint health (managed by `fab health --install-schedule`)"


@dataclass(frozen=True)
class ScheduleFile:
    path: Path | None  # None: the user's crontab
    content: str


@dataclass(frozen=True)
class SchedulePlan:
    using: str
    every: int
    files: tuple[ScheduleFile, ...]
    activate: tuple[tuple[str, ...], ...]  # commands run after writing

    def describe(self) -> str:
        lines = [f"Run `{UNIT}` every {self.every} min using {self.using}:"]
        for f in self.files:
            lines.append(f"--- {f.path or 'crontab (current user)'}")
            lines.append(f.content.rstrip("\n"))
        for cmd in self.activate:
            lines.append("$ " + shlex.join(cmd))
        return "\n".join(lines)


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
    using: str, every: int, command: list[str], workdir: Path, config_home: Path
) -> SchedulePlan:
    """What to write for ``command`` (run in ``workdir``) every ``every`` minutes."""
    if every < 1 or every > 1440:
        raise InputError(f"--every {every}: give minutes between 1 and 1440", column="--every")
    run = shlex.join(command)
    if using == "cron":
        line = f"{cron_spec(every)} cd {shlex.quote(str(workdir))} && {run} >/dev/null 2>&1 {CRON_MARK}\n"
        return SchedulePlan("cron", every, (ScheduleFile(None, line),), ())
    if using == "systemd":
        units = config_home / "systemd" / "user"
        service = (
            "[Unit]\nDescription=maint: health checks of client stores\n\n"
            f"[Service]\nType=oneshot\nWorkingDirectory={workdir}\nExecStart={run}\n"
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
            (ScheduleFile(units / f"{UNIT}.service", service), ScheduleFile(units / f"{UNIT}.timer", timer)),
            (
                ("systemctl", "--user", "daemon-reload"),
                ("systemctl", "--user", "enable", "--now", f"{UNIT}.timer"),
            ),
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
            f.path.parent.mkdir(parents=True, exist_ok=True)
            f.path.write_text(f.content, encoding="utf-8")
            notes.append(f"wrote {f.path}")
    for cmd in plan.activate:
        try:
            done = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            notes.append(f"could not run {shlex.join(cmd)} ({type(exc).__name__}); run it yourself")
            continue
        if done.returncode != 0:
            notes.append(f"{shlex.join(cmd)} failed ({done.stderr.strip()[:200]}); run it in a user session")
    return notes
