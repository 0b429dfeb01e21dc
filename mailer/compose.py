"""Turning planned deliveries into finished messages: render, calendar, assemble.

Everything that is the same for every member of a campaign (the calendar without its
ATTENDEE, meeting texts per language, shared attachments) is made once here and reused.
Bulk templates (newsletters) also get the list headers large providers require of bulk
senders; invitations never do.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from concurrent.futures import BrokenExecutor  # BrokenProcessPool's base, without the pool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import Message
from functools import cache, partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mailer import forked, frames, message
from mailer.attachments import AttachmentFile, attachment_files
from mailer.calendar import MeetingEvent, Person, PreparedCalendar, publish_calendar
from mailer.config import SenderSettings, Settings
from mailer.current import CurrentMeeting, configured_meetings, upcoming
from mailer.errors import ConfigError, MailerError
from mailer.meetings import Meeting, changed_fields
from mailer.message import Attachment, CalendarPart, Draft, Envelope, calendar_params, message_id
from mailer.plan import Campaign, Delivery
from mailer.templates import Rendered, meeting_view
from mailer.words import status_word, when

if TYPE_CHECKING:  # asyncio and the process pool are imported by the runs that build in workers
    import asyncio
    from concurrent.futures import ProcessPoolExecutor


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
    mailto = f"mailto:{sender.email}?subject={UNSUBSCRIBE_SUBJECT}"
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


PARALLEL_FROM = 200  # smaller runs are built in this process: a worker's start costs more
BATCH = 64  # messages a worker builds per request
FIRST_BATCH = 8  # the first request is small, so that the sending starts at once
LOOKAHEAD = 6  # batches asked of each worker ahead of the sending: room to absorb its pauses


def compose_processes(settings: Settings, count: int) -> int:
    """How many worker processes should build `count` messages (0: none, build here; always
    none on the plain path)."""
    if settings.plain:
        return 0
    if settings.smtp.compose_processes is not None:
        return settings.smtp.compose_processes
    if count < PARALLEL_FROM or not forked.can_fork():
        return 0
    return max(0, min(4, (os.cpu_count() or 1) - 1))


# What forked workers build from: set in the parent before the pool forks (at its first
# batch), so the workers inherit the composer and the plan instead of having them pickled.
_FORKED: tuple[Composer, Sequence[Delivery]] | None = None


def _validate_range(composer: Composer, deliveries: Sequence[Delivery]) -> None:
    """What a forked child checks (it inherits the composer and the plan, nothing is pickled)."""
    for delivery in deliveries:
        composer.validate(delivery)


def _batches(total: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of each request to the workers, in order."""
    start, size = 0, FIRST_BATCH
    while start < total:
        stop = min(start + size, total)
        yield start, stop
        start, size = stop, BATCH


def _build_batch(start: int, stop: int) -> list[Envelope]:
    assert _FORKED is not None, "a worker started without the fork start method"
    # Building runs ahead of the sending: on a machine short of cores it must not take turns
    # with it. (The check before sending, which the run waits for, ran at full priority.)
    # Measured on 2 cores: 0.56 -> 0.63-0.68 of the SMTP ceiling.
    forked.into_background()
    composer, deliveries = _FORKED
    return [composer.envelope(deliveries[index]) for index in range(start, stop)]


def _retrieved(future: asyncio.Future[list[Envelope]]) -> None:
    if not future.cancelled():
        future.exception()


@contextmanager
def _worker_failures(doing: str) -> Iterator[None]:
    try:
        yield
    except (BrokenExecutor, forked.ChildDied) as err:
        raise MailerError(
            f"a process {doing} messages stopped unexpectedly (out of memory?); what was sent is "
            "recorded: run the same command again to finish"
        ) from err


