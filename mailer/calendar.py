"""iCalendar objects for meetings: REQUEST, CANCEL and PUBLISH calendars built with `icalendar`.

The part of a calendar that is the same for every member is built once per meeting
(`PreparedCalendar`); only the ATTENDEE line is made per member.
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

from mailer.meetings import Listing, Meeting
from mailer.words import agenda_label

PRODID = "-//Brugernes Rum//mailer//DA"
Method = Literal["REQUEST", "CANCEL", "PUBLISH"]
STATUS = {"tentative": "TENTATIVE", "confirmed": "CONFIRMED", "cancelled": "CANCELLED"}
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_END_EVENT = b"END:VEVENT\r\n"
_BEGIN_ALARM = b"BEGIN:VALARM\r\n"


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


def meeting_event(
    meeting: Meeting,
    *,
    uid: str,
    sequence: int,
    dtstamp: datetime,
    method: Method,
    organizer: Person | None,
    language: str,
) -> Event:
    """The VEVENT every member of a meeting gets, without ATTENDEE."""
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", dtstamp.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("dtstart", meeting.dtstart)  # a date alone is written VALUE=DATE
    event.add("dtend", meeting.dtend)
    event.add("summary", meeting.title)
    if meeting.location:
        event.add("location", meeting.location)
    description = _description(meeting, language)
    if description:
        event.add("description", description)
    event.add("status", "CANCELLED" if method == "CANCEL" else STATUS[meeting.status])
    event.add("transp", "OPAQUE")
    if organizer is not None:
        event.add("organizer", organizer.address())
    if meeting.reminder and method != "CANCEL":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", meeting.title)
        alarm.add("trigger", -meeting.reminder)
        event.add_component(alarm)
    return event


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


class PreparedCalendar:
    """One meeting's REQUEST or CANCEL calendar, serialised once; attendees added per member."""

    def __init__(
        self,
        meeting: Meeting,
        *,
        uid: str,
        sequence: int,
        dtstamp: datetime,
        method: Method,
        organizer: Person,
        language: str,
    ) -> None:
        self.method = method
        self.meeting = meeting
        self.sequence = sequence
        event = meeting_event(
            meeting,
            uid=uid,
            sequence=sequence,
            dtstamp=dtstamp,
            method=method,
            organizer=organizer,
            language=language,
        )
        self._event = event
        serialised = calendar_of([event], method, zones_for([meeting])).to_ical()
        # ATTENDEE goes with the event's properties, before any VALARM (RFC 5545 3.6.1 grammar).
        cut = serialised.find(_BEGIN_ALARM)
        if cut < 0:
            cut = serialised.rfind(_END_EVENT)
        assert cut >= 0, "icalendar wrote a calendar without END:VEVENT"
        self._head, self._tail = serialised[:cut], serialised[cut:]

    def for_attendee(self, attendee: Person) -> bytes:
        """The calendar addressed to one member alone (no other member's address in it)."""
        params = {"role": "REQ-PARTICIPANT", "cutype": "INDIVIDUAL"}
        if self.method == "REQUEST":
            params |= {"partstat": "NEEDS-ACTION", "rsvp": "TRUE"}
        line = self._event.content_line("ATTENDEE", attendee.address(**params)).to_ical()
        return self._head + line + b"\r\n" + self._tail


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
        meeting_event(
            listing.meeting,
            uid=listing.uid,
            sequence=listing.sequence,
            dtstamp=dtstamp,
            method="PUBLISH",
            organizer=organizer,
            language=language,
        )
        for listing in chosen
    ]
    cal = calendar_of(events, "PUBLISH", zones_for(listing.meeting for listing in chosen))
    cal.add("x-wr-calname", vText(organizer.name or organizer.email))  # TEXT: commas escaped
    return cal.to_ical()
