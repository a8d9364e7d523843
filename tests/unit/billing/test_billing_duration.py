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
        ("45", 45),
        ("45min", 45),
        ("1h 5m", 65),
        ("0:45", 45),
        (" 3H ", 180),
    ],
)
def test_accepts_the_ways_people_write_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes * 60


@pytest.mark.parametrize("text", ["abc", "", "h", "-1h", "-30m", "1h75", "1.5.2h", "2 hours", "1h-30"])
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
