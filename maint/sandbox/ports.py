"""Free TCP ports on 127.0.0.1 for the sandbox's services.

Ports are picked at random below the kernel's ephemeral range, so an outgoing connection (which the
kernel numbers from that range) can never take a port between our probe and the service's bind.
Ports handed out by this process are remembered, so two sandboxes started side by side in one
process never get the same number.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from maint.errors import MaintError

LOOPBACK = "127.0.0.1"
DEFAULT_RANGE = (20000, 32000)
_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")

_handed_out: set[int] = set()
_lock = threading.Lock()


class NoFreePortError(MaintError):
    """No free port was found in the allowed range."""


def parse_port_range(text: str) -> tuple[int, int]:
    """Parse the two numbers of /proc/sys/net/ipv4/ip_local_port_range ("32768\\t60999")."""
    low, high = (int(part) for part in text.split())
    if not 0 < low <= high <= 65535:
        raise ValueError(f"not a port range: {text!r}")
    return low, high


def candidate_range(ephemeral: tuple[int, int] | None) -> tuple[int, int]:
    """The range to pick from: DEFAULT_RANGE, clipped so it stays clear of the ephemeral range."""
    low, high = DEFAULT_RANGE
    if ephemeral is None:
        return low, high
    eph_low, eph_high = ephemeral
    if eph_low <= low <= eph_high:
        low = eph_high + 1
    if eph_low <= high <= eph_high or (low < eph_low and high > eph_high):
        high = eph_low - 1
    if low > high:  # the kernel claims our whole default range: fall back to ports above it
        low, high = eph_high + 1, 65535
    if low > high:
        raise NoFreePortError(f"the ephemeral port range {eph_low}-{eph_high} leaves no room for the sandbox")
    return low, high


def system_ephemeral_range() -> tuple[int, int] | None:
    try:
        return parse_port_range(_EPHEMERAL_RANGE_FILE.read_text())
    except (OSError, ValueError):
        return None


def is_bindable(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(
    *,
    port_range: tuple[int, int] | None = None,
    attempts: int = 200,
    probe: Callable[[int], bool] = is_bindable,
    rng: random.Random | None = None,
) -> int:
    """Return a port nobody listens on now and this process has not handed out before."""
    low, high = port_range or candidate_range(system_ephemeral_range())
    pick = rng or random.SystemRandom()
    with _lock:
        for _ in range(attempts):
            port = pick.randint(low, high)
            if port not in _handed_out and probe(port):
                _handed_out.add(port)
                return port
    raise NoFreePortError(f"no free port on {LOOPBACK} in {low}-{high} after {attempts} tries")


def release(port: int) -> None:
    """Let this process hand out the port again (after the service holding it stopped for good)."""
    with _lock:
        _handed_out.discard(port)
