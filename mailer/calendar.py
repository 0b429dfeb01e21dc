"""iCalendar objects for meetings: REQUEST, CANCEL and PUBLISH calendars built with `icalendar`.

A meeting's event (`MeetingEvent`) gives each member's calendar; `PreparedCalendar` gives the
same bytes with the part every member shares serialised once, only the ATTENDEE line per member.
"""

from __future__ import annotations

import calendar as weekdays
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vRecur,
    vText,
)

from mailer import __version__
from mailer.meetings import Listing, Meeting
from mailer.words import agenda_label

# RFC 5545 3.7.3: the program that wrote the calendar, whichever network sends it.
PRODID = f"-//mailer//mailer {__version__}//EN"
Method = Literal["REQUEST", "CANCEL", "PUBLISH"]
STATUS = {"tentative": "TENTATIVE", "confirmed": "CONFIRMED", "cancelled": "CANCELLED"}
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# A test message's event has a UID of its own, never the meeting's: in the tester's calendar it
# is not the real meeting, and an answer to it is never taken for a member's.
TEST_UID_PREFIX = "mailer-test-"


def test_uid(meeting_uid: str, token: str) -> str:
    """The UID of a test message's event (`token`: something new for each test)."""
    return f"{TEST_UID_PREFIX}{token}-{meeting_uid}"


def is_test_uid(uid: str) -> bool:
    return uid.strip().casefold().startswith(TEST_UID_PREFIX)


@dataclass(frozen=True)
class Person:
    """A calendar user: the organizer or one attendee."""

    email: str
    name: str = ""

    def address(self, **params: str) -> vCalAddress:
        value = vCalAddress(f"mailto:{self.email}")
        if self.name:
            value.params["CN"] = vText(self.name)
        for key, param in params.items():
            value.params[key.replace("_", "-").upper()] = param
        return value


@lru_cache(maxsize=64)
def vtimezone(tzid: str, year: int) -> Timezone:
    """A VTIMEZONE in the RRULE form Outlook, Google and Apple write (docs/interop.md says why).

    The rules are those in force in `year`, read from the system's zone database.
    """
    zone = ZoneInfo(tzid)
    component = Timezone()
    component.add("tzid", tzid)
    changes = list(_transitions(zone, year))
    if not changes:
        moment = datetime(year, 1, 1, tzinfo=zone)
        offset = moment.utcoffset() or timedelta(0)
        standard = TimezoneStandard()
        standard.add("dtstart", datetime(1970, 1, 1))
        standard.add("tzoffsetfrom", offset)
        standard.add("tzoffsetto", offset)
        standard.add("tzname", moment.tzname() or tzid)
        component.add_component(standard)
        return component
    for wall, offset_from, after in changes:
        kind = TimezoneDaylight() if after.dst() else TimezoneStandard()
        last_week = wall.day + 7 > weekdays.monthrange(wall.year, wall.month)[1]
        week = -1 if last_week else (wall.day - 1) // 7 + 1
        byday = f"{week}{DAY_CODES[wall.weekday()]}"
        first = _nth_weekday(1970, wall.month, wall.weekday(), week)
        kind.add("dtstart", datetime.combine(first, wall.time()))
        kind.add("rrule", vRecur(freq="YEARLY", bymonth=wall.month, byday=byday))
        kind.add("tzoffsetfrom", offset_from)
        kind.add("tzoffsetto", after.utcoffset())
        kind.add("tzname", after.tzname() or tzid)
        component.add_component(kind)
    return component


