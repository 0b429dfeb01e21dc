"""Calendar files for everyone (METHOD:PUBLISH, no attendee): one meeting for a website's "Add to
calendar" (`mailer ics`), and the feed of every meeting not yet over (`mailer feed`), each as the
meeting stands now (config.toml merged with the journal), the cancelled ones as cancelled.
"""

from __future__ import annotations

from datetime import datetime

from mailer.calendar import Person, publish_calendar
from mailer.config import Settings
from mailer.current import CurrentMeeting, current_meeting, current_meetings, published
from mailer.journal import Journal


def meeting_file(
    settings: Settings, journal: Journal, meeting_id: str, now: datetime
) -> tuple[bytes, CurrentMeeting]:
    """One meeting's calendar file, and the meeting as it stands."""
    meeting = current_meeting(settings, journal, meeting_id)
    return _calendar(settings, [meeting], now), meeting


def feed(settings: Settings, journal: Journal, now: datetime) -> tuple[bytes, list[CurrentMeeting]]:
    """The subscribable calendar of every meeting not yet over, and those meetings."""
    meetings = published(current_meetings(settings, journal), now)
    return _calendar(settings, meetings, now), meetings


def _calendar(settings: Settings, meetings: list[CurrentMeeting], now: datetime) -> bytes:
    organizer = Person(settings.sender.address, settings.sender.name)
    listings = [m.listing() for m in meetings]
    return publish_calendar(listings, organizer=organizer, dtstamp=now, language=settings.sender.language)
