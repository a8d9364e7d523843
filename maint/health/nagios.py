"""Monitoring-plugin output: one status line, performance data, exit code 0/1/2/3.

Perfdata follows the plugin guidelines: ``'label'=value[UOM];warn;crit;min;max``, thresholds in
their range syntax: ``15`` alerts outside 0..15 (above 15), ``15:`` alerts below 15 (disk free).
"""

from __future__ import annotations

from maint.health.model import CheckResult, State, worst_state

MAX_DETAILS = 5


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _range(limit: float | None, bad_when: str) -> str:
    """A threshold in the guidelines' range syntax: "8" (bad above 8), "15:" (bad below 15)."""
    if limit is None:
        return ""
    return f"{_number(limit)}:" if bad_when == "below" else _number(limit)


def perfdata(result: CheckResult) -> str | None:
    """One perfdata item, or None for a result without a number (text values, skipped checks)."""
    value = result.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    label = f"{result.store} {result.check}".replace("'", "''").replace("=", "_")
    warn = _range(result.warn, result.bad_when)
    crit = _range(result.crit, result.bad_when)
    minimum = "0" if value >= 0 else ""
    maximum = "100" if result.uom == "%" else ""
    return f"'{label}'={_number(value)}{result.uom};{warn};{crit};{minimum};{maximum}"


def status_line(results: list[CheckResult]) -> str:
    """``HEALTH CRITICAL - 2 critical, 1 warning, 40 ok: s3 home (L1) HTTP 500 …; … | perfdata``."""
    state = worst_state(results)
    counts = {s: sum(r.state is s for r in results) for s in State}
    summary = ", ".join(
        f"{counts[s]} {s.value.lower()}"
        for s in (State.CRITICAL, State.WARNING, State.UNKNOWN, State.OK, State.SKIPPED)
        if counts[s]
    )
    # The status line names the findings that matter most: critical and warning first, unknown
    # only when nothing worse is wrong, and at most MAX_DETAILS of them.
    failing = [r for r in results if r.state in (State.CRITICAL, State.WARNING)]
    shown = failing or [r for r in results if r.state is State.UNKNOWN]
    bad = sorted(shown, key=lambda r: (-r.state.severity, r.level or 9, r.store, r.check))
    details = "; ".join(
        " ".join(f"{r.store} {r.check}{f' (L{r.level})' if r.level else ''} {r.evidence}".split()).replace(
            "|", "/"
        )
        for r in bad[:MAX_DETAILS]
    )
    if len(bad) > MAX_DETAILS:
        details += f"; +{len(bad) - MAX_DETAILS} more"
    # A store in maint's own planned maintenance is OK, as a scheduled downtime is; the note says why.
    notes = "; ".join(
        " ".join(f"{r.store} in {r.planned}".split()).replace("|", "/")
        for r in results
        if r.planned and not r.cause
    )
    perf = " ".join(p for p in (perfdata(r) for r in results) if p)
    text = f"HEALTH {state.value if state is not State.SKIPPED else 'OK'} - {summary or 'no checks'}"
    if details:
        text += f": {details}"
    if notes:
        text += f"{';' if details else ':'} note: {notes}"
    return f"{text} | {perf}" if perf else text
