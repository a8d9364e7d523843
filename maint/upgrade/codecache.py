"""PHP's code cache after the copy: the web server's PHP must run the new files before the upgrader does.

OPcache looks at a cached script's mtime at most every `opcache.revalidate_freq` seconds (2 by default), so
a request right after the copy may run the old compiled code (measured on real 4.0.2.3 → 4.1.0.4: "Call to
undefined function oc_glob()" in upgrade_1). A fixed wait cost 2.5 s of every maintenance window. Instead a
one-shot probe (random name in the store's root, deleted on every path, like `fab check`'s PHP probe) asks
the web server's own PHP: it invalidates the store's cached scripts whose file changed (opcache_invalidate),
so nothing needs to wait. Only when the OPcache API is restricted does it wait out revalidate_freq, counted
from the end of the copy; with validate_timestamps off and no API, PHP would never see the new files: the
step fails (and the window rolls back) rather than run the upgrader on old code.
"""

from __future__ import annotations

import json
import secrets
import shlex
import time
from dataclasses import dataclass
from typing import Any

import requests

from maint.errors import MaintError
from maint.upgrade.target import Target

# OPcache compares whole seconds: a file changed right after a check is seen up to revalidate_freq + 1 s
# later (measured with php -S, freq 2: the old code ran for 2-3 s). The fixed wait used before (2.5 s) was short.
MARGIN = 1.2
FALLBACK_WAIT = 2 + MARGIN  # probe not answered: PHP's default revalidate_freq

# PHP 7.0+ (every release maint upgrades needs it); prints one JSON line.
_PROBE = """<?php
// maint upgrade probe: deleted right after one request
header('Content-Type: application/json'); header('Cache-Control: no-store');
$out = array('probe' => '@TOKEN@', 'loaded' => extension_loaded('Zend OPcache'),
  'enable' => (string) ini_get('opcache.enable'), 'validate' => (string) ini_get('opcache.validate_timestamps'),
  'freq' => (string) ini_get('opcache.revalidate_freq'), 'api' => false, 'stale' => 0);
if (function_exists('opcache_get_status') && function_exists('opcache_invalidate')) {
  $status = @opcache_get_status(true);
  if (is_array($status)) {
    $out['api'] = true;
    $out['enable'] = empty($status['opcache_enabled']) ? '0' : '1';
    $root = __DIR__ . DIRECTORY_SEPARATOR;
    foreach (isset($status['scripts']) ? $status['scripts'] : array() as $path => $info) {
      if (strpos($path, $root) !== 0) continue;
      clearstatcache(true, $path);
      $mtime = @filemtime($path);
      if ($mtime === false || !isset($info['timestamp']) || $mtime != $info['timestamp']) {
        opcache_invalidate($path, true);
        $out['stale']++;
      }
    }
  }
}
echo json_encode($out), "\\n";
"""


@dataclass(frozen=True)
class CodeCache:
    loaded: bool
    enabled: bool
    validate: bool
    freq: float
    api: bool  # opcache_get_status answered (not restricted by opcache.restrict_api or disable_functions)
    stale: int  # cached scripts of the store whose file changed, invalidated by the probe


def _on(value: str) -> bool:
    return value.strip().lower() in ("1", "on", "yes", "true")


def parse_probe(body: str, token: str) -> CodeCache | None:
    """The probe's JSON line, or None when the answer is not ours (a WAF page, a redirect, PHP not run)."""
    for line in reversed(body.splitlines()):
        if line.lstrip().startswith("{"):
            try:
                data: dict[str, Any] = json.loads(line)
            except ValueError:
                return None
            if data.get("probe") != token:
                return None
            try:
                freq = float(data.get("freq") or 2)
            except ValueError:
                freq = 2.0
            return CodeCache(bool(data.get("loaded")), _on(str(data.get("enable", ""))),
                             _on(str(data.get("validate", "1"))), freq, bool(data.get("api")),
                             int(data.get("stale") or 0))
    return None


def probe(target: Target, *, timeout: float = 30) -> CodeCache | None:
    token = secrets.token_hex(16)
    name = f"maint-probe-{secrets.token_hex(12)}.php"
    path = shlex.quote(target.root + name)
    try:
        target.sh(f"umask 022 && cat > {path}", stdin=_PROBE.replace("@TOKEN@", token).encode())
        try:
            answer = requests.get(target.url + name, timeout=timeout, allow_redirects=False,
                                  headers={"Cache-Control": "no-cache", "User-Agent": "maint-upgrade/1"})
        except requests.RequestException:
            return None
        return parse_probe(answer.text, token) if answer.status_code == 200 else None
    finally:
        target.sh(f"rm -f {path}", check=False)


def settle(target: Target, copied_at: float) -> str:
    """Make the web server's PHP run the new files now; returns what was done (a step's detail)."""
    found = probe(target)

    def left(wait: float) -> float:  # the time since the copy ended counts
        return max(0.0, wait - (time.monotonic() - copied_at))

    if found is None:
        wait = left(FALLBACK_WAIT)
        time.sleep(wait)
        return f"the PHP probe was not answered: waited {wait:.1f}s for OPcache to see the new files"
    if not found.loaded or not found.enabled:
        return "OPcache is off for the web server: nothing to wait for"
    if found.api:
        return f"{found.stale} compiled script(s) of the old files dropped from OPcache: no wait"
    if not found.validate:
        raise MaintError(f"{target.label}: PHP's OPcache never re-reads changed files (opcache.validate_timestamps=0)"
                         " and its API is restricted: reload PHP on the host (e.g. php-fpm) during the upgrade, or "
                         "allow opcache_get_status for the store's folder (opcache.restrict_api)", store=target.store)
    wait = left(found.freq + MARGIN)
    time.sleep(wait)
    return f"waited {wait:.1f}s for OPcache to see the new files (opcache.revalidate_freq={found.freq:g}, API restricted)"
