"""Assembling one member's email: headers, text and HTML bodies, the calendar, attachments.

Built with the standard library's `email.mime` classes; the parts every member shares
(attachments) are built once and reused, so that only what differs per member is made
in the per-member loop. Flattening that tree costs more than the rest
of a message, so it is done once per shape of message (structure and part headers): the
result, with stand-ins where members differ, is the shape's frame, and each member's
message is that frame with their headers (folded by the same policy), boundaries and
encoded bodies put in place of the stand-ins: the same bytes, a fraction of the work.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import quopri
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
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
from typing import NamedTuple

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
            self._fp.write(_body_bytes(lines, self._NL))  # type: ignore[attr-defined]


def _body_bytes(lines: str, linesep: str) -> bytes:
    """A body as the generator writes it: bytes as `BytesGenerator.write` makes them, with
    every CRLF, CR or LF made `linesep` (on bytes, the same as on the text, and quicker)."""
    data = lines.encode("ascii", "surrogateescape")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data.replace(b"\n", linesep.encode("ascii"))


# RFC 2047 section 2 limits lines holding encoded-words to 76 characters (words to 75).
HEADER_LINE = 76
WIRE = _WirePolicy(linesep="\r\n", max_line_length=HEADER_LINE)


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


# Every boundary begins with this. Quoted-printable writes "=" as "=3D" and base64 has no "_",
# so a body that holds it is sent quoted-printable: no content can contain a boundary
# (RFC 2046 section 5.1.1), whatever a member's data or a template writes.
BOUNDARY_MARK = "=_"


def _text_body(text: str) -> tuple[str, str]:
    """A text body's transfer encoding and payload: 7bit when it is ASCII in short lines
    without a boundary's mark; otherwise quoted-printable, whose lines are at most 76."""
    if text.isascii() and BOUNDARY_MARK not in text and all(len(line) <= 76 for line in text.splitlines()):
        return "7bit", text
    # Quoted-printable keeps Danish text readable in a raw .eml and lines short.
    return "quoted-printable", _quoted_printable(text)


def _quoted_printable(text: str) -> str:
    """`quopri.encodestring` of the text's UTF-8, one line at a time, remembering lines.

    Quoted-printable encodes each line on its own (soft breaks, a space or tab before the
    line's end), so the lines every member's message shares are encoded once instead of in
    every message. A CR would make the encoder choose its line ends from the first one in the
    whole text: such a text is encoded whole.
    """
    if "\r" in text:
        return _encode_quoted_printable(text)
    *lines, last = text.split("\n")
    return "".join(map(_quoted_printable_line, lines)) + _encode_quoted_printable(last)


@lru_cache(maxsize=2048)
def _quoted_printable_line(line: str) -> str:
    return _encode_quoted_printable(f"{line}\n")


def _encode_quoted_printable(text: str) -> str:
    return quopri.encodestring(text.encode("utf-8")).decode("ascii")


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
    return value if value.isascii() else _encoded_words(name, value)


def _text_value(name: str, value: str) -> str:
    """Text a person reads (a subject, a display name): as is when it is plain ASCII that folds
    into short lines at its spaces; otherwise RFC 2047 words, which fold anywhere.

    Text that merely looks like an encoded word ("=?utf-8?b?...?=") is encoded too, or mail
    clients would decode it into something else; and a word too long for a line would make
    one longer than the 998 characters a mail line may have (RFC 5322 section 2.1.1).
    """
    return value if _plain_text(name, value) else _encoded_words(name, value)


def _plain_text(name: str, value: str) -> bool:
    longest = HEADER_LINE - len(name) - 4  # "Name: " and a display name's quotes
    return value.isascii() and "=?" not in value and all(len(word) <= longest for word in value.split())


@lru_cache(maxsize=1024)
def _encoded_words(name: str, value: str) -> str:
    """RFC 2047 "B" words of at most 75 characters, folded between them; the first line
    leaves room for the name. A value that fits one word is that word (what `Header` gives
    it, without its folding machinery: a member's name is encoded for every message)."""
    word = _UTF8_WORDS.header_encode(value)
    if len(word) <= HEADER_LINE - 1 - len(name) - 2:  # as Header measures: a 75-character line
        return word
    return Header(value, _UTF8_WORDS, header_name=name).encode(linesep="\n", maxlinelen=75)


