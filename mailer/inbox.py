"""`mailer inbox` (and its old name `mailer rsvp`): everything that came back, sorted by kind.

Each message read is one of: a calendar answer (recorded, the newest per member wins), a bounce
(the member is marked bouncing), a delay warning (recorded, never a bounce), an unsubscribe
request (added to `files.unsubscribed`), an auto-reply (counted, ignored), or anything else
(listed for the coordinator to read). A message read before counts nothing again; a calendar
answer nothing could be recorded from is looked at again on the next run.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import TextIO

from mailer.addresses import address_key
from mailer.backups import told
from mailer.bounces import Notice, delivery_notices
from mailer.calendar import is_test_uid
from mailer.compose import UNSUBSCRIBE_SUBJECT
from mailer.config import Settings
from mailer.errors import RecipientsError, ReplyError
from mailer.journal import Journal, MessageRead, Return
from mailer.mailboxes import ImapMailbox, Received, messages_at
from mailer.outcomes import DeliveryRecord
from mailer.recipients import add_suppressed, read_members, read_suppressed
from mailer.rsvp import Answers, Recorded, RsvpReport, calendar_parts, replies_in
from mailer.words import count

# Exchange and Outlook write these in front of an out-of-office subject, in the mailbox's language.
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(automatisk svar|automatic reply|autosvar|abwesenheitsnotiz|automatische antwort|"
    r"out of office|fraværende|ikke til stede|réponse automatique)\b",
    re.IGNORECASE,
)
QUOTED_ID = re.compile(r"<[^<>\s]+>")  # a Message-ID in In-Reply-To or References (RFC 5322 3.6.4)
# A calendar answer nothing was recorded from (not invited, not our meeting): not remembered as
# read, so that the next run looks at it again and counts it if it counts by then.
SKIPPED = "skipped answer"
UNSUBSCRIBE = re.compile(rf"^\s*((re|sv|aw|fw|vs)\s*:\s*)*{UNSUBSCRIBE_SUBJECT}\s*$", re.IGNORECASE)


# What was done with a listed message (`Listed.done`), as the terminal says it.
NOTES = {
    "": "",
    "not_member": "not a member: nothing recorded",
    "about": "about {campaign}, sent {sent_at}",
    "not_quoted": "our message is not quoted",
    "stranger": "not a member: look at it yourself",
    "already": "already unsubscribed",
    "added": "added to {file}",
}


@dataclass(frozen=True)
class Listed:
    """A message shown to the coordinator: who wrote it, its subject, and what was done."""

    source: str
    sender: str  # the address (of the member, for a bounce or a delay)
    subject: str  # a bounce's or delay's: the server's reply
    done: str = ""  # a key of NOTES
    campaign: str = ""  # a bounce's or delay's: the run it is about, and when that was sent
    sent_at: str = ""
    file: str = ""  # the unsubscribe list it was added to
    name: str = ""  # the sender's name, where the message gives one
    written: str = ""  # the message's Date: (ISO), '' without one

    @property
    def note(self) -> str:
        return NOTES[self.done].format(campaign=self.campaign, sent_at=self.sent_at, file=self.file)


@dataclass
class InboxReport:
    """What one run read, by kind."""

    read: int = 0
    again: int = 0  # read by an earlier run: nothing counted again
    answers: RsvpReport = field(default_factory=RsvpReport)
    bounces: list[Listed] = field(default_factory=list)
    delays: list[Listed] = field(default_factory=list)
    unsubscribed: list[Listed] = field(default_factory=list)
    auto_replies: list[Listed] = field(default_factory=list)
    to_read: list[Listed] = field(default_factory=list)
    copy: Path | None = None  # of the journal, made before this run recorded anything


class Sorter:
    """Sorts one message at a time and records what it says."""

    def __init__(self, settings: Settings, journal: Journal, report: InboxReport, *, dry_run: bool) -> None:
        self.settings = settings
        self.journal = journal
        self.report = report
        self.dry_run = dry_run
        self.answers = Answers(settings, journal)
        self.sent: dict[str, DeliveryRecord] = {row.message_id: row for row in journal.deliveries()}
        self.sent_to = {row.recipient for row in self.sent.values()}
        self.members = _member_names(settings)
        self.unsubscribed = settings.resolve(settings.files.unsubscribed)

    def sort(self, mail: Received, msg: Message) -> str:
        """Record what `mail` (parsed: `msg`) says; returns its kind."""
        name, sender = parseaddr(str(msg.get("From", "")))
        subject = _words(msg, "Subject")
        written = _date(msg)
        notices = delivery_notices(mail.raw)
        if notices:
            for notice in notices:
                self._return(mail, msg, notice)
            return "bounce" if any(n.permanent for n in notices) else "delay"
        if calendar_parts(msg):
            try:
                replies = replies_in(mail.raw)
            except ReplyError as err:
                self.report.answers.skipped.append((mail.source, err.message))
                return "not an answer"  # it never will be: remembered
            before = len(self.report.answers.recorded), len(self.report.answers.older)
            for reply in replies:
                self.answers.record(mail.source, reply, self.report.answers)
            if all(is_test_uid(reply.uid) for reply in replies):
                return "test answer"  # never counts: remembered
            if len(self.report.answers.recorded) > before[0]:
                return "answer"
            return "older answer" if len(self.report.answers.older) > before[1] else SKIPPED
        if UNSUBSCRIBE.match(subject):
            self._unsubscribe(mail, sender, subject, msg)
            return "unsubscribe"
        if is_auto_reply(msg):
            self.report.auto_replies.append(Listed(mail.source, sender, subject, name=name, written=written))
            return "auto-reply"
        self.report.to_read.append(Listed(mail.source, self._who(msg), subject, written=written))
        return "other"

    def meeting_quoted(self, msg: Message) -> str:
        """The meeting of the message of ours that `msg` answers (In-Reply-To, References), if
        it names one."""
        quoted = f"{msg.get('In-Reply-To', '')} {msg.get('References', '')}"
        for message_id in reversed(QUOTED_ID.findall(quoted)):
            ours = self.sent.get(message_id)
            if ours is not None and ours.meeting_id:
                return ours.meeting_id
        return ""

    def _who(self, msg: Message) -> str:
        """'Name <address>' of who wrote: a member by the member list's name, anyone else by
        their From:'s; the address alone when there is no name."""
        written, address = parseaddr(_words(msg, "From"))
        name = self.members.get(address_key(address)) or written
        return f"{name} <{address}>" if name and address else address or name

    def _return(self, mail: Received, msg: Message, notice: Notice) -> None:
        ours = self.sent.get(notice.message_id)
        known = notice.address in self.members or notice.address in self.sent_to
        listed = self.report.bounces if notice.permanent else self.report.delays
        written = _date(msg)
        if not known:
            listed.append(Listed(mail.source, notice.address, notice.reply, "not_member", written=written))
            return
        item = Return(
            recipient=notice.address,
            kind="bounce" if notice.permanent else "delay",
            message_id=ours.message_id if ours else notice.message_id,
            campaign=ours.campaign if ours else "",
            at=written or datetime.now().astimezone().isoformat(timespec="seconds"),
            reply=notice.reply,
            source=mail.source,
        )
        self.journal.record_return(item)
        if ours is None:
            listed.append(Listed(mail.source, notice.address, notice.reply, "not_quoted", written=written))
            return
        listed.append(
            Listed(
                mail.source,
                notice.address,
                notice.reply,
                "about",
                campaign=ours.campaign,
                sent_at=ours.at,
                written=written,
            )
        )

    def _unsubscribe(self, mail: Received, sender: str, subject: str, msg: Message) -> None:
        address = address_key(sender)
        written = _date(msg)
        if address not in self.members:
            done = "stranger"
        elif address in read_suppressed(self.unsubscribed):
            done = "already"
        else:
            when = (written or datetime.now().astimezone().isoformat())[:10]
            if not self.dry_run:
                add_suppressed(self.unsubscribed, sender, when, f"mail {mail.source}")
            done = "added"
        name = parseaddr(str(msg.get("From", "")))[0]
        listed = Listed(
            mail.source, sender, subject, done, file=self.unsubscribed.name, name=name, written=written
        )
        self.report.unsubscribed.append(listed)


