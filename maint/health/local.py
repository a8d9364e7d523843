"""Checks that need neither the shop's pages nor its host: the TLS certificate and the mirror's age."""

from __future__ import annotations

import json
import socket
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from maint.health.model import Observation, State


def days_left(not_after: str, now: float) -> float:
    """Days until a certificate's ``notAfter`` (as ``getpeercert()`` prints it), one decimal."""
    return round((ssl.cert_time_to_seconds(not_after) - now) / 86400, 1)


def probe_tls(
    url: str, timeout: float, *, now: float | None = None, cafile: str | None = None
) -> Observation:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return Observation("n/a", "n/a: the store URL is not https", State.SKIPPED)
    host, port = parts.hostname, parts.port or 443
    context = ssl.create_default_context(cafile=cafile)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                cert = tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        return Observation(None, f"certificate not accepted: {exc.verify_message}", State.CRITICAL)
    except (OSError, ssl.SSLError) as exc:
        return Observation(
            None, f"TLS handshake with {host}:{port} failed: {type(exc).__name__}", State.CRITICAL
        )
    not_after = str((cert or {}).get("notAfter", ""))
    if not not_after:
        return Observation(None, "certificate has no expiry date", State.UNKNOWN)
    left = days_left(not_after, time.time() if now is None else now)
    return Observation(left, f"certificate valid until {not_after} ({left:g} days)")


def manifest_path(mirror_root: str, client: str, store: str) -> Path:
    return Path(mirror_root).expanduser() / client / store / "latest" / "manifest.json"


def probe_mirror_age(mirror_root: str, client: str, store: str, *, now: float | None = None) -> Observation:
    if not mirror_root:
        return Observation("unknown", "unknown: no mirror folder configured for this store", State.UNKNOWN)
    path = manifest_path(mirror_root, client, store)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Observation("unknown", f"unknown: no snapshot yet ({path} missing)", State.UNKNOWN)
    except (OSError, ValueError) as exc:
        return Observation(
            "unknown", f"unknown: unreadable manifest {path}: {type(exc).__name__}", State.UNKNOWN
        )
    stamp = str(manifest.get("timestamp", ""))
    try:
        taken = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return Observation("unknown", f"unknown: manifest has no valid timestamp ({stamp!r})", State.UNKNOWN)
    hours = round(((time.time() if now is None else now) - taken) / 3600, 1)
    if not manifest.get("verified"):
        return Observation(
            hours, f"latest snapshot {stamp} ({hours:g} h old) was not verified", State.WARNING
        )
    return Observation(hours, f"verified snapshot {stamp}, {hours:g} h old")