@lru_cache(maxsize=16)
def _date_value(moment: datetime, zone: tzinfo | None, offset: timedelta | None) -> str:
    """RFC 5322 date; cached, a run's messages share one.

    Keyed by the moment's zone and offset too: equal datetimes can be written differently
    (one moment in two zones, a wall time that occurs twice, naive and offset-less).
    """
    return format_datetime(moment)


def _address(header: str, name: str, email: str) -> str:
    """'Name <address>' (the name quoted or encoded as it needs), or the bare address."""
    if not name:
        return email
    if _plain_text(header, name):
        return formataddr((name, email))
    return f"{_encoded_words(header, name)} <{email}>"


class _Shape(NamedTuple):
    """What sets a message's structure and part headers; the messages of one shape share a frame."""

    names: tuple[str, ...]  # the top-level headers, in order
    text: str  # the text body's transfer encoding
    html: str | None  # the HTML body's, None without one
    calendar: tuple[str, str] | None  # method and file name
    attachments: tuple[Message, ...]  # the shared parts themselves: hashed and compared by identity


class _Fill(NamedTuple):
    """What differs between the messages of one shape, encoded as the tree holds it."""

    values: tuple[str, ...]  # the top-level headers' values, in the order of `_Shape.names`
    seed: str  # the boundaries' distinct part
    text: str  # the bodies' payloads (quoted-printable, base64 or as is)
    html: str | None
    calendar: str | None


def _prepare(
    *,
    sender_name: str,
    sender_email: str,
    to_name: str,
    to_email: str,
    rendered: Rendered,
    msg_id: str,
    date: datetime,
    reply_to: str | None,
    calendar: CalendarPart | None,
    attachments: Iterable[Message],
    headers: Mapping[str, str] | None,
) -> tuple[_Shape, _Fill]:
    """`build_message`'s arguments as the message's shape and its per-member values."""
    seed = msg_id.strip("<>").partition("@")[0][:16]  # short enough that Content-Type fits one line
    shared = tuple(attachments)
    text_encoding, text = _text_body(rendered.text)
    if text and not text.endswith(("\n", "\r")) and rendered.html is None and calendar is None and not shared:
        # The message ends with this body: SMTP would end it with a line break of its own
        # (RFC 5321 section 4.1.1.4), so it ends with one here, and the preview's bytes are the wire's.
        text += "\n"
    html_encoding, html = _text_body(rendered.html) if rendered.html is not None else (None, None)
    ics = base64.encodebytes(calendar.data).decode("ascii") if calendar is not None else None
    head = [
        ("From", _address("From", sender_name, sender_email)),
        ("To", _address("To", to_name, to_email)),
        ("Subject", _text_value("Subject", rendered.subject)),
    ]
    if reply_to:
        head.append(("Reply-To", reply_to))
    head += [("Date", _date_value(date, date.tzinfo, date.utcoffset())), ("Message-ID", msg_id)]
    head += [(name, _header_value(name, value)) for name, value in (headers or {}).items()]
    shape = _Shape(
        names=tuple(name for name, _ in head),
        text=text_encoding,
        html=html_encoding,
        calendar=(calendar.method, calendar.filename) if calendar is not None else None,
        attachments=shared,
    )
    return shape, _Fill(tuple(value for _, value in head), seed, text, html, ics)


def _tree(shape: _Shape, fill: _Fill) -> Message:
    """The message as `email.mime` parts: multipart/mixed around the bodies (RFC 6047 layout).

    The one definition of a message's content; `_frame` cuts its frames from it too.
    """
    bodies = [_text_part("plain", shape.text, fill.text)]
    if shape.html is not None and fill.html is not None:
        bodies.append(_text_part("html", shape.html, fill.html))
    shared = list(shape.attachments)
    if shape.calendar is not None and fill.calendar is not None:
        method, filename = shape.calendar
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
    for name, value in zip(shape.names, fill.values, strict=True):
        msg[name] = value
    return msg


def _flatten(msg: Message) -> bytes:
    out = BytesIO()
    _WireGenerator(out, mangle_from_=False, policy=WIRE).flatten(msg)
    return out.getvalue()


@lru_cache(maxsize=4096)
def _header_line(name: str, value: str) -> bytes:
    """One top-level header as the generator writes it, folded by the policy.

    Cached: sender, subject and date are usually the same for every member.
    """
    return WIRE.fold_binary(name, value)


