"""Turn what a probe observed into a state and a support level."""

from __future__ import annotations

from maint.health.model import CheckResult, CheckSpec, Observation, State


def display_unit(uom: str) -> str:
    """The unit as people read it: Nagios's 'c' (a count) is no unit in a sentence."""
    return "" if uom == "c" else uom


def threshold_state(spec: CheckSpec, value: float) -> State:
    """Compare a number with the spec's thresholds (direction given by ``bad_when``)."""

    def crosses(limit: float | None) -> bool:
        if limit is None:
            return False
        return value >= limit if spec.bad_when == "above" else value <= limit

    if crosses(spec.crit):
        return State.CRITICAL
    if crosses(spec.warn):
        return State.WARNING
    return State.OK


def level_for(spec: CheckSpec, state: State) -> int | None:
    """The support level a state means: the spec's level when failed, one lower when warning."""
    if state is State.CRITICAL:
        return spec.level
    if state is State.WARNING:
        return spec.warn_level
    return None


def grade(store: str, spec: CheckSpec, obs: Observation, seconds: float = 0.0) -> CheckResult:
    state = obs.state or State.OK
    evidence = obs.evidence
    if state is State.OK and isinstance(obs.value, int | float) and not isinstance(obs.value, bool):
        state = threshold_state(spec, float(obs.value))
        if state is not State.OK:
            limit = spec.crit if state is State.CRITICAL else spec.warn
            word = "over" if spec.bad_when == "above" else "under"
            unit = display_unit(spec.uom)
            reached = f"{obs.value:g}{unit} {word} the {state.value.lower()} limit {limit:g}{unit}"
            evidence = f"{reached}; {evidence}" if evidence else reached
    return CheckResult(
        store=store,
        check=spec.id,
        state=state,
        level=level_for(spec, state),
        value=obs.value,
        evidence=evidence,
        uom=spec.uom,
        warn=spec.warn,
        crit=spec.crit,
        seconds=seconds,
        bad_when=spec.bad_when,
        planned=obs.planned,
    )
