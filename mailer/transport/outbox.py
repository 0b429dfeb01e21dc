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
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import jinja2

from mailer.message import Envelope
from mailer.plan import Delivery
from mailer.templates import clock, long_datetime

PAGE = "preview.html"
LARGE_MESSAGE = 10 * 1024 * 1024
LOCAL = ZoneInfo("Europe/Copenhagen")


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
    problems: list[str] = field(default_factory=list)


class Outbox:
    """Writes one .eml per message into a fresh campaign folder."""

    def __init__(self, outbox: Path, campaign: str, *, max_bytes: int = LARGE_MESSAGE) -> None:
        self.folder = campaign_folder(outbox, campaign)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.eml"):
            old.unlink()
        self.max_bytes = max_bytes
        self.entries: list[PreviewEntry] = []

    def write(self, delivery: Delivery, envelope: Envelope) -> Path:
        number = len(self.entries) + 1
        safe = re.sub(r"[^\w.@-]+", "_", envelope.rcpt_to)
        path = self.folder / f"{number:04d}-{safe}.eml"
        path.write_bytes(envelope.data)
        self.entries.append(self._entry(path, delivery, envelope))
        return path

    def _entry(self, path: Path, delivery: Delivery, envelope: Envelope) -> PreviewEntry:
        parsed = email.message_from_bytes(envelope.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        text = _body(parsed, "plain") or ""
        html = _body(parsed, "html")
        problems = []
        if html is None:
            problems.append("no HTML part: members see the text only")
        elif re.search(r"<img[^>]+src=[\"']https?://", html):
            problems.append("remote images: many clients block them until the member allows it")
        if len(envelope.data) > self.max_bytes:
            problems.append(f"large message: {len(envelope.data) / 1e6:.1f} MB")
        member = delivery.member
        if not member.name:
            problems.append("the member has no name in the list")
        return PreviewEntry(
            file=path.name,
            to=str(parsed["To"]),
            name=member.name,
            organization=member.organization,
            language=member.language,
            kind=delivery.kind,
            subject=str(parsed["Subject"]),
            size=len(envelope.data),
            attachments=[p.get_filename() or "" for p in parsed.iter_attachments()],
            headers="\n".join(f"{k}: {v}" for k, v in parsed.items()),
            text=text,
            html=html,
            event=_event(parsed, member.language),
            problems=problems,
        )

    def write_index(self, title: str, now: datetime, notes: Iterable[str] = ()) -> Path:
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("mailer", "pages"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        page = env.get_template(PAGE).render(
            title=title,
            made=long_datetime(now.astimezone(LOCAL), "da"),
            entries=self.entries,
            notes=list(notes),
            problems=sum(1 for e in self.entries if e.problems),
        )
        path = self.folder / "index.html"
        path.write_text(page, encoding="utf-8")
        return path


def _body(msg: EmailMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def _event(msg: EmailMessage, language: str) -> dict[str, Any] | None:
    """A readable summary of the invitation the message carries, if any."""
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
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
                "when": f"{long_datetime(start.astimezone(LOCAL), language)}–"
                f"{clock(end.astimezone(LOCAL), language)}",
                "attendee": str(event.get("attendee", "")),
            }
    return None