@dataclass(frozen=True)
class _Frame:
    """One shape's message as the generator writes it, with what differs per member cut out.

    `pieces` are the bytes every message of the shape shares, and between them the names of
    the slots filled per member: "head" (the top-level headers, the part-structure headers
    stay in the frame), "seed" (in each boundary), "text", "html" and "calendar" (the bodies).
    """

    names: tuple[str, ...]
    pieces: tuple[bytes | str, ...]

    def fill(self, member: _Fill) -> bytes:
        """The member's message: each slot filled as the generator would have written it."""
        slots = {
            "head": b"".join(map(_header_line, self.names, member.values)),
            "seed": member.seed.encode("ascii"),
            "text": _body_bytes(member.text, WIRE.linesep),
            "html": _body_bytes(member.html or "", WIRE.linesep),
            "calendar": _body_bytes(member.calendar or "", WIRE.linesep),
        }
        return b"".join(slots[piece] if isinstance(piece, str) else piece for piece in self.pieces)


# Stand-ins for what differs per member while a frame is cut: ASCII that the policy and the
# generator pass through unchanged, with NULs that no header, boundary or encoded body has.
_HEADER = "\0header\0"
_SEED = "\0seed-sentinel-\0"  # 16 characters, as a real seed, so Content-Type folds the same
_TEXT, _HTML, _CALENDAR = "\0text\0", "\0html\0", "\0calendar\0"
# The seeds a frame serves: message_id()'s, as long as the stand-in and never quoted.
_FRAMED_SEED = re.compile(r"[0-9A-Za-z]{16}")


@lru_cache(maxsize=16)
def _frame(shape: _Shape) -> _Frame | None:
    """The shape's frame, cut from its tree built with stand-ins; None if the frame filled
    with a probe message is not byte for byte that message's tree flattened (then every
    message of the shape is built whole).

    Cached: a run has a few shapes. The key holds the shared parts, so while a frame is
    cached their identities are not reused; a frame holds their encoded bytes, hence a small cache.
    """
    data = _flatten(_tree(shape, _Fill((_HEADER,) * len(shape.names), _SEED, _TEXT, _HTML, _CALENDAR)))
    slots = {
        b"".join(WIRE.fold_binary(name, _HEADER) for name in shape.names): "head",
        _SEED.encode("ascii"): "seed",
        _TEXT.encode("ascii"): "text",
        _HTML.encode("ascii"): "html",
        _CALENDAR.encode("ascii"): "calendar",
    }
    found = re.split(b"(" + b"|".join(map(re.escape, slots)) + b")", data)
    # re.split gives the shared bytes at even places, the stand-ins matched between them at odd.
    pieces = (slots[piece] if i % 2 else piece for i, piece in enumerate(found))
    frame = _Frame(shape.names, tuple(piece for piece in pieces if piece))
    probe = _Fill(
        values=tuple(f"probe {i}" for i in range(len(shape.names))),
        seed="0123456789abcdef",
        text="probe text\r\n.\n",
        html="probe html\r" if shape.html is not None else None,
        calendar="probe calendar\n" if shape.calendar is not None else None,
    )
    return frame if frame.fill(probe) == _flatten(_tree(shape, probe)) else None


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
    Byte for byte what flattening the `email.mime` tree (`_tree`) gives; the tree is built
    and flattened once per shape, and each message filled into that frame.
    """
    for value in (to_name, to_email, rendered.subject, *(headers or {}).values()):
        if "\r" in value or "\n" in value:  # data must never make a header
            raise TemplateError(f"line break in a header value: {value!r}", field=to_email)
    shape, fill = _prepare(
        sender_name=sender_name,
        sender_email=sender_email,
        to_name=to_name,
        to_email=to_email,
        rendered=rendered,
        msg_id=msg_id,
        date=date,
        reply_to=reply_to,
        calendar=calendar,
        attachments=attachments,
        headers=headers,
    )
    frame = _frame(shape) if _FRAMED_SEED.fullmatch(fill.seed) else None
    data = frame.fill(fill) if frame is not None else _flatten(_tree(shape, fill))
    _require_short_lines(data, to_email)
    return data


# RFC 5322 section 2.1.1: a line of a message is at most 998 characters (servers refuse longer
# ones: "500 Line too long").
MAX_LINE = 998


def _require_short_lines(data: bytes, to_email: str) -> None:
    """Refuse a message with a header line too long for mail. The bodies are encoded in short
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
