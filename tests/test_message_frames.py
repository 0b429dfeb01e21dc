"""Frames: a message filled into its layout's frame is, byte for byte, the plain path's (its
email.mime tree flattened)."""

from __future__ import annotations

import hashlib
import quopri
import random
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.message import Message
from email.mime.nonmultipart import MIMENonMultipart
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer import frames, message
from mailer.message import Attachment, CalendarPart, Draft, message_id
from mailer.templates import Rendered

DATE = datetime(2027, 8, 2, 8, 15, 30, tzinfo=UTC)
SUBJECT = "Netværksmøde: Hvad siger brugerne? – tirsdag den 21. september 2027"
TEXT = "Kære Søren Ærø\n\nDu inviteres hermed til netværksmøde i Brugernes Rum.\n"
HTML = "<p>Kære Søren Ærø</p>\n<p>Du inviteres hermed til netværksmøde i Brugernes Rum.</p>\n"
REQUEST = CalendarPart(
    "REQUEST",
    b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Netv\xc3\xa6rksm\xc3\xb8de\r\n"
    b"DESCRIPTION:" + b"Program og tilmelding " * 20 + b"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
)
CANCEL = CalendarPart("CANCEL", b"BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n", "aflysning.ics")
# Shared parts are built once per run and reused, as compose.py does.
PDF = Attachment("Program for mødet.pdf", b"%PDF-1.4 " * 200, "application/pdf").part()
NOTES = Attachment("noter.txt", b"linje 1\r\nlinje 2\n", "text/plain").part()
LIST_HEADERS = {
    "List-Id": "Brugernes Rum <brugernes-rum.roskilde.example>",
    "List-Unsubscribe": "<mailto:brugernesrum@roskilde.example?subject=unsubscribe>, "
    "<https://roskilde.example/afmeld?email=soren.aero%40vordingborg.example>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "Precedence": "bulk",
    "Auto-Submitted": "auto-generated",
}
LONG_NAME = "Søren Ærø Bøgh-Østergaard Kjærsgaard, Bibliotekernes Formidlingsnetværk Åbenrå"
BOUNDARY_LIKE = (
    "--=_alt_0123456789abcdef\n=_mix_x\n--\n.\n..\nFrom here on\n"
    "Content-Type: text/html\r\nwindows\r\nold mac\rend\n"
)


def fields(member: int = 0, **changes: Any) -> dict[str, Any]:
    """build_message's arguments for one member of an invitation run, with `changes`."""
    values: dict[str, Any] = {
        "sender_name": "Brugernes Rum",
        "sender_email": "brugernesrum@roskilde.example",
        "to_name": "Søren Ærø",
        "to_email": "soren.aero@vordingborg.example",
        "rendered": Rendered(SUBJECT, TEXT, HTML),
        "msg_id": message_id("invitation:2027-09-21", f"member-{member}", "0:abc", "roskilde.example"),
        "date": DATE,
        "reply_to": "koordinator@roskilde.example",
        "calendar": REQUEST,
        "attachments": [],
        "headers": {},
    }
    values.update(changes)
    return values


def reference(**fields: Any) -> bytes:
    """The plain path's message (its email.mime tree flattened): what frames must give, byte for byte."""
    return message.build_message(Draft(**fields))


def framed(**fields: Any) -> bytes:
    """The quick path's bytes, after checking they come from a frame, not the whole tree."""
    layout, fill = message.prepare(Draft(**fields), frames.QUICK)
    assert frames._FRAMED_SEED.fullmatch(fill.seed)
    assert frames._frame(layout) is not None
    return frames.build_message(Draft(**fields))


