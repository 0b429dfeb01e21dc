"""One member's message: RFC 6047 layout, RFC 2047 headers, deterministic ids, no header injection."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from mailer import frames, message
from mailer.errors import TemplateError
from mailer.message import Attachment, CalendarPart, Draft, message_id
from mailer.templates import Rendered

DATE = datetime(2027, 8, 2, 8, 15, 30, tzinfo=UTC)
SUBJECT = "Netværksmøde: Hvad siger brugerne? – tirsdag den 21. september 2027"
RENDERED = Rendered(
    subject=SUBJECT,
    text="Kære Søren Ærø\n\nDu inviteres hermed til netværksmøde i Brugernes Rum.\n",
    html="<p>Kære Søren Ærø</p>\n<p>Du inviteres hermed til netværksmøde i Brugernes Rum.</p>\n",
)
CALENDAR = CalendarPart(
    "REQUEST",
    b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Netv\xc3\xa6rksm\xc3\xb8de\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n",
)
MSG_ID = message_id("invitation:2027-09-21", "soren.aero@vordingborg.example", "0:abc", "roskilde.example")


Builder = Callable[..., bytes]


@pytest.fixture
def build(plain: bool) -> Builder:
    """A message built with the draft's fields changed as given, on the path under test."""
    write = message.build_message if plain else frames.build_message

    def built(**changes: Any) -> bytes:
        return write(Draft(**(FIELDS | changes)))

    return built


FIELDS: dict[str, Any] = {
    "sender_name": "Brugernes Rum",
    "sender_email": "brugernesrum@roskilde.example",
    "to_name": "Søren Ærø",
    "to_email": "soren.aero@vordingborg.example",
    "rendered": RENDERED,
    "msg_id": MSG_ID,
    "date": DATE,
    "reply_to": "koordinator@roskilde.example",
    "calendar": CALENDAR,
}


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text_of(msg: EmailMessage, subtype: str) -> str:
    """A body part's text with the wire's CRLF line ends made plain newlines again."""
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_subtype() == subtype
    return str(part.get_content()).replace("\r\n", "\n")


def head_of(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def test_invitation_layout_rfc_6047(build: Builder) -> None:
    msg = parse(build())

    assert msg.get_content_type() == "multipart/mixed"
    body, invite = msg.get_payload()  # type: ignore[misc]
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.get_payload()] == ["text/plain", "text/html", "text/calendar"]
    inline = body.get_payload()[2]
    assert inline.get_param("method") == "REQUEST"
    assert inline.get_param("charset") == "UTF-8"
    assert inline["Content-Transfer-Encoding"] in ("base64", "quoted-printable")
    assert inline.get_payload(decode=True) == CALENDAR.data
    assert invite.get_content_disposition() == "attachment"
    assert invite.get_filename() == "invite.ics"
    assert invite.get_payload(decode=True) == CALENDAR.data


def test_headers_encoded_and_decoded_back(build: Builder) -> None:
    data = build()
    head = head_of(data)
    msg = parse(data)

    assert head.isascii()  # non-ASCII only in RFC 2047 encoded words
    assert b"=?utf-8?" in head
    assert msg["Subject"] == SUBJECT
    (to,) = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Søren Ærø", "soren.aero@vordingborg.example")
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Brugernes Rum", "brugernesrum@roskilde.example")
    assert msg["Reply-To"] == "koordinator@roskilde.example"
    assert msg["Date"].datetime == DATE
    assert msg["Message-ID"] == MSG_ID
    assert msg["MIME-Version"] == "1.0"
    assert "Cc" not in msg and "Bcc" not in msg


