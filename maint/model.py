"""Plans and results as plain data: what a task would change, what it did."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Change:
    kind: str
    target: str
    summary: str
    destructive: bool = False
    data: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class Plan:
    store: str
    action: str
    changes: list[Change] = field(default_factory=list)
    noop_reason: str = ""
    warnings: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    @property
    def destructive(self) -> bool:
        return any(c.destructive for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "action": self.action,
            "noop_reason": self.noop_reason,
            "warnings": list(self.warnings),
            "changes": [
                {"kind": c.kind, "target": c.target, "summary": c.summary, "destructive": c.destructive}
                | ({"data": c.data} if c.data else {})  # what the summary shortens (an upgrade's file lists)
                for c in self.changes
            ],
        }


@dataclass
class StepResult:
    change: Change
    ok: bool
    detail: str = ""
    seconds: float = 0.0


@dataclass
class StoreResult:
    """The outcome of one task on one store, for runs over many stores."""

    store: str
    ok: bool
    data: Any = None
    error: str = ""
    exit_code: int = 0


@dataclass
class RunReport:
    results: list[StoreResult] = field(default_factory=list)

    def add(self, result: StoreResult) -> None:
        self.results.append(result)

    @property
    def succeeded(self) -> list[StoreResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[StoreResult]:
        return [r for r in self.results if not r.ok]

    @property
    def exit_code(self) -> int:
        return max((r.exit_code for r in self.failed), default=0)