def is_auto_reply(msg: Message) -> bool:
    """An out-of-office or other automatic answer: RFC 3834's Auto-Submitted, the X-Autoreply family,
    Exchange's X-Auto-Response-Suppress on its own automatic replies, or Outlook's subject prefix."""
    auto = str(msg.get("Auto-Submitted", "")).strip().casefold()
    if auto and auto != "no":
        return True
    if any(msg.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")):
        return True
    if str(msg.get("Precedence", "")).strip().casefold() == "auto_reply":
        return True
    return bool(AUTO_REPLY_SUBJECT.match(str(msg.get("Subject", ""))))


def read_inbox(
    settings: Settings, paths: Iterable[Path], *, imap: bool = False, dry_run: bool = False, out: TextIO
) -> int:
    """`mailer inbox`: read, sort and record everything; print a report per kind.

    Exit 0 whatever the messages held (each problem is reported); unreadable paths and a bad
    [imap] setup raise (the CLI exits 2) before anything is recorded.
    """
    report = read_mail(settings, paths, imap=imap, dry_run=dry_run)
    print_report(report, out, dry_run=dry_run)
    return 0


def read_mail(
    settings: Settings, paths: Iterable[Path], *, imap: bool = False, dry_run: bool = False
) -> InboxReport:
    """Read, sort and record everything at `paths` (and in the [imap] mailbox with `imap`); what
    was read, by kind. Unreadable paths and a bad [imap] setup raise before anything is recorded."""
    chosen = list(paths)
    if not chosen and not imap:
        raise ReplyError(
            "nothing to read: name .eml or .msg files, mbox files or Maildir folders, or use --imap"
        )
    for path in chosen:
        if not path.exists():
            raise ReplyError("no such file or folder", path=path)
    report = InboxReport()
    mailbox = ImapMailbox(settings) if imap else None  # signs in first: a refusal records nothing
    try:
        with _journal(settings, dry_run) as journal:
            sorter = Sorter(settings, journal, report, dry_run=dry_run)
            for mail in _everything(chosen, mailbox, journal):
                report.read += 1
                if journal.was_read(mail.key):
                    report.again += 1
                    continue
                if not dry_run:
                    report.copy = journal.back_up("inbox")
                msg = email.message_from_bytes(mail.raw, policy=email.policy.default)
                kind = sorter.sort(mail, msg)
                if kind == SKIPPED:
                    continue
                journal.mark_read(
                    mail.key,
                    kind,
                    mail.source,
                    sender=_words(msg, "From"),
                    subject=_words(msg, "Subject"),
                    written=_date(msg),
                    meeting_id=sorter.meeting_quoted(msg) if kind == "other" else "",
                )
            if mailbox is not None:
                position = (mailbox.uidvalidity, mailbox.last_uid)
                if not dry_run and journal.imap_position(mailbox.name) != position:
                    report.copy = journal.back_up("inbox")
                journal.set_imap_position(mailbox.name, *position)
    finally:
        if mailbox is not None:
            mailbox.close()
    return report


@dataclass(frozen=True)
class Handled:
    """Replies to read marked as needing nothing more, and the journal's copy made before."""

    replies: list[MessageRead]
    copy: Path | None


def mark_handled(settings: Settings, now: datetime, *, sender: str = "", key: str = "") -> Handled:
    """Replies to read that need nothing more (a thank-you, a question answered by phone): each
    one from `sender`, or the one whose key is `key`. They stop counting in `status` and the desk."""
    wanted = address_key(sender)
    with Journal(settings.resolve(settings.files.state)) as journal:
        chosen = [
            r for r in journal.replies_to_read() if (wanted and r.address == wanted) or (key and r.key == key)
        ]
        if not chosen:
            return Handled([], None)
        copy = journal.back_up("handled")
        for reply in chosen:
            journal.mark_handled(reply.key, now)
    return Handled(chosen, copy)


def _everything(paths: list[Path], mailbox: ImapMailbox | None, journal: Journal) -> Iterator[Received]:
    for path in paths:
        yield from messages_at(path)
    if mailbox is not None:
        yield from mailbox.messages(journal.imap_position(mailbox.name))


@contextmanager
def _journal(settings: Settings, dry_run: bool) -> Iterator[Journal]:
    """The journal; for a dry run, a copy of it that is thrown away (so the run finds exactly what
    a real one would, and records nothing)."""
    path = settings.resolve(settings.files.state)
    if not dry_run:
        with Journal(path) as journal:
            yield journal
        return
    with tempfile.TemporaryDirectory(prefix="mailer-dry-run-") as folder:
        copy = Path(folder) / path.name
        if path.exists():
            with Journal(path, readonly=True):  # moves a killed run's outcomes in first
                pass
            source, target = sqlite3.connect(f"file:{path}?mode=ro", uri=True), sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                source.close()
                target.close()
        with Journal(copy) as journal:
            yield journal
        shutil.rmtree(folder, ignore_errors=True)


def _member_names(settings: Settings) -> dict[str, str]:
    """The member list's addresses and their names (invalid rows left out: they cannot be
    matched anyway)."""
    try:
        members = read_members(settings.resolve(settings.files.recipients), settings.sender.language)
    except RecipientsError:
        return {}
    return {m.key: m.name for m in members.members}


def _words(msg: Message, header: str) -> str:
    """A header's text on one line (decoded: 'Søren Ærø <soren.aero@vordingborg.example>')."""
    return " ".join(str(msg.get(header, "")).split())


def _date(msg: Message) -> str:
    try:
        return parsedate_to_datetime(str(msg.get("Date", ""))).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        return ""


def print_report(report: InboxReport, out: TextIO, *, dry_run: bool = False) -> None:
    answers = report.answers
    again = f" ({report.again} read before: not counted again)" if report.again else ""
    print(f"read {count(report.read, 'message')}{again}", file=out)
    print(f"recorded {count(len(answers.recorded), 'answer')}", file=out)
    for item in answers.recorded:
        _print_answer(item, out)
    if answers.older:
        print(f"not recorded, an answer given later is already there: {len(answers.older)}", file=out)
        for item in answers.older:
            _print_answer(item, out)
    print(f"skipped {len(answers.skipped)}", file=out)
    for source, reason in answers.skipped:
        print(f"  {source}: {reason}", file=out)
    sections = (
        ("bounces (the address no longer takes mail; later sends leave the member out)", report.bounces),
        ("delay warnings (the server is still trying: not a bounce)", report.delays),
        ("unsubscribe requests", report.unsubscribed),
        ("auto-replies (out of office and the like: ignored)", report.auto_replies),
        ("to read yourself (record an answer with `mailer answer`)", report.to_read),
    )
    for title, items in sections:
        print(f"{title}: {len(items)}", file=out)
        for listed in items:
            note = f"  ({listed.note})" if listed.note else ""
            print(f"  {listed.sender:38} {listed.subject}  {listed.source}{note}", file=out)
    if report.to_read:
        print(
            "a reply to read that needs no answer: `mailer inbox --handled EMAIL` (it stops counting)",
            file=out,
        )
    if report.copy is not None:
        print(told(report.copy), file=out)
    if dry_run:
        print("dry run: nothing was recorded", file=out)
    elif report.bounces:
        print("`mailer status` shows who is bouncing; `mailer bounced --clear EMAIL` puts one back", file=out)


def _print_answer(item: Recorded, out: TextIO) -> None:
    answer = item.answer
    note = f"  ({item.note})" if item.note else ""
    print(
        f"  {answer.meeting_id}  {item.email:38} {answer.partstat.lower():9} "
        f"{answer.answered_at}  {item.source}{note}",
        file=out,
    )