def _transitions(zone: ZoneInfo, year: int) -> Iterable[tuple[datetime, timedelta, datetime]]:
    """Each offset change in `year`: (wall clock before it, offset before, local time after)."""
    hour = timedelta(hours=1)
    moment = datetime(year, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    while moment.year == year:
        following = moment + hour
        if following.astimezone(zone).utcoffset() != offset:
            low, high = 0, 60  # minutes after `moment`: offset unchanged at low, changed at high
            while high - low > 1:
                middle = (low + high) // 2
                if (moment + timedelta(minutes=middle)).astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            change = moment + timedelta(minutes=high)
            after = change.astimezone(zone)
            yield (change + offset).replace(tzinfo=None), offset, after
            offset = after.utcoffset() or timedelta(0)
        moment = following


def _nth_weekday(year: int, month: int, weekday: int, week: int) -> date:
    days = weekdays.monthrange(year, month)[1]
    candidates = [
        date(year, month, d) for d in range(1, days + 1) if date(year, month, d).weekday() == weekday
    ]
    return candidates[week - 1] if week > 0 else candidates[week]


@dataclass(frozen=True)
class MeetingEvent:
    """One meeting as the VEVENT a run sends: everything its calendars say but the ATTENDEE."""

    meeting: Meeting
    uid: str
    sequence: int
    dtstamp: datetime
    method: Method
    organizer: Person | None
    language: str

    def event(self, attendee: Person | None = None) -> Event:
        """The VEVENT, addressed to `attendee` alone when given."""
        meeting, method = self.meeting, self.method
        event = Event()
        event.add("uid", self.uid)
        event.add("dtstamp", self.dtstamp.astimezone(UTC))
        event.add("sequence", self.sequence)
        event.add("dtstart", meeting.dtstart)  # a date alone is written VALUE=DATE
        event.add("dtend", meeting.dtend)
        event.add("summary", meeting.title)
        if meeting.location:
            event.add("location", meeting.location)
        description = _description(meeting, self.language)
        if description:
            event.add("description", description)
        event.add("status", "CANCELLED" if method == "CANCEL" else STATUS[meeting.status])
        event.add("transp", "OPAQUE")
        if self.organizer is not None:
            event.add("organizer", self.organizer.address())
        if attendee is not None:
            event.add("attendee", self.attendee(attendee))
        if meeting.reminder and method != "CANCEL":
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", meeting.title)
            alarm.add("trigger", -meeting.reminder)
            event.add_component(alarm)
        return event

    def attendee(self, person: Person) -> vCalAddress:
        """The member as ATTENDEE: asked to answer in a REQUEST."""
        params = {"role": "REQ-PARTICIPANT", "cutype": "INDIVIDUAL"}
        if self.method == "REQUEST":
            params |= {"partstat": "NEEDS-ACTION", "rsvp": "TRUE"}
        return person.address(**params)

    def calendar(self, attendee: Person) -> bytes:
        """The calendar addressed to one member alone (no other member's address in it)."""
        return calendar_of([self.event(attendee)], self.method, zones_for([self.meeting])).to_ical()


def _description(meeting: Meeting, language: str) -> str:
    parts = [meeting.description.strip()] if meeting.description.strip() else []
    if meeting.agenda:
        items = "\n".join(f"• {item}" for item in meeting.agenda)
        parts.append(f"{agenda_label(language)}:\n{items}")
    return "\n\n".join(parts)


def calendar_of(events: Iterable[Event], method: Method, zones: Iterable[Timezone]) -> Calendar:
    """A VCALENDAR around events, with a VTIMEZONE for every TZID they use."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    for zone in zones:
        cal.add_component(zone)
    for event in events:
        cal.add_component(event)
    return cal


def zones_for(meetings: Iterable[Meeting]) -> list[Timezone]:
    """One VTIMEZONE per zone used, with the rules of the meetings' years."""
    seen: dict[str, int] = {}
    for meeting in meetings:
        if not meeting.all_day:  # an all-day meeting's dates have no zone
            seen.setdefault(meeting.timezone, meeting.first_day.year)
    return [vtimezone(tzid, year) for tzid, year in seen.items()]


# Where a member's ATTENDEE line goes while a prepared calendar is cut: an address no member has.
_STAND_IN = Person("attendee@stand-in.invalid")


class PreparedCalendar:
    """`MeetingEvent.calendar` for every member of a run, serialised once: the calendar is
    written with a stand-in ATTENDEE, and each member's is that text with their own line in
    its place (folded as icalendar folds it). Byte for byte the same calendar."""

    def __init__(self, event: MeetingEvent) -> None:
        self.event = event
        self._vevent = event.event()
        line = self._line(_STAND_IN)
        serialised = event.calendar(_STAND_IN)
        assert serialised.count(line) == 1, "icalendar wrote the stand-in ATTENDEE other than as one line"
        self._head, _, self._tail = serialised.partition(line)

    def _line(self, attendee: Person) -> bytes:
        return self._vevent.content_line("ATTENDEE", self.event.attendee(attendee)).to_ical() + b"\r\n"

    def for_attendee(self, attendee: Person) -> bytes:
        """The calendar addressed to one member alone (no other member's address in it)."""
        return self._head + self._line(attendee) + self._tail


def publish_calendar(
    listings: Iterable[Listing], *, organizer: Person, dtstamp: datetime, language: str
) -> bytes:
    """A plain METHOD:PUBLISH calendar (website "add to calendar", subscribable feed).

    ORGANIZER is required in a PUBLISH (RFC 5546 3.2.1; libical refuses it otherwise); a
    cancelled meeting is carried as STATUS:CANCELLED so that subscribed calendars drop it.
    The calendar is named after the organizer (`sender.name`, the network): the name a
    subscribed calendar shows in Outlook, Google and Apple Calendar (X-WR-CALNAME).
    """
    chosen = list(listings)
    events = [
        MeetingEvent(
            listing.meeting, listing.uid, listing.sequence, dtstamp, "PUBLISH", organizer, language
        ).event()
        for listing in chosen
    ]
    cal = calendar_of(events, "PUBLISH", zones_for(listing.meeting for listing in chosen))
    cal.add("x-wr-calname", vText(organizer.name or organizer.email))  # TEXT: commas escaped
    return cal.to_ical()
