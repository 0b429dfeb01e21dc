"""Assembling one member's email: headers, text and HTML bodies, the calendar, attachments.

`build_message` is the plain way, and the definition of every message's bytes: the message as
a tree of the standard library's `email.mime` parts, flattened by its generator. The parts
every member shares (attachments) are built once and reused. `mailer.frames` writes the same
bytes a quicker way; `MAILER_PLAIN=1` makes a run use this one.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import quopri
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.charset import BASE64, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr
from io import BytesIO
from pathlib import Path
from typing import NamedTuple

from mailer.errors import TemplateError
from mailer.templates import Rendered

# RFC 2047 section 2 limits lines holding encoded-words to 76 characters (words to 75).
HEADER_LINE = 76
# CRLF line ends and RFC 2047 headers, folded as `email.header.Header` folds them.
WIRE = compat32.clone(linesep="\r\n", max_line_length=HEADER_LINE)


@dataclass(frozen=True)
class Attachment:
    """A file every member's message carries, read and encoded once per run."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"
    params: tuple[tuple[str, str], ...] = ()  # of the Content-Type

    @classmethod
    def from_path(cls, path: Path, name: str | None = None) -> Attachment:
        """The file at `path`, attached as `name` (its own name by default)."""
        name = name or path.name
        kind, _ = mimetypes.guess_type(name)
        data = path.read_bytes()
        if kind == "text/calendar":
            return cls(name, data, kind, tuple(calendar_params(data).items()))
        return cls(name, data, kind or "application/octet-stream")

    def part(self) -> Message:
        maintype, _, subtype = self.content_type.partition("/")
        part = MIMEBase(maintype, subtype)
        for name, value in self.params:
            part.set_param(name, value)
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
class Draft:
    """One message to one member, before it is written: what `build_message` turns into bytes."""

    sender_name: str
    sender_email: str
    to_name: str
    to_email: str
    rendered: Rendered
    msg_id: str
    date: datetime
    reply_to: str | None = None
    calendar: CalendarPart | None = None
    # Prebuilt parts (`Attachment.part()`), shared by every message of a campaign.
    attachments: Sequence[Message] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # a newsletter's list headers


@dataclass(frozen=True)
class OutgoingMessage:
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


@dataclass(frozen=True)
class Encoders:
    """How text is encoded for mail: RFC 2047 words for headers (`words(header, text)`) and
    quoted-printable for bodies. `PLAIN` is the standard library's own; `mailer.frames` has
    quicker ones that give the same text."""

    words: Callable[[str, str], str]
    quoted_printable: Callable[[str], str]


# Every boundary begins with this. Quoted-printable writes "=" as "=3D" and base64 has no "_",
# so a body that holds it is sent quoted-printable: no content can contain a boundary
# (RFC 2046 section 5.1.1), whatever a member's data or a template writes.
BOUNDARY_MARK = "=_"


def _text_body(text: str, encoders: Encoders) -> tuple[str, str]:
    """A text body's transfer encoding and payload: 7bit when it is ASCII in short lines
    without a boundary's mark; otherwise quoted-printable, whose lines are at most 76."""
    if text.isascii() and BOUNDARY_MARK not in text and all(len(line) <= 76 for line in text.splitlines()):
        return "7bit", text
    # Quoted-printable keeps Danish text readable in a raw .eml and lines short.
    return "quoted-printable", encoders.quoted_printable(text)


def quoted_printable(text: str) -> str:
    """The text's UTF-8, quoted-printable (RFC 2045 section 6.7)."""
    return quopri.encodestring(text.encode("utf-8")).decode("ascii")


# RFC 2047 "B" words for non-ASCII headers. The stdlib's default for UTF-8 picks the shorter
# of Q and B for every header, measuring Q character by character: most of the cost of a
# message. B alone is as valid, and every client decodes it.
UTF8_WORDS = Charset("utf-8")
UTF8_WORDS.header_encoding = BASE64


