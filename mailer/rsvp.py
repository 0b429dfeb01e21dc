"""Members' answers: iMIP REPLY messages (RFC 6047) read from .eml files, mbox files, Maildir
folders and an IMAP mailbox, matched to a meeting by UID and to an invited member by address,
and recorded in the journal (the newest answer per member wins).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import mailbox
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

from icalendar import Calendar

from mailer.config import Settings
from mailer.errors import ConfigError, ReplyError
from mailer.journal import Answer, Journal, Sent
from mailer.transport.tls import client_context, is_loopback

ANSWERS = ("ACCEPTED", "DECLINED", "TENTATIVE")
CALENDAR_TYPES = ("text/calendar", "application/ics")
IMAP_BATCH = 50


@dataclass(frozen=True)
class Reply:
    """One attendee's answer as a REPLY calendar states it."""

    uid: str
    address: str  # the answering attendee, case-folded, without mailto:
    partstat: str
    answered_at: datetime  # DTSTAMP of the reply (the message's Date: when it has none)
    sequence: int | None = None
    delegated_from: tuple[str, ...] = ()  # RFC 5546 4.2.5: a delegate answering for these
    comment: str = ""


@dataclass(frozen=True)
class Recorded:
    source: str
    answer: Answer
    email: str
    note: str = ""


@dataclass
class RsvpReport:
    """What one `mailer rsvp` run read, recorded, and left out (with the reason)."""

    read: int = 0
    recorded: list[Recorded] = field(default_factory=list)
    older: list[Recorded] = field(default_factory=list)  # a newer answer was already recorded
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


# -- reading mail -------------------------------------------------------------------------


def messages_at(path: Path) -> Iterator[tuple[str, bytes]]:
    """(source, raw bytes) for each message in an .eml file, an mbox file or a Maildir folder.

    A folder that is not a Maildir is read as a folder of .eml files.
    """
    try:
        if path.is_dir():
            if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
                maildir = mailbox.Maildir(path, factory=None, create=False)
                for key in sorted(maildir.keys()):
                    yield f"{path}/{key}", maildir.get_bytes(key)
            else:
                for file in sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml"):
                    yield str(file), file.read_bytes()
            return
        with path.open("rb") as handle:
            head = handle.read(5)
        if head == b"From ":
            box = mailbox.mbox(path, factory=None, create=False)
            try:
                for number, key in enumerate(box.keys(), start=1):
                    yield f"{path}#{number}", box.get_bytes(key)
            finally:
                box.close()
        else:
            yield str(path), path.read_bytes()
    except OSError as err:
        raise ReplyError(f"cannot be read: {err.strerror or err}", path=path) from err


def imap_messages(settings: Settings) -> list[tuple[str, bytes]]:
    """Every message in the [imap] mailbox, opened read-only (nothing is marked as read)."""
    imap = settings.imap
    _require_imap(settings)
    client = _imap_connect(settings)
    try:
        try:
            _login(client, imap.username, imap.password.get_secret_value() if imap.password else "")
        except imaplib.IMAP4.error as err:
            raise ConfigError(
                f"the IMAP server refused the login as {imap.username!r}: {_text(err)}",
                path=settings.path,
                field="imap.username",
            ) from err
        status, data = client.select(_quoted(imap.mailbox), readonly=True)
        if status != "OK":
            raise ConfigError(
                f"no mailbox {imap.mailbox!r} on {imap.host}: {_text(data)}",
                path=settings.path,
                field="imap.mailbox",
            )
        status, data = client.uid("SEARCH", "ALL")
        uids = (data[0] or b"").split() if status == "OK" and data else []
        found: list[tuple[str, bytes]] = []
        for start in range(0, len(uids), IMAP_BATCH):
            batch = b",".join(uids[start : start + IMAP_BATCH]).decode()
            status, data = client.uid("FETCH", batch, "(BODY.PEEK[])")
            if status != "OK":
                raise ReplyError(f"IMAP FETCH failed: {_text(data)}", field="imap")
            for item in data:
                if isinstance(item, tuple):
                    uid = re.search(rb"UID (\d+)", item[0])
                    label = f"imap:{imap.mailbox}/{uid.group(1).decode() if uid else '?'}"
                    found.append((label, item[1]))
        return found
    except (OSError, imaplib.IMAP4.error) as err:
        raise ReplyError(f"IMAP {imap.host}:{imap.port}: {_text(err)}", field="imap") from err
    finally:
        # A connection already gone needs no goodbye; the mailbox was opened read-only.
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()


def _login(client: imaplib.IMAP4, username: str, password: str) -> None:
    """AUTHENTICATE PLAIN where offered: it carries UTF-8 (RFC 4616), so 'æøå' in a password
    works; imaplib's LOGIN sends ASCII only."""
    if "AUTH=PLAIN" in client.capabilities:
        client.authenticate("PLAIN", lambda _: f"\0{username}\0{password}".encode())
    elif username.isascii() and password.isascii():
        client.login(username, password)
    else:
        raise imaplib.IMAP4.error("the server offers no AUTH=PLAIN, and LOGIN cannot carry non-ASCII")


