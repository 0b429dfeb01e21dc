"""The journal: a SQLite record of what was sent to whom, each meeting's sequence, and answers.

It is what makes a re-run finish a run without sending anything twice, and what lets
updates and cancellations reach exactly the members who were invited. During a send, each
accepted message is first appended to a small outcome log beside the database (`state.sqlite-log`),
which a killed run cannot lose, and moved into the database in batches: a commit per
message would cost the sending more than anything else it does per message.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from mailer.backups import FOLDER, back_up
from mailer.errors import MailerError
from mailer.private import private_file, private_folder

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
    written     TEXT NOT NULL DEFAULT ''    -- its Date:, ISO
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
    ),
}


_RECORD = """INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (campaign, recipient, version) DO UPDATE SET
    status = excluded.status, code = excluded.code, reply = excluded.reply,
    attempts = deliveries.attempts + excluded.attempts, at = excluded.at,
    message_id = excluded.message_id
   WHERE deliveries.status != 'sent'"""

# An outcome replayed from the log may already be in the database (the run was killed
# between moving it and emptying the log): an identical row is left as it is.
_REPLAY = (
    _RECORD
    + """ AND NOT (deliveries.status = excluded.status AND deliveries.message_id = excluded.message_id
    AND deliveries.at = excluded.at AND deliveries.reply = excluded.reply)"""
)
SETTLE_ROWS = 500  # outcomes moved from the log into the database at a time
SETTLE_SECONDS = 1.0  # or this often, so `mailer status` during a send is at most this far behind


@dataclass(frozen=True)
class MeetingState:
    """What members were last told about a meeting."""

    meeting_id: str
    uid: str
    sequence: int
    fingerprint: str
    snapshot: dict[str, Any]


class Sent(NamedTuple):
    """One journal row: a message to a member, and how it went (a tuple in the table's
    column order: a send makes one per message)."""

    campaign: str
    recipient: str
    email: str
    name: str
    language: str
    version: str
    message_id: str
    meeting_id: str | None
    method: str | None
    sequence: int | None
    fingerprint: str | None
    status: str
    code: int | None
    reply: str
    attempts: int
    at: str


def _logged_rows(data: bytes) -> tuple[list[Sent], int]:
    """The outcome log's rows, and how many lines are not rows. The last line cut short (the
    machine stopped mid-write, before its line break) is skipped; any other such line is not
    mailer's writing, and counted."""
    rows = []
    unreadable = 0
    for line in data.split(b"\n")[:-1]:  # the last is empty, or the line cut short
        try:
            values = json.loads(line)
        except ValueError:
            values = None
        if isinstance(values, list) and len(values) == len(Sent._fields):
            rows.append(Sent(*values))
        else:
            unreadable += 1
    return rows, unreadable


class UnreadableLog(MailerError):
    """The outcome log held lines mailer did not write; it was kept aside, not used."""


def _not_a_journal(path: Path, what: str) -> MailerError:
    return MailerError(
        f"{what}, not a journal of what was sent: mailer does not use it, so that nobody gets a "
        f"message twice. If it should be the journal, put back a copy from {FOLDER}/ beside it "
        "(README: 'Restoring the journal'). To start over on purpose, sending everything again, "
        "move the file away and run the command again",
        path=path,
    )


