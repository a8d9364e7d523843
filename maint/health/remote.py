"""Checks that need the host: files and logs over SSH, settings and response time over SQL.

Parsing is split from fetching (``maint.facts.host.parse_df``, ``parse_log_scan``, ``compare_versions``) so it is
tested on captured output. A check that cannot run (SSH refused, database down) is UNKNOWN,
except the database check itself, which is then CRITICAL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabric import Connection
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_fixed

from maint.config import StoreConfig
from maint.errors import AuthError, ConnectError, HostKeyError, MaintError, PlaybookError
from maint.facts.host import parse_df
from maint.facts.opencart import StoreFacts, get_store_facts
from maint.health.grading import grade
from maint.health.model import CheckResult, CheckSpec, Observation, State
from maint.health.web import Purchase
from maint.maintenance import RecordState, parse_record, read_command
from maint.remote.sql import connect_db, table
from maint.remote.ssh import connect, quote, run

REMOTE_PROBES = (
    "host", "install_dir", "php_fatals", "disk_free", "db", "maintenance", "error_display",
    "ocmod_disabled", "versions_changed", "advisories",
)  # fmt: skip
SETTING_KEYS = (
    "config_maintenance", "config_error_display", "config_error_filename", "config_stock_checkout",
)  # fmt: skip
LOG_SCAN_LIMIT = 64 * 1024 * 1024  # read at most this much new log per run; the rest waits for the next


# ---------------------------------------------------------------- pure parsing


@dataclass(frozen=True)
class LogScan:
    size: int
    inode: str
    start: int
    fatals: int  # errors: fatal, parse, uncaught exceptions (what breaks a page)
    last: str
    warnings: int = 0
    notices: int = 0
    deprecations: int = 0


# Classifies the lines of DIR_LOGS/error.log in the formats OpenCart and PHP write (POSIX awk, so
# mawk on the host runs it too). A line first loses its date: OpenCart's log class writes
# "2026-12-06 19:52:43 - " (hour without a leading zero), PHP's own error_log "[06-Dec-2026 19:52:43 UTC] ".
#   "PHP Fatal error:", "PHP Parse error:", OpenCart's "PHP Fatal Error:"    → error
#   "PHP Warning:" → warning; "PHP Notice:" → notice
#   "PHP Unknown:" (3.0's handler names E_DEPRECATED so), "PHP Deprecated:"   → deprecation
#   an OpenCart-dated line "<message>: in <file> on line N" (4.0's exception handler, also without
#   the colon) or "Error: <message>" (4.1's, its File/Line/Backtrace lines follow undated) → error
# Anything else (extensions' own log lines, stack-trace lines) is not counted.
LOG_AWK = r"""
pending && /^File: / { last = last " (" substr($0, 7) ")" }
{ pending = 0 }
{
  line = $0
  dated = sub(/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9]?[0-9]:[0-9][0-9]:[0-9][0-9] - /, "", line)
  if (!dated) sub(/^\[[0-9][0-9]-[A-Za-z][A-Za-z][A-Za-z]-[0-9][0-9][0-9][0-9] [^]]*\] /, "", line)
  if (line ~ /^PHP (Fatal error|Fatal Error|Parse error|Recoverable fatal error|Catchable fatal error|Core error|Compile error):/) { e++; last = $0 }
  else if (line ~ /^PHP (Warning|Core warning|Compile warning):/) w++
  else if (line ~ /^PHP (Notice|Strict Standards):/) n++
  else if (line ~ /^PHP (Unknown|Deprecated):/) d++
  else if (dated && line ~ /^Error: /) { e++; last = $0; pending = 1 }
  else if (dated && line ~ / in [^ ]+ on line [0-9]+$/) { e++; last = $0 }
}
END { print e + 0, w + 0, n + 0, d + 0; print last }
"""


def log_scan_command(path: str, offset: int, inode: str) -> str:
    """Count the kinds of lines written since ``offset``; restart at 0 when the log was rotated or
    truncated. The new part is streamed through awk on the host: the log itself never crosses the wire.
    """
    p = quote(path)
    return (
        f'f={p}; [ -f "$f" ] || {{ echo missing; exit 0; }}; '
        f"set -- $(stat -c '%s %i' \"$f\"); size=$1; ino=$2; off={int(offset)}; "
        f'if [ "$ino" != {quote(inode)} ] || [ "$size" -lt "$off" ]; then off=0; fi; '
        'echo "$size $ino $off"; '
        f'tail -c +$((off + 1)) "$f" | head -c $(( size - off < {LOG_SCAN_LIMIT} ? size - off : {LOG_SCAN_LIMIT} )) | '
        f"awk {quote(LOG_AWK)}"
    )


def parse_log_scan(output: str) -> LogScan | None:
    """None when the log file does not exist."""
    lines = output.splitlines()
    if not lines or lines[0].strip() == "missing":
        return None
    size, inode, start = lines[0].split()
    counts = [int(n) for n in lines[1].split()] if len(lines) > 1 and lines[1].strip() else []
    errors, warnings, notices, deprecations = (counts + [0, 0, 0, 0])[:4]
    last = lines[2].strip() if len(lines) > 2 else ""
    return LogScan(int(size), inode, int(start), errors, last, warnings, notices, deprecations)


def compare_versions(previous: Mapping[str, str] | None, current: Mapping[str, str]) -> Observation:
    if not previous:
        return Observation(current.get("opencart", ""), "first run: versions remembered")
    changed = [
        f"{name} {previous[name]} → {value}"
        for name, value in current.items()
        if value and previous.get(name) and previous[name] != value
    ]
    if changed:
        return Observation(
            current.get("opencart", ""), "; ".join(changed) + " (run `fab check`)", State.WARNING
        )
    return Observation(current.get("opencart", ""), ", ".join(f"{k} {v}" for k, v in current.items() if v))


# ---------------------------------------------------------------- probes


@dataclass
class RemoteState:
    cfg: StoreConfig
    conn: Connection
    facts: StoreFacts
    memos: Mapping[str, Any]
    new_memos: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    db_error: str = ""
    db_version: str = ""
    php_version: str = ""
    ocmod: tuple[int, list[str]] | None = None  # (disabled count, names); None: no OCMOD table
    purchase: Future[Purchase | None] | None = None  # answered for the cart check, see web.py
    connected: str = ""  # how the SSH connection went, for the host check


def probe_install_dir(rs: RemoteState, spec: CheckSpec) -> Observation:
    path = rs.facts.root.rstrip("/") + "/install"
    out = run(rs.conn, f"test -d {quote(path)} && echo present || echo absent", timeout=spec.timeout).stdout
    if out.strip() == "present":
        return Observation("present", f"{path} exists on a live store (delete it)", State.CRITICAL)
    return Observation("absent", "no install/ folder")


def probe_disk_free(rs: RemoteState, spec: CheckSpec) -> Observation:
    out = run(rs.conn, f"df -P -k {quote(rs.facts.root)}", timeout=spec.timeout).stdout
    free = parse_df(out).percent_free
    return Observation(free, f"{free:g}% free on the file system of {rs.facts.root}")


def probe_php_fatals(rs: RemoteState, spec: CheckSpec) -> Observation:
    logs = rs.facts.path("DIR_LOGS") or rs.facts.dir_storage.rstrip("/") + "/logs/"
    path = logs.rstrip("/") + "/" + (rs.settings.get("config_error_filename") or "error.log")
    previous = rs.memos.get("error_log") or {}
    first_run = previous.get("path") != path
    offset = int(previous.get("offset", 0)) if not first_run else 0
    scan = parse_log_scan(
        run(
            rs.conn, log_scan_command(path, offset, str(previous.get("inode", ""))), timeout=spec.timeout
        ).stdout
    )
    if scan is None:
        rs.new_memos["error_log"] = {"path": path, "offset": 0, "inode": ""}
        return Observation(0, f"no error log at {path}")
    read_to = min(scan.size, scan.start + LOG_SCAN_LIMIT)
    rs.new_memos["error_log"] = {"path": path, "offset": read_to, "inode": scan.inode}
    if first_run:
        return Observation(0, f"first run: reading {path} from byte {scan.size} on")
    others = ", ".join(
        f"{count} {kind}(s)"
        for count, kind in (
            (scan.warnings, "warning"), (scan.notices, "notice"), (scan.deprecations, "deprecation")
        )
        if count
    )  # fmt: skip
    not_counted = f"; not counted: {others}" if others else ""
    if scan.fatals:
        return Observation(
            scan.fatals,
            f"{scan.fatals} new error(s) in {path}{not_counted}; last: {scan.last[:200]}",
        )
    return Observation(0, f"no new errors ({read_to - scan.start} new bytes{not_counted})")


def probe_db(rs: RemoteState, spec: CheckSpec) -> Observation:
    prefix = rs.facts.db.prefix
    began = time.monotonic()
    try:
        db = connect_db(rs.conn, rs.facts.db, timeout=spec.timeout, store=rs.cfg.store)
    except MaintError as exc:
        rs.db_error = exc.message
        return Observation(None, f"database unreachable: {exc.message}", State.CRITICAL)
    try:
        with db.cursor() as cur:
            cur.execute("SELECT VERSION()")
            rs.db_version = str(cur.fetchone()[0])
            seconds = time.monotonic() - began
            marks = ", ".join(["%s"] * len(SETTING_KEYS))
            cur.execute(
                f"SELECT `key`, `value` FROM {table(prefix, 'setting')} WHERE store_id = 0 AND `key` IN ({marks})",  # noqa: S608
                SETTING_KEYS,
            )
            rs.settings = {str(k): str(v) for k, v in cur.fetchall()}
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
                (prefix + "modification",),
            )
            if cur.fetchone()[0]:
                cur.execute(
                    f"SELECT name FROM {table(prefix, 'modification')} WHERE status = 0 ORDER BY name"
                )  # noqa: S608
                names = [str(row[0]) for row in cur.fetchall()]
                rs.ocmod = (len(names), names)
            if rs.purchase is not None and not rs.purchase.done():
                rs.purchase.set_result(find_purchase(cur, prefix, rs.settings))
    except Exception as exc:  # pymysql errors after connecting: the server went away or a table is missing
        # the server's own words ("Table 'x' doesn't exist"), not PyMySQL's class name
        words = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else str(exc)
        rs.db_error = words[:200]
        return Observation(None, f"database query failed: {rs.db_error}", State.CRITICAL)
    finally:
        db.close()
    return Observation(round(seconds, 3), f"{rs.db_version} answered in {seconds * 1000:.0f} ms")


def purchase_query(prefix: str, stock_checkout: bool) -> str:
    """A product a customer can buy in the default store, as OpenCart's cart and checkout judge it:
    enabled, available today, in stock for its minimum (unless stock checkout is allowed), and no
    required option (adding it without one is refused)."""
    stock = "" if stock_checkout else "AND p.quantity >= GREATEST(p.minimum, 1) "
    return (
        f"SELECT p.product_id, GREATEST(p.minimum, 1) FROM {table(prefix, 'product')} p "  # noqa: S608
        f"JOIN {table(prefix, 'product_to_store')} s ON s.product_id = p.product_id AND s.store_id = 0 "
        f"WHERE p.status = 1 AND p.date_available <= NOW() {stock}"
        f"AND NOT EXISTS (SELECT 1 FROM {table(prefix, 'product_option')} o "
        "WHERE o.product_id = p.product_id AND o.required = 1) "
        "ORDER BY p.sort_order, p.product_id LIMIT 1"
    )


def find_purchase(cur: Any, prefix: str, settings: Mapping[str, str]) -> Purchase | None:
    stock_checkout = settings.get("config_stock_checkout", "0") not in ("0", "")
    try:
        cur.execute(purchase_query(prefix, stock_checkout))
        row = cur.fetchone()
    except Exception:  # noqa: BLE001 - a table missing on an odd schema: the page check picks one itself
        return None
    if not row:
        return None
    why = "in stock" if not stock_checkout else "stock checkout allowed"
    return Purchase(int(row[0]), int(row[1]), f"buyable: enabled, {why}, no required option")


def _need_db(rs: RemoteState) -> Observation | None:
    if rs.db_error:
        return Observation(None, f"not checked: database unreachable ({rs.db_error[:80]})", State.UNKNOWN)
    return None


def judge_maintenance(on: bool, expected: bool, held: RecordState | None) -> Observation:
    """Maintenance mode against maint's own record (maint/maintenance.py) and the store's options."""
    if not on:
        return Observation("off", "maintenance mode off")
    if held is not None and held.alive:
        note = held.record.describe()
        if held.overrun():
            return Observation("planned", f"{note}: overrunning", State.WARNING, planned=note)
        return Observation("planned", note, planned=note)
    if expected:
        return Observation(
            "on",
            "maintenance window (expected by the store's options)",
            planned="maintenance window (expected)",
        )
    if held is not None:
        r = held.record
        return Observation(
            "on",
            f"maintenance mode is ON, left by {r.user}@{r.machine}'s {r.task} run ({r.why}) since {r.started}, "
            "which has ended: customers get HTTP 503",
            State.CRITICAL,
        )
    return Observation("on", "maintenance mode is ON: customers get HTTP 503", State.CRITICAL)


def probe_maintenance(rs: RemoteState, spec: CheckSpec) -> Observation:
    if blocked := _need_db(rs):
        return blocked
    on = rs.settings.get("config_maintenance", "0") not in ("0", "")
    held = None
    if on:
        held = parse_record(run(rs.conn, read_command(rs.cfg), timeout=spec.timeout, check=False).stdout)
    return judge_maintenance(on, bool(spec.params.get("expected")), held)


def probe_error_display(rs: RemoteState, spec: CheckSpec) -> Observation:
    if blocked := _need_db(rs):
        return blocked
    if rs.settings.get("config_error_display", "0") not in ("0", ""):
        return Observation(
            "on",
            "config_error_display=1: PHP errors (SQL, file paths) are printed into pages",
            State.CRITICAL,
        )
    return Observation("off", "errors are not displayed")


def probe_ocmod(rs: RemoteState, spec: CheckSpec) -> Observation:
    if blocked := _need_db(rs):
        return blocked
    if rs.ocmod is None:
        return Observation("n/a", f"no OCMOD in OpenCart {rs.facts.version}", State.SKIPPED)
    count, names = rs.ocmod
    return Observation(count, f"disabled: {', '.join(names)[:200]}" if names else "all modifications enabled")


def probe_versions(rs: RemoteState, spec: CheckSpec) -> Observation:
    if not rs.php_version:
        out = run(rs.conn, "php -r 'echo PHP_VERSION;' 2>/dev/null || true", timeout=spec.timeout).stdout
        rs.php_version = out.strip()
    current = {"opencart": rs.facts.version, "php": rs.php_version, "database": rs.db_version}
    previous = rs.memos.get("versions")
    # Keep what we knew for parts not seen this time (the database may be down right now).
    rs.new_memos["versions"] = {**(previous or {}), **{k: v for k, v in current.items() if v}}
    return compare_versions(previous, current)


def probe_advisories(rs: RemoteState, spec: CheckSpec) -> Observation:
    """Graded as ``fab check`` grades them (maint.advisories): critical only for what an upgrade fixes
    and is urgent; an advisory no release fixes is a warning carrying its mitigation, so the newest
    release is not red for ever and the alert (sent on the change only) says what to do."""
    try:
        from maint import advisories as grading
        from maint import matrix
    except ImportError:
        return Observation("n/a", "skipped: maint.matrix (advisories) is not available", State.SKIPPED)
    try:
        file = spec.params.get("advisories_file")  # set by the health task from the agency's playbooks
        known = matrix.load_advisories(Path(file) if file else None)
        version = matrix.parse_version(rs.facts.version)
    except (PlaybookError, ValueError) as exc:
        return Observation(None, f"cannot judge advisories: {exc}", State.UNKNOWN)
    graded = grading.grade_advisories(a for a in known if a.applies_to(version))
    if not graded:
        return Observation(0, f"no known advisory applies to {rs.facts.version}")
    state = State.CRITICAL if grading.overall_grade(graded) == grading.CRITICAL else State.WARNING
    lines = "; ".join(g.line for g in graded)
    return Observation(len(graded), f"{rs.facts.version}: {lines}"[:1000], state)


def probe_host(rs: RemoteState, spec: CheckSpec) -> Observation:
    return Observation(None, rs.connected)


PROBE_FUNCTIONS: dict[str, Callable[[RemoteState, CheckSpec], Observation]] = {
    "host": probe_host,
    "db": probe_db,  # first: the settings it reads feed the checks below
    "install_dir": probe_install_dir,
    "disk_free": probe_disk_free,
    "php_fatals": probe_php_fatals,
    "maintenance": probe_maintenance,
    "error_display": probe_error_display,
    "ocmod_disabled": probe_ocmod,
    "versions_changed": probe_versions,
    "advisories": probe_advisories,
}


def _transient_ssh(exc: BaseException) -> bool:
    # Refused or timed out may pass; a wrong host key or a refused login will not.
    return isinstance(exc, ConnectError) and not isinstance(exc, HostKeyError | AuthError)


def connect_with_retry(cfg: StoreConfig, attempts: int = 2) -> Connection:
    """``connect`` with a bounded retry for transient network errors."""
    retrying = retry(
        retry=retry_if_exception(_transient_ssh),
        stop=stop_after_attempt(attempts),
        wait=wait_fixed(0.5),
        reraise=True,
    )
    conn: Connection = retrying(connect)(cfg)
    return conn


def _unreachable(cfg: StoreConfig, ordered: list[CheckSpec], why: str) -> list[CheckResult]:
    """The host check fails with the reason; every other host check is not checked."""
    return [
        grade(cfg.store, s, Observation(None, why, State.CRITICAL))
        if s.probe == "host"
        else grade(cfg.store, s, Observation(None, f"not checked: {why}", State.UNKNOWN))
        for s in ordered
    ]


def run_remote_checks(
    cfg: StoreConfig,
    specs: list[CheckSpec],
    memos: Mapping[str, Any],
    purchase: Future[Purchase | None] | None = None,
) -> tuple[list[CheckResult], dict[str, Any]]:
    """One SSH connection per store; returns the graded results and the memos to remember.

    ``purchase`` is always answered (None when the database can't say), so the cart check never
    waits longer than this unit runs.
    """
    try:
        return _run_remote_checks(cfg, specs, memos, purchase)
    finally:
        if purchase is not None and not purchase.done():
            purchase.set_result(None)


def _run_remote_checks(
    cfg: StoreConfig,
    specs: list[CheckSpec],
    memos: Mapping[str, Any],
    purchase: Future[Purchase | None] | None,
) -> tuple[list[CheckResult], dict[str, Any]]:
    by_probe = {s.probe: s for s in specs}
    ordered = [by_probe[p] for p in PROBE_FUNCTIONS if p in by_probe]
    if not ordered and purchase is None:
        return [], {}
    began = time.monotonic()
    try:
        conn = connect_with_retry(cfg)
    except MaintError as exc:
        return _unreachable(cfg, ordered, f"SSH: {exc.message}"), {}
    try:
        try:
            facts = get_store_facts(conn, cfg)
        except MaintError as exc:
            return _unreachable(cfg, ordered, exc.message), {}
        rs = RemoteState(cfg, conn, facts, memos, purchase=purchase)
        rs.connected = (
            f"SSH to {cfg.host} and OpenCart {facts.version} read in {time.monotonic() - began:.2f}s"
        )
        if "db" not in by_probe:
            # The settings-based checks need the query even when the db check itself is disabled.
            probe_db(rs, CheckSpec(id="db", probe="db", title="", level=1, timeout=10.0))
        results = []
        for spec in ordered:
            began = time.monotonic()
            try:
                obs = PROBE_FUNCTIONS[spec.probe](rs, spec)
            except MaintError as exc:
                obs = Observation(None, exc.message, State.UNKNOWN)
            except ValueError as exc:
                obs = Observation(None, str(exc), State.UNKNOWN)
            results.append(grade(cfg.store, spec, obs, time.monotonic() - began))
        return results, rs.new_memos
    finally:
        conn.close()
