"""Free TCP ports on 127.0.0.1 for the sandbox's services.

Ports are picked at random below the kernel's ephemeral range, so an outgoing connection (which the
kernel numbers from that range) can never take a port between our probe and the service's bind.
Ports handed out by this process are remembered, so two sandboxes started side by side in one
process never get the same number; other processes see a short-lived claim file per port (test runs
and benchmarks start sandboxes in parallel), so they skip a port between our probe and our bind.
"""

from __future__ import annotations

import os
import random
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from maint.errors import MaintError

LOOPBACK = "127.0.0.1"
DEFAULT_RANGE = (20000, 32000)
_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")

CLAIM_SECONDS = 120.0  # a service binds within seconds of getting its port; older claims are stale

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


def claims_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"maint-sandbox-ports-{os.getuid()}"


def _claim_is_live(path: Path) -> bool:
    try:
        pid = int(path.read_text() or "0")
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        return False
    if age > CLAIM_SECONDS or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(port: int, folder: Path | None = None) -> bool:
    """Claim the port for this process across processes; False if another live process holds it."""
    folder = folder or claims_dir()
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / str(port)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if _claim_is_live(path):
                return False
            path.unlink(missing_ok=True)  # stale: its process is gone or it is too old
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        return True
    return False


def free_port(
    *,
    port_range: tuple[int, int] | None = None,
    attempts: int = 200,
    probe: Callable[[int], bool] = is_bindable,
    rng: random.Random | None = None,
    claims: Path | None = None,
) -> int:
    """Return a port nobody listens on now, not handed out by this process nor claimed by another."""
    low, high = port_range or candidate_range(system_ephemeral_range())
    pick = rng or random.SystemRandom()
    with _lock:
        for _ in range(attempts):
            port = pick.randint(low, high)
            if port not in _handed_out and probe(port) and claim(port, claims):
                _handed_out.add(port)
                return port
    raise NoFreePortError(f"no free port on {LOOPBACK} in {low}-{high} after {attempts} tries")


def release(port: int, claims: Path | None = None) -> None:
    """Let the port be handed out again (after the service holding it stopped for good)."""
    with _lock:
        _handed_out.discard(port)
        (claims or claims_dir()).joinpath(str(port)).unlink(missing_ok=True)
