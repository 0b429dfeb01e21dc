"""Assembling one member's email: headers, text and HTML bodies, the calendar, attachments.

Built with the standard library's `email.mime` classes; the parts every member shares
(attachments) are built once and reused, so that only what differs per member is made
in the per-member loop (see MEASURED.md).
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import quopri
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email._policybase import Compat32
from email.charset import BASE64, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from mailer.errors import TemplateError
from mailer.templates import Rendered


class _WirePolicy(Compat32):
    """CRLF line ends and RFC 2047 headers; ASCII headers that already fit skip the costly folder."""

    def _fold(self, name: str, value: object, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii() and "\r" not in value:
            lines = f"{name}: {value}".split("\n")
            limit = self.max_line_length or 78
            if all(len(line) <= limit for line in lines) and all(line[:1] in " \t" for line in lines[1:]):
                return self.linesep.join(lines) + self.linesep
        return str(super()._fold(name, value, sanitize))  # type: ignore[misc]  # Compat32's, not in typeshed


class _WireGenerator(BytesGenerator):
    """The standard generator, writing each body in one piece rather than line by line."""

    def _write_lines(self, lines: str) -> None:
        if lines:
            self.write(lines.replace("\r\n", "\n").replace("\r", "\n").replace("\n", self._NL))  # type: ignore[attr-defined]


# 76: RFC 2047 section 2 limits lines holding encoded-words to 76 characters (words to 75).
WIRE = _WirePolicy(linesep="\r\n", max_line_length=76)


@dataclass(frozen=True)
class Attachment:
    """A file every member's message carries, read and encoded once per run."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"

    @classmethod
    def from_path(cls, path: Path) -> Attachment:
        kind, _ = mimetypes.guess_type(path.name)
        return cls(path.name, path.read_bytes(), kind or "application/octet-stream")

    def part(self) -> Message:
        maintype, _, subtype = self.content_type.partition("/")
        part = MIMEBase(maintype, subtype)
        part.set_payload(base64.encodebytes(self.data).decode("ascii"))
        part["Content-Transfer-Encoding"] = "base64"
        # RFC 2231 for a name with æøå, so it arrives intact in every client.
        part.add_header("Content-Disposition", "attachment", filename=_filename_param(self.filename))
        del part["MIME-Version"]
        return part


def _filename_param(name: str) -> str | tuple[str, str, str]:
    return name if name.isascii() else ("utf-8", "", name)


@dataclass(frozen=True)
class CalendarPart:
    """An iMIP calendar (RFC 6047): inline in the body and again as invite.ics."""

    method: str
    data: bytes
    filename: str = "invite.ics"


@dataclass(frozen=True)
class Envelope:
    """A finished message and where it goes: what the outbox writes and SMTP sends."""

    mail_from: str
    rcpt_to: str
    message_id: str
    subject: str
    data: bytes
    attachments: tuple[str, ...] = ()


def message_id(campaign: str, member_key: str, version: str, domain: str) -> str:
    """The same message rebuilt gets the same id, so a re-sent duplicate can be recognised."""
    digest = hashlib.sha256(f"{campaign}\0{member_key}\0{version}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _text_part(text: str, subtype: str) -> Message:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    del part["MIME-Version"]
    if text.isascii() and all(len(line) <= 76 for line in text.splitlines()):
        part.set_payload(text)
        part["Content-Transfer-Encoding"] = "7bit"
    else:
        # Quoted-printable keeps Danish text readable in a raw .eml and lines short.
        part.set_payload(quopri.encodestring(text.encode("utf-8")).decode("ascii"))
        part["Content-Transfer-Encoding"] = "quoted-printable"
    return part


def _calendar_inline(calendar: CalendarPart) -> Message:
    part = MIMENonMultipart("text", "calendar", method=calendar.method, charset="UTF-8")
    del part["MIME-Version"]
    part.set_payload(base64.encodebytes(calendar.data).decode("ascii"))
    part["Content-Transfer-Encoding"] = "base64"
    return part


def _calendar_file(calendar: CalendarPart) -> Message:
    part = MIMENonMultipart("application", "ics", name=calendar.filename)
    del part["MIME-Version"]
    part.set_payload(base64.encodebytes(calendar.data).decode("ascii"))
    part["Content-Transfer-Encoding"] = "base64"
    part.add_header("Content-Disposition", "attachment", filename=calendar.filename)
    return part


# RFC 2047 "B" words for non-ASCII headers. The stdlib's default for UTF-8 picks the shorter
# of Q and B for every header, measuring Q character by character: most of the cost of a
# message. B alone is as valid, and every client decodes it.
_UTF8_WORDS = Charset("utf-8")
_UTF8_WORDS.header_encoding = BASE64


@lru_cache(maxsize=1024)
def _header_value(name: str, value: str) -> str:
    """ASCII as is; anything else as RFC 2047 words, the first line leaving room for the name.

    Cached: a campaign's subject is usually the same for every member.
    """
    return (
        value
        if value.isascii()
        else Header(value, _UTF8_WORDS, header_name=name).encode(linesep="\n", maxlinelen=75)
    )


def _address(name: str, email: str) -> str:
    return formataddr((name, email), charset=_UTF8_WORDS) if name else email


def build_message(
    *,
    sender_name: str,
    sender_email: str,
    to_name: str,
    to_email: str,
    rendered: Rendered,
    msg_id: str,
    date: datetime,
    reply_to: str | None = None,
    calendar: CalendarPart | None = None,
    attachments: Iterable[Message] = (),
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """One message to one member only: multipart/mixed around the bodies (RFC 6047 layout).

    `attachments` are prebuilt parts (`Attachment.part()`), shared by every message.
    """
    for value in (to_name, to_email, rendered.subject, *(headers or {}).values()):
        if "\r" in value or "\n" in value:  # data must never make a header
            raise TemplateError(f"line break in a header value: {value!r}", field=to_email)
    seed = msg_id.strip("<>").partition("@")[0][:16]  # short enough that Content-Type fits one line
    bodies: list[Message] = [_text_part(rendered.text, "plain")]
    if rendered.html is not None:
        bodies.append(_text_part(rendered.html, "html"))
    if calendar is not None:
        bodies.append(_calendar_inline(calendar))
    shared = list(attachments)
    if calendar is not None:
        shared.append(_calendar_file(calendar))
    if len(bodies) == 1:
        body = bodies[0]
    else:
        body = MIMEMultipart("alternative", boundary=f"=_alt_{seed}", _subparts=bodies)
        del body["MIME-Version"]
    if shared:
        msg: Message = MIMEMultipart("mixed", boundary=f"=_mix_{seed}", _subparts=[body, *shared])
    else:
        msg = body
        msg["MIME-Version"] = "1.0"
    msg["From"] = _address(sender_name, sender_email)
    msg["To"] = _address(to_name, to_email)
    msg["Subject"] = _header_value("Subject", rendered.subject)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = msg_id
    for name, value in (headers or {}).items():
        msg[name] = _header_value(name, value)
    out = BytesIO()
    _WireGenerator(out, mangle_from_=False, policy=WIRE).flatten(msg)
    return out.getvalue()
