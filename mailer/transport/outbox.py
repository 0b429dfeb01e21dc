"""The outbox: finished messages written as .eml files, and a preview page that lists them.

`preview` writes here instead of sending; the page is made by parsing the written bytes
back, so it shows what would really go out.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import jinja2

from mailer.compose import describe_changes
from mailer.errors import MailerError
from mailer.message import OutgoingMessage
from mailer.plan import Delivery
from mailer.private import private_folder, write_private
from mailer.transport import page
from mailer.words import long_datetime, status_word, time_span

PAGE = "preview.html"
LARGE_MESSAGE = 10 * 1024 * 1024
# Gmail shows only the first 102 KB of an HTML body, behind "[Message clipped]".
GMAIL_CLIPS_HTML = 102 * 1024


class _HeadersParsedOnce(HeaderRegistry):
    """The standard library's header classes, each header value parsed once: the page asks each
    part of a message for its Content-Type many times (finding the bodies, the attachments, the
    calendar), and the standard policy parses the header again on every ask (most of the page's
    time before). A parsed header is a string that is never changed, so one serves every ask."""

    @lru_cache(maxsize=4096)  # noqa: B019 - one instance, kept for the process
    def __call__(self, name: str, value: str) -> BaseHeader:
        return super().__call__(name, value)


PARSED_ONCE = email.policy.default.clone(header_factory=_HeadersParsedOnce())


def campaign_folder(outbox: Path, campaign: str) -> Path:
    """outbox/<campaign>/, the key made safe as a folder name."""
    return outbox / re.sub(r"[^\w.@-]+", "_", campaign)


@dataclass
class PreviewEntry:
    """One message as the preview page shows it."""

    file: str
    to: str
    name: str
    organization: str
    language: str
    kind: str
    subject: str
    size: int
    attachments: list[str]
    headers: str
    text: str
    html: str | None
    event: dict[str, Any] | None
    unsubscribe: str = ""
    address: str = ""  # as the member list writes it (køge, not xn--kge-0na)
    problems: list[str] = field(default_factory=list)
    what: str = ""  # what the message is, in plain words
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field, before, after)


# The files the last preview wrote into a campaign folder, one name a line: the next preview
# removes these and no others.
WRITTEN = ".written-by-mailer"


class Outbox:
    """Writes one .eml per message into a campaign folder, after removing what the previous
    preview wrote there (and nothing else: the folder may hold the coordinator's own files)."""

    def __init__(
        self,
        outbox: Path,
        campaign: str,
        *,
        language: str = "en",
        zone: ZoneInfo,
        max_bytes: int = LARGE_MESSAGE,
        plain: bool = False,
    ) -> None:
        """`plain`: the page's messages parsed back with the standard policy, each header
        parsed on every ask (the path `PARSED_ONCE` must equal)."""
        self.language = language  # the coordinator's, for the page
        self.zone = zone  # the page's times: the meeting's own zone, as status writes them
        self._policy = email.policy.default if plain else PARSED_ONCE
        private_folder(outbox)
        self.folder = private_folder(campaign_folder(outbox, campaign))
        self._written = self.folder / WRITTEN
        earlier = self._written.read_text(encoding="utf-8").splitlines() if self._written.exists() else []
        for name in earlier:
            if name and name == Path(name).name and name != WRITTEN:  # a name in this folder only
                (self.folder / name).unlink(missing_ok=True)
        write_private(self._written, b"")
        self.max_bytes = max_bytes
        self.entries: list[PreviewEntry] = []

    def _write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        if path.exists():
            raise MailerError(
                f"the preview would replace {name}, which mailer did not write: move it away, or "
                "preview into another folder with --out",
                path=self.folder,
            )
        with self._written.open("a", encoding="utf-8") as written:
            written.write(name + "\n")  # before the file: a run stopped midway leaves none unlisted
        write_private(path, data)
        return path

    def write(self, delivery: Delivery, outgoing: OutgoingMessage) -> Path:
        number = len(self.entries) + 1
        safe = re.sub(r"[^\w.@-]+", "_", outgoing.rcpt_to)
        path = self._write(f"{number:04d}-{safe}.eml", outgoing.data)
        self.entries.append(self._entry(path, delivery, outgoing))
        return path

    def _entry(self, path: Path, delivery: Delivery, outgoing: OutgoingMessage) -> PreviewEntry:
        parsed = email.message_from_bytes(outgoing.data, policy=self._policy)
        assert isinstance(parsed, EmailMessage)
        text = _body(parsed, "plain") or ""
        html = _body(parsed, "html")
        member = delivery.member
        w = page.words(self.language)
        event = _event(parsed, self.language)
        problems = [
            w[key].format(**values)
            for key, values in _problems(text, html, len(outgoing.data), self.max_bytes)
        ]
        if not member.name:
            problems.append(w["member_no_name"])
        if not member.organization and member.lines:  # one taken off the list has no row to fix
            problems.append(w["member_no_org"])
        if event is not None and not event["location"]:
            problems.append(w["meeting_no_place"])
        meeting = delivery.campaign.meeting
        changes = (
            [
                (c.field, c.before, c.after)
                for c in describe_changes(delivery.previous, meeting, self.language)
            ]
            if delivery.kind == "update" and meeting is not None
            else []
        )
        return PreviewEntry(
            file=path.name,
            to=f"{member.name} <{member.email}>" if member.name else member.email,
            name=member.name,
            organization=member.organization,
            language=member.language,
            kind=delivery.kind,
            subject=str(parsed["Subject"]),
            size=len(outgoing.data),
            attachments=[p.get_filename() or "" for p in parsed.iter_attachments()],
            headers="\n".join(f"{k}: {v}" for k, v in parsed.items()),
            text=text,
            html=html,
            event=event,
            unsubscribe=str(parsed.get("List-Unsubscribe", "")),
            address=member.email,
            problems=problems,
            what=page.what(delivery, self.language),
            changes=changes,
        )

    def write_index(
        self, title: str, now: datetime, *, skipped: int = 0, removed: Iterable[str] = ()
    ) -> Path:
        """The page: the run's summary (kinds, languages, what changed, who is left out), then
        every message; `skipped` members already have it, `removed` ones left the list."""
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("mailer", "pages"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        w = page.words(self.language)
        notes = [w["skipped"].format(n=skipped)] if skipped else []
        notes += [w["removed"].format(email=email) for email in removed]
        text = env.get_template(PAGE).render(
            w=w,
            lang=self.language,
            title=title,
            made=long_datetime(now.astimezone(self.zone), self.language),
            entries=self.entries,
            notes=notes,
            problems=sum(1 for e in self.entries if e.problems),
            summary=page.summary(
                [e.what for e in self.entries], [e.language for e in self.entries], self.language
            ),
            changes=list(dict.fromkeys(change for e in self.entries for change in e.changes)),
            language_names=page.LANGUAGE_NAMES.get(self.language, page.LANGUAGE_NAMES["en"]),
        )
        return self._write("index.html", text.encode("utf-8"))


def _problems(text: str, html: str | None, size: int, max_bytes: int) -> list[tuple[str, dict[str, str]]]:
    """What the coordinator should look at before sending, found in the built message (each as
    the key of its words and the figures in them)."""
    problems: list[tuple[str, dict[str, str]]] = []
    if not text.strip():
        problems.append(("no_text", {}))
    if html is None:
        problems.append(("no_html", {}))
    else:
        images = re.findall(r"<img\b[^>]*>", html, re.IGNORECASE)
        if any(re.search(r"\bsrc=[\"']?https?://", tag, re.IGNORECASE) for tag in images):
            problems.append(("remote_images", {}))
        if any(not re.search(r"\balt=[\"'][^\"']", tag, re.IGNORECASE) for tag in images):
            problems.append(("no_alt", {}))
        if len(html.encode()) > GMAIL_CLIPS_HTML:
            problems.append(("clipped", {"kb": f"{len(html.encode()) / 1024:.0f}"}))
    if size > max_bytes:
        problems.append(("large", {"mb": f"{size / 1e6:.1f}"}))
    return problems


def _body(msg: EmailMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def _event(msg: EmailMessage, language: str) -> dict[str, Any] | None:
    """A readable summary of the invitation the message carries, if any.

    Only the inline iMIP part counts: an attached "add to calendar" file is not an invitation.
    """
    for part in msg.walk():
        if part.get_content_type() == "text/calendar" and not part.is_attachment():
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)  # a leaf part decodes to bytes
            cal = icalendar.Calendar.from_ical(data)
            event = next(iter(cal.walk("VEVENT")), None)
            if event is None:
                return None
            start = event.decoded("dtstart")
            end = event.decoded("dtend")
            return {
                "method": str(cal.get("method", "")),
                "sequence": int(event.get("sequence", 0)),
                "uid": str(event.get("uid")),
                "status": str(event.get("status", "")),
                "summary": str(event.get("summary", "")),
                "location": str(event.get("location", "")),
                "status_word": status_word(str(event.get("status", "")).lower(), language),
                # In the meeting's own zone (the TZID it was written with), as its texts say it.
                "when": time_span(start, end, language),
                "attendee": str(event.get("attendee", "")),
            }
    return None
