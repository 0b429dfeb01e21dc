"""The outcome log: how each message of a send under way went, kept where a killed run cannot
lose it, and moved into the journal's database in batches.

A commit per message would cost the sending more than anything else it does per message, so
each outcome is first one line appended to `state.sqlite-log` beside the journal (a plain
append: once written, a killed process cannot lose it). The log is moved into the database
every `SETTLE_ROWS` rows or `SETTLE_SECONDS`, at the end of the run, or by the next command
that opens the journal after a crash. Only one run may send from a journal at a time: the
send lock, which the operating system drops when a run is killed, says whose log it is.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, NamedTuple

from mailer import forked
from mailer.errors import BusyError, MailerError
from mailer.private import private_file


class DeliveryRecord(NamedTuple):
    """One message to a member and how it went, sent or failed (a row of the journal's
    `deliveries` table, in its column order: a send makes one per message)."""

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


# A later outcome for the same message replaces a failure, never a success; attempts add up.
RECORD = """INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (campaign, recipient, version) DO UPDATE SET
    status = excluded.status, code = excluded.code, reply = excluded.reply,
    attempts = deliveries.attempts + excluded.attempts, at = excluded.at,
    message_id = excluded.message_id
   WHERE deliveries.status != 'sent'"""

# An outcome replayed from the log may already be in the database (the run was killed
# between moving it and emptying the log): an identical row is left as it is.
_REPLAY = (
    RECORD
    + """ AND NOT (deliveries.status = excluded.status AND deliveries.message_id = excluded.message_id
    AND deliveries.at = excluded.at AND deliveries.reply = excluded.reply)"""
)
SETTLE_ROWS = 500  # outcomes moved from the log into the database at a time
SETTLE_SECONDS = 1.0  # or this often, so `mailer status` during a send is at most this far behind


class UnreadableLog(MailerError):
    """The outcome log held lines mailer did not write; it was kept aside, not used."""


class OutcomeLog:
    """The outcome log of the journal at `journal`, writing into the database `db`."""

    def __init__(self, journal: Path, db: sqlite3.Connection) -> None:
        self.journal = journal
        self.path = journal.with_name(journal.name + "-log")
        self._db = db
        self._fd: int | None = None  # the log's descriptor, once this run writes to it
        self._unsettled: list[DeliveryRecord] = []  # in the log, not yet in the database
        self._settled_at = time.monotonic()
        self._refused = False  # the database refused the last move; it is tried again by time only

    def append(self, record: DeliveryRecord) -> None:
        """Record one outcome of a send under way, at a fraction of a commit's cost."""
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        self._unsettled.append(record)  # should the log fail, the database may still take it
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError as err:
            raise MailerError(f"cannot record what was sent: {err.strerror}", path=self.path) from err
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
        _write(self._db, RECORD, self._unsettled, self.journal)
        self._unsettled.clear()
        self._refused = False
        if self._fd is not None:
            # (should this fail, the rows are in the database: moving them again changes nothing)
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)

    def close(self) -> None:
        try:
            self.settle()
        finally:
            self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _end(self) -> None:
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
            self._close_fd()
        self.path.unlink(missing_ok=True)

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
                raise BusyError(
                    "another mailer run is sending from this journal now; wait for it to finish",
                    path=self.journal,
                ) from err
            # A run killed since this journal was opened left its log: move it before planning.
            self._replay(self._db)
            yield
        finally:
            try:
                self._end()  # before the lock goes: the next run reads the database, not our log
            finally:
                forked.lock_released(handle.fileno())
                handle.close()  # releases the lock

    def settle_killed_run(self, readonly: bool) -> None:
        """Outcomes a killed run logged but did not move into the database are moved now,
        unless a run is sending (its log is its own until it ends; `sending` moves it then)."""
        if not self._waiting():
            return
        try:
            with self._send_lock() as locked:
                if not locked:
                    return  # a run is sending: the database is at most a moment behind it
                if not readonly:
                    self._replay(self._db)
                    return
                db = sqlite3.connect(self.journal)
                try:
                    self._replay(db)
                finally:
                    db.close()
        except (OSError, sqlite3.Error, MailerError) as err:
            if not readonly or isinstance(err, UnreadableLog):
                raise
            # Reading only (status, preview) from a journal this account cannot write: what
            # the log holds is shown once a send has moved it.

    def forget_stale(self) -> None:
        """A log beside a database that is no longer there belongs to a journal someone
        removed to start afresh: its rows must not be taken for this one's."""
        if self._waiting():
            with self._send_lock() as locked:
                if locked:
                    self.path.unlink(missing_ok=True)

    def _waiting(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def _lock_file(self) -> IO[bytes]:
        return open(private_file(self.journal.with_name(self.journal.name + ".lock")), "a+b")

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
                forked.lock_released(handle.fileno())

    def _replay(self, db: sqlite3.Connection) -> None:
        """Move the log's rows into `db` and remove the log (the send lock is held)."""
        if not self._waiting():
            return
        try:
            rows, unreadable = _logged_rows(self.path.read_bytes())
        except OSError as err:
            raise MailerError(f"the outcome log cannot be read: {err.strerror}", path=self.path) from err
        if rows:
            _write(db, _REPLAY, rows, self.journal)
        if not unreadable:
            self.path.unlink()
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
        self.path.rename(aside)
        raise UnreadableLog(
            f"{unreadable} of its lines are not what mailer writes (the {len(rows)} it could read are "
            f"now in the journal). It may be the record of messages sent, so it is kept as "
            f"{aside.name}: keep it for whoever helps you look at it, and run the command again",
            path=self.path,
        )


def _write(db: sqlite3.Connection, statement: str, rows: Iterable[DeliveryRecord], journal: Path) -> None:
    try:
        with db:
            db.executemany(statement, rows)
    except sqlite3.Error as err:
        raise MailerError(f"cannot record what was sent: {err}", path=journal) from err


def _logged_rows(data: bytes) -> tuple[list[DeliveryRecord], int]:
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
        if isinstance(values, list) and len(values) == len(DeliveryRecord._fields):
            rows.append(DeliveryRecord(*values))
        else:
            unreadable += 1
    return rows, unreadable


def _lock(handle: IO[bytes]) -> None:
    """An exclusive lock on the open file, or OSError at once when another process has it."""
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    forked.lock_held(handle.fileno())
