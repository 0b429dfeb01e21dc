"""A meeting's state now: config.toml merged with what the journal says members were told.

Every command that shows or publishes a meeting (`check`, `status`, `ics`, `feed`, the
templates' `meetings.upcoming`, a newsletter's calendar file, `send`) asks here, so they
all say the same thing: a meeting cancelled through `mailer cancel` is cancelled everywhere,
and a calendar never carries a SEQUENCE below the one members' calendars already hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from mailer.config import Settings
from mailer.journal import Journal, MeetingState
from mailer.meetings import Listing, Meeting


@dataclass(frozen=True)
class CurrentMeeting:
    """One meeting as members should see it now."""

    meeting: Meeting  # config.toml's, cancelled if members were told it is
    uid: str
    sequence: int  # what members' calendars hold, or will hold after the pending update
    told: MeetingState | None  # what members were last sent (None: never invited)
    configured: Meeting | None  # as config.toml says it (None: taken out of config.toml)

    @property
    def cancelled_elsewhere(self) -> bool:
        """Members were told it is cancelled (`mailer cancel`) but config.toml says otherwise."""
        return self.meeting.cancelled and self.configured is not None and not self.configured.cancelled

    @property
    def changed_since_told(self) -> bool:
        """Members were invited, and the meeting changed since (an update is due)."""
        return self.told is not None and self.told.fingerprint != self.meeting.fingerprint()

    def over(self, now: datetime) -> bool:
        return self.meeting.ends <= now

    def listing(self) -> Listing:
        return Listing(self.meeting, self.uid, self.sequence)


def sequence_for(told: MeetingState | None, meeting: Meeting) -> int:
    """The SEQUENCE members must get for `meeting`: 0 at first, the same while nothing they
    see changed, one above what they hold once it did (RFC 5546 3.2.2)."""
    if told is None:
        return 0
    return told.sequence if told.fingerprint == meeting.fingerprint() else told.sequence + 1


def told_cancelled(told: MeetingState | None) -> bool:
    return told is not None and told.snapshot.get("status") == "cancelled"


def current_meeting(settings: Settings, journal: Journal, meeting_id: str) -> CurrentMeeting:
    """The meeting `meeting_id` now; one taken out of config.toml as members were last told it."""
    told = journal.meeting(meeting_id)
    configured = next((m for m in settings.meetings if m.id == meeting_id), None)
    if configured is None:
        if told is None:
            settings.meeting(meeting_id)  # the usual "no meeting ..., known: ..." error
        assert told is not None
        meeting = Meeting(id=meeting_id, **told.snapshot)
    elif told_cancelled(told) and not configured.cancelled:
        meeting = configured.model_copy(update={"status": "cancelled"})
    else:
        meeting = configured
    uid = told.uid if told is not None else meeting.uid(settings.sender.domain)
    return CurrentMeeting(meeting, uid, sequence_for(told, meeting), told, configured)


def current_meetings(settings: Settings, journal: Journal) -> list[CurrentMeeting]:
    """Every meeting in config.toml, then those only the journal still knows, soonest first."""
    ids = [m.id for m in settings.meetings]
    ids += [i for i in journal.meeting_ids() if i not in ids]
    found = [current_meeting(settings, journal, meeting_id) for meeting_id in ids]
    return sorted(found, key=lambda c: c.meeting.begins)


def configured_meetings(settings: Settings) -> list[CurrentMeeting]:
    """The meetings as config.toml alone says them (where no journal is at hand)."""
    return sorted(
        (CurrentMeeting(m, m.uid(settings.sender.domain), 0, None, m) for m in settings.meetings),
        key=lambda c: c.meeting.begins,
    )


def upcoming(meetings: Iterable[CurrentMeeting], now: datetime) -> list[CurrentMeeting]:
    """Not yet over and not cancelled: what a newsletter lists."""
    return [c for c in meetings if not c.meeting.cancelled and not c.over(now)]


def published(meetings: Iterable[CurrentMeeting], now: datetime) -> list[CurrentMeeting]:
    """What the subscribable feed and a newsletter's calendar file carry: every meeting not yet
    over, the cancelled ones as cancelled, so that a calendar which took one from an earlier
    feed or newsletter drops it."""
    return [c for c in meetings if not c.over(now)]
