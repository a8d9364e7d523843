"""How urgent an advisory is for the agency: one rule for ``fab check`` and ``fab health``.

Graded by what can be done about it, not by its score alone:

    fixed release, and critical/high or needing no login  →  critical (health: level 1)
    fixed release otherwise                                →  warning  (upgrade when convenient)
    no fixed release                                       →  warning, with its mitigation

An advisory no release fixes is news once: alarming on it every run would keep the newest release
red for ever (CVE-2024-21518 on 4.1.0.4), so it is a warning that says what to do meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from maint.matrix import Advisory

CRITICAL, WARNING, OK = "critical", "warning", "ok"
URGENT_SEVERITIES = ("critical", "high")


@dataclass(frozen=True)
class GradedAdvisory:
    advisory: Advisory
    grade: str  # critical / warning
    action: str  # "upgrade to 4.1.0.0" or the mitigation

    @property
    def line(self) -> str:
        """One line for a report: id, what it is, what to do."""
        a = self.advisory
        fix = f"fixed in {a.fixed.dotted}" if a.fixed else "no fix"
        return f"{a.id} ({a.severity}, {a.access}, {fix}): {self.action}"


def grade_advisory(advisory: Advisory) -> GradedAdvisory:
    if advisory.fixed is None:
        return GradedAdvisory(advisory, WARNING, advisory.mitigation or "no fix: limit who can reach it")
    urgent = advisory.severity in URGENT_SEVERITIES or advisory.access == "unauthenticated"
    return GradedAdvisory(advisory, CRITICAL if urgent else WARNING, f"upgrade to {advisory.fixed.dotted}")


def grade_advisories(applying: Iterable[Advisory]) -> list[GradedAdvisory]:
    """Most urgent first: critical before warning, fixed before unfixed, file order otherwise."""
    graded = [grade_advisory(a) for a in applying]
    return sorted(graded, key=lambda g: (g.grade != CRITICAL, g.advisory.fixed is None))


def overall_grade(graded: Sequence[GradedAdvisory]) -> str:
    if any(g.grade == CRITICAL for g in graded):
        return CRITICAL
    return WARNING if graded else OK


def summary(graded: Sequence[GradedAdvisory]) -> str:
    """A short reason ("2 critical fixed in 4.1.0.0, 1 fixable, 4 with no fix"); the ids are listed
    with the advisories."""
    if not graded:
        return "no known advisory applies"
    urgent = [g for g in graded if g.grade == CRITICAL]
    fixable = [g for g in graded if g.grade == WARNING and g.advisory.fixed is not None]
    unfixed = [g for g in graded if g.advisory.fixed is None]
    parts = []
    if urgent:
        fixes = sorted({g.advisory.fixed.dotted for g in urgent if g.advisory.fixed})
        parts.append(f"{len(urgent)} critical fixed in {'/'.join(fixes)}")
    if fixable:
        parts.append(f"{len(fixable)} fixable")
    if unfixed:
        parts.append(f"{len(unfixed)} with no fix")
    return ", ".join(parts)
