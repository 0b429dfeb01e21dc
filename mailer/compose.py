"""Turning planned deliveries into finished messages: render, calendar, assemble.

Everything that is the same for every member of a campaign (the calendar without its
ATTENDEE, meeting texts per language, shared attachments) is made once here and reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from functools import cache
from typing import Any

from mailer.calendar import Person, PreparedCalendar, publish_calendar
from mailer.config import Settings
from mailer.errors import ConfigError
from mailer.meetings import Meeting, changed_fields, upcoming_meetings
from mailer.message import Attachment, CalendarPart, Envelope, build_message, message_id
from mailer.plan import Campaign, Delivery
from mailer.templates import Rendered, clock, long_datetime, meeting_view


@dataclass(frozen=True)
class Change:
    """One thing about a meeting that changed since the member was last told, in their words."""

    field: str  # time | title | location | description | agenda | status
    before: str
    after: str


def describe_changes(before: dict[str, Any] | None, meeting: Meeting, language: str) -> list[Change]:
    """Old → new for each significant field, dates written for `language`."""
    if not before:
        return []
    old = Meeting(id=meeting.id, **{k: v for k, v in before.items()})
    fields = changed_fields(before, meeting)
    changes: list[Change] = []
    if {"start", "end", "timezone"} & set(fields):
        changes.append(Change("time", _when(old, language), _when(meeting, language)))
    for name in ("title", "location", "description", "status"):
        if name in fields:
            changes.append(Change(name, str(getattr(old, name)), str(getattr(meeting, name))))
    if "agenda" in fields:
        changes.append(Change("agenda", "\n".join(old.agenda), "\n".join(meeting.agenda)))
    return changes


def _when(meeting: Meeting, language: str) -> str:
    return f"{long_datetime(meeting.start, language)}–{clock(meeting.end, language)}"


class Composer:
    """Builds each member's message for a run; holds what is shared across members."""

    def __init__(self, settings: Settings, *, now: datetime) -> None:
        self.settings = settings
        self.now = now
        self.sender = settings.sender
        self.organizer = Person(self.sender.email, self.sender.name)
        self._calendars: dict[tuple[str, str, int, str], PreparedCalendar] = {}
        self._attachments: dict[str, list[Message]] = {}
        self._names: dict[str, tuple[str, ...]] = {}

    def compose(self, deliveries: Iterable[Delivery]) -> Iterator[tuple[Delivery, Envelope]]:
        for delivery in deliveries:
            yield delivery, self.envelope(delivery)

    def envelope(self, delivery: Delivery) -> Envelope:
        campaign, member = delivery.campaign, delivery.member
        language = campaign.template.variant(member.language)
        rendered = self.rendered(delivery)
        calendar = self._calendar_part(campaign, member.address, member.name, language)
        msg_id = message_id(campaign.key, member.key, campaign.version, self.sender.domain)
        parts = self._shared_parts(campaign, language)
        data = build_message(
            sender_name=self.sender.name,
            sender_email=self.sender.email,
            to_name=member.name,
            to_email=member.address,
            rendered=rendered,
            msg_id=msg_id,
            date=self.now,
            reply_to=self.sender.reply_to,
            calendar=calendar,
            attachments=parts,
        )
        names = self._names[campaign.key] + ((calendar.filename,) if calendar else ())
        return Envelope(self.sender.email, member.address, msg_id, rendered.subject, data, names)

    def rendered(self, delivery: Delivery) -> Rendered:
        """Subject and bodies alone, for validation before a run."""
        language = delivery.campaign.template.variant(delivery.member.language)
        return delivery.campaign.template.render(language, self.context(delivery, language))

    def context(self, delivery: Delivery, language: str) -> dict[str, Any]:
        campaign = delivery.campaign
        meeting = campaign.meeting
        context: dict[str, Any] = {
            "recipient": delivery.member.context(),
            "sender": self._sender_view(),
            "meetings": {"upcoming": self._upcoming(language)},
            "campaign": {"key": campaign.key, "kind": delivery.kind, "sequence": campaign.sequence},
            "update": delivery.kind == "update",
            "changes": [],
        }
        if meeting is not None:
            context["meeting"] = meeting_view(meeting, language)
            context["changes"] = [c.__dict__ for c in describe_changes(delivery.previous, meeting, language)]
        return context

    @cache  # noqa: B019 - one Composer per run
    def _sender_view(self) -> dict[str, Any]:
        return self.sender.model_dump()

    @cache  # noqa: B019 - one Composer per run
    def _upcoming(self, language: str) -> list[dict[str, Any]]:
        return [meeting_view(m, language) for m in upcoming_meetings(self.settings.meetings, self.now)]

    def _calendar_part(self, campaign: Campaign, email: str, name: str, language: str) -> CalendarPart | None:
        if campaign.meeting is None or campaign.method is None:
            return None
        key = (campaign.key, campaign.method, campaign.sequence, language)
        prepared = self._calendars.get(key)
        if prepared is None:
            prepared = PreparedCalendar(
                campaign.meeting,
                uid=campaign.uid,
                sequence=campaign.sequence,
                dtstamp=self.now,
                method=campaign.method,
                organizer=self.organizer,
                language=language,
            )
            self._calendars[key] = prepared
        return CalendarPart(campaign.method, prepared.for_attendee(Person(email, name)))

    def _shared_parts(self, campaign: Campaign, language: str) -> list[Message]:
        """Files every member of the campaign gets, read and encoded once per run."""
        cache_key = f"{campaign.key}\0{language}"
        if cache_key not in self._attachments:
            files = self.attachments(campaign)
            if campaign.template.settings.calendar == "publish":
                upcoming = upcoming_meetings(self.settings.meetings, self.now)
                if upcoming:
                    data = publish_calendar(
                        upcoming, domain=self.sender.domain, dtstamp=self.now, language=language
                    )
                    files.append(Attachment("meetings.ics", data, "text/calendar"))
            self._attachments[cache_key] = [a.part() for a in files]
            self._names[campaign.key] = tuple(a.filename for a in files)
        return self._attachments[cache_key]

    def attachments(self, campaign: Campaign) -> list[Attachment]:
        """The template's files, then the meeting's; a missing one is an error."""
        paths = []
        folder = campaign.template.folder / "attachments"
        if folder.is_dir():
            paths += sorted(p for p in folder.iterdir() if p.is_file())
        if campaign.meeting is not None:
            paths += [self.settings.resolve(p) for p in campaign.meeting.attachments]
        found = []
        for path in paths:
            try:
                found.append(Attachment.from_path(path))
            except OSError as err:
                raise ConfigError(f"attachment cannot be read: {err.strerror}", path=path) from err
        return found
