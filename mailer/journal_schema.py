"""The journal's tables, the columns added to them since journals were first made, and how a
file that is not mailer's journal is told apart (`mailer.journal` opens it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mailer.backups import FOLDER
from mailer.errors import MailerError

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    campaign    TEXT NOT NULL,
    recipient   TEXT NOT NULL,          -- the address, case-folded
    email       TEXT NOT NULL,          -- the address as written
    name        TEXT NOT NULL DEFAULT '',
    language    TEXT NOT NULL DEFAULT '',
    version     TEXT NOT NULL,          -- what was sent: '0', or 'sequence:fingerprint'
    message_id  TEXT NOT NULL,
    meeting_id  TEXT,
    method      TEXT,                   -- REQUEST, CANCEL, or NULL for plain messages
    sequence    INTEGER,
    fingerprint TEXT,
    status      TEXT NOT NULL,          -- sent | failed
    code        INTEGER,
    reply       TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 1,
    at          TEXT NOT NULL,
    PRIMARY KEY (campaign, recipient, version)
);
CREATE INDEX IF NOT EXISTS deliveries_meeting ON deliveries (meeting_id, recipient);
CREATE TABLE IF NOT EXISTS meetings (
    meeting_id  TEXT PRIMARY KEY,
    uid         TEXT NOT NULL,
    sequence    INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    snapshot    TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meeting_versions (
    meeting_id  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    snapshot    TEXT NOT NULL,
    PRIMARY KEY (meeting_id, fingerprint)
);
CREATE TABLE IF NOT EXISTS answers (
    meeting_id  TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    partstat    TEXT NOT NULL,
    sequence    INTEGER,
    answered_at TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT '',
    comment     TEXT NOT NULL DEFAULT '',   -- what the member wrote with the answer
    PRIMARY KEY (meeting_id, recipient)
);
CREATE TABLE IF NOT EXISTS returns (        -- what came back about a member: bounces, delay warnings
    recipient   TEXT NOT NULL,              -- the failed address, case-folded
    kind        TEXT NOT NULL,              -- bounce (permanent) | delay (the server still tries)
    message_id  TEXT NOT NULL DEFAULT '',   -- our message it is about, where the notice says
    campaign    TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL,              -- when the notice was written
    reply       TEXT NOT NULL DEFAULT '',   -- the server's words
    source      TEXT NOT NULL,              -- where it was read: a file, imap:INBOX/12, or smtp
    cleared_at  TEXT,                       -- the coordinator put the member back
    PRIMARY KEY (recipient, kind, source)
);
CREATE TABLE IF NOT EXISTS inbox_read (     -- messages the inbox has counted, so none counts twice
    key         TEXT PRIMARY KEY,           -- the Message-ID, or a digest of the bytes
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL,
    at          TEXT NOT NULL,              -- when it was read
    sender      TEXT NOT NULL DEFAULT '',   -- its From: as written ('Søren Ærø <soren@...>')
    subject     TEXT NOT NULL DEFAULT '',
    written     TEXT NOT NULL DEFAULT '',   -- its Date:, ISO
    meeting_id  TEXT NOT NULL DEFAULT '',   -- the meeting whose message it answers, when it quotes one
    handled_at  TEXT                        -- a reply to read: the coordinator said it needs nothing more
);
CREATE TABLE IF NOT EXISTS imap_position (  -- where the last read of a mailbox stopped
    mailbox     TEXT PRIMARY KEY,           -- user@host/mailbox
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL
);
"""
# Columns added to a table after journals with it were made: added to such a journal when it is
# next opened for writing (a read-only open reads what is there).
ADDED_COLUMNS = {
    "inbox_read": (
        ("sender", "TEXT NOT NULL DEFAULT ''"),
        ("subject", "TEXT NOT NULL DEFAULT ''"),
        ("written", "TEXT NOT NULL DEFAULT ''"),
        ("meeting_id", "TEXT NOT NULL DEFAULT ''"),
        ("handled_at", "TEXT"),
    ),
}


def not_a_journal(path: Path, what: str) -> MailerError:
    return MailerError(
        f"{what}, not a journal of what was sent: mailer does not use it, so that nobody gets a "
        f"message twice. If it should be the journal, put back a copy from {FOLDER}/ beside it "
        "(README: 'Restoring the journal'). To start over on purpose, sending everything again, "
        "move the file away and run the command again",
        path=path,
    )


def add_new_columns(db: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        with db:
            for name, kind in columns:
                if name not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def require_journal(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a file that is a SQLite database, but not mailer's journal."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'")
    if found.fetchone() is None:
        db.close()
        raise not_a_journal(path, "is a database, but not mailer's")
