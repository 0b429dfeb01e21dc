"""The journal: a SQLite record of what was sent to whom, each meeting's sequence, and answers.

It is what makes a re-run finish a run without sending anything twice, and what lets
updates and cancellations reach exactly the members who were invited.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

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
"""


@dataclass(frozen=True)
class MeetingState:
    """What members were last told about a meeting."""

    meeting_id: str
    uid: str
    sequence: int
    fingerprint: str
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class Sent:
    """One journal row: a message to a member, and how it went."""

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


@dataclass(frozen=True)
class Answer:
    meeting_id: str
    recipient: str
    partstat: str
    sequence: int | None
    answered_at: str
    source: str
    comment: str = ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Journal:
    """The state file; opened once per run. A missing file is an empty journal."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        try:
            self._db = self._open(path, readonly)
            self._db.execute("SELECT count(*) FROM deliveries").fetchone()  # a damaged file shows here
        except sqlite3.Error as err:
            raise MailerError(f"cannot be used as mailer's journal: {err}", path=path) from err

    @staticmethod
    def _open(path: Path, readonly: bool) -> sqlite3.Connection:
        if readonly and not path.exists():
            db = sqlite3.connect(":memory:")
        elif readonly:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path)
            # WAL + NORMAL: a commit per message costs microseconds, and survives kill -9.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.row_factory = sqlite3.Row
        if not readonly or not path.exists():
            db.executescript(SCHEMA)
        return db

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Only one run at a time may plan and send from this journal: two at once would both
        find the same members not yet sent and both send to them. The lock is the operating
        system's, so a run that is killed leaves none behind.
        """
        handle = self.path.with_name(self.path.name + ".lock").open("a+b")
        try:
            try:
                _lock(handle)
            except OSError as err:
                raise MailerError(
                    "another mailer run is sending from this journal now; wait for it to finish",
                    path=self.path,
                ) from err
            yield
        finally:
            _HELD.discard(handle.fileno())
            handle.close()  # releases the lock

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- deliveries -------------------------------------------------------------------

    def record(self, sent: Sent) -> None:
        """Record one outcome; a later outcome for the same message replaces a failure."""
        with self._db:
            self._db.execute(
                """INSERT INTO deliveries VALUES
                   (:campaign, :recipient, :email, :name, :language, :version, :message_id,
                    :meeting_id, :method, :sequence, :fingerprint, :status, :code, :reply,
                    :attempts, :at)
                   ON CONFLICT (campaign, recipient, version) DO UPDATE SET
                    status = excluded.status, code = excluded.code, reply = excluded.reply,
                    attempts = deliveries.attempts + excluded.attempts, at = excluded.at,
                    message_id = excluded.message_id
                   WHERE deliveries.status != 'sent'""",
                sent.__dict__,
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
