"""Members' answers: iMIP REPLY messages (RFC 6047) found by `mailer inbox`, matched to a
meeting by UID and to an invited member by address, and recorded in the journal (the newest
answer per member wins).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from icalendar import Calendar

from mailer.addresses import address_key
from mailer.calendar import is_test_uid
from mailer.config import Settings
from mailer.errors import ReplyError
from mailer.journal import Answer, Journal
from mailer.outcomes import DeliveryRecord

ANSWERS = ("ACCEPTED", "DECLINED", "TENTATIVE")
CALENDAR_TYPES = ("text/calendar", "application/ics")


@dataclass(frozen=True)
class Reply:
    """One attendee's answer as a REPLY calendar states it."""

    uid: str
    address: str  # the answering attendee, without mailto:, as mailer compares it (`address_key`)
    partstat: str
    answered_at: datetime  # DTSTAMP of the reply (the message's Date: when it has none)
    sequence: int | None = None
    delegated_from: tuple[str, ...] = ()  # RFC 5546 4.2.5: a delegate answering for these
    comment: str = ""


@dataclass(frozen=True)
class Recorded:
    source: str
    answer: Answer
    email: str
    note: str = ""


@dataclass
class RsvpReport:
    """The calendar answers one `mailer inbox` run recorded, and those it left out (with the reason)."""

    recorded: list[Recorded] = field(default_factory=list)
    older: list[Recorded] = field(default_factory=list)  # a newer answer was already recorded
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


# -- reading one message ------------------------------------------------------------------


