"""Copies of the journal, made before a command changes it (send, cancel, inbox, answer,
bounced --clear): a mistake, a full disk or a
damaged file never loses the record of what was sent to whom.

Made with SQLite's backup API (a consistent copy, also of a journal in WAL mode) into
`backups/` beside the journal, named by the time they were made. The newest `KEEP` are kept,
and besides them the newest made before a run that mails members (`send`, `cancel`), so that a
day of answers and inbox runs never pushes out the record as it was before the last mailing.
README.md ("Restoring the journal") says how to put one back.
"""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from mailer.errors import MailerError
from mailer.private import private_file, private_folder

KEEP = 5
FOLDER = "backups"

Mailing = Literal["send", "cancel"]
MAILINGS: tuple[Mailing, ...] = ("send", "cancel")
# What changes the journal: a run that mails members, or `inbox` (`--handled`), `answer`,
# `bounced --clear`.
Change = Literal[Mailing, "inbox", "handled", "answer", "clear"]
# What each was about to do, and so left undone, when the copy could not be made.
_ABOUT_TO: dict[Change, tuple[str, str]] = {
    "send": ("sending", "nothing was sent"),
    "cancel": ("sending the cancellation", "nothing was sent"),
    "inbox": ("recording what came back", "nothing was recorded"),
    "handled": ("marking the replies handled", "nothing was marked"),
    "answer": ("recording the answer", "nothing was recorded"),
    "clear": ("putting the address back", "nothing was changed"),
}


def backup_folder(journal: Path) -> Path:
    return journal.parent / FOLDER


def backups(journal: Path) -> list[Path]:
    """The journal's copies, newest first."""
    folder = backup_folder(journal)
    if not folder.is_dir():
        return []
    found = list(folder.glob(f"{journal.stem}-*{journal.suffix}"))
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)


def told(copy: Path) -> str:
    """What a command that changed the journal says about the copy it made first."""
    return f"the journal as it was is copied to {copy} (README: 'Restoring the journal')"


def _mark(mailing: Mailing) -> str:
    """The end of the name of a copy made before a run that mails members."""
    return f"-before-{mailing}"


def back_up(db: sqlite3.Connection, journal: Path, before: Change) -> Path:
    """A consistent copy of the open journal `db`, made `before` the change a command is about
    to make, its name marked when that is a `send` or `cancel`; then the copies that are not
    kept (`kept`) are removed."""
    folder = backup_folder(journal)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    mark = _mark(before) if before in MAILINGS else ""
    target = folder / f"{journal.stem}-{stamp}{mark}{journal.suffix}"
    number = 2
    while target.exists():
        target = folder / f"{journal.stem}-{stamp}-{number}{mark}{journal.suffix}"
        number += 1
    try:
        private_folder(folder)
        copy = sqlite3.connect(private_file(target))
        try:
            db.backup(copy)
        finally:
            copy.close()
    except (OSError, sqlite3.Error) as err:
        with contextlib.suppress(OSError):  # also when the folder is what failed
            target.unlink(missing_ok=True)
        doing, undone = _ABOUT_TO[before]
        raise MailerError(
            f"the journal could not be copied before {doing} ({err}); {undone}: make room on the "
            "disk (or fix what the message says) and run the same command again",
            path=target,
        ) from err
    found = backups(journal)
    for old in set(found) - kept(found, journal):
        old.unlink()
    return target


def kept(found: list[Path], journal: Path) -> set[Path]:
    """Of the copies `found` (newest first), those kept: the newest `KEEP`, and the newest made
    before a `send` and before a `cancel`."""
    keep = set(found[:KEEP])
    for mailing in MAILINGS:
        end = f"{_mark(mailing)}{journal.suffix}"
        newest = next((copy for copy in found if copy.name.endswith(end)), None)
        if newest is not None:
            keep.add(newest)
    return keep
