"""Answers the coordinator enters by hand (`mailer answer`): given by phone, in person or in a
plain reply ("Ja tak, jeg kommer"). They count like a calendar answer; the newest wins.
"""

from __future__ import annotations

from datetime import datetime

from mailer.addresses import address_key
from mailer.config import Settings
from mailer.errors import ConfigError
from mailer.journal import Answer, Journal

BY_HAND = "entered by hand"


def record_by_hand(
    settings: Settings, journal: Journal, meeting_id: str, address: str, answer: str, note: str, now: datetime
) -> Answer:
    """Record `answer` (accepted, declined or tentative) for an invited member of the meeting."""
    known = {m.id for m in settings.meetings} | set(journal.meeting_ids())
    if meeting_id not in known:
        settings.meeting(meeting_id)  # the usual "no meeting ... (known: ...)" error
    invited = journal.invited(meeting_id)
    key = address_key(address)
    if key not in invited:
        raise ConfigError(
            f"{address} was not invited to {meeting_id}: send the invitation first "
            f"(mailer send invitation --meeting {meeting_id} --only {address})",
            field="answer",
        )
    state = journal.meeting(meeting_id)
    recorded = Answer(
        meeting_id=meeting_id,
        recipient=key,
        partstat=answer.upper(),
        sequence=state.sequence if state else None,
        answered_at=now.isoformat(timespec="seconds"),
        source=BY_HAND,
        comment=" ".join(note.split()),
    )
    journal.back_up("answer")
    journal.record_answer(recorded)
    return recorded