def replies_in(raw: bytes) -> list[Reply]:
    """The answers in one message; ReplyError says why there are none."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = calendar_parts(msg)
    if not parts:
        raise ReplyError("no calendar in the message (not an answer)")
    sent_at = _message_date(msg)
    found: list[Reply] = []
    problems: list[str] = []
    for data, method in parts:
        try:
            found += _replies_in_calendar(data, method, sent_at)
        except ReplyError as err:
            problems.append(err.message)
    if not found:
        raise ReplyError(problems[0])
    unique: dict[tuple[str, str, str], Reply] = {}
    for reply in found:  # Gmail sends the same calendar inline and as invite.ics
        unique.setdefault((reply.uid, reply.address, reply.partstat), reply)
    return list(unique.values())


def calendar_parts(msg: Message) -> list[tuple[bytes, str]]:
    """Each calendar in the message, inline or attached: (bytes, the part's method= or '')."""
    found: list[tuple[bytes, str]] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = (part.get_filename() or "").lower()
        if part.get_content_type() in CALENDAR_TYPES or filename.endswith(".ics"):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and all(data != seen for seen, _ in found):
                found.append((data, str(part.get_param("method") or "").upper()))
    return found


def _replies_in_calendar(data: bytes, part_method: str, sent_at: datetime | None) -> list[Reply]:
    try:
        cal = Calendar.from_ical(data)
    except ValueError as err:
        raise ReplyError(f"the calendar cannot be read: {_first_line(str(err))}") from err
    method = str(cal.get("METHOD", "") or part_method).strip().upper()
    if method != "REPLY":
        raise ReplyError(f"the calendar is METHOD:{method or '(none)'}, not a REPLY (not an answer)")
    events = cal.walk("VEVENT")
    if not events:
        raise ReplyError("the REPLY has no VEVENT")
    replies: list[Reply] = []
    for event in events:
        uid = str(event.get("UID", "")).strip()
        if not uid:
            raise ReplyError("the REPLY's VEVENT has no UID")
        answered_at = _stamp(event.get("DTSTAMP")) or sent_at
        if answered_at is None:
            raise ReplyError(f"the REPLY for {uid} has no DTSTAMP and the message no Date")
        attendees = event.get("ATTENDEE")
        if attendees is None:
            raise ReplyError(f"the REPLY for {uid} has no ATTENDEE")
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            address = calendar_address(str(attendee))
            if not address:
                raise ReplyError(f"the REPLY for {uid} has an ATTENDEE without an address")
            replies.append(
                Reply(
                    uid=uid,
                    address=address,
                    partstat=str(attendee.params.get("PARTSTAT", "")).strip().upper(),
                    answered_at=answered_at,
                    sequence=_integer(event.get("SEQUENCE")),
                    delegated_from=_addresses(attendee.params.get("DELEGATED-FROM")),
                    comment=_comment(event.get("COMMENT")),
                )
            )
    return replies


def calendar_address(value: str) -> str:
    """`MAILTO:Anne@Roskilde.example` -> `anne@roskilde.example` (clients differ in case, and in
    the form of an internationalised domain: `address_key`)."""
    text = value.strip().strip('"').strip()
    if text[:7].casefold() == "mailto:":
        text = text[7:].strip()
    return address_key(text) if "@" in text else ""


def _addresses(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(a for a in (calendar_address(str(item)) for item in items) if a)


def _stamp(value: Any) -> datetime | None:
    moment = getattr(value, "dt", None)
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if isinstance(moment, date):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return None


def _message_date(msg: Message) -> datetime | None:
    value = msg.get("Date")
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _comment(value: Any) -> str:
    if value is None:
        return ""
    items = value if isinstance(value, list) else [value]
    return " ".join(str(item).strip() for item in items).strip()


def _first_line(text: str) -> str:
    """The library's reason without the calendar text it quotes (a cut-off part, a stray byte)."""
    line = text.strip().splitlines()[0] if text.strip() else "not iCalendar"
    line = re.split(r":\s*b['\"]", line, maxsplit=1)[0]
    return line if len(line) <= 120 else line[:117] + "..."


# -- matching and recording ---------------------------------------------------------------


class Answers:
    """Matches replies to meetings (by UID) and invited members (by address), and records them."""

    def __init__(self, settings: Settings, journal: Journal) -> None:
        self.journal = journal
        self.meetings: dict[str, str] = {}
        for meeting_id in journal.meeting_ids():
            state = journal.meeting(meeting_id)
            if state is not None:
                self.meetings[state.uid.casefold()] = meeting_id
        for meeting in settings.meetings:
            self.meetings.setdefault(meeting.uid(settings.sender.domain).casefold(), meeting.id)
        self._invited: dict[str, dict[str, DeliveryRecord]] = {}

    def invited(self, meeting_id: str) -> dict[str, DeliveryRecord]:
        if meeting_id not in self._invited:
            self._invited[meeting_id] = self.journal.invited(meeting_id)
        return self._invited[meeting_id]

    def record(self, source: str, reply: Reply, report: RsvpReport) -> None:
        if is_test_uid(reply.uid):
            report.skipped.append((source, f"{reply.address} answered a test message: not a member's answer"))
            return
        meeting_id = self.meetings.get(reply.uid.casefold())
        if meeting_id is None:
            report.skipped.append((source, f"UID {reply.uid} is not one of our meetings"))
            return
        invited = self.invited(meeting_id)
        note = ""
        member = invited.get(reply.address)
        if member is None:
            delegators = [invited[a] for a in reply.delegated_from if a in invited]
            if not delegators:
                report.skipped.append((source, f"{reply.address} was never invited to {meeting_id}"))
                return
            member = delegators[0]
            note = f"answered by {reply.address}, to whom {member.email} delegated"
        if reply.partstat not in ANSWERS:
            shown = reply.partstat or "(none)"
            report.skipped.append((source, f"{reply.address}: PARTSTAT={shown} is not an answer to count"))
            return
        if reply.comment:
            note = f"{note}; " if note else note
            note += f"comment: {reply.comment}"
        answer = Answer(
            meeting_id=meeting_id,
            recipient=member.recipient,
            partstat=reply.partstat,
            sequence=reply.sequence,
            answered_at=reply.answered_at.isoformat(timespec="seconds"),
            source=source,
            comment=reply.comment,
        )
        kept = self.journal.record_answer(answer)
        (report.recorded if kept else report.older).append(Recorded(source, answer, member.email, note))
