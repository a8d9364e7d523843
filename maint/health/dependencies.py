"""One cause, one alert: checks that depend on a failed check are explained by it (Nagios service dependencies).

``health.yaml`` declares ``depends: [ids]`` per check. After a run, a failing check whose parent
failed (CRITICAL, or itself explained by another check) is shown UNKNOWN with the root cause and
raises no alert; when its parent is in maint's own planned maintenance it is shown OK with the note.
A check that works although its parent failed stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from maint.health.model import CheckResult, CheckSpec, State


def dependency_order(specs: Iterable[CheckSpec]) -> list[CheckSpec]:
    """Parents before children (the playbook loader has refused cycles)."""
    by_id = {s.id: s for s in specs}
    ordered: list[CheckSpec] = []
    seen: set[str] = set()

    def visit(spec: CheckSpec) -> None:
        if spec.id in seen:
            return
        seen.add(spec.id)
        for parent in spec.depends:
            if parent in by_id:
                visit(by_id[parent])
        ordered.append(spec)

    for spec in by_id.values():
        visit(spec)
    return ordered


def find_cycle(depends: Mapping[str, Iterable[str]]) -> list[str]:
    """A dependency cycle as a path (a → b → a), or [] when there is none."""
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done or node not in depends:
            return []
        for parent in depends[node]:
            found = walk(parent, [*path, node])
            if found:
                return found
        done.add(node)
        return []

    for node in depends:
        found = walk(node, [])
        if found:
            return found
    return []


def explain(result: CheckResult, parent: CheckResult) -> CheckResult:
    """The child's result as explained by a blocking parent."""
    root = parent.cause or parent.check
    if parent.planned:
        return replace(
            result, state=State.OK, level=None, cause=root, planned=parent.planned,
            evidence=f"{parent.planned}; {result.evidence}",
        )  # fmt: skip
    return replace(
        result, state=State.UNKNOWN, level=None, cause=root,
        evidence=f"because {root} failed: {result.evidence}",
    )  # fmt: skip


def apply_dependencies(specs: Iterable[CheckSpec], results: list[CheckResult]) -> list[CheckResult]:
    """One store's results with dependents of failed or planned checks explained by them."""
    by_id = {r.check: r for r in results}
    for spec in dependency_order(specs):
        result = by_id.get(spec.id)
        if result is None or result.state.healthy:
            continue
        parents = [by_id[d] for d in spec.depends if d in by_id and by_id[d].blocks_dependents]
        if parents:
            # A planned maintenance explains more than a failure: prefer it when both are there.
            parent = next((p for p in parents if p.planned), parents[0])
            by_id[spec.id] = explain(result, parent)
    return [by_id[r.check] for r in results]