def test_lines_are_crlf_and_short(build: Builder) -> None:
    data = build(rendered=Rendered(SUBJECT * 3, "Æ" * 2000 + "\n", "<p>" + "ø" * 2000 + "</p>"))

    lines = data.split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    # RFC 2047 section 2: lines with encoded-words at most 76 characters, each word at most 75.
    assert max(len(line) for line in lines) <= 76
    words = re.findall(rb"=\?utf-8\?[qb]\?[^?]*\?=", head_of(data), re.IGNORECASE)
    assert len(words) > 3 and max(len(word) for word in words) <= 75
    msg = parse(data)
    assert msg["Subject"] == SUBJECT * 3
    assert text_of(msg, "plain") == "Æ" * 2000 + "\n"


def test_bodies_decode_to_the_danish_text(build: Builder) -> None:
    msg = parse(build())

    assert text_of(msg, "plain") == RENDERED.text
    assert text_of(msg, "html") == RENDERED.html


def test_no_reply_to_when_not_set(build: Builder) -> None:
    assert "Reply-To" not in parse(build(reply_to=None))


def test_plain_message_without_calendar_or_html(build: Builder) -> None:
    msg = parse(build(calendar=None, rendered=Rendered("Nyhedsbrev", "Hej\n", None)))

    assert msg.get_content_type() == "text/plain"
    assert msg["MIME-Version"] == "1.0"
    assert text_of(msg, "plain") == "Hej\n"
    assert msg["Content-Transfer-Encoding"] == "7bit"


def test_text_and_html_without_calendar(build: Builder) -> None:
    msg = parse(build(calendar=None))

    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_shared_attachment_with_a_danish_file_name(build: Builder) -> None:
    part = Attachment("Program for mødet.pdf", b"%PDF-1.4 ...", "application/pdf").part()

    msg = parse(build(attachments=[part]))

    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names == ["Program for mødet.pdf", "invite.ics"]
    pdf = next(msg.iter_attachments())
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_payload(decode=True) == b"%PDF-1.4 ..."


def test_internationalised_domain_goes_out_in_ascii_form(build: Builder) -> None:
    msg = parse(build(to_name="Ida Strand", to_email="ida.strand@xn--kge-0na.example"))

    assert msg["To"].addresses[0].addr_spec == "ida.strand@xn--kge-0na.example"
    assert head_of(build(to_email="ida.strand@xn--kge-0na.example")).isascii()


def test_the_same_message_rebuilt_is_byte_identical(build: Builder) -> None:
    assert build() == build()


def test_message_id_is_deterministic_and_distinct() -> None:
    args = ("invitation:2027-09-21", "soren.aero@vordingborg.example", "0:abc", "roskilde.example")
    assert message_id(*args) == MSG_ID
    assert MSG_ID.startswith("<") and MSG_ID.endswith("@roskilde.example>")
    others = {
        message_id("invitation:2027-11-16", *args[1:]),
        message_id(args[0], "ase.bogh@koege.example", *args[2:]),
        message_id(*args[:2], "1:def", args[3]),
    }
    assert MSG_ID not in others and len(others) == 3


@pytest.mark.parametrize(
    "changes",
    [
        {"to_name": "Eva Ond\r\nBcc: alle@angriber.example"},
        {"to_name": "Eva Ond\nBcc: alle@angriber.example"},
        {"to_name": "Eva Ond\rBcc: alle@angriber.example"},
        {"to_email": "eva@angriber.example\r\nBcc: alle@angriber.example"},
        {"rendered": Rendered("Hej\r\nBcc: alle@angriber.example", "x\n", None)},
        {"headers": {"List-Unsubscribe": "<https://roskilde.example/afmeld>\r\nBcc: alle@angriber.example"}},
    ],
    ids=["name-crlf", "name-lf", "name-cr", "address", "subject", "extra-header"],
)
def test_line_breaks_can_never_make_a_header(build: Builder, changes: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match="line break in a header value"):
        build(**changes)


def test_header_like_text_without_line_breaks_stays_inside_its_header(build: Builder) -> None:
    msg = parse(build(to_name="Eva Ond Bcc: alle@angriber.example"))

    assert "Bcc" not in msg
    assert msg["To"].addresses[0].addr_spec == "soren.aero@vordingborg.example"
    assert len(msg["To"].addresses) == 1
