import json
from pathlib import Path

import pytest

from maint.facts.phpconfig import parse_config_php, parse_version_define

CASES = Path(__file__).resolve().parents[3] / "fixtures" / "facts" / "config_php"


@pytest.mark.parametrize("case", sorted(p.stem for p in CASES.glob("*.php")))
def test_config_php_is_read_without_running_php(case):
    parsed = parse_config_php((CASES / f"{case}.php").read_text(), file=f"{case}.php")
    assert parsed == json.loads((CASES / f"{case}.json").read_text())


def test_commented_out_defines_are_ignored():
    text = "<?php\n// define('DB_HOSTNAME', 'a');\n/* define('DB_HOSTNAME', 'b'); */\n# define('DB_HOSTNAME','c');\n"
    assert parse_config_php(text) == {}


def test_a_later_define_can_use_an_earlier_one_in_either_quote_style():
    text = """<?php define("ROOT", '/srv/'); define('DIR_SYSTEM', ROOT . "system/" . 'x');"""
    assert parse_config_php(text)["DIR_SYSTEM"] == "/srv/system/x"


def test_version_define_is_found_on_line_three():
    assert parse_version_define("<?php\n// Version\ndefine('VERSION', '3.0.3.8');\n") == "3.0.3.8"
    assert parse_version_define("<?php echo 1;") is None
