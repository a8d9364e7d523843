"""Checks that need neither the shop's pages nor its host: the TLS certificate and the mirror's age."""

from __future__ import annotations

import socket
import ssl
import time
from urllib.parse import urlsplit

from maint.errors import MaintError
from maint.health.model import Observation, State
from maint.mirror.layout import is_timestamp
from maint.mirror.listing import SnapshotPlace


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


def probe_mirror_age(place: SnapshotPlace, *, now: float | None = None) -> Observation:
    """Age in hours of the newest snapshot, from the mirror folder or the borg or restic repository alike."""
    if not place.configured:
        return Observation("unknown", "unknown: no mirror folder or repository configured for this store",
                           State.UNKNOWN)
    try:
        latest = place.latest()
    except MaintError as exc:  # no passphrase or password, no repository
        return Observation("unknown", f"unknown: {place.describe()} unreadable: {exc.message}", State.UNKNOWN)
    if latest is None:
        return Observation("unknown", f"unknown: no snapshot yet in {place.describe()}", State.UNKNOWN)
    if not latest.readable:
        return Observation("unknown", f"unknown: unreadable manifest of {latest.name} in {place.describe()}",
                           State.UNKNOWN)
    if not is_timestamp(latest.name):
        return Observation("unknown", f"unknown: manifest has no valid timestamp ({latest.name!r})", State.UNKNOWN)
    stamp = latest.name
    hours = round(((time.time() if now is None else now) - latest.taken.timestamp()) / 3600, 1)
    if not latest.verified:
        return Observation(
            hours, f"latest snapshot {stamp} ({hours:g} h old) was not verified", State.WARNING
        )
    return Observation(hours, f"verified snapshot {stamp}, {hours:g} h old")
