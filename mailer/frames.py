"""The quick way to write a message: `build_message` gives, byte for byte, what
`mailer.message.build_message` gives for the same draft, for a fraction of the work.

Flattening a message's tree costs more than the rest of it, so it is done once per layout
(structure and part headers): the result, with stand-ins where members differ, is the
layout's frame, and each member's message is that frame with their headers (folded as the
policy folds them), boundaries and encoded bodies put in place of the stand-ins. Text every
member shares (the sender, usually the subject and the date, the bodies' common lines) is
encoded once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mailer.message import (
    HEADER_LINE,
    WIRE,
    Draft,
    Encoders,
    Fill,
    Layout,
    encoded_words,
    flatten,
    prepare,
    quoted_printable,
    short_lines,
    tree,
)


def build_message(draft: Draft) -> bytes:
    """What `mailer.message.build_message` gives: filled into the layout's frame, or, where a
    frame cannot serve, the tree flattened."""
    layout, fill = prepare(draft, QUICK)
    frame = _frame(layout) if _FRAMED_SEED.fullmatch(fill.seed) else None
    data = frame.fill(fill) if frame is not None else flatten(tree(layout, fill))
    return short_lines(data, draft.to_email)


def _quoted_printable(text: str) -> str:
    """`quoted_printable(text)`, one line at a time, remembering lines.

    Quoted-printable encodes each line on its own (soft breaks, a space or tab before the
    line's end), so the lines every member's message shares are encoded once instead of in
    every message. A CR would make the encoder choose its line ends from the first one in the
    whole text: such a text is encoded whole.
    """
    if "\r" in text:
        return quoted_printable(text)
    *lines, last = text.split("\n")
    return "".join(map(_quoted_printable_line, lines)) + quoted_printable(last)


@lru_cache(maxsize=2048)
def _quoted_printable_line(line: str) -> str:
    return quoted_printable(f"{line}\n")


# The subject and the sender's name are usually every member's: encoded once.
QUICK = Encoders(words=lru_cache(maxsize=1024)(encoded_words), quoted_printable=_quoted_printable)


@lru_cache(maxsize=4096)
def _header_line(name: str, value: str) -> bytes:
    """One top-level header as the policy folds it: ASCII already folded into short lines (as
    RFC 2047 words are) is written as it is, which is what the folder gives
    (tests/test_message_frames.py) without its cost, most of a message's for To and Message-ID,
    which differ per member.

    Cached: sender, subject and date are usually the same for every member.
    """
    lines = f"{name}: {value}".split("\n")
    if value.isascii() and all(len(line) <= HEADER_LINE for line in lines) and _FOLDED.fullmatch(value):
        return (WIRE.linesep.join(lines) + WIRE.linesep).encode("ascii")
    return WIRE.fold_binary(name, value)


# Lines the folder leaves as they are: words with single spaces between them, the first line
# and each continuation line (a space or tab, then words) never empty.
_WORDS = r"[^\s](?:[^\s]| (?=[^\s]))*"
_FOLDED = re.compile(rf"{_WORDS}(?:\n[ \t]{_WORDS})*")


def _body_bytes(lines: str) -> bytes:
    """A body as the generator writes it: every CRLF, CR or LF made the policy's line end."""
    data = lines.encode("ascii", "surrogateescape")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data.replace(b"\n", WIRE.linesep.encode("ascii"))


@dataclass(frozen=True)
class _Frame:
    """One layout's message as the generator writes it, with what differs per member cut out.

    `pieces` are the bytes every message of the layout shares, and between them the names of
    the slots filled per member: "head" (the top-level headers, the part-structure headers
    stay in the frame), "seed" (in each boundary), "text", "html" and "calendar" (the bodies).
    """

    names: tuple[str, ...]
    pieces: tuple[bytes | str, ...]

    def fill(self, member: Fill) -> bytes:
        """The member's message: each slot filled as the generator would have written it."""
        slots = {
            "head": b"".join(map(_header_line, self.names, member.values)),
            "seed": member.seed.encode("ascii"),
            "text": _body_bytes(member.text),
            "html": _body_bytes(member.html or ""),
            "calendar": _body_bytes(member.calendar or ""),
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
def _frame(layout: Layout) -> _Frame | None:
    """The layout's frame, cut from its tree built with stand-ins; None if the frame filled
    with a probe message is not byte for byte that message's tree flattened (then every
    message of the layout is built whole).

    Cached: a run has a few layouts. The key holds the shared parts, so while a frame is
    cached their identities are not reused; a frame holds their encoded bytes, hence a small cache.
    """
    data = flatten(tree(layout, Fill((_HEADER,) * len(layout.names), _SEED, _TEXT, _HTML, _CALENDAR)))
    slots = {
        b"".join(WIRE.fold_binary(name, _HEADER) for name in layout.names): "head",
        _SEED.encode("ascii"): "seed",
        _TEXT.encode("ascii"): "text",
        _HTML.encode("ascii"): "html",
        _CALENDAR.encode("ascii"): "calendar",
    }
    found = re.split(b"(" + b"|".join(map(re.escape, slots)) + b")", data)
    # re.split gives the shared bytes at even places, the stand-ins matched between them at odd.
    pieces = (slots[piece] if i % 2 else piece for i, piece in enumerate(found))
    frame = _Frame(layout.names, tuple(piece for piece in pieces if piece))
    probe = Fill(
        values=tuple(f"probe {i}" for i in range(len(layout.names))),
        seed="0123456789abcdef",
        text="probe text\r\n.\n",
        html="probe html\r" if layout.html is not None else None,
        calendar="probe calendar\n" if layout.calendar is not None else None,
    )
    return frame if frame.fill(probe) == flatten(tree(layout, probe)) else None
