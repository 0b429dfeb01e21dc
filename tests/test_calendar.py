"""Calendars real clients accept: iTIP fields, the VTIMEZONE in RRULE form, the same UTC instant
in three independent parsers (icalendar, vobject, ical), summer, winter and across the DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from importlib.metadata import version
from typing import Any

import icalendar
import pytest
import vobject
from conftest import MEETING_ID
from ical.calendar_stream import IcsCalendarStream

from mailer.calendar import (
    Listing,
    MeetingEvent,
    Method,
    Person,
    PreparedCalendar,
    publish_calendar,
    vtimezone,
)
from mailer.meetings import Meeting

ORGANIZER = Person("brugernesrum@roskilde.example", "Brugernes Rum")
SOREN = Person("soren.aero@vordingborg.example", "Søren Ærø")
# DTSTAMP given in Danish summer time: the calendar must carry it in UTC.
STAMP = datetime(2027, 8, 2, 10, 15, 30, tzinfo=timezone(timedelta(hours=2)))


def meeting(start: datetime, end: datetime, tz: str = "Europe/Copenhagen", **more: Any) -> Meeting:
    fields: dict[str, Any] = {
        "id": MEETING_ID,
        "title": "Netværksmøde: Hvad siger brugerne?",
        "location": "Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde",
        "description": "Roskilde Bibliotekerne fortæller om en større undersøgelse.",
        "agenda": ("Velkomst og kaffe", "Frokost"),
        "reminder": "P1D",
    }
    fields.update(more)
    return Meeting(start=start, end=end, timezone=tz, **fields)


SUMMER = meeting(datetime(2027, 9, 21, 13), datetime(2027, 9, 21, 16))
WINTER = meeting(datetime(2027, 11, 16, 10), datetime(2027, 11, 16, 14, 30), id="2027-11-16-samskabelse")
ACROSS_DST = meeting(datetime(2027, 10, 30, 18), datetime(2027, 10, 31, 10), id="2027-10-30-overnatning")


def request(m: Meeting, method: Method = "REQUEST", sequence: int = 0, attendee: Person = SOREN) -> bytes:
    """The member's calendar, after checking that the prepared calendar gives the plain one's bytes."""
    event = MeetingEvent(m, m.uid("roskilde.example"), sequence, STAMP, method, ORGANIZER, "da")
    data = PreparedCalendar(event).for_attendee(attendee)
    assert data == event.calendar(attendee)
    return data


@dataclass(frozen=True)
class Instants:
    start: datetime
    end: datetime


def instants_in_three_parsers(data: bytes) -> dict[str, list[Instants]]:
    """Every VEVENT's start and end in UTC, as each independent parser reads the bytes."""
    text = data.decode("utf-8")
    by_icalendar = [
        Instants(e.decoded("dtstart").astimezone(UTC), e.decoded("dtend").astimezone(UTC))
        for e in icalendar.Calendar.from_ical(data).walk("VEVENT")
    ]
    by_vobject = [
        Instants(e.dtstart.value.astimezone(UTC), e.dtend.value.astimezone(UTC))
        for e in vobject.readOne(text).vevent_list
    ]
    by_ical = [
        Instants(e.dtstart.astimezone(UTC), e.dtend.astimezone(UTC))  # type: ignore[union-attr]
        for e in IcsCalendarStream.calendar_from_ics(text).events
    ]
    return {"icalendar": by_icalendar, "vobject": by_vobject, "ical": by_ical}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def only_event(data: bytes) -> icalendar.Event:
    (event,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    return event


@pytest.mark.parametrize(
    ("m", "start", "end"),
    [
        (SUMMER, utc(2027, 9, 21, 11), utc(2027, 9, 21, 14)),  # CEST, UTC+2
        (WINTER, utc(2027, 11, 16, 9), utc(2027, 11, 16, 13, 30)),  # CET, UTC+1
        (ACROSS_DST, utc(2027, 10, 30, 16), utc(2027, 10, 31, 9)),  # starts in CEST, ends in CET
    ],
    ids=["summer", "winter", "across-dst"],
)
def test_three_parsers_agree_on_the_utc_instant(m: Meeting, start: datetime, end: datetime) -> None:
    data = request(m)

    for parser, events in instants_in_three_parsers(data).items():
        assert events == [Instants(start, end)], parser


@pytest.mark.parametrize(
    ("m", "start", "end"),
    [
        (SUMMER, utc(2027, 9, 21, 11), utc(2027, 9, 21, 14)),
        (WINTER, utc(2027, 11, 16, 9), utc(2027, 11, 16, 13, 30)),
        (ACROSS_DST, utc(2027, 10, 30, 16), utc(2027, 10, 31, 9)),
        # Rules not on the last Sunday: 2nd Sunday of March, 1st Sunday of November.
        (meeting(datetime(2027, 3, 14, 12), datetime(2027, 11, 7, 12), "America/New_York"), None, None),
        # Southern hemisphere: summer time over new year.
        (meeting(datetime(2027, 3, 14, 12), datetime(2027, 11, 7, 12), "Australia/Sydney"), None, None),
    ],
    ids=["summer", "winter", "across-dst", "new-york", "sydney"],
)
def test_the_vtimezone_alone_gives_the_right_instant(
    m: Meeting, start: datetime | None, end: datetime | None
) -> None:
    """With the TZID renamed, a parser cannot look the zone up: only our VTIMEZONE rules count.

    This is how Outlook and CalDAV servers read the calendar; an empty or wrong VTIMEZONE
    shows here as an hour off. (Parsers cache zones by TZID, hence a name per case.)
    """
    expected = Instants(start or m.start.astimezone(UTC), end or m.end.astimezone(UTC))
    renamed = request(m).replace(
        m.timezone.encode(), f"Lokal tid {m.id} {m.timezone.replace('/', ' ')}".encode()
    )
    assert m.timezone.encode() not in renamed

    for parser, events in instants_in_three_parsers(renamed).items():
        assert events == [expected], parser


def test_vtimezone_in_rrule_form() -> None:
    data = request(SUMMER)
    (zone,) = icalendar.Calendar.from_ical(data).walk("VTIMEZONE")

    assert str(zone["tzid"]) == "Europe/Copenhagen"
    daylight = zone.walk("DAYLIGHT")
    standard = zone.walk("STANDARD")
    assert len(daylight) == 1 and len(standard) == 1
    for part, month, before, after in [(daylight[0], 3, 1, 2), (standard[0], 10, 2, 1)]:
        rule = part["rrule"]
        assert rule["FREQ"] == ["YEARLY"]
        assert rule["BYMONTH"] == [month]
        assert rule["BYDAY"] == ["-1SU"]
        assert "RDATE" not in part
        assert part.decoded("tzoffsetfrom") == timedelta(hours=before)
        assert part.decoded("tzoffsetto") == timedelta(hours=after)
    assert daylight[0].decoded("dtstart") == datetime(1970, 3, 29, 2, 0)
    assert standard[0].decoded("dtstart") == datetime(1970, 10, 25, 3, 0)
    assert b"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n" in data


def test_vtimezone_for_a_zone_without_summer_time() -> None:
    zone = vtimezone("Asia/Tokyo", 2027)

    assert zone.walk("DAYLIGHT") == []
    (standard,) = zone.walk("STANDARD")
    assert standard.decoded("tzoffsetto") == timedelta(hours=9)
    m = meeting(datetime(2027, 3, 14, 12), datetime(2027, 3, 14, 13), "Asia/Tokyo")
    for parser, events in instants_in_three_parsers(request(m)).items():
        assert events == [Instants(utc(2027, 3, 14, 3), utc(2027, 3, 14, 4))], parser


def test_request_fields() -> None:
    data = request(SUMMER)
    cal = icalendar.Calendar.from_ical(data)
    event = only_event(data)

    assert str(cal["method"]) == "REQUEST"
    assert str(cal["version"]) == "2.0"
    assert cal["prodid"]
    assert str(event["uid"]) == "2027-09-21-hvad-siger-brugerne@roskilde.example"
    assert event["sequence"] == 0
    assert event.decoded("dtstamp") == utc(2027, 8, 2, 8, 15, 30)
    assert b"DTSTAMP:20270802T081530Z\r\n" in data
    assert b"DTSTART;TZID=Europe/Copenhagen:20270921T130000\r\n" in data
    assert str(event["summary"]) == "Netværksmøde: Hvad siger brugerne?"
    assert str(event["location"]) == "Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde"
    assert "Program:\n• Velkomst og kaffe\n• Frokost" in str(event["description"])
    assert str(event["status"]) == "CONFIRMED"
    organizer = event["organizer"]
    assert str(organizer) == "mailto:brugernesrum@roskilde.example"
    assert organizer.params["CN"] == "Brugernes Rum"


def test_exactly_one_attendee_the_recipient_with_rsvp() -> None:
    data = request(SUMMER)
    event = only_event(data)

    attendee = event["attendee"]
    assert not isinstance(attendee, list)  # one, never the whole list
    assert str(attendee) == "mailto:soren.aero@vordingborg.example"
    assert attendee.params["CN"] == "Søren Ærø"
    assert attendee.params["RSVP"] == "TRUE"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert data.count(b"ATTENDEE") == 1
    # Non-ASCII CN intact and quoted, as the other parsers read it too.
    assert 'ATTENDEE;CN="Søren Ærø"'.encode() in data
    (by_vobject,) = vobject.readOne(data.decode()).vevent.attendee_list
    assert by_vobject.params["CN"] == ["Søren Ærø"]
    (by_ical,) = IcsCalendarStream.calendar_from_ics(data.decode()).events[0].attendees
    assert (by_ical.common_name, by_ical.rsvp, by_ical.status) == ("Søren Ærø", True, "NEEDS-ACTION")


def test_attendee_comes_before_the_alarm() -> None:
    """RFC 5545 3.6.1: a VEVENT's properties come before its VALARM components."""
    data = request(SUMMER)

    assert data.index(b"ATTENDEE") < data.index(b"BEGIN:VALARM") < data.index(b"END:VEVENT")
    (alarm,) = only_event(data).walk("VALARM")
    assert alarm.decoded("trigger") == -timedelta(days=1)


def test_each_member_gets_only_their_own_attendee() -> None:
    prepared = PreparedCalendar(
        MeetingEvent(SUMMER, SUMMER.uid("roskilde.example"), 0, STAMP, "REQUEST", ORGANIZER, "da")
    )
    first = prepared.for_attendee(SOREN)
    second = prepared.for_attendee(Person("ase.bogh@koege.example", "Åse Bøgh"))

    assert b"soren.aero" not in second and b"ase.bogh" not in first

    def without_attendee(data: bytes) -> list[bytes]:
        unfolded = data.replace(b"\r\n ", b"").split(b"\r\n")
        return [line for line in unfolded if not line.startswith(b"ATTENDEE")]

    assert without_attendee(first) == without_attendee(second)  # the rest is shared, built once


def test_uid_is_stable_and_sequence_is_carried() -> None:
    first, later = request(SUMMER), request(SUMMER, sequence=3)

    assert only_event(first)["uid"] == only_event(later)["uid"]
    assert only_event(later)["sequence"] == 3


def test_cancel() -> None:
    data = request(SUMMER.model_copy(update={"status": "cancelled"}), method="CANCEL", sequence=1)
    cal = icalendar.Calendar.from_ical(data)
    event = only_event(data)

    assert str(cal["method"]) == "CANCEL"
    assert str(event["status"]) == "CANCELLED"
    assert str(event["uid"]) == "2027-09-21-hvad-siger-brugerne@roskilde.example"
    assert event["sequence"] == 1
    assert str(event["organizer"]) == "mailto:brugernesrum@roskilde.example"
    attendee = event["attendee"]
    assert str(attendee) == "mailto:soren.aero@vordingborg.example"
    assert "RSVP" not in attendee.params
    assert event.walk("VALARM") == []  # no reminder for a meeting that is off


def test_publish_for_a_website_and_a_feed() -> None:
    listings = [Listing(m, m.uid("roskilde.example"), 0) for m in (SUMMER, WINTER)]
    sender = Person("brugernesrum@roskilde.example", "Brugernes Rum")
    data = publish_calendar(listings, organizer=sender, dtstamp=STAMP, language="da")
    cal = icalendar.Calendar.from_ical(data)

    assert str(cal["method"]) == "PUBLISH"
    assert b"ATTENDEE" not in data and b"RSVP" not in data
    events = cal.walk("VEVENT")
    assert [str(e["uid"]) for e in events] == [
        "2027-09-21-hvad-siger-brugerne@roskilde.example",
        "2027-11-16-samskabelse@roskilde.example",
    ]
    assert len(cal.walk("VTIMEZONE")) == 1  # one per zone, not per event
    # RFC 5546 3.2.1: a PUBLISH has an ORGANIZER (libical's iTIP check refuses it otherwise)
    assert {str(e["organizer"]) for e in events} == {"mailto:brugernesrum@roskilde.example"}
    by_ical = IcsCalendarStream.calendar_from_ics(data.decode()).events
    assert {e.organizer.uri for e in by_ical} == {"mailto:brugernesrum@roskilde.example"}  # type: ignore[union-attr]
    expected = [
        Instants(utc(2027, 9, 21, 11), utc(2027, 9, 21, 14)),
        Instants(utc(2027, 11, 16, 9), utc(2027, 11, 16, 13, 30)),
    ]
    for parser, found in instants_in_three_parsers(data).items():
        assert found == expected, parser


def test_every_calendar_names_mailer_and_its_version_as_its_product() -> None:
    """PRODID names the program that wrote the calendar (RFC 5545 3.7.3), not the network
    that sends it: a network with another name uses the same program."""
    other = Person("kontakt@netvaerk.example", "Et andet netværk")
    listing = Listing(SUMMER, SUMMER.uid("netvaerk.example"), 0)
    calendars = [
        request(SUMMER),
        request(SUMMER, "CANCEL", 1),
        publish_calendar([listing], organizer=other, dtstamp=STAMP, language="da"),
    ]
    expected = f"-//mailer//mailer {version('mailer')}//EN"
    for data in calendars:
        assert str(icalendar.Calendar.from_ical(data)["prodid"]) == expected
        assert vobject.readOne(data.decode("utf-8")).prodid.value == expected


def test_lines_are_folded_crlf_and_never_split_a_character() -> None:
    long_name = Person("anne.mette.jensen@roskilde.example", "Anne Mette Bøttcher Jensen Æblegård Østergaard")
    data = request(SUMMER, attendee=long_name)

    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert max(len(line) for line in lines) <= 75
    for line in lines:
        line.decode("utf-8")  # a fold inside æ/ø/å would make half a character here
    assert only_event(data)["attendee"].params["CN"] == long_name.name


def test_text_values_are_escaped() -> None:
    m = meeting(datetime(2027, 9, 21, 13), datetime(2027, 9, 21, 16), title="Møde; kaffe, kage og \\ snak")
    data = request(m)

    assert b"SUMMARY:M\xc3\xb8de\\; kaffe\\, kage og \\\\ snak\r\n" in data
    assert str(only_event(data)["summary"]) == "Møde; kaffe, kage og \\ snak"
    assert vobject.readOne(data.decode()).vevent.summary.value == "Møde; kaffe, kage og \\ snak"
