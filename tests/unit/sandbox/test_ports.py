"""Port picking for the sandbox: loopback only, clear of the ephemeral range, never handed out twice."""

from __future__ import annotations

import random
import socket

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


def test_free_port_is_bindable_on_loopback() -> None:
    port = ports.free_port()
    with socket.socket() as sock:
        sock.bind((ports.LOOPBACK, port))
    ports.release(port)


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    picked = [ports.free_port(port_range=(41000, 41009), probe=lambda p: True) for _ in range(10)]
    try:
        assert sorted(picked) == list(range(41000, 41010))
        with pytest.raises(ports.NoFreePortError, match="41000-41009"):
            ports.free_port(port_range=(41000, 41009), probe=lambda p: True, attempts=50)
    finally:
        for port in picked:
            ports.release(port)


def test_free_port_skips_a_port_somebody_listens_on() -> None:
    with socket.socket() as busy:
        busy.bind((ports.LOOPBACK, 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert not ports.is_bindable(taken)
        # A range of two ports, one of them taken: the free one is always the answer.
        free = next(p for p in (taken - 1, taken + 1) if ports.is_bindable(p))
        low, high = sorted((taken, free))
        for seed in range(5):
            port = ports.free_port(port_range=(low, high), rng=random.Random(seed))
            assert port == free
            ports.release(port)


def test_released_port_can_be_handed_out_again() -> None:
    port = ports.free_port(port_range=(42000, 42000), probe=lambda p: True)
    ports.release(port)
    assert ports.free_port(port_range=(42000, 42000), probe=lambda p: True) == port
    ports.release(port)