def _add_new_columns(db: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        with db:
            for name, kind in columns:
                if name not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def _require_journal(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a file that is a SQLite database, but not mailer's journal."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'")
    if found.fetchone() is None:
        db.close()
        raise _not_a_journal(path, "is a database, but not mailer's")


@dataclass(frozen=True)
class Answer:
    meeting_id: str
    recipient: str
    partstat: str
    sequence: int | None
    answered_at: str
    source: str
    comment: str = ""


@dataclass(frozen=True)
class Return:
    """A bounce or a delay warning about a member (kind 'bounce' or 'delay')."""

    recipient: str
    kind: str
    message_id: str
    campaign: str
    at: str
    reply: str
    source: str
    cleared_at: str | None = None


class MessageRead(NamedTuple):
    """A message `mailer inbox` read: where, when it was read, and who wrote it about what when."""

    source: str
    at: str
    sender: str = ""  # its From: as written
    subject: str = ""
    written: str = ""  # its Date:, ISO ('' when it had none)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CampaignTotals(NamedTuple):
    campaign: str
    sent: int
    failed: int
    last: str  # when its last message was sent or failed (ISO, UTC)
    meeting_id: str | None


class Journal:
    """The state file; opened once per run. A missing file is an empty journal."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self._log_path = path.with_name(path.name + "-log")
        self._log: int | None = None  # the outcome log's descriptor, once this run writes to it
        self._unsettled: list[Sent] = []  # in the log, not yet in the database
        self._settled_at = time.monotonic()
        self._refused = False  # the database refused the last move; it is tried again by time only
        existed = path.exists()
        if existed and path.stat().st_size == 0:
            raise _not_a_journal(path, "is empty (0 bytes)")
        try:
            self._db = self._open(path, readonly)
            self._db.execute("SELECT count(*) FROM deliveries").fetchone()  # a damaged file shows here
        except sqlite3.Error as err:
            raise MailerError(
                f"cannot be used as mailer's journal: {err}; if it is the journal, put back a copy "
                f"from {FOLDER}/ beside it (README: 'Restoring the journal')",
                path=path,
            ) from err
        if existed:
            self._settle_killed_run(readonly)
        elif not readonly:
            self._forget_stale_log()

    @staticmethod
    def _open(path: Path, readonly: bool) -> sqlite3.Connection:
        if readonly and not path.exists():
            db = sqlite3.connect(":memory:")
        elif readonly:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        else:
            existed = path.exists()
            private_folder(path.parent)
            for made in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))):
                if made.exists() or made == path:
                    private_file(made)  # SQLite makes -wal and -shm with the journal's mode
            db = sqlite3.connect(path)
            if existed:
                _require_journal(db, path)  # before anything is written into someone else's file
            # WAL + NORMAL: a committed transaction survives kill -9 without an fsync per commit.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.row_factory = sqlite3.Row
        if readonly and path.exists():
            _require_journal(db, path)
        if not readonly or not path.exists():
            db.executescript(SCHEMA)
            _add_new_columns(db)
        return db

    def close(self) -> None:
        try:
            self.settle()
        finally:
            if self._log is not None:
                os.close(self._log)
                self._log = None
            self._db.close()

    def _end_log(self) -> None:
        """Everything logged into the database, and the log gone (only with the lock held:
        another run may have begun its own log once the lock is free)."""
        try:
            self.settle()
        except MailerError:
            # The rows stay in the log for the next open to move; this run must not move them
            # again once the lock is gone (a failure would count its attempts twice).
            self._unsettled.clear()
            raise
        finally:
            if self._log is not None:
                os.close(self._log)
                self._log = None
        self._log_path.unlink(missing_ok=True)

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Only one run at a time may plan and send from this journal: two at once would both
        find the same members not yet sent and both send to them. The lock is the operating
        system's, so a run that is killed leaves none behind.
        """
        handle = self._lock_file()
        try:
            try:
                _lock(handle)
            except OSError as err:
                raise MailerError(
                    "another mailer run is sending from this journal now; wait for it to finish",
                    path=self.path,
                ) from err
            # A run killed since this journal was opened left its log: move it before planning.
            self._replay(self._db)
            yield
        finally:
            try:
                self._end_log()  # before the lock goes: the next run reads the database, not our log
            finally:
                _HELD.discard(handle.fileno())
                handle.close()  # releases the lock

    def _lock_file(self) -> IO[bytes]:
        return open(private_file(self.path.with_name(self.path.name + ".lock")), "a+b")

    def back_up(self) -> Path:
        """A consistent copy of the journal as it is now, before a send changes it."""
        return back_up(self._db, self.path)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- deliveries -------------------------------------------------------------------

    def record(self, sent: Sent) -> None:
        """Record one outcome now; a later outcome for the same message replaces a failure."""
        self._write(_RECORD, [sent])

    def append(self, sent: Sent) -> None:
        """Record one outcome of a send under way, at a fraction of a commit's cost.

        The row goes at once into the outcome log beside the journal (a plain append: once
        written, a killed process cannot lose it) and moves into the database in batches, at
        the end of the run, or when the next run opens the journal after a crash.
        """
        line = json.dumps(sent, ensure_ascii=False) + "\n"
        data = line.encode()
        self._unsettled.append(sent)  # should the log fail, the database may still take it
        try:
            if self._log is None:
                self._log = os.open(self._log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            while data:
                data = data[os.write(self._log, data) :]
        except OSError as err:
            raise MailerError(f"cannot record what was sent: {err.strerror}", path=self._log_path) from err
        waited = time.monotonic() - self._settled_at >= SETTLE_SECONDS
        if waited or (len(self._unsettled) >= SETTLE_ROWS and not self._refused):
            try:
                self.settle()
            except MailerError:
                # The rows are safe in the log. Stopping now would cut the other connections off
                # mid-message (accepted by their server, never recorded): the run goes on, the
                # database is asked again a moment later, and the run's end says if it still refuses.
                self._refused = True

    def settle(self) -> None:
        """Move the logged outcomes into the database (one transaction), then empty the log."""
        self._settled_at = time.monotonic()
        if not self._unsettled:
            return
        self._write(_RECORD, self._unsettled)
        self._unsettled.clear()
        self._refused = False
        if self._log is not None:
            # (should this fail, the rows are in the database: moving them again changes nothing)
            with contextlib.suppress(OSError):
                os.ftruncate(self._log, 0)

    def _write(self, statement: str, rows: Iterable[Sent]) -> None:
        try:
            with self._db:
                self._db.executemany(statement, rows)
        except sqlite3.Error as err:
            raise MailerError(f"cannot record what was sent: {err}", path=self.path) from err

    def _settle_killed_run(self, readonly: bool) -> None:
        """Outcomes a killed run logged but did not move into the database are moved now,
        unless a run is sending (its log is its own until it ends; `sending` moves it then)."""
        if not self._log_waiting():
            return
        try:
            with self._send_lock() as locked:
                if not locked:
                    return  # a run is sending: the database is at most a moment behind it
                if not readonly:
                    self._replay(self._db)
                    return
                db = sqlite3.connect(self.path)
                try:
                    self._replay(db)
                finally:
                    db.close()
        except (OSError, sqlite3.Error, MailerError) as err:
            if not readonly or isinstance(err, UnreadableLog):
                raise
            # Reading only (status, preview) from a journal this account cannot write: what
            # the log holds is shown once a send has moved it.

    def _forget_stale_log(self) -> None:
        """A log beside a database that is no longer there belongs to a journal someone
        removed to start afresh: its rows must not be taken for this one's."""
        if self._log_waiting():
            with self._send_lock() as locked:
                if locked:
                    self._log_path.unlink(missing_ok=True)

    def _log_waiting(self) -> bool:
        try:
            return self._log_path.stat().st_size > 0
        except FileNotFoundError:
            return False

    @contextmanager
    def _send_lock(self) -> Iterator[bool]:
        """The send lock for a moment, if no run holds it: True when taken."""
        with self._lock_file() as handle:
            try:
                _lock(handle)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                _HELD.discard(handle.fileno())

    def _replay(self, db: sqlite3.Connection) -> None:
        """Move the log's rows into `db` and remove the log (the send lock is held)."""
        if not self._log_waiting():
            return
        try:
            rows, unreadable = _logged_rows(self._log_path.read_bytes())
        except OSError as err:
            message = f"the outcome log cannot be read: {err.strerror}"
            raise MailerError(message, path=self._log_path) from err
        if rows:
            try:
                with db:
                    db.executemany(_REPLAY, rows)
            except sqlite3.Error as err:
                raise MailerError(f"cannot record what was sent: {err}", path=self.path) from err
        if not unreadable:
            self._log_path.unlink()
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
        aside = self._log_path.with_name(f"{self._log_path.name}.unreadable-{stamp}")
        self._log_path.rename(aside)
        raise UnreadableLog(
            f"{unreadable} of its lines are not what mailer writes (the {len(rows)} it could read are "
            f"now in the journal). It may be the record of messages sent, so it is kept as "
            f"{aside.name}: keep it for whoever helps you look at it, and run the command again",
            path=self._log_path,
        )

    def sent_versions(self, campaign: str) -> dict[str, set[str]]:
        """For each recipient, the versions of `campaign` the server accepted."""
        found: dict[str, set[str]] = {}
        for row in self._db.execute(
            "SELECT recipient, version FROM deliveries WHERE campaign = ? AND status = 'sent'",
            (campaign,),
        ):
            found.setdefault(row["recipient"], set()).add(row["version"])
        return found

    def deliveries(self, campaign: str | None = None, meeting_id: str | None = None) -> list[Sent]:
        query = "SELECT * FROM deliveries"
        where, args = [], []
        if campaign:
            where.append("campaign = ?")
            args.append(campaign)
        if meeting_id:
            where.append("meeting_id = ?")
            args.append(meeting_id)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY at, recipient"
        return [Sent(**dict(row)) for row in self._db.execute(query, args)]

    def campaigns(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT campaign FROM deliveries ORDER BY campaign")]

    def campaign_totals(self) -> list[CampaignTotals]:
        """Each campaign's messages sent and failed, and when it last sent, counted by SQLite."""
        rows = self._db.execute(
            """SELECT campaign, SUM(status = 'sent'), SUM(status = 'failed'), MAX(at), MAX(meeting_id)
               FROM deliveries GROUP BY campaign ORDER BY campaign"""
        )
        return [CampaignTotals(*row) for row in rows]

    def invited(self, meeting_id: str) -> dict[str, Sent]:
        """Members whose calendars hold the meeting: their newest accepted REQUEST or CANCEL."""
        latest: dict[str, Sent] = {}
        for row in self._db.execute(
            """SELECT * FROM deliveries WHERE meeting_id = ? AND status = 'sent'
               AND method IN ('REQUEST', 'CANCEL') ORDER BY sequence, at""",
            (meeting_id,),
        ):
            latest[row["recipient"]] = Sent(**dict(row))
        return latest

    # -- meetings -------------------------------------------------------------------

    def meeting(self, meeting_id: str) -> MeetingState | None:
        row = self._db.execute("SELECT * FROM meetings WHERE meeting_id = ?", (meeting_id,)).fetchone()
        if row is None:
            return None
        return MeetingState(
            row["meeting_id"], row["uid"], row["sequence"], row["fingerprint"], json.loads(row["snapshot"])
        )

    def snapshot(self, meeting_id: str, fingerprint: str) -> dict[str, Any] | None:
        """What a member holding version `fingerprint` of the meeting was told."""
        row = self._db.execute(
            "SELECT snapshot FROM meeting_versions WHERE meeting_id = ? AND fingerprint = ?",
            (meeting_id, fingerprint),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def record_meeting(self, state: MeetingState) -> None:
        """Remember what members are being told; SEQUENCE never goes down."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO meeting_versions VALUES (?, ?, ?)",
                (state.meeting_id, state.fingerprint, json.dumps(state.snapshot, ensure_ascii=False)),
            )
            self._db.execute(
                """INSERT INTO meetings VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (meeting_id) DO UPDATE SET
                    sequence = excluded.sequence, fingerprint = excluded.fingerprint,
                    snapshot = excluded.snapshot, at = excluded.at
                   WHERE excluded.sequence >= meetings.sequence""",
                (
                    state.meeting_id,
                    state.uid,
                    state.sequence,
                    state.fingerprint,
                    json.dumps(state.snapshot, ensure_ascii=False),
                    _now(),
                ),
            )

    # -- answers ---------------------------------------------------------------------

    def record_answer(self, answer: Answer) -> bool:
        """Keep the newest answer per member; returns whether this one was kept."""
        with self._db:
            cursor = self._db.execute(
                """INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (meeting_id, recipient) DO UPDATE SET
                    partstat = excluded.partstat, sequence = excluded.sequence,
                    answered_at = excluded.answered_at, source = excluded.source,
                    comment = excluded.comment
                   WHERE excluded.answered_at >= answers.answered_at""",
                (
                    answer.meeting_id,
                    answer.recipient,
                    answer.partstat,
                    answer.sequence,
                    answer.answered_at,
                    answer.source,
                    answer.comment,
                ),
            )
            return cursor.rowcount > 0

    def answers(self, meeting_id: str) -> dict[str, Answer]:
        return {
            row["recipient"]: Answer(**dict(row))
            for row in self._db.execute("SELECT * FROM answers WHERE meeting_id = ?", (meeting_id,))
        }

    def record_return(self, item: Return) -> bool:
        """Keep a bounce or delay warning; False when this notice was recorded before."""
        with self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO returns VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    item.recipient,
                    item.kind,
                    item.message_id,
                    item.campaign,
                    item.at,
                    item.reply,
                    item.source,
                    item.cleared_at,
                ),
            )
            return cursor.rowcount > 0

    def returns(self, recipient: str | None = None) -> list[Return]:
        """Every bounce and delay warning, oldest first (of one member when `recipient` is given)."""
        query, args = "SELECT * FROM returns", []
        if recipient is not None:
            query, args = query + " WHERE recipient = ?", [recipient]
        return [Return(**dict(row)) for row in self._db.execute(query + " ORDER BY at, recipient", args)]

    def clear_bounces(self, recipient: str) -> int:
        """The member's bounces no longer count (the coordinator put them back); how many there were."""
        with self._db:
            return self._db.execute(
                """UPDATE returns SET cleared_at = ?
                   WHERE recipient = ? AND kind = 'bounce' AND cleared_at IS NULL""",
                (_now(), recipient),
            ).rowcount

    def was_read(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM inbox_read WHERE key = ?", (key,)).fetchone() is not None

    def mark_read(
        self, key: str, kind: str, source: str, *, sender: str = "", subject: str = "", written: str = ""
    ) -> None:
        """Remember a message the inbox counted (and who wrote it, about what, when)."""
        with self._db:
            self._db.execute(
                """INSERT OR IGNORE INTO inbox_read (key, kind, source, at, sender, subject, written)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (key, kind, source, _now(), sender, subject, written),
            )

    def read_messages(self, kind: str) -> list[MessageRead]:
        """The messages of one kind the inbox has read, oldest read first."""
        rows = self._db.execute("SELECT * FROM inbox_read WHERE kind = ? ORDER BY at, source", (kind,))
        have = {column[0] for column in rows.description}  # a read-only open of an older journal
        about = [name for name in ("sender", "subject", "written") if name in have]
        return [MessageRead(row["source"], row["at"], **{name: row[name] for name in about}) for row in rows]

    def imap_position(self, mailbox: str) -> tuple[int, int] | None:
        """(UIDVALIDITY, last UID read) of the mailbox's last read, if any."""
        row = self._db.execute(
            "SELECT uidvalidity, last_uid FROM imap_position WHERE mailbox = ?", (mailbox,)
        )
        found = row.fetchone()
        return (found[0], found[1]) if found else None

    def set_imap_position(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO imap_position VALUES (?, ?, ?)", (mailbox, uidvalidity, last_uid)
            )

    def meeting_ids(self) -> Iterator[str]:
        for row in self._db.execute("SELECT meeting_id FROM meetings ORDER BY meeting_id"):
            yield row[0]


def _lock(handle: IO[bytes]) -> None:
    """An exclusive lock on the open file, or OSError at once when another process has it."""
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    _HELD.add(handle.fileno())


# Lock files held by this process. A process forked while holding one (the workers that
# build messages) closes its copy at once: a lock shared with a worker would outlive a
# killed run and refuse every run after it.
_HELD: set[int] = set()


def _forget_locks() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks)
