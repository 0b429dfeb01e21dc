"""The commands that read and record what came back: `inbox` (and its old name `rsvp`),
`answer` and `bounced`. Their arguments are added to the command line's parser here; the
work is done in `inbox.py`, `answers.py` and `bounces.py`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mailer.words import count, local_time

if TYPE_CHECKING:
    from mailer.config import Settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands' arguments, added to the command line's parser."""
    for name, text in (
        ("inbox", "read what came back: answers, bounces, unsubscribes, auto-replies"),
        ("rsvp", "the same as inbox (its old name)"),
    ):
        r = commands.add_parser(name, help=text)
        r.add_argument(
            "paths", nargs="*", type=Path, help=".eml or .msg files, mbox files or Maildir folders"
        )
        r.add_argument("--imap", action="store_true", help="also read the [imap] mailbox")
        r.add_argument("--dry-run", action="store_true", help="show what would be recorded; record nothing")
        r.add_argument(
            "--handled",
            metavar="EMAIL",
            help="the plain replies from EMAIL need nothing more: they stop counting as replies to read "
            "(recording the member's answer with `mailer answer` does the same)",
        )

    a = commands.add_parser("answer", help="record an answer given by phone, in person or in a plain reply")
    a.add_argument("meeting")
    a.add_argument("email")
    a.add_argument("answer", choices=["accepted", "declined", "tentative"])
    a.add_argument("--note", default="", help="a comment kept with the answer")

    b = commands.add_parser("bounced", help="members whose address bounced; --clear EMAIL puts one back")
    b.add_argument("--clear", metavar="EMAIL", help="send to this member again (the address works again)")


def _inbox(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.inbox import read_inbox
    from mailer.passwords import with_passwords_asked

    if args.handled:
        return _handled(args, settings, now, out)
    if args.imap:
        settings = with_passwords_asked(settings, out, "imap")
    return read_inbox(settings, args.paths, imap=args.imap, dry_run=args.dry_run, out=out)


def _handled(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.backups import told
    from mailer.errors import ReplyError
    from mailer.inbox import mark_handled

    if args.paths or args.imap or args.dry_run:
        raise ReplyError(
            "--handled marks replies already read: run it on its own (mailer inbox --handled EMAIL)",
            field="--handled",
        )
    handled = mark_handled(settings, now, sender=args.handled)
    if not handled.replies:
        print(f"no reply from {args.handled} is waiting to be read: nothing to do", file=out)
        return 0
    if handled.copy is not None:
        print(told(handled.copy), file=out)
    for reply in handled.replies:
        print(f"  {reply.subject}  ({reply.source})", file=out)
    print(
        f"{count(len(handled.replies), 'reply', 'replies')} from {args.handled} marked handled: "
        "no longer counted as replies to read",
        file=out,
    )
    return 0


def _answer(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.answers import record_by_hand
    from mailer.backups import told
    from mailer.journal import Journal

    with Journal(settings.resolve(settings.files.state)) as journal:
        answer = record_by_hand(settings, journal, args.meeting, args.email, args.answer, args.note, now)
        print(told(journal.back_up("answer")), file=out)  # the copy, made before the answer was recorded
    note = f' ("{answer.comment}")' if answer.comment else ""
    print(f"{args.meeting}: {args.email} {args.answer}{note}, entered by hand", file=out)
    return 0


def _bounced(args: argparse.Namespace, settings: Settings, now: datetime, out: TextIO) -> int:
    from mailer.backups import told
    from mailer.bounces import bouncing, put_back
    from mailer.journal import Journal
    from mailer.status import zone_of

    with Journal(settings.resolve(settings.files.state), readonly=args.clear is None) as journal:
        found = bouncing(journal)
        if args.clear:
            copy = put_back(journal, args.clear)
            if copy is None:
                print(f"{args.clear} is not marked as bouncing: nothing to do", file=out)
                return 0
            print(told(copy), file=out)
            print(f"{args.clear} gets messages again from the next send on", file=out)
            return 0
        zone = zone_of(settings, journal, None)
    if not found:
        print("no member is bouncing", file=out)
    else:
        print(f"{count(len(found), 'member')} bouncing:", file=out)
    for item in found.values():
        about = f" ({item.campaign})" if item.campaign else ""
        print(f"  {item.recipient:38} {local_time(item.at, zone)}{about}  {item.reply}", file=out)
    if found:
        print("when an address works again: mailer bounced --clear EMAIL", file=out)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings, datetime, TextIO], int]] = {
    "inbox": _inbox,
    "rsvp": _inbox,
    "answer": _answer,
    "bounced": _bounced,
}
