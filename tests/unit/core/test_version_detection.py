import pytest

from maint.errors import FactError
from maint.facts.opencart import VersionEvidence, config_line, decide_version


def evidence(define, *, config=None, tree=None, twig=None, markers=None):
    return VersionEvidence(define, config, tree, twig, markers or {})


def test_define_is_taken_when_the_structure_agrees():
    assert decide_version(evidence("4.1.0.4", config="4.1")) == ("4.1.0.4", [])


def test_vendored_twig_corrects_a_define_that_lags_the_tag():
    version, warnings = decide_version(evidence("3.0.3.8", config="3.0", twig="v3.6.1"))
    assert version == "3.0.3.9"
    assert "Twig" in warnings[0]


def test_pgsql_without_postgre_makes_3_0_3_6_a_3_0_3_7():
    markers = {"system/library/db/pgsql.php": True, "system/library/db/postgre.php": False}
    assert decide_version(evidence("3.0.3.6", config="3.0", markers=markers))[0] == "3.0.3.7"


def test_disagreeing_structure_is_reported_not_hidden():
    version, warnings = decide_version(evidence("3.0.3.8", config="4.x"))
    assert version == "3.0.3.8"
    assert "looks like OpenCart 4.x" in warnings[0]


def test_missing_define_falls_back_to_structure_with_a_warning():
    version, warnings = decide_version(evidence(None, config="3.0"))
    assert version == "3.0" and warnings


def test_nothing_to_go_on_is_an_error():
    with pytest.raises(FactError):
        decide_version(evidence(None))


@pytest.mark.parametrize(
    ("constants", "line"),
    [
        ({"APPLICATION": "Catalog", "DIR_OPENCART": "/x/"}, "4.x"),
        ({"APPLICATION": "Catalog", "DB_SSL_KEY": ""}, "4.1"),
        ({"DIR_STORAGE": "/s/", "DIR_MODIFICATION": "/m/", "DIR_SESSION": "/x/"}, "3.0"),
        ({"DIR_MODIFICATION": "/m/", "DB_PORT": "3306"}, "2.1"),
        ({"DIR_MODIFICATION": "/m/"}, "2.0"),
        ({"DIR_DATABASE": "/d/"}, "1.5"),
        ({}, None),
    ],
)
def test_config_constants_tell_the_release_line(constants, line):
    assert config_line(constants) == line