def encoded_words(name: str, value: str) -> str:
    """RFC 2047 "B" words of at most 75 characters, folded between them; the first line
    leaves room for the header's name."""
    return Header(value, UTF8_WORDS, header_name=name).encode(linesep="\n", maxlinelen=75)


PLAIN = Encoders(words=encoded_words, quoted_printable=quoted_printable)


def _header_value(name: str, value: str, encoders: Encoders) -> str:
    """ASCII as is; anything else as RFC 2047 words."""
    return value if value.isascii() else encoders.words(name, value)


def _text_value(name: str, value: str, encoders: Encoders) -> str:
    """Text a person reads (a subject, a display name): as is when it is plain ASCII that folds
    into short lines at its spaces; otherwise RFC 2047 words, which fold anywhere.

    Text that merely looks like an encoded word ("=?utf-8?b?...?=") is encoded too, or mail
    clients would decode it into something else; and a word too long for a line would make
    one longer than the 998 characters a mail line may have (RFC 5322 section 2.1.1).
    """
    return value if _plain_text(name, value) else encoders.words(name, value)


def _plain_text(name: str, value: str) -> bool:
    longest = HEADER_LINE - len(name) - 4  # "Name: " and a display name's quotes
    return value.isascii() and "=?" not in value and all(len(word) <= longest for word in value.split())


def _address(header: str, name: str, email: str, encoders: Encoders) -> str:
    """'Name <address>' (the name quoted or encoded as it needs), or the bare address."""
    if not name:
        return email
    if _plain_text(header, name):
        return formataddr((name, email))
    return f"{encoders.words(header, name)} <{email}>"


class Layout(NamedTuple):
    """What sets a message's structure and part headers (messages of one layout differ only in
    their `Fill`)."""

    names: tuple[str, ...]  # the top-level headers, in order
    text: str  # the text body's transfer encoding
    html: str | None  # the HTML body's, None without one
    calendar: tuple[str, str] | None  # method and file name
    attachments: tuple[Message, ...]  # the shared parts themselves: hashed and compared by identity


class Fill(NamedTuple):
    """What differs between the messages of one layout, encoded as the tree holds it."""

    values: tuple[str, ...]  # the top-level headers' values, in the order of `Layout.names`
    seed: str  # the boundaries' distinct part
    text: str  # the bodies' payloads (quoted-printable, base64 or as is)
    html: str | None
    calendar: str | None


def prepare(draft: Draft, encoders: Encoders) -> tuple[Layout, Fill]:
    """The draft as its message's layout and its per-member values, encoded with `encoders`.

    Refuses a line break in a header's value: data must never make a header.
    """
    for value in (draft.to_name, draft.to_email, draft.rendered.subject, *draft.headers.values()):
        if "\r" in value or "\n" in value:
            raise TemplateError(f"line break in a header value: {value!r}", field=draft.to_email)
    seed = draft.msg_id.strip("<>").partition("@")[0][:16]  # short enough that Content-Type fits one line
    shared = tuple(draft.attachments)
    rendered, calendar = draft.rendered, draft.calendar
    text_encoding, text = _text_body(rendered.text, encoders)
    if text and not text.endswith(("\n", "\r")) and rendered.html is None and calendar is None and not shared:
        # The message ends with this body: SMTP would end it with a line break of its own
        # (RFC 5321 section 4.1.1.4), so it ends with one here, and the preview's bytes are the wire's.
        text += "\n"
    html_encoding, html = _text_body(rendered.html, encoders) if rendered.html is not None else (None, None)
    ics = base64.encodebytes(calendar.data).decode("ascii") if calendar is not None else None
    head = [
        ("From", _address("From", draft.sender_name, draft.sender_email, encoders)),
        ("To", _address("To", draft.to_name, draft.to_email, encoders)),
        ("Subject", _text_value("Subject", rendered.subject, encoders)),
    ]
    if draft.reply_to:
        head.append(("Reply-To", draft.reply_to))
    head += [("Date", format_datetime(draft.date)), ("Message-ID", draft.msg_id)]
    head += [(name, _header_value(name, value, encoders)) for name, value in draft.headers.items()]
    layout = Layout(
        names=tuple(name for name, _ in head),
        text=text_encoding,
        html=html_encoding,
        calendar=(calendar.method, calendar.filename) if calendar is not None else None,
        attachments=shared,
    )
    return layout, Fill(tuple(value for _, value in head), seed, text, html, ics)


