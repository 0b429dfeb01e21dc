"""Copies of the journal, made before a command changes it (send, cancel, inbox, answer,
bounced --clear): a mistake, a full disk or a
damaged file never loses the record of what was sent to whom.

Made with SQLite's backup API (a consistent copy, also of a journal in WAL mode) into
`backups/` beside the journal, named by the time they were made; the newest `KEEP` are kept.
README.md ("Restoring the journal") says how to put one back.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from mailer.errors import MailerError
from mailer.private import private_file, private_folder

KEEP = 5
FOLDER = "backups"


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


def back_up(db: sqlite3.Connection, journal: Path) -> Path:
    """A consistent copy of the open journal `db`; the oldest copies beyond `KEEP` removed."""
    folder = private_folder(backup_folder(journal))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    target = folder / f"{journal.stem}-{stamp}{journal.suffix}"
    number = 2
    while target.exists():
        target = folder / f"{journal.stem}-{stamp}-{number}{journal.suffix}"
        number += 1
    try:
        copy = sqlite3.connect(private_file(target))
        try:
            db.backup(copy)
        finally:
            copy.close()
    except (OSError, sqlite3.Error) as err:
        target.unlink(missing_ok=True)
        raise MailerError(
            f"the journal could not be copied before sending ({err}); nothing was sent: make room "
            "on the disk (or fix what the message says) and run the command again",
            path=target,
        ) from err
    for old in backups(journal)[KEEP:]:
        old.unlink()
    return target
