import pytest

from maint.billing.duration import format_hours, parse_duration
from maint.errors import InputError


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("1h30", 90),
        ("90m", 90),
        ("1.5h", 90),
        ("1,5h", 90),
        ("2h", 120),
        ("45min", 45),
        ("1h 5m", 65),
        ("0:45", 45),
        (" 3H ", 180),
    ],
)
def test_accepts_the_ways_people_write_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes * 60


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "",
        "h",
        "-1h",
        "-30m",
        "1h75",
        "1.5.2h",
        "2 hours",
        "1h-30",
        "1.5",
        "2",
        "45",
        "25h",
        "100h",
        "1000000h",
    ],
)
def test_refuses_malformed_or_negative_durations(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_duration(text)
    assert err.value.column == "duration"


def test_zero_is_refused_unless_voiding_an_entry() -> None:
    with pytest.raises(InputError, match="zero"):
        parse_duration("0m")
    assert parse_duration("0m", allow_zero=True) == 0


def test_formats_hours_as_people_read_them() -> None:
    assert format_hours(5400) == "1h30"
    assert format_hours(36000) == "10h00"


def test_a_bare_number_is_refused_and_says_how_to_write_hours_or_minutes() -> None:
    # Issue 19: `fab log STORE 1.5` was taken as 1.5 minutes without a word.
    with pytest.raises(InputError, match="no unit: write 1.5h for hours or 1.5m for minutes"):
        parse_duration("1.5")


def test_more_than_24_hours_needs_a_span_of_days() -> None:
    with pytest.raises(InputError, match="more than 24 h in a day; give --span"):
        parse_duration("25h")
    assert parse_duration("25h", days=2) == 25 * 3600
    assert parse_duration("24h") == 24 * 3600


def test_zero_alone_voids_an_entry_when_allowed() -> None:
    assert parse_duration("0", allow_zero=True) == 0