def _text_part(subtype: str, encoding: str, payload: str) -> Message:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    del part["MIME-Version"]
    part.set_payload(payload)
    part["Content-Transfer-Encoding"] = encoding
    return part


def _calendar_inline(method: str, payload: str) -> Message:
    part = MIMENonMultipart("text", "calendar", method=method, charset="UTF-8")
    del part["MIME-Version"]
    part.set_payload(payload)
    part["Content-Transfer-Encoding"] = "base64"
    return part


def calendar_params(data: bytes) -> dict[str, str]:
    """Content-Type parameters for a calendar file: UTF-8 (IMAP servers report a calendar
    without charset as US-ASCII) and its METHOD, as iMIP asks (RFC 6047 2.4)."""
    found = re.search(rb"^METHOD:([A-Za-z-]+)\r?$", data, re.MULTILINE)
    return {"charset": "UTF-8", "method": found.group(1).decode().upper() if found else "PUBLISH"}


def _calendar_file(filename: str, payload: str, method: str) -> Message:
    part = MIMENonMultipart("application", "ics", name=filename, charset="UTF-8", method=method)
    del part["MIME-Version"]
    part.set_payload(payload)
    part["Content-Transfer-Encoding"] = "base64"
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


def tree(layout: Layout, fill: Fill) -> Message:
    """The message as `email.mime` parts: multipart/mixed around the bodies (RFC 6047 layout).

    The one definition of a message's content; `mailer.frames` cuts its frames from it too.
    """
    bodies = [_text_part("plain", layout.text, fill.text)]
    if layout.html is not None and fill.html is not None:
        bodies.append(_text_part("html", layout.html, fill.html))
    shared = list(layout.attachments)
    if layout.calendar is not None and fill.calendar is not None:
        method, filename = layout.calendar
        bodies.append(_calendar_inline(method, fill.calendar))
        shared.append(_calendar_file(filename, fill.calendar, method))
    if len(bodies) == 1:
        body = bodies[0]
    else:
        body = MIMEMultipart("alternative", boundary=f"=_alt_{fill.seed}", _subparts=bodies)
        del body["MIME-Version"]
    if shared:
        msg: Message = MIMEMultipart("mixed", boundary=f"=_mix_{fill.seed}", _subparts=[body, *shared])
    else:
        msg = body
        msg["MIME-Version"] = "1.0"
    for name, value in zip(layout.names, fill.values, strict=True):
        msg[name] = value
    return msg


def flatten(msg: Message) -> bytes:
    """The message's bytes as they go on the wire."""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=WIRE).flatten(msg)
    return out.getvalue()


def build_message(draft: Draft) -> bytes:
    """One message to one member only: multipart/mixed around the bodies (RFC 6047 layout),
    each part built by the standard library and the tree flattened by its generator."""
    return short_lines(flatten(tree(*prepare(draft, PLAIN))), draft.to_email)


# RFC 5322 section 2.1.1: a line of a message is at most 998 characters (servers refuse longer
# ones: "500 Line too long").
MAX_LINE = 998


def short_lines(data: bytes, to_email: str) -> bytes:
    """The message, refused if a header line is too long for mail. The bodies are encoded in short
    lines and the names and subject fold as RFC 2047 words; a header holding a long link
    (List-Unsubscribe) cannot be folded."""
    name = b""
    for line in data[: data.find(b"\r\n\r\n")].split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):  # not a folded header's continuation
            name = line.partition(b":")[0]
        if len(line) > MAX_LINE:
            raise TemplateError(
                f"the {name.decode('ascii', 'replace')} header would be a line of {len(line)} "
                f"characters; mail allows at most {MAX_LINE}: shorten what goes into it",
                field=to_email,
            )
    return data
