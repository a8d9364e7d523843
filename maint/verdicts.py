"""`fab check`'s verdicts, kept per store with their time, so a later report can say what stood when.

One JSON line per check run in `<state_dir>/check/<store>.jsonl` (folder 0700, file 0600, like the
health history): the overall status, the versions found, the advisories that applied and the
recommendation. A what-if run (`--php 8.3`) judges a platform the store does not have and is not
recorded. Appending one short line per run needs no locking between parallel stores: each store has
its own file, and a run writes each line with one `write()` on an O_APPEND descriptor.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maint.mirror.modes import FILE_MODE, private_dirs

FOLDER = "check"
# The verdict rows worth remembering as "the versions": component → the report's label.
VERSION_COMPONENTS = {"opencart": "OpenCart", "php": "PHP", "database": "Database", "web server": "Web server"}


@dataclass(frozen=True)
class Recorded:
    """One recorded check run of one store."""

    at: datetime
    store: str
    status: str  # ok / warning / critical / unknown
    versions: dict[str, str] = field(default_factory=dict)  # VERSION_COMPONENTS key → found
    advisories: list[dict[str, Any]] = field(default_factory=list)  # id, grade, fixed, summary, action
    recommended: str = ""
    recommendation: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(timespec="seconds"),
            "store": self.store,
            "status": self.status,
            "versions": self.versions,
            "advisories": self.advisories,
            "recommended": self.recommended,
            "recommendation": self.recommendation,
        }


def from_report(report: dict[str, Any], at: datetime) -> Recorded:
    """A `CheckReport.as_dict()` as it is kept: the found value of each version component (a missing
    fact is left out, not recorded as a version), and each advisory by id."""
    versions = {}
    for verdict in report.get("verdicts") or []:
        component = str(verdict.get("component", "")).lower()
        found = str(verdict.get("found") or "")
        if component in VERSION_COMPONENTS and found and found != "?":  # "?": the probe failed
            versions[component] = found
    if report.get("version"):
        versions["opencart"] = str(report["version"])
    advisories = [
        {k: a.get(k) for k in ("id", "grade", "fixed", "severity", "summary", "action")}
        for a in report.get("advisories") or []
    ]
    return Recorded(
        at=at,
        store=str(report["store"]),
        status=str(report.get("status") or "unknown"),
        versions=versions,
        advisories=advisories,
        recommended=str(report.get("recommended_upgrade") or ""),
        recommendation=str(report.get("recommendation") or ""),
    )


def path_of(state_dir: Path, store: str) -> Path:
    return Path(state_dir).expanduser() / FOLDER / f"{store}.jsonl"


def record(state_dir: Path, found: Recorded) -> Path:
    """Append one run's verdict (0600 in a 0700 folder, whatever the umask)."""
    path = path_of(state_dir, found.store)
    private_dirs(path.parent, Path(state_dir).expanduser())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, (json.dumps(found.as_dict(), ensure_ascii=False) + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    return path


def read(state_dir: Path, store: str) -> list[Recorded]:
    """Every recorded run of the store, oldest first; a damaged line (a run killed mid-write) is skipped."""
    return sorted(_lines(path_of(state_dir, store)), key=lambda r: r.at)


def _lines(path: Path) -> Iterator[Recorded]:
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
            at = datetime.fromisoformat(str(data["at"]))
            yield Recorded(
                at=at if at.tzinfo else at.replace(tzinfo=UTC),
                store=str(data["store"]),
                status=str(data.get("status") or "unknown"),
                versions={str(k): str(v) for k, v in (data.get("versions") or {}).items()},
                advisories=[dict(a) for a in data.get("advisories") or [] if isinstance(a, dict)],
                recommended=str(data.get("recommended") or ""),
                recommendation=str(data.get("recommendation") or ""),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
