"""PHP's OPcache after the upgrade's copy, against the real PHP built-in server with OPcache on (as the real
tier's stores run): the probe drops the store's stale compiled scripts so the next request runs the new file
at once; with the OPcache API restricted it waits out revalidate_freq instead. Either way no old code runs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from maint.sandbox.php import answers_http
from maint.sandbox.ports import free_port
from maint.upgrade import codecache
from maint.upgrade.target import Target


@pytest.fixture(params=["api", "restricted"])
def php_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Target, str]]:
    root = tmp_path / "www"
    root.mkdir()
    port = free_port()
    settings = ["-d", "opcache.enable=1", "-d", "opcache.validate_timestamps=1", "-d", "opcache.revalidate_freq=2"]
    if request.param == "restricted":
        settings += ["-d", f"opcache.restrict_api={tmp_path / 'nowhere'}"]
    server = subprocess.Popen(["php", *settings, "-S", f"127.0.0.1:{port}", "-t", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not answers_http(port):
            assert time.monotonic() < deadline, "php -S did not start"
            time.sleep(0.1)
        yield Target("working copy", "shop", f"http://127.0.0.1:{port}/", str(root) + "/", "admin", "oc_", {},
                     lambda: None, lambda command: ["bash", "-c", command], lambda path: path), request.param  # type: ignore[arg-type, return-value]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_after_the_copy_php_runs_the_new_files_at_once_or_after_revalidate_freq(php_store) -> None:
    target, mode = php_store
    page = Path(target.root) / "page.php"
    page.write_text("<?php echo 'old release';\n")
    os.utime(page, (time.time() - 60, time.time() - 60))
    assert requests.get(target.url + "page.php", timeout=10).text == "old release"  # compiled and cached
    page.write_text("<?php echo 'new release';\n")  # the copy: same size, newer mtime
    copied = time.monotonic()

    detail = codecache.settle(target, copied)
    if mode == "api":
        assert detail == "1 compiled script(s) of the old files dropped from OPcache: no wait"
        assert time.monotonic() - copied < 1.5
    else:
        assert detail.startswith("waited ") and "opcache.revalidate_freq=2" in detail
        assert time.monotonic() - copied >= 3.2
    assert requests.get(target.url + "page.php", timeout=10).text == "new release"
    assert sorted(p.name for p in Path(target.root).iterdir()) == ["page.php"]  # the probe is gone


def test_a_probe_answer_that_is_not_ours_is_no_answer() -> None:
    assert codecache.parse_probe('{"probe": "other", "loaded": true}', "mine") is None
    assert codecache.parse_probe("<html>blocked</html>", "mine") is None
    found = codecache.parse_probe('Deprecated: x\n{"probe": "mine", "loaded": true, "enable": "1", "validate": "0", '
                                  '"freq": "60", "api": false, "stale": 0}', "mine")
    assert found == codecache.CodeCache(True, True, False, 60.0, False, 0)
