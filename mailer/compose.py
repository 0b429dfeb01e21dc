"""Turning planned deliveries into finished messages: render, calendar, assemble.

Everything that is the same for every member of a campaign (the calendar without its
ATTENDEE, meeting texts per language, shared attachments) is made once here and reused.
Bulk templates (newsletters) also get the list headers large providers require of bulk
senders; invitations never do.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import Message
from functools import cache
from typing import Any
from urllib.parse import quote

from mailer import forked, frames, message
from mailer.attachments import AttachmentFile, attachment_files
from mailer.calendar import MeetingEvent, Person, PreparedCalendar, publish_calendar
from mailer.config import SenderSettings, Settings
from mailer.current import CurrentMeeting, configured_meetings, published, upcoming
from mailer.errors import ConfigError
from mailer.meetings import Meeting, changed_fields
from mailer.message import Attachment, CalendarPart, Draft, OutgoingMessage, calendar_params, message_id
from mailer.plan import Campaign, Delivery
from mailer.templates import Rendered, meeting_view
from mailer.words import status_word, when


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
        changes.append(Change("time", when(old, language), when(meeting, language)))
    for name in ("title", "location", "description"):
        if name in fields:
            changes.append(Change(name, str(getattr(old, name)), str(getattr(meeting, name))))
    if "status" in fields:
        changes.append(
            Change("status", status_word(old.status, language), status_word(meeting.status, language))
        )
    if "agenda" in fields:
        changes.append(Change("agenda", "\n".join(old.agenda), "\n".join(meeting.agenda)))
    if "attachments" in fields:
        names = [", ".join(path.name for path in m.attachments) for m in (old, meeting)]
        changes.append(Change("attachments", *names))
    if "reminder" in fields:
        changes.append(Change("reminder", str(old.reminder or ""), str(meeting.reminder or "")))
    return changes


@dataclass(frozen=True)
class Unsubscribe:
    """How one member leaves the list: a mail to the sender, and a web link when configured.

    `sender.unsubscribe_url` may contain `{email}`, replaced by the member's address
    (percent-encoded), which makes the link per member. Only such a link can honour an
    RFC 8058 one-click POST, whose body names nobody; a link without `{email}` is a page
    for everyone, offered in List-Unsubscribe but not as one-click.
    """

    mailto: str
    url: str | None = None
    personal: bool = False  # the url names the member

    @property
    def one_click(self) -> bool:
        return self.url is not None and self.url.startswith("https://") and self.personal


UNSUBSCRIBE_SUBJECT = "unsubscribe"  # what `mailer inbox` knows an unsubscribe request by


def unsubscribe_for(sender: SenderSettings, address: str) -> Unsubscribe:
    mailto = f"mailto:{sender.address}?subject={UNSUBSCRIBE_SUBJECT}"
    template = sender.unsubscribe_url
    if not template:
        return Unsubscribe(mailto)
    url = template.replace("{email}", quote(address, safe=""))
    return Unsubscribe(mailto, url, "{email}" in template)


def list_id(sender: SenderSettings) -> str:
    """RFC 2919: 'Brugernes Rum <brugernes-rum.roskilde.example>', stable for the list's life."""
    folded = sender.name.casefold().replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    ascii_name = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-") or "list"
    label = sender.name if sender.name.isascii() and re.fullmatch(r"[\w .-]+", sender.name) else ""
    return f"{label} <{slug}.{sender.domain}>".lstrip()


def list_headers(sender: SenderSettings, unsubscribe: Unsubscribe) -> dict[str, str]:
    """List-Id, List-Unsubscribe (RFC 2369), one-click (RFC 8058) and the bulk markers.

    Precedence and Auto-Submitted (RFC 3834) keep vacation auto-replies away.
    """
    links = f"<{unsubscribe.mailto}>" + (f", <{unsubscribe.url}>" if unsubscribe.url else "")
    headers = {"List-Id": list_id(sender), "List-Unsubscribe": links}
    if unsubscribe.one_click:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["Precedence"] = "bulk"
    headers["Auto-Submitted"] = "auto-generated"
    return headers


