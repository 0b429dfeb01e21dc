"""The journal: a SQLite record of what was sent to whom, each meeting's sequence, answers,
and what came back.

It is what makes a re-run finish a run without sending anything twice, and what lets
updates and cancellations reach exactly the members who were invited. Rows name a member by
`address_key`; what it reads back is keyed the same way, so rows written with a domain in its
ASCII form (xn--) are found as the member's too. A send records each
message's outcome through the outcome log (`mailer.outcomes`), which moves it in here in batches.
Its tables, and the columns added to them since, are in `mailer.journal_schema`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, NamedTuple

from mailer.addresses import address_key
from mailer.backups import FOLDER, Change, back_up
from mailer.errors import MailerError
from mailer.journal_schema import SCHEMA, add_new_columns, not_a_journal, require_journal
from mailer.outcomes import DeliveryRecord, OutcomeLog
from mailer.private import private_file, private_folder


@dataclass(frozen=True)
class MeetingState:
    """What members were last told about a meeting."""

    meeting_id: str
    uid: str
    sequence: int
    fingerprint: str
    snapshot: dict[str, Any]


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
    key: str = ""  # its Message-ID, or a digest of its bytes
    meeting_id: str = ""  # the meeting whose message it answers, when it quotes one

    @property
    def address(self) -> str:
        """The sender's address, as members are keyed (`address_key`)."""
        return address_key(parseaddr(self.sender)[1])


