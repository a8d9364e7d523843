"""Every PHP file of the fixture layers parses (one php process checks them all)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from maint.sandbox.fixture import FIXTURE_DIR

# token_get_all(..., TOKEN_PARSE) raises ParseError on a syntax error, like `php -l`, without running the file.
CHECK = r"""
$bad = 0;
foreach (array_slice($argv, 1) as $file) {
    try { token_get_all(file_get_contents($file), TOKEN_PARSE); }
    catch (ParseError $e) { $bad++; echo $file, ':', $e->getLine(), ': ', $e->getMessage(), "\n"; }
}
exit($bad ? 1 : 0);
"""


@pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is not installed")
def test_every_fixture_php_file_parses() -> None:
    files = sorted(str(p) for p in FIXTURE_DIR.rglob("*.php"))
    assert len(files) > 40
    result = subprocess.run(["php", "-r", CHECK, "--", *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
