"""The words and dates mailer writes in a member's language (`mailer.words`)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.meetings import Meeting
from mailer.words import agenda_label, clock, long_date, long_datetime, status_word, summary, time_span

CPH = ZoneInfo("Europe/Copenhagen")


def at(day: int, hour: int, month: int = 9, year: int = 2027) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CPH)


def test_dates_and_clock_times_in_danish_and_english() -> None:
    assert long_date(date(2027, 9, 21), "da") == "tirsdag den 21. september 2027"
    assert long_date(date(2027, 9, 21), "en") == "Tuesday, 21 September 2027"
    assert clock(at(21, 13), "da") == "13.00"
    assert clock(at(21, 13), "en") == "13:00"
    assert long_datetime(at(21, 13), "da") == "tirsdag den 21. september 2027 kl. 13.00"
    assert long_datetime(at(21, 13), "en") == "Tuesday, 21 September 2027 at 13:00"


def test_a_span_on_one_day() -> None:
    assert time_span(at(21, 13), at(21, 16), "da") == "tirsdag den 21. september 2027 kl. 13.00–16.00"
    assert time_span(at(21, 13), at(21, 16), "en") == "Tuesday, 21 September 2027 at 13:00–16:00"


def test_a_span_over_two_days_names_both_dates() -> None:
    assert (
        time_span(at(21, 13), at(22, 16), "da")
        == "tirsdag den 21. september kl. 13.00 til onsdag den 22. september 2027 kl. 16.00"
    )
    assert (
        time_span(at(21, 13), at(22, 16), "en")
        == "Tuesday, 21 September 2027, 13:00 to Wednesday, 22 September 2027, 16:00"
    )


def test_a_span_over_new_year_gives_both_years() -> None:
    assert (
        time_span(at(31, 13, 12), at(1, 12, 1, 2028), "da")
        == "fredag den 31. december 2027 kl. 13.00 til lørdag den 1. januar 2028 kl. 12.00"
    )


def test_all_day_spans_have_no_times_and_an_exclusive_end() -> None:
    assert time_span(date(2027, 9, 21), date(2027, 9, 22), "da") == "tirsdag den 21. september 2027"
    assert time_span(date(2027, 9, 21), date(2027, 9, 22), "en") == "Tuesday, 21 September 2027"
    assert (
        time_span(date(2027, 9, 21), date(2027, 9, 23), "da")
        == "tirsdag den 21. september til onsdag den 22. september 2027"
    )
    assert (
        time_span(date(2027, 9, 21), date(2027, 9, 23), "en")
        == "Tuesday, 21 September 2027 to Wednesday, 22 September 2027"
    )


@pytest.mark.parametrize(
    ("status", "da", "en"),
    [
        ("tentative", "foreløbig", "tentative"),
        ("confirmed", "bekræftet", "confirmed"),
        ("cancelled", "aflyst", "cancelled"),
    ],
)
def test_status_words(status: str, da: str, en: str) -> None:
    assert (status_word(status, "da"), status_word(status, "en")) == (da, en)


def test_the_coordinators_line_about_a_meeting_is_in_one_language() -> None:
    meeting = Meeting(
        id="2027-09-21-m", title="Møde", start=datetime(2027, 9, 21, 13), end=datetime(2027, 9, 21, 16)
    )
    assert (
        summary(meeting, "da")
        == "tirsdag den 21. september 2027 kl. 13.00–16.00, intet sted endnu (bekræftet)"
    )
    placed = meeting.model_copy(update={"location": "Køge Bibliotek", "status": "cancelled"})
    assert summary(placed, "en") == "Tuesday, 21 September 2027 at 13:00–16:00, Køge Bibliotek (cancelled)"
    assert summary(placed, "da").endswith(", Køge Bibliotek (aflyst)")


def test_agenda_label_and_an_unknown_language_falls_back_to_english() -> None:
    assert (agenda_label("da"), agenda_label("en"), agenda_label("sv")) == (
        "Program",
        "Programme",
        "Programme",
    )
    assert status_word("cancelled", "sv") == "cancelled"


@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31)),
    minutes=st.integers(min_value=1, max_value=5 * 24 * 60),
    language=st.sampled_from(["da", "en"]),
)
def test_every_span_names_its_last_day_and_both_clock_times(
    start: datetime, minutes: int, language: str
) -> None:
    from datetime import timedelta

    begin = start.replace(tzinfo=CPH)
    end = begin + timedelta(minutes=minutes)
    text = time_span(begin, end, language)
    assert long_date(end, language).split()[-1] in text  # the end's year
    assert text.count(clock(begin, language)) >= 1 and text.endswith(clock(end, language))
    assert (" til " in text or " to " in text) == (begin.date() != end.date())
