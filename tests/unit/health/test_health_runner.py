"""The parallel runner: slow stores don't hold up the rest; overruns and crashes become UNKNOWN."""

from __future__ import annotations

import time

import pytest

from maint.config import StoreConfig
from maint.health import runner
from maint.health.grading import grade
from maint.health.model import CheckSpec, Observation, State
from maint.health.runner import StoreJob, run_health

HOME = CheckSpec(id="home", probe="home", title="", level=1, warn=2.0, crit=8.0, uom="s", timeout=0.2)
PRODUCT = CheckSpec(id="product", probe="product", title="", level=2, timeout=0.2)


def job(name: str) -> StoreJob:
    return StoreJob(
        StoreConfig(client="c", store=name, host="h", root="/r", url=f"http://{name}.test/"), [HOME, PRODUCT]
    )


@pytest.fixture
def fake_web(monkeypatch):
    delays: dict[str, float] = {}

    def fake(store, base_url, specs, **kwargs):
        delay = delays.get(store, 0.0)
        if delay < 0:
            raise RuntimeError("probe bug")
        time.sleep(delay)
        return [grade(store, s, Observation(delay)) for s in specs]

    monkeypatch.setattr(runner, "run_web_checks", fake)
    monkeypatch.setattr(runner, "SLACK", 0.3)
    return delays


def test_stores_run_in_parallel(fake_web) -> None:
    fake_web.update({f"s{i}": 0.3 for i in range(20)})
    outcome = run_health([job(f"s{i}") for i in range(20)], workers=32)
    assert outcome.seconds < 1.5
    assert len(outcome.results) == 40 and all(r.state is State.OK for r in outcome.results)


def test_an_overrunning_store_is_unknown_and_does_not_hold_up_the_rest(fake_web) -> None:
    fake_web.update({"slow": 5.0, "fast": 0.0})
    began = time.monotonic()
    outcome = run_health([job("slow"), job("fast")])
    assert time.monotonic() - began < 2.0
    by = {(r.store, r.check): r for r in outcome.results}
    assert by["fast", "home"].state is State.OK
    assert by["slow", "home"].state is State.UNKNOWN and "timed out" in by["slow", "home"].evidence
    assert [r.store for r in outcome.results] == ["slow", "slow", "fast", "fast"]


def test_a_crashing_probe_is_reported_on_its_store_only(fake_web) -> None:
    fake_web.update({"bad": -1})
    outcome = run_health([job("bad"), job("good")])
    states = {(r.store, r.check): r.state for r in outcome.results}
    assert states["bad", "home"] is State.UNKNOWN and states["good", "home"] is State.OK
    assert "RuntimeError: probe bug" in outcome.results[0].evidence


def test_disabled_checks_are_not_run(fake_web) -> None:
    from dataclasses import replace

    j = StoreJob(job("s").cfg, [HOME, replace(PRODUCT, enabled=False)])
    assert [r.check for r in run_health([j]).results] == ["home"]
