"""Port picking for the sandbox: loopback only, clear of the ephemeral range, never handed out twice."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time
from pathlib import Path

import pytest

from maint.sandbox import ports


@pytest.mark.parametrize(
    ("text", "expected"),
    [("32768\t60999\n", (32768, 60999)), ("1024 65535", (1024, 65535)), ("40000 40000", (40000, 40000))],
)
def test_parse_port_range_reads_the_proc_file_format(text: str, expected: tuple[int, int]) -> None:
    assert ports.parse_port_range(text) == expected


@pytest.mark.parametrize("text", ["", "32768", "60999 32768", "0 100", "1 70000", "a b"])
def test_parse_port_range_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        ports.parse_port_range(text)


@pytest.mark.parametrize(
    ("ephemeral", "expected"),
    [
        (None, ports.DEFAULT_RANGE),
        ((32768, 60999), (20000, 32000)),  # Linux default: no overlap
        ((30000, 60999), (20000, 29999)),  # overlaps the top: clipped below it
        ((10000, 25000), (25001, 32000)),  # overlaps the bottom: clipped above it
        ((21000, 31000), (20000, 20999)),  # inside: the lower part is kept
        ((1024, 65000), (65001, 65535)),   # swallows the default range: above it
    ],
)
def test_candidate_range_stays_clear_of_the_ephemeral_range(
    ephemeral: tuple[int, int] | None, expected: tuple[int, int]
) -> None:
    assert ports.candidate_range(ephemeral) == expected


def test_candidate_range_fails_when_the_kernel_claims_every_port() -> None:
    with pytest.raises(ports.NoFreePortError):
        ports.candidate_range((1, 65535))


def test_free_port_is_bindable_on_loopback(tmp_path: Path) -> None:
    port = ports.free_port(claims=tmp_path)
    with socket.socket() as sock:
        sock.bind((ports.LOOPBACK, port))
    ports.release(port, tmp_path)


def test_free_port_never_hands_out_the_same_port_twice(tmp_path: Path) -> None:
    picked = [ports.free_port(port_range=(41000, 41009), probe=lambda p: True, claims=tmp_path) for _ in range(10)]
    try:
        assert sorted(picked) == list(range(41000, 41010))
        with pytest.raises(ports.NoFreePortError, match="41000-41009"):
            ports.free_port(port_range=(41000, 41009), probe=lambda p: True, attempts=50, claims=tmp_path)
    finally:
        for port in picked:
            ports.release(port, tmp_path)


def test_free_port_skips_a_port_somebody_listens_on(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind((ports.LOOPBACK, 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert not ports.is_bindable(taken)
        # A range of two ports, one of them taken: the free one is always the answer.
        free = next(p for p in (taken - 1, taken + 1) if ports.is_bindable(p))
        low, high = sorted((taken, free))
        for seed in range(5):
            port = ports.free_port(port_range=(low, high), rng=random.Random(seed), claims=tmp_path)
            assert port == free
            ports.release(port, tmp_path)


def test_released_port_can_be_handed_out_again(tmp_path: Path) -> None:
    port = ports.free_port(port_range=(42000, 42000), probe=lambda p: True, claims=tmp_path)
    ports.release(port, tmp_path)
    assert not (tmp_path / "42000").exists()
    assert ports.free_port(port_range=(42000, 42000), probe=lambda p: True, claims=tmp_path) == port
    ports.release(port, tmp_path)


def a_dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_port_another_live_process_claimed_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "43000").write_text(str(os.getppid()))  # claimed by our (live) parent process
    with pytest.raises(ports.NoFreePortError):
        ports.free_port(port_range=(43000, 43000), probe=lambda p: True, attempts=5, claims=tmp_path)


@pytest.mark.parametrize("stale", ["dead process", "too old", "garbage"])
def test_a_stale_claim_is_taken_over(tmp_path: Path, stale: str) -> None:
    claim = tmp_path / "43001"
    claim.write_text({"dead process": str(a_dead_pid()), "too old": str(os.getppid()), "garbage": "x"}[stale])
    if stale == "too old":
        old = time.time() - ports.CLAIM_SECONDS - 10
        os.utime(claim, (old, old))
    assert ports.free_port(port_range=(43001, 43001), probe=lambda p: True, claims=tmp_path) == 43001
    assert claim.read_text() == str(os.getpid())
    ports.release(43001, tmp_path)