RUN_AGAIN = "; what was sent is recorded: run the same command again to finish"


class Composer:
    """Builds each member's message for a run; holds what is shared across members.

    On the plain path (`settings.plain`) each member's calendar, publish calendar and message
    are built whole for them; otherwise the calendar is a `PreparedCalendar`, the shared parts
    are built once and the message is written by `mailer.frames`: the same bytes.
    """

    def __init__(
        self, settings: Settings, *, now: datetime, meetings: Sequence[CurrentMeeting] | None = None
    ) -> None:
        self.settings = settings
        self.now = now
        # The meetings as they stand (config.toml and the journal); config.toml's alone if not given.
        self.meetings = list(meetings) if meetings is not None else configured_meetings(settings)
        self.sender = settings.sender
        self.organizer = Person(self.sender.address, self.sender.name)
        self._calendars: dict[tuple[str, str, int, str], PreparedCalendar] = {}
        self._files: dict[str, list[Attachment]] = {}
        self._attachments: dict[str, list[Message]] = {}
        self._names: dict[str, tuple[str, ...]] = {}
        self._write = message.build_message if settings.plain else frames.build_message

    def check(self, deliveries: Sequence[Delivery], processes: int = 0) -> None:
        """Render every member's message (the template parts that can fail for one member) and
        build one whole message per campaign (attachments, layout, headers): a bad row or a
        template that fails for one member never leaves half a run sent. With `processes`,
        forked children share the rendering."""
        first: dict[str, Delivery] = {}
        for delivery in deliveries:
            first.setdefault(delivery.campaign.key, delivery)
        for delivery in first.values():
            self.require_size(self.outgoing(delivery), delivery.campaign)
        with forked.stopped_unexpectedly("checking messages", RUN_AGAIN):
            forked.check_all(self.validate, deliveries, processes)

    def compose(self, deliveries: Iterable[Delivery]) -> Iterator[tuple[Delivery, OutgoingMessage]]:
        for delivery in deliveries:
            yield delivery, self.outgoing(delivery)

    def outgoing(
        self, delivery: Delivery, *, subject_prefix: str = "", calendar_from: Campaign | None = None
    ) -> OutgoingMessage:
        """The member's message; `subject_prefix` marks a test copy ("[TEST] "), whose calendar is
        built `calendar_from` a campaign of its own (its own UID, a marked title)."""
        campaign, member = delivery.campaign, delivery.member
        language = campaign.template.variant(member.language)
        rendered = self.rendered(delivery)
        if subject_prefix:
            rendered = replace(rendered, subject=subject_prefix + rendered.subject)
        calendar = self._calendar_part(calendar_from or campaign, member.address, member.name, language)
        # A re-run after a crash rebuilds the same Message-ID; an explicit --resend gets a new one.
        version = f"{campaign.version}@{self.now.isoformat()}" if campaign.resend else campaign.version
        msg_id = message_id(campaign.key, member.key, version, self.sender.domain)
        parts = self._shared_parts(campaign, language)
        draft = Draft(
            sender_name=self.sender.name,
            sender_email=self.sender.address,
            to_name=member.name,
            to_email=member.address,
            rendered=rendered,
            msg_id=msg_id,
            date=self.now,
            reply_to=self.sender.reply_to_address,
            calendar=calendar,
            attachments=parts,
            headers=self._headers(campaign, member.address),
        )
        data = self._write(draft)
        names = self._names[f"{campaign.key}\0{language}"] + ((calendar.filename,) if calendar else ())
        return OutgoingMessage(self.sender.address, member.address, msg_id, rendered.subject, data, names)

    def require_size(self, outgoing: OutgoingMessage, campaign: Campaign) -> None:
        """Refuse what the server would refuse for its size (smtp.max_message_mb)."""
        size = len(outgoing.data)
        limit = self.settings.smtp.max_message_mb
        if size > limit * 1024 * 1024:
            raise ConfigError(
                f"a message is {size / 1048576:.2f} MB ({size:,} bytes), over smtp.max_message_mb "
                f"({limit:g} MB)",
                path=campaign.template.folder,
            )

    def _headers(self, campaign: Campaign, address: str) -> dict[str, str]:
        if not campaign.template.settings.bulk:
            return {}
        return list_headers(self.sender, unsubscribe_for(self.sender, address))

    def rendered(self, delivery: Delivery) -> Rendered:
        """Subject and bodies alone."""
        language = delivery.campaign.template.variant(delivery.member.language)
        return delivery.campaign.template.render(language, self.context(delivery, language))

    def validate(self, delivery: Delivery) -> None:
        """The template parts run for this member (the cheap check before a run)."""
        language = delivery.campaign.template.variant(delivery.member.language)
        delivery.campaign.template.validate(language, self.context(delivery, language))

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
            "unsubscribe": None,
        }
        if campaign.template.settings.bulk:
            links = unsubscribe_for(self.sender, delivery.member.address)
            context["unsubscribe"] = {"mailto": links.mailto, "email": self.sender.email, "url": links.url}
        if meeting is not None:
            context["meeting"] = meeting_view(meeting, language)
            context["changes"] = [c.__dict__ for c in describe_changes(delivery.previous, meeting, language)]
        return context

    @cache  # noqa: B019 - one Composer per run
    def _sender_view(self) -> dict[str, Any]:
        return self.sender.model_dump()

    @cache  # noqa: B019 - one Composer per run
    def _upcoming(self, language: str) -> list[dict[str, Any]]:
        return [meeting_view(c.meeting, language) for c in upcoming(self.meetings, self.now)]

    def _calendar_part(self, campaign: Campaign, email: str, name: str, language: str) -> CalendarPart | None:
        if campaign.meeting is None or campaign.method is None:
            return None
        attendee = Person(email, name)
        key = (campaign.key, campaign.method, campaign.sequence, language)
        prepared = self._calendars.get(key)
        if prepared is None:
            event = MeetingEvent(
                campaign.meeting,
                uid=campaign.uid,
                sequence=campaign.sequence,
                dtstamp=self.now,
                method=campaign.method,
                organizer=self.organizer,
                language=language,
            )
            if self.settings.plain:
                return CalendarPart(campaign.method, event.calendar(attendee))
            prepared = self._calendars[key] = PreparedCalendar(event)
        return CalendarPart(campaign.method, prepared.for_attendee(attendee))

    def _shared_parts(self, campaign: Campaign, language: str) -> list[Message]:
        """Files every member of the campaign gets, read once per run; on the fast path also
        encoded once (the upcoming-meetings calendar once per language, since its texts are in it)."""
        if campaign.key not in self._files:
            self._files[campaign.key] = self.attachments(campaign)
        cache_key = f"{campaign.key}\0{language}"
        if cache_key in self._attachments:
            return self._attachments[cache_key]
        parts = [file.part() for file in self._files[campaign.key]]
        if campaign.template.settings.calendar == "publish":
            coming = published(self.meetings, self.now)  # the cancelled ones as cancelled
            if coming:
                data = publish_calendar(
                    [c.listing() for c in coming],
                    organizer=self.organizer,
                    dtstamp=self.now,
                    language=language,
                )
                calendar = tuple(calendar_params(data).items())
                parts.append(Attachment("meetings.ics", data, "text/calendar", calendar).part())
        self._names[cache_key] = tuple(str(p.get_filename()) for p in parts)
        if not self.settings.plain:
            self._attachments[cache_key] = parts
        return parts

    def attachment_files(self, campaign: Campaign) -> list[AttachmentFile]:
        """The template's files, then the meeting's, where they really are (see attachments.py)."""
        written = campaign.meeting.attachments if campaign.meeting is not None else ()
        return attachment_files(campaign.template.folder, self.settings.base_dir, written)

    def attachments(self, campaign: Campaign) -> list[Attachment]:
        """The template's files, then the meeting's, read; a missing one is an error."""
        found = []
        for file in self.attachment_files(campaign):
            try:
                found.append(Attachment.from_path(file.path, file.name))
            except OSError as err:
                raise ConfigError(f"attachment cannot be read: {err.strerror}", path=file.path) from err
        return found