def _require_imap(settings: Settings) -> None:
    imap = settings.imap
    for name in ("host", "username"):
        if not getattr(imap, name):
            raise ConfigError("is not set", path=settings.path, field=f"imap.{name}")
    if imap.password is None:
        raise ConfigError(
            "no password: set MAILER_IMAP__PASSWORD in the environment", path=settings.path, field="imap"
        )
    if imap.security == "none" and not is_loopback(imap.host):
        raise ConfigError(
            "security = 'none' would send the password in the clear; use tls or starttls",
            path=settings.path,
            field="imap.security",
        )


class _ImapOverTls(imaplib.IMAP4_SSL):
    """IMAP4_SSL that closes its socket when the TLS handshake fails (imaplib leaves it open)."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = imaplib.IMAP4._create_socket(self, timeout)  # type: ignore[attr-defined]
        try:
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _imap_connect(settings: Settings) -> imaplib.IMAP4:
    imap = settings.imap
    context = client_context(imap.ca_file, setting="imap.ca_file") if imap.security != "none" else None
    try:
        if imap.security == "tls":
            return _ImapOverTls(imap.host, imap.port, ssl_context=context, timeout=30)
        client = imaplib.IMAP4(imap.host, imap.port, timeout=30)
        if imap.security == "starttls":
            try:
                client.starttls(ssl_context=context)
            except BaseException:
                with contextlib.suppress(OSError):
                    client.shutdown()
                raise
        return client
    except (OSError, imaplib.IMAP4.error) as err:
        raise ReplyError(
            f"cannot connect to IMAP {imap.host}:{imap.port}: {_text(err)}", field="imap"
        ) from err


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, BaseException):  # imaplib puts the server's bytes in args[0]
        return _text(value.args[0]) if value.args and isinstance(value.args[0], bytes) else str(value)
    return str(value)


# -- reading one message ------------------------------------------------------------------


def replies_in(raw: bytes) -> list[Reply]:
    """The answers in one message; ReplyError says why there are none."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = calendar_parts(msg)
    if not parts:
        raise ReplyError("no calendar in the message (not an answer)")
    sent_at = _message_date(msg)
    found: list[Reply] = []
    problems: list[str] = []
    for data, method in parts:
        try:
            found += _replies_in_calendar(data, method, sent_at)
        except ReplyError as err:
            problems.append(err.message)
    if not found:
        raise ReplyError(problems[0])
    unique: dict[tuple[str, str, str], Reply] = {}
    for reply in found:  # Gmail sends the same calendar inline and as invite.ics
        unique.setdefault((reply.uid, reply.address, reply.partstat), reply)
    return list(unique.values())


def calendar_parts(msg: Message) -> list[tuple[bytes, str]]:
    """Each calendar in the message, inline or attached: (bytes, the part's method= or '')."""
    found: list[tuple[bytes, str]] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = (part.get_filename() or "").lower()
        if part.get_content_type() in CALENDAR_TYPES or filename.endswith(".ics"):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and all(data != seen for seen, _ in found):
                found.append((data, str(part.get_param("method") or "").upper()))
    return found


def _replies_in_calendar(data: bytes, part_method: str, sent_at: datetime | None) -> list[Reply]:
    try:
        cal = Calendar.from_ical(data)
    except ValueError as err:
        raise ReplyError(f"the calendar cannot be read: {_first_line(str(err))}") from err
    method = str(cal.get("METHOD", "") or part_method).strip().upper()
    if method != "REPLY":
        raise ReplyError(f"the calendar is METHOD:{method or '(none)'}, not a REPLY (not an answer)")
    events = cal.walk("VEVENT")
    if not events:
        raise ReplyError("the REPLY has no VEVENT")
    replies: list[Reply] = []
    for event in events:
        uid = str(event.get("UID", "")).strip()
        if not uid:
            raise ReplyError("the REPLY's VEVENT has no UID")
        answered_at = _stamp(event.get("DTSTAMP")) or sent_at
        if answered_at is None:
            raise ReplyError(f"the REPLY for {uid} has no DTSTAMP and the message no Date")
        attendees = event.get("ATTENDEE")
        if attendees is None:
            raise ReplyError(f"the REPLY for {uid} has no ATTENDEE")
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            address = calendar_address(str(attendee))
            if not address:
                raise ReplyError(f"the REPLY for {uid} has an ATTENDEE without an address")
            replies.append(
                Reply(
                    uid=uid,
                    address=address,
                    partstat=str(attendee.params.get("PARTSTAT", "")).strip().upper(),
                    answered_at=answered_at,
                    sequence=_integer(event.get("SEQUENCE")),
                    delegated_from=_addresses(attendee.params.get("DELEGATED-FROM")),
                    comment=_comment(event.get("COMMENT")),
                )
            )
    return replies


def calendar_address(value: str) -> str:
    """`MAILTO:Anne@Roskilde.example` -> `anne@roskilde.example` (clients differ in case)."""
    text = value.strip().strip('"').strip()
    if text[:7].casefold() == "mailto:":
        text = text[7:].strip()
    return text.casefold() if "@" in text else ""


