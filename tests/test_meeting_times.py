"""Dates and times that calendars agree on: a date without a time, all-day meetings, meetings
over several days, local times that do not exist or happen twice, meetings already over."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
import vobject
from conftest import MEETING, Project
from ical.calendar_stream import IcsCalendarStream

MEETING_ID = MEETING["id"]


def error_of(project: Project, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, _ = project.main(*args)
    assert code == 2
    return capsys.readouterr().err


def previewed(project: Project, *args: str) -> list[EmailMessage]:
    code, out = project.main("preview", *args)
    assert code == 0, out
    messages = []
    for path in sorted((project.root / "outbox").rglob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        messages.append(msg)
    return messages


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def by_address(messages: list[EmailMessage], address: str) -> EmailMessage:
    return next(m for m in messages if address in str(m["To"]))


def test_a_date_without_a_time_is_refused_naming_the_meeting_and_the_form(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.meetings[0]["start"] = "2027-09-21"
    err = error_of(project, capsys, "check")
    lines = project.config.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if text.startswith("start = "))
    assert f"config.toml:{line}: " in err  # the line of start
    assert f"meeting {MEETING_ID}, start" in err
    assert "start = 2027-09-21T13:00:00" in err and "all_day = true" in err
    assert "all good" not in err


@pytest.mark.parametrize(
    ("start", "why"),
    [
        ("2027-03-28T02:30:00", "does not exist in Europe/Copenhagen"),
        ("2027-10-31T02:30:00", "happens twice"),
    ],
)
def test_a_local_time_in_the_spring_gap_or_the_autumn_hour_is_refused(
    project: Project, capsys: pytest.CaptureFixture[str], start: str, why: str
) -> None:
    project.meetings[0].update(start=start, end=start[:11] + "05:00:00")
    err = error_of(project, capsys, "check")
    assert f"meeting {MEETING_ID}, start: {start[:16]} {why}" in err
    assert "choose another time" in err


def test_the_hours_around_the_changes_are_accepted(project: Project) -> None:
    project.meetings[0].update(start="2027-03-28T01:30:00", end="2027-03-28T03:30:00")
    assert project.main("check")[0] == 0
    project.meetings[0].update(start="2027-10-31T01:30:00", end="2027-10-31T03:30:00")
    assert project.main("check")[0] == 0


def instants(data: bytes) -> dict[str, tuple[object, object]]:
    """DTSTART and DTEND of the one event, as three parsers read them."""
    text = data.decode()
    (by_icalendar,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    by_vobject = vobject.readOne(text).vevent
    (by_ical,) = IcsCalendarStream.calendar_from_ics(text).events
    return {
        "icalendar": (by_icalendar.decoded("dtstart"), by_icalendar.decoded("dtend")),
        "vobject": (by_vobject.dtstart.value, by_vobject.dtend.value),
        "ical": (by_ical.dtstart, by_ical.dtend),
    }


@pytest.mark.parametrize(
    ("end", "last", "da", "en"),
    [
        (None, date(2027, 9, 21), "tirsdag den 21. september 2027", "Tuesday, 21 September 2027"),
        (
            "2027-09-22",
            date(2027, 9, 22),
            "tirsdag den 21. september til onsdag den 22. september 2027",
            "Tuesday, 21 September 2027 to Wednesday, 22 September 2027",
        ),
    ],
)
def test_an_all_day_meeting_has_dates_and_texts_without_times(
    project: Project, tmp_path: Path, end: str | None, last: date, da: str, en: str
) -> None:
    meeting = project.meetings[0]
    meeting.update(start="2027-09-21", all_day=True)
    if end is None:
        del meeting["end"]
    else:
        meeting["end"] = end
    code, out = project.main("check")
    assert code == 0, out
    assert f"{MEETING_ID}: {da}, Roskilde" in out

    assert project.main("ics", MEETING_ID, "-o", str(tmp_path / "m.ics"))[0] == 0
    data = (tmp_path / "m.ics").read_bytes()
    assert b"DTSTART;VALUE=DATE:20270921\r\n" in data and b"VTIMEZONE" not in data
    after = date.fromordinal(last.toordinal() + 1)  # RFC 5545: a DATE end is the day after the last
    assert set(instants(data).values()) == {(date(2027, 9, 21), after)}

    messages = previewed(project, "invitation", "--meeting", MEETING_ID)
    danish = by_address(messages, "soren.aero@vordingborg.example")
    english = by_address(messages, "maria.lohse@roskilde.example")
    assert f"Hvornår: {da}\n" in text_of(danish) and " kl. " not in text_of(danish).split("Hvornår")[1][:80]
    assert f"{en}\n" in text_of(english)
    inline = next(p for p in danish.walk() if p.get_content_type() == "text/calendar")
    payload = inline.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert set(instants(payload).values()) == {(date(2027, 9, 21), after)}


def test_an_all_day_meeting_with_a_time_is_refused(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.meetings[0]["all_day"] = True
    err = error_of(project, capsys, "check")
    assert f"meeting {MEETING_ID}, start: an all-day meeting has dates without a time of day" in err


def test_a_meeting_over_two_days_names_both_dates_in_danish_and_english(project: Project) -> None:
    project.meetings[0]["end"] = "2027-09-22T16:00:00"
    messages = previewed(project, "invitation", "--meeting", MEETING_ID)
    danish = text_of(by_address(messages, "soren.aero@vordingborg.example"))
    english = text_of(by_address(messages, "maria.lohse@roskilde.example"))
    assert "tirsdag den 21. september kl. 13.00 til onsdag den 22. september 2027 kl. 16.00" in danish
    assert "Tuesday, 21 September 2027, 13:00 to Wednesday, 22 September 2027, 16:00" in english
    inline = next(
        p
        for p in by_address(messages, "soren.aero@vordingborg.example").walk()
        if p.get_content_type() == "text/calendar"
    )
    payload = inline.get_payload(decode=True)
    assert isinstance(payload, bytes)
    for start, end in instants(payload).values():
        assert isinstance(start, datetime) and isinstance(end, datetime)
        assert (start.astimezone(UTC), end.astimezone(UTC)) == (
            datetime(2027, 9, 21, 11, tzinfo=UTC),
            datetime(2027, 9, 22, 14, tzinfo=UTC),
        )


def test_a_meeting_already_over_check_warns_and_send_refuses(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    later = datetime(2027, 9, 21, 14, 30, tzinfo=UTC)  # 16:30 in Roskilde: the meeting has ended
    code, out = project.main("check", now=later)
    assert code == 0, out
    assert f"warning: meeting {MEETING_ID} is over (it ended " in out
    for template in ("invitation", "reminder"):
        code, out = project.main("send", template, "--meeting", MEETING_ID, "--yes", now=later)
        assert code == 2, out
        err = capsys.readouterr().err
        assert f"meeting {MEETING_ID}, end: the meeting is over (it ended tirsdag den 21." in err
        assert "nothing was sent" in err
    # a meeting still on is not refused (12:00 in Roskilde, during the meeting)
    code, out = project.main(
        "preview", "invitation", "--meeting", MEETING_ID, now=datetime(2027, 9, 21, 10, tzinfo=UTC)
    )
    assert code == 0, out
