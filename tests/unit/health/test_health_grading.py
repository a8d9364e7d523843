"""Values against thresholds → state and support level."""

from __future__ import annotations

import pytest

from maint.health.grading import grade
from maint.health.model import CheckSpec, Observation, State, exit_code_for

HOME = CheckSpec(id="home", probe="home", title="", level=1, warn=2.0, crit=8.0, uom="s")
DISK = CheckSpec(
    id="disk_free", probe="disk_free", title="", level=2, warn=15, crit=5, bad_when="below", uom="%"
)


@pytest.mark.parametrize(
    "spec, value, state, level",
    [
        (HOME, 0.3, State.OK, None),
        (HOME, 2.0, State.WARNING, 2),
        (HOME, 9.5, State.CRITICAL, 1),
        (DISK, 40, State.OK, None),
        (DISK, 12, State.WARNING, 3),
        (DISK, 4.9, State.CRITICAL, 2),
    ],
)
def test_thresholds_grade_values_in_the_spec_direction(spec, value, state, level) -> None:
    result = grade("s3", spec, Observation(value=value))
    assert (result.state, result.level) == (state, level)


def test_probe_verdict_overrides_a_good_number() -> None:
    result = grade(
        "s3", HOME, Observation(value=0.1, evidence="HTTP 200 database error", state=State.CRITICAL)
    )
    assert (result.state, result.level, result.evidence) == (State.CRITICAL, 1, "HTTP 200 database error")


def test_threshold_evidence_names_the_limit() -> None:
    assert grade("s3", HOME, Observation(value=9.5)).evidence == "9.5s over the critical limit 8s"


def test_unknown_and_skipped_carry_no_level() -> None:
    assert grade("s3", HOME, Observation(state=State.UNKNOWN)).level is None
    assert grade("s3", HOME, Observation(value="n/a", state=State.SKIPPED)).level is None


def test_overall_exit_code_follows_the_worst_state() -> None:
    ok = grade("s3", HOME, Observation(value=0.1))
    warn = grade("s3", HOME, Observation(value=3))
    crit = grade("s3", HOME, Observation(value=9))
    unknown = grade("s3", HOME, Observation(state=State.UNKNOWN))
    assert exit_code_for([ok]) == 0
    assert exit_code_for([ok, unknown]) == 3
    assert exit_code_for([unknown, warn]) == 1
    assert exit_code_for([warn, crit, unknown]) == 2