def _delivery(row: sqlite3.Row) -> DeliveryRecord:
    return DeliveryRecord(**{**dict(row), "recipient": address_key(row["recipient"])})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _moment(text: str) -> datetime:
    """A time the journal holds (ISO; one written without an offset is UTC), to compare with
    another written with an offset of its own."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
        self._copy: Path | None = None  # the copy made before this command changed the journal
        existed = path.exists()
        if existed and path.stat().st_size == 0:
            raise not_a_journal(path, "is empty (0 bytes)")
        try:
            self._db = self._open(path, readonly)
            self._db.execute("SELECT count(*) FROM deliveries").fetchone()  # a damaged file shows here
        except sqlite3.Error as err:
            raise MailerError(
                f"cannot be used as mailer's journal: {err}; if it is the journal, put back a copy "
                f"from {FOLDER}/ beside it (README: 'Restoring the journal')",
                path=path,
            ) from err
        self.outcomes = OutcomeLog(path, self._db)  # how a send records each message's outcome
        if existed:
            self.outcomes.settle_killed_run(readonly)
        elif not readonly:
            self.outcomes.forget_stale()

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
                require_journal(db, path)  # before anything is written into someone else's file
            # WAL + NORMAL: a committed transaction survives kill -9 without an fsync per commit.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.row_factory = sqlite3.Row
        db.create_function("address_key", 1, address_key, deterministic=True)
        if readonly and path.exists():
            require_journal(db, path)
        if not readonly or not path.exists():
            db.executescript(SCHEMA)
            add_new_columns(db)
        return db

    def close(self) -> None:
        try:
            self.outcomes.close()
        finally:
            self._db.close()

    def sending(self) -> AbstractContextManager[None]:
        """The send lock, held while a run plans and sends (`OutcomeLog.sending`)."""
        return self.outcomes.sending()

    def back_up(self, before: Change) -> Path:
        """A consistent copy of the journal as it is now, before this command changes it: made
        once (a later call gives the same copy), so each command that changes it leaves one.
        `before` says what the command is about to do (said if no copy can be made); a copy
        made before a run that mails members (`send`, `cancel`) is kept longer (`backups.kept`)."""
        if self._copy is None:
            self._copy = back_up(self._db, self.path, before)
        return self._copy

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- deliveries -------------------------------------------------------------------

    def sent_versions(self, campaign: str) -> dict[str, set[str]]:
        """For each recipient, the versions of `campaign` the server accepted."""
        found: dict[str, set[str]] = {}
        for row in self._db.execute(
            "SELECT recipient, version FROM deliveries WHERE campaign = ? AND status = 'sent'",
            (campaign,),
        ):
            found.setdefault(address_key(row["recipient"]), set()).add(row["version"])
        return found

    def deliveries(self, campaign: str | None = None, meeting_id: str | None = None) -> list[DeliveryRecord]:
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
        return [_delivery(row) for row in self._db.execute(query, args)]

    def sent_since(self, at: str) -> int:
        """Messages the server accepted in runs started after `at` (an ISO time in UTC)."""
        query = "SELECT COUNT(*) FROM deliveries WHERE status = 'sent' AND at > ?"
        return int(self._db.execute(query, (at,)).fetchone()[0])

    def sent_nth_since(self, at: str, n: int) -> str | None:
        """When the run started that sent the `n`th message (0: the first) of those counted by
        `sent_since(at)`, oldest first; None when fewer went out."""
        query = "SELECT at FROM deliveries WHERE status = 'sent' AND at > ? ORDER BY at LIMIT 1 OFFSET ?"
        row = self._db.execute(query, (at, n)).fetchone()
        return str(row[0]) if row else None

    def campaigns(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT campaign FROM deliveries ORDER BY campaign")]

    def campaign_totals(self) -> list[CampaignTotals]:
        """Each campaign's messages sent and failed, and when it last sent, counted by SQLite."""
        rows = self._db.execute(
            """SELECT campaign, SUM(status = 'sent'), SUM(status = 'failed'), MAX(at), MAX(meeting_id)
               FROM deliveries GROUP BY campaign ORDER BY campaign"""
        )
        return [CampaignTotals(*row) for row in rows]

    def invited(self, meeting_id: str) -> dict[str, DeliveryRecord]:
        """Members whose calendars hold the meeting: their newest accepted REQUEST or CANCEL."""
        latest: dict[str, DeliveryRecord] = {}
        for row in self._db.execute(
            """SELECT * FROM deliveries WHERE meeting_id = ? AND status = 'sent'
               AND method IN ('REQUEST', 'CANCEL') ORDER BY sequence, at""",
            (meeting_id,),
        ):
            delivery = _delivery(row)
            latest[delivery.recipient] = delivery
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
        key = address_key(answer.recipient)
        with self._db:
            # A row naming the member with the domain in its other form (written before addresses
            # were compared by `address_key`) counts as theirs: a newer one wins, an older one goes.
            other = "meeting_id = ? AND recipient != ? AND address_key(recipient) = ?"
            newer = f"SELECT 1 FROM answers WHERE {other} AND answered_at > ?"
            if self._db.execute(newer, (answer.meeting_id, key, key, answer.answered_at)).fetchone():
                return False
            self._db.execute(f"DELETE FROM answers WHERE {other}", (answer.meeting_id, key, key))
            cursor = self._db.execute(
                """INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (meeting_id, recipient) DO UPDATE SET
                    partstat = excluded.partstat, sequence = excluded.sequence,
                    answered_at = excluded.answered_at, source = excluded.source,
                    comment = excluded.comment
                   WHERE excluded.answered_at >= answers.answered_at""",
                (
                    answer.meeting_id,
                    key,
                    answer.partstat,
                    answer.sequence,
                    answer.answered_at,
                    answer.source,
                    answer.comment,
                ),
            )
            return cursor.rowcount > 0

    def answers(self, meeting_id: str) -> dict[str, Answer]:
        """Each member's newest answer to the meeting."""
        found: dict[str, Answer] = {}
        query = "SELECT * FROM answers WHERE meeting_id = ? ORDER BY answered_at"
        for row in self._db.execute(query, (meeting_id,)):
            answer = Answer(**{**dict(row), "recipient": address_key(row["recipient"])})
            found[answer.recipient] = answer  # a member's rows in both forms of a domain: the newest wins
        return found

    def record_return(self, item: Return) -> bool:
        """Keep a bounce or delay warning; False when this notice was recorded before."""
        with self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO returns VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    address_key(item.recipient),
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
            query, args = query + " WHERE address_key(recipient) = ?", [address_key(recipient)]
        return [
            Return(**{**dict(row), "recipient": address_key(row["recipient"])})
            for row in self._db.execute(query + " ORDER BY at, recipient", args)
        ]

    def clear_bounces(self, recipient: str) -> int:
        """The member's bounces no longer count (the coordinator put them back); how many there were."""
        with self._db:
            return self._db.execute(
                """UPDATE returns SET cleared_at = ?
                   WHERE address_key(recipient) = ? AND kind = 'bounce' AND cleared_at IS NULL""",
                (_now(), address_key(recipient)),
            ).rowcount

    def was_read(self, key: str) -> bool:
        """Whether the inbox counted this message before. A calendar answer it recorded nothing
        from is not remembered (it is looked at again, in case it counts now); older journals
        remembered those too, so one of theirs from which no answer is recorded is looked at again."""
        row = self._db.execute("SELECT kind, source FROM inbox_read WHERE key = ?", (key,)).fetchone()
        if row is None:
            return False
        if row["kind"] != "answer":
            return True
        found = self._db.execute("SELECT 1 FROM answers WHERE source = ? LIMIT 1", (row["source"],))
        return found.fetchone() is not None

    def mark_read(
        self,
        key: str,
        kind: str,
        source: str,
        *,
        sender: str = "",
        subject: str = "",
        written: str = "",
        meeting_id: str = "",
    ) -> None:
        """Remember a message the inbox counted (and who wrote it, about what, when); one read
        again (`was_read`) keeps its first record, with the kind found now."""
        with self._db:
            self._db.execute(
                """INSERT INTO inbox_read
                   (key, kind, source, at, sender, subject, written, meeting_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET kind = excluded.kind""",
                (key, kind, source, _now(), sender, subject, written, meeting_id),
            )

    def read_messages(self, kind: str, *, unhandled: bool = False) -> list[MessageRead]:
        """The messages of one kind the inbox has read, oldest read first (only those not marked
        handled, with `unhandled`)."""
        rows = self._db.execute("SELECT * FROM inbox_read WHERE kind = ? ORDER BY at, source", (kind,))
        have = {column[0] for column in rows.description}  # a read-only open of an older journal
        about = [name for name in ("sender", "subject", "written", "key", "meeting_id") if name in have]
        return [
            MessageRead(row["source"], row["at"], **{name: row[name] for name in about})
            for row in rows
            if not (unhandled and "handled_at" in have and row["handled_at"])
        ]

    def replies_to_read(self) -> list[MessageRead]:
        """Plain replies the coordinator still has to read: those not marked handled, and not
        followed by an answer from the same member (to the meeting the reply quotes, when it quotes
        one) given or recorded when the reply had been written."""
        answered: dict[str, list[tuple[str, datetime]]] = {}
        for row in self._db.execute("SELECT meeting_id, recipient, answered_at FROM answers"):
            answered.setdefault(address_key(row[1]), []).append((row[0], _moment(row[2])))
        waiting = []
        for reply in self.read_messages("other", unhandled=True):
            # when it was written, or read if that is earlier (the sender's clock was ahead)
            arrived = min(_moment(reply.written or reply.at), _moment(reply.at))
            if not any(
                when >= arrived and (not reply.meeting_id or meeting == reply.meeting_id)
                for meeting, when in answered.get(reply.address, [])
            ):
                waiting.append(reply)
        return waiting

    def mark_handled(self, key: str, at: datetime) -> bool:
        """A reply to read needs nothing more; False when there is no such reply waiting."""
        with self._db:
            return (
                self._db.execute(
                    """UPDATE inbox_read SET handled_at = ?
                       WHERE key = ? AND kind = 'other' AND handled_at IS NULL""",
                    (at.isoformat(timespec="seconds"), key),
                ).rowcount
                > 0
            )

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