CASES: dict[str, dict[str, Any]] = {
    "invitation": fields(),
    "to-folds": fields(to_name=LONG_NAME),
    "ascii-name": fields(to_name="Ida Strand"),
    "long-ascii-name": fields(to_name="Ida Strand " * 7),
    "no-name": fields(to_name=""),
    "idn-address": fields(
        to_name="Åse Bøgh", to_email="aase.boegh.bibliotekar.og.formidler@xn--kge-0na.example"
    ),
    "subject-folds": fields(rendered=Rendered(SUBJECT * 3, TEXT, HTML)),
    "ascii-subject": fields(rendered=Rendered("Nyhedsbrev", TEXT, HTML)),
    "7bit-text": fields(rendered=Rendered(SUBJECT, "Hej\n\nVi ses.\n", "<p>Hej</p>\n")),
    "ascii-long-lines": fields(rendered=Rendered(SUBJECT, "x" * 200 + "\nHej\n", HTML)),
    "boundary-like-text": fields(rendered=Rendered(SUBJECT, BOUNDARY_LIKE, BOUNDARY_LIKE + "æ")),
    "empty-text": fields(rendered=Rendered(SUBJECT, "", "")),
    "no-html": fields(rendered=Rendered(SUBJECT, TEXT, None)),
    "no-calendar": fields(calendar=None),
    "plain-only": fields(calendar=None, rendered=Rendered("Nyhedsbrev", "Hej\n", None)),
    "cancel": fields(calendar=CANCEL),
    "attachments": fields(attachments=[PDF, NOTES]),
    "attachments-no-calendar": fields(
        attachments=[NOTES], calendar=None, rendered=Rendered(SUBJECT, TEXT, None)
    ),
    "list-headers": fields(headers=LIST_HEADERS),
    "no-reply-to": fields(reply_to=None),
    "newsletter": fields(
        calendar=None, reply_to=None, headers=LIST_HEADERS, attachments=[PDF], to_name=LONG_NAME
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_framed_message_is_the_tree_flattened(case: dict[str, Any]) -> None:
    assert framed(**case) == reference(**case)


# sha256 of what build_message gave before frames (the email.mime tree flattened for every
# message): frames, and the reference they are checked against, must not change one byte.
# Changed on purpose since: a long display name folds as several RFC 2047 words of at most 75
# characters (to-folds, newsletter), a body holding a boundary's mark is quoted-printable, and the
# attached invite.ics says charset="UTF-8" and its method.
BEFORE_FRAMES = {
    "invitation": "11b3759b214b6f46c5744a3ff43f2a9c3a611ceecb05d593947a6c3aacd48910",
    "to-folds": "ebd519d4024e6931ffbbc9e3aac9c1029b775baebb3796bfb7dfa7c3cf58f89a",
    "boundary-like-text": "fbabd761f23535a944b726b26854699e9686112dbd2f4574d5079109ef6d0d72",
    "plain-only": "87c4ab231dc439d2cf26ed45937ee69bc4b0737a29cf15e46d51d3d77086c5bc",
    "attachments": "7bddb02fb9c690acee277a98e9986d0510961dfe34105ea42e2d6dc70386380b",
    "newsletter": "a5fbfab8485ac05542ff58e327db1e1389c7ae26246599fd0a6ebb87a6777781",
}


@pytest.mark.parametrize("name", BEFORE_FRAMES)
def test_bytes_unchanged_since_before_frames(name: str) -> None:
    assert hashlib.sha256(reference(**CASES[name])).hexdigest() == BEFORE_FRAMES[name]
    assert hashlib.sha256(framed(**CASES[name])).hexdigest() == BEFORE_FRAMES[name]


def test_random_messages_are_the_tree_flattened() -> None:
    pick = random.Random(1234)
    pieces = ["Søren", "Ærø", "Åse", "Bøgh", "Ida", "Strand", "netværksmøde", "Hej", "x" * 90, "æ" * 40]
    pieces += ["=_alt_", "--", ".", "From ", "=", "\t", "é", "😀", "  "]
    breaks = ["", " ", " ", "\n", "\r\n", "\r"]

    def words(count: int, *, ascii_only: bool = False, one_line: bool = False) -> str:
        usable = [p for p in pieces if p.isascii() or not ascii_only]
        ends = [b for b in breaks if not (one_line and b.strip(" "))]
        return "".join(pick.choice(usable) + pick.choice(ends) for _ in range(count))

    for member in range(300):
        case = fields(
            member,
            sender_name=pick.choice(["Brugernes Rum", "", "Bibliotekernes Netværk Ærø"]),
            to_name=words(pick.randint(0, 6), ascii_only=pick.random() < 0.3, one_line=True),
            to_email=pick.choice(["soren@vordingborg.example", "ida.strand" * pick.randint(1, 6) + "@x.dk"]),
            rendered=Rendered(
                words(pick.randint(1, 12), ascii_only=pick.random() < 0.3, one_line=True),
                words(pick.randint(0, 40), ascii_only=pick.random() < 0.4),
                pick.choice([None, words(pick.randint(0, 30), ascii_only=pick.random() < 0.4)]),
            ),
            reply_to=pick.choice([None, "koordinator@roskilde.example"]),
            calendar=pick.choice([None, REQUEST, CANCEL]),
            attachments=pick.sample([PDF, NOTES], pick.randint(0, 2)),
            headers=pick.choice([{}, LIST_HEADERS]),
        )
        assert framed(**case) == reference(**case), case


def test_one_frame_serves_every_member_of_a_shape() -> None:
    frames._frame.cache_clear()
    seen = set()
    for member in range(40):
        case = fields(member, to_name=f"Medlem nr. {member} Ærø", attachments=[PDF], headers=LIST_HEADERS)
        data = framed(**case)
        assert data == reference(**case)
        seen.add(data.split(b"boundary=", 1)[1][:30])
    assert len(seen) == 40  # each member's own boundaries
    assert frames._frame.cache_info().misses == 1


def test_two_shapes_interleaved_keep_their_own_frames() -> None:
    frames._frame.cache_clear()
    for member in range(20):
        if member % 2:
            case = fields(member, calendar=CANCEL, attachments=[NOTES])
        else:
            case = fields(member, calendar=None, rendered=Rendered(SUBJECT, "Hej\n", None), reply_to=None)
        assert framed(**case) == reference(**case)
    assert frames._frame.cache_info().misses == 2


class NoOffset(tzinfo):
    """A zone that knows no offset: its datetimes compare as naive ones."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> None:
        return None


@pytest.mark.parametrize(
    ("first", "second", "second_date"),
    [
        (DATE, DATE.astimezone(timezone(timedelta(hours=2))), b"Mon, 02 Aug 2027 10:15:30 +0200"),
        (  # the last half hour of summer time, and the same wall time again an hour later
            datetime(2027, 10, 31, 2, 30, tzinfo=ZoneInfo("Europe/Copenhagen")),
            datetime(2027, 10, 31, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Copenhagen")),
            b"Sun, 31 Oct 2027 02:30:00 +0100",
        ),
        (
            datetime(2027, 8, 2, 8, 15),
            datetime(2027, 8, 2, 8, 15, tzinfo=NoOffset()),
            b"Mon, 02 Aug 2027 08:15:00 ",
        ),
    ],
    ids=["two-zones", "wall-time-twice", "naive-and-offsetless"],
)
def test_equal_datetimes_keep_their_own_date(first: datetime, second: datetime, second_date: bytes) -> None:
    assert first == second  # one cache key, were it keyed by the datetime alone
    assert framed(**fields(date=first)) == reference(**fields(date=first))

    data = framed(**fields(date=second))
    assert b"\r\nDate: " + second_date + b"\r\n" in data
    assert data == reference(**fields(date=second))


def test_a_message_id_of_another_form_is_built_whole() -> None:
    for msg_id in ("<kort@roskilde.example>", '<a "b";c\\d-0123456789@roskilde.example>'):
        case = fields(msg_id=msg_id)
        assert frames.build_message(Draft(**case)) == reference(**case)


def test_a_shape_whose_frame_would_differ_is_built_whole() -> None:
    odd: Message = MIMENonMultipart("text", "plain")
    odd.set_payload(frames._TEXT)  # the text's stand-in in a shared part: its frame cannot be cut
    case = fields(attachments=[odd])

    assert frames._frame(message.prepare(Draft(**case), frames.QUICK)[0]) is None
    assert frames.build_message(Draft(**case)) == reference(**case)


# Pieces of what a header may hold: words, spaces and tabs, an address's characters, folds
# (a line break and a space or tab), a bare line break, a letter outside ASCII.
HEADER_PIECES = st.sampled_from(
    ["a", "Ø", "x" * 20, "y" * 70, " ", "  ", "\t", "<", ">", "@", ",", '"', "\n ", "\n\t", "\n", ":", "=?"]
)


@settings(max_examples=3000, derandomize=True)
@given(
    st.sampled_from(["To", "From", "Subject", "Message-ID", "List-Unsubscribe"]),
    st.lists(HEADER_PIECES, max_size=20).map("".join),
)
def test_a_header_line_is_what_the_policy_folds(name: str, value: str) -> None:
    def outcome(fold: Any) -> bytes | type[Exception]:
        try:
            return bytes(fold(name, value))
        except Exception as err:  # the policy refuses some values (a line break before a colon)
            return type(err)

    assert outcome(frames._header_line.__wrapped__) == outcome(message.WIRE.fold_binary)


@pytest.mark.parametrize("name", ["Søren Ærø", LONG_NAME, "Ida Strand", "Åse " * 40, "😀 x" * 9])
def test_a_name_in_rfc_2047_words_is_written_as_the_policy_folds_it(name: str) -> None:
    for header in ("To", "From", "Subject"):
        value = f"{message.encoded_words(header, name)} <soren.aero@vordingborg.example>"
        assert frames._header_line.__wrapped__(header, value) == message.WIRE.fold_binary(header, value)


def test_quoted_printable_line_by_line_is_the_whole_text_encoded() -> None:
    pick = random.Random(77)
    pieces = ["Kære", "Søren", "ÆØÅ", "=", ".", "..", "x" * 80, "ø" * 30, "\t", " ", "  ", "😀", "<p>", "=3D"]
    ends = ["", " ", "\n", "\n", "\t\n", " \n", "=\n", ".\n"]
    for count in range(3000):
        endings = [*ends, "\r\n", "\r"] if count % 10 == 0 else ends  # a CR: encoded whole
        text = "".join(pick.choice(pieces) + pick.choice(endings) for _ in range(pick.randint(0, 30)))
        assert frames._quoted_printable(text) == quopri.encodestring(text.encode()).decode("ascii"), text
    # the same lines again come from what was remembered, unchanged
    text = "Kære Søren \nvelkommen. \n.\n" + "æ" * 90 + "\n"
    assert frames._quoted_printable(text) == frames._quoted_printable(text)
    assert frames._quoted_printable(text) == quopri.encodestring(text.encode()).decode("ascii")