def _addresses(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(a for a in (calendar_address(str(item)) for item in items) if a)


def _stamp(value: Any) -> datetime | None:
    moment = getattr(value, "dt", None)
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if isinstance(moment, date):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return None


def _message_date(msg: Message) -> datetime | None:
    value = msg.get("Date")
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _comment(value: Any) -> str:
    if value is None:
        return ""
    items = value if isinstance(value, list) else [value]
    return " ".join(str(item).strip() for item in items).strip()


def _first_line(text: str) -> str:
    """The library's reason without the calendar text it quotes (a cut-off part, a stray byte)."""
    line = text.strip().splitlines()[0] if text.strip() else "not iCalendar"
    line = re.split(r":\s*b['\"]", line, maxsplit=1)[0]
    return line if len(line) <= 120 else line[:117] + "..."


# -- matching and recording ---------------------------------------------------------------


class Answers:
    """Matches replies to meetings (by UID) and invited members (by address), and records them."""

    def __init__(self, settings: Settings, journal: Journal) -> None:
        self.journal = journal
        self.meetings: dict[str, str] = {}
        for meeting_id in journal.meeting_ids():
            state = journal.meeting(meeting_id)
            if state is not None:
                self.meetings[state.uid.casefold()] = meeting_id
        for meeting in settings.meetings:
            self.meetings.setdefault(meeting.uid(settings.sender.domain).casefold(), meeting.id)
        self._invited: dict[str, dict[str, Sent]] = {}

    def invited(self, meeting_id: str) -> dict[str, Sent]:
        if meeting_id not in self._invited:
            self._invited[meeting_id] = self.journal.invited(meeting_id)
        return self._invited[meeting_id]

    def record(self, source: str, reply: Reply, report: RsvpReport) -> None:
        meeting_id = self.meetings.get(reply.uid.casefold())
        if meeting_id is None:
            report.skipped.append((source, f"UID {reply.uid} is not one of our meetings"))
            return
        invited = self.invited(meeting_id)
        note = ""
        member = invited.get(reply.address)
        if member is None:
            delegators = [invited[a] for a in reply.delegated_from if a in invited]
            if not delegators:
                report.skipped.append((source, f"{reply.address} was never invited to {meeting_id}"))
                return
            member = delegators[0]
            note = f"answered by {reply.address}, to whom {member.email} delegated"
        if reply.partstat not in ANSWERS:
            shown = reply.partstat or "(none)"
            report.skipped.append((source, f"{reply.address}: PARTSTAT={shown} is not an answer to count"))
            return
        if reply.comment:
            note = f"{note}; " if note else note
            note += f"comment: {reply.comment}"
        answer = Answer(
            meeting_id=meeting_id,
            recipient=member.recipient,
            partstat=reply.partstat,
            sequence=reply.sequence,
            answered_at=reply.answered_at.isoformat(timespec="seconds"),
            source=source,
            comment=reply.comment,
        )
        kept = self.journal.record_answer(answer)
        (report.recorded if kept else report.older).append(Recorded(source, answer, member.email, note))


def read_answers(settings: Settings, paths: Iterable[Path], *, imap: bool = False, out: TextIO) -> int:
    """`mailer rsvp`: read, match and record every answer found; print what was done.

    Exit 0 whatever the messages held (each problem is reported and skipped); unreadable
    paths and a bad [imap] setup raise (the CLI exits 2).
    """
    chosen = list(paths)
    if not chosen and not imap:
        raise ReplyError("nothing to read: name .eml files, mbox files or Maildir folders, or use --imap")
    for path in chosen:
        if not path.exists():
            raise ReplyError("no such file or folder", path=path)
    report = RsvpReport()
    with Journal(settings.resolve(settings.files.state)) as journal:
        answers = Answers(settings, journal)
        for source, raw in _all_messages(settings, chosen, imap):
            report.read += 1
            try:
                replies = replies_in(raw)
            except ReplyError as err:
                report.skipped.append((source, err.message))
                continue
            for reply in replies:
                answers.record(source, reply, report)
    print_report(report, out)
    return 0


def _all_messages(settings: Settings, paths: list[Path], imap: bool) -> Iterator[tuple[str, bytes]]:
    for path in paths:
        yield from messages_at(path)
    if imap:
        yield from imap_messages(settings)


def print_report(report: RsvpReport, out: TextIO) -> None:
    print(f"read {report.read} messages", file=out)
    print(f"recorded {len(report.recorded)} answers", file=out)
    for item in report.recorded:
        _print_answer(item, out)
    if report.older:
        print(f"not recorded, an answer given later is already there: {len(report.older)}", file=out)
        for item in report.older:
            _print_answer(item, out)
    print(f"skipped {len(report.skipped)}", file=out)
    for source, reason in report.skipped:
        print(f"  {source}: {reason}", file=out)


def _print_answer(item: Recorded, out: TextIO) -> None:
    answer = item.answer
    note = f"  ({item.note})" if item.note else ""
    print(
        f"  {answer.meeting_id}  {item.email:38} {answer.partstat.lower():9} "
        f"{answer.answered_at}  {item.source}{note}",
        file=out,
    )