class Build:
    """A run's messages: every one checked before the first is sent, then built in order.

    With `processes`, forked processes share the checking, then as many workers do the
    building a few batches ahead of the sending (memory stays bounded), while this process
    sends.
    """

    def __init__(self, composer: Composer, deliveries: Sequence[Delivery], processes: int = 0) -> None:
        self.composer = composer
        self.deliveries = deliveries
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Build:
        global _FORKED
        if self.processes > 0:
            _FORKED = (self.composer, self.deliveries)
            self._pool = forked.pool(self.processes)
        return self

    def __exit__(self, *exc: object) -> None:
        global _FORKED
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        _FORKED = None

    def validate(self) -> None:
        """Render every member's message (the template parts that can fail for one member) and
        build one whole message per campaign (attachments, layout, headers): a bad row or a
        template that fails for one member never leaves half a run sent.

        With workers, as many forked children each check a range of their own while this
        process checks the first: they start at once, where the pool's workers would get a
        range only once the pool's threads had had the GIL from this busy thread (10-20 ms
        late). Measured on 2 cores, 5,000 messages: 74-78 -> 65 ms.
        """
        total = len(self.deliveries)
        mine = total
        children: list[forked.Child[None]] = []
        try:
            if self.processes > 0 and total:
                mine = -(-total // (self.processes + 1))
                for start in range(mine, total, mine):
                    theirs = self.deliveries[start : start + mine]
                    children.append(forked.Child(partial(_validate_range, self.composer, theirs)))
            first: dict[str, Delivery] = {}
            for delivery in self.deliveries:
                first.setdefault(delivery.campaign.key, delivery)
            for delivery in first.values():
                self.composer.require_size(self.composer.envelope(delivery), delivery.campaign)
            for delivery in self.deliveries[:mine]:
                self.composer.validate(delivery)
            with _worker_failures("checking"):
                for child in children:
                    child.result()  # a child's TemplateError is raised here
        finally:
            for child in children:
                child.end()

    async def envelopes(self, count: int | None = None) -> AsyncIterator[tuple[Delivery, Envelope]]:
        """The first `count` (all) deliveries with their messages, in order."""
        total = len(self.deliveries) if count is None else min(count, len(self.deliveries))
        if self._pool is None:
            for delivery in self.deliveries[:total]:
                yield delivery, self.composer.envelope(delivery)
            return
        import asyncio

        loop = asyncio.get_running_loop()
        batches = _batches(total)
        pending: deque[tuple[int, asyncio.Future[list[Envelope]]]] = deque()
        pool = self._pool

        def submit() -> None:
            batch = next(batches, None)
            if batch is not None:
                pending.append((batch[0], loop.run_in_executor(pool, _build_batch, *batch)))

        broken = False
        try:
            for _ in range(self.processes * LOOKAHEAD):
                submit()
            while pending:
                start, future = pending.popleft()
                with _worker_failures("building"):
                    try:
                        envelopes = await future
                    except BrokenExecutor:
                        broken = True
                        raise
                submit()
                for offset, envelope in enumerate(envelopes):
                    yield self.deliveries[start + offset], envelope
        finally:
            # A broken pool fails every batch still asked of it, from its own thread; cancelling
            # them here as well races with that, and on CPython 3.11 the pool's thread can die
            # of it before stopping the other workers (the run then hangs at its exit).
            for _, future in pending:
                if broken:
                    future.add_done_callback(_retrieved)  # the error was told once, not per batch
                else:
                    future.cancel()


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
        self.organizer = Person(self.sender.email, self.sender.name)
        self._calendars: dict[tuple[str, str, int, str], PreparedCalendar] = {}
        self._files: dict[str, list[Attachment]] = {}
        self._attachments: dict[str, list[Message]] = {}
        self._names: dict[str, tuple[str, ...]] = {}
        self._write = message.build_message if settings.plain else frames.build_message

    def compose(self, deliveries: Iterable[Delivery]) -> Iterator[tuple[Delivery, Envelope]]:
        for delivery in deliveries:
            yield delivery, self.envelope(delivery)

    def envelope(self, delivery: Delivery, *, subject_prefix: str = "") -> Envelope:
        """The member's message; `subject_prefix` marks a test copy ("[TEST] ")."""
        campaign, member = delivery.campaign, delivery.member
        language = campaign.template.variant(member.language)
        rendered = self.rendered(delivery)
        if subject_prefix:
            rendered = replace(rendered, subject=subject_prefix + rendered.subject)
        calendar = self._calendar_part(campaign, member.address, member.name, language)
        # A re-run after a crash rebuilds the same Message-ID; an explicit --resend gets a new one.
        version = f"{campaign.version}@{self.now.isoformat()}" if campaign.resend else campaign.version
        msg_id = message_id(campaign.key, member.key, version, self.sender.domain)
        parts = self._shared_parts(campaign, language)
        draft = Draft(
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
            headers=self._headers(campaign, member.address),
        )
        data = self._write(draft)
        names = self._names[f"{campaign.key}\0{language}"] + ((calendar.filename,) if calendar else ())
        return Envelope(self.sender.email, member.address, msg_id, rendered.subject, data, names)

    def require_size(self, envelope: Envelope, campaign: Campaign) -> None:
        """Refuse what the server would refuse for its size (smtp.max_message_mb)."""
        size = len(envelope.data)
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
            coming = upcoming(self.meetings, self.now)
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
