"""The journal: what a send records, what a re-run reads back, and what it costs per message."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import FIXED, MEETING, Project

from mailer import outcomes as outcome_log
from mailer import run
from mailer.errors import MailerError
from mailer.journal import Journal, MeetingState
from mailer.message import message_id
from mailer.outcomes import DeliveryRecord
from mailer.transport.smtp import Outcome

SENT = DeliveryRecord(
    campaign="newsletter",
    recipient="soren.aero@vordingborg.example",
    email="soren.aero@vordingborg.example",
    name="Søren Ærø",
    language="da",
    version="0",
    message_id="<abc@roskilde.example>",
    meeting_id=None,
    method=None,
    sequence=None,
    fingerprint=None,
    status="sent",
    code=250,
    reply="2.0.0 Message accepted",
    attempts=1,
    at="2026-11-25T09:30:00+00:00",
)
FAILED = SENT._replace(status="failed", code=451, reply="4.3.0 Mailbox busy", attempts=3)


def record(journal: Journal, row: DeliveryRecord) -> None:
    """One outcome into the database now, as a send's outcome log moves it there."""
    journal.outcomes.append(row)
    journal.outcomes.settle()


def rows(path: Path) -> list[tuple[str, str, int | None, int]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT recipient, status, code, attempts FROM deliveries").fetchall()


def test_a_later_success_replaces_a_failure_and_attempts_add_up(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Journal(path) as journal:
        record(journal, FAILED)
        assert journal.sent_versions("newsletter") == {}
        record(journal, SENT)
        assert journal.sent_versions("newsletter") == {SENT.recipient: {"0"}}
    assert rows(path) == [(SENT.recipient, "sent", 250, 4)]


def test_a_failure_never_overwrites_a_success(tmp_path: Path) -> None:
    """A --resend that fails must not make the journal forget the member already has it."""
    path = tmp_path / "state.sqlite"
    with Journal(path) as journal:
        record(journal, SENT)
        record(journal, FAILED)
        assert journal.sent_versions("newsletter") == {SENT.recipient: {"0"}}
    assert rows(path) == [(SENT.recipient, "sent", 250, 1)]


def test_each_outcome_is_on_disk_at_once(tmp_path: Path) -> None:
    """What a kill -9 relies on: an outcome is in the log before the next message is sent, and
    a settled one is committed in WAL mode."""
    path = tmp_path / "state.sqlite"
    journal = Journal(path)
    journal.outcomes.append(SENT)
    assert json.loads(path.with_name("state.sqlite-log").read_bytes()) == list(SENT)
    journal.outcomes.settle()
    with sqlite3.connect(path) as other:  # another process's view, while the run is still going
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert other.execute("SELECT status FROM deliveries").fetchall() == [("sent",)]
    journal.close()


def test_readonly_journal_neither_creates_nor_writes(tmp_path: Path) -> None:
    path = tmp_path / ".mailer" / "state.sqlite"
    with Journal(path, readonly=True) as journal:
        assert journal.campaigns() == []
    assert not path.exists()
    with Journal(path) as journal:
        record(journal, SENT)
    with Journal(path, readonly=True) as journal:
        assert journal.campaigns() == ["newsletter"]
        with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
            journal.record_meeting(MeetingState("m", "m@roskilde.example", 0, "fp", {}))


def test_meeting_sequence_never_goes_down(tmp_path: Path) -> None:
    with Journal(tmp_path / "state.sqlite") as journal:
        journal.record_meeting(MeetingState("m", "m@roskilde.example", 2, "fp2", {"title": "Møde"}))
        journal.record_meeting(MeetingState("m", "m@roskilde.example", 1, "fp1", {"title": "Gammelt"}))
        state = journal.meeting("m")
        assert state is not None and (state.sequence, state.fingerprint) == (2, "fp2")
        assert journal.snapshot("m", "fp1") == {"title": "Gammelt"}


def test_message_id_is_the_same_for_the_same_message_only() -> None:
    one = message_id("invitation:m", "soren.aero@vordingborg.example", "0:fp", "roskilde.example")
    assert one == message_id("invitation:m", "soren.aero@vordingborg.example", "0:fp", "roskilde.example")
    assert one.startswith("<") and one.endswith("@roskilde.example>")
    assert one != message_id("invitation:m", "soren.aero@vordingborg.example", "1:fp2", "roskilde.example")
    assert one != message_id("invitation:m", "mads.kohler@koege.example", "0:fp", "roskilde.example")


def test_a_send_records_what_was_sent_to_whom(project: Project, smtp_server_factory) -> None:  # type: ignore[no-untyped-def]
    server = smtp_server_factory("starttls")
    project.smtp = server.smtp_config()
    code, out = project.main("send", "invitation", "--meeting", MEETING["id"], "--yes")
    assert code == 0, out
    sent_ids = {msg["To"].addresses[0].addr_spec: msg["Message-ID"] for msg in server.messages}
    with Journal(project.state, readonly=True) as journal:
        records = journal.deliveries(campaign=f"invitation:{MEETING['id']}")
        state = journal.meeting(MEETING["id"])
    assert sorted(r.email for r in records) == sorted(sent_ids)
    assert state is not None and state.sequence == 0
    for row in records:
        assert row.message_id == sent_ids[row.email]
        assert (row.status, row.code, row.attempts) == ("sent", 250, 1)
        assert row.reply.endswith("Message accepted")
        assert (row.meeting_id, row.method, row.sequence) == (MEETING["id"], "REQUEST", 0)
        assert row.fingerprint == state.fingerprint and row.version == f"0:{state.fingerprint}"
        assert row.at == FIXED.isoformat(timespec="seconds")
    assert {r.name for r in records} >= {"Søren Ærø", "Mads Køhler"}


def test_journal_writes_cost_little_per_message(tmp_path: Path) -> None:
    """One commit per message (so that nothing is lost to a kill) must not slow sending:
    measured here at tens of microseconds each; a loopback SMTP round trip is ~1 ms."""
    count = 2000
    with Journal(tmp_path / "state.sqlite") as journal:
        started = time.perf_counter()
        for n in range(count):
            record(journal, SENT._replace(recipient=f"medlem{n}@greve.example"))
        per_record = (time.perf_counter() - started) / count
        assert len(journal.deliveries()) == count
    assert per_record < 0.002, f"{per_record * 1e6:.0f} µs per journal write"


def test_one_sending_run_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Journal(path) as first, Journal(path) as second:
        with (
            first.sending(),
            pytest.raises(MailerError, match="another mailer run is sending from this journal"),
            second.sending(),
        ):
            pass
        with second.sending():  # released when the first run is done
            pass


def test_a_second_send_while_one_runs_sends_nothing(
    project: Project,
    smtp_server_factory,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = smtp_server_factory("starttls")
    project.smtp = server.smtp_config()
    project.write()
    with Journal(project.state) as running, running.sending():
        code, out = project.main("send", "invitation", "--meeting", MEETING["id"], "--yes")
    assert code == 2, out
    assert "state.sqlite: another mailer run is sending" in capsys.readouterr().err
    assert server.recorder.received == []
    assert project.main("send", "invitation", "--meeting", MEETING["id"], "--yes")[0] == 0
    assert len(server.recorder.received) == len(project.members)


def test_a_damaged_journal_or_an_unwritable_file_is_one_line_and_exit_2(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.state.parent.mkdir(parents=True)
    project.state.write_bytes(b"this is not a database" * 100)
    code, _ = project.main("status")
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: state.sqlite: cannot be used as mailer's journal")
    assert "Traceback" not in err

    project.state.unlink()  # (ics reads the journal too: what members were told)
    code, _ = project.main("ics", MEETING["id"], "-o", str(project.root / "no such folder" / "m.ics"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "No such file or directory" in err and "Traceback" not in err


def test_an_outcome_that_cannot_be_logged_stops_the_send_at_once(
    project: Project,
    server,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    """Sending on without recording would send those members everything again next time."""
    project.smtp["concurrency"] = 1
    project.write()
    command = ("send", "invitation", "--meeting", MEETING["id"], "--yes")
    log = project.state.with_name("state.sqlite-log")
    log.parent.mkdir(parents=True)
    log.symlink_to("/dev/full")  # the disk is full: every write fails
    code, out = project.main(*command)
    err = capsys.readouterr().err
    assert code == 2, out
    assert err.startswith("error: state.sqlite-log: cannot record what was sent: No space left on device")
    assert err.count("\n") == 1
    assert len(server.recorder.received) == 1  # the one whose outcome could not be logged ...
    assert len(rows(project.state)) == 1  # ... went straight into the database at the end

    log.unlink(missing_ok=True)  # (the run removes its log when it ends)
    assert project.main(*command)[0] == 0
    got = Counter(rcpts[0] for _, rcpts, _ in server.recorder.received)
    assert got == Counter(m[1].lower() for m in project.members)  # everyone once


@pytest.mark.parametrize("settle_rows", [1, outcome_log.SETTLE_ROWS], ids=["during", "at-the-end"])
def test_outcomes_the_database_refused_are_kept_in_the_log_and_recorded_later(
    project: Project,
    server,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    settle_rows: int,
) -> None:
    """Refused while the run goes on (moved after each message) or at its end: either way every
    member gets the message once, and the log keeps what was sent until the database takes it."""
    monkeypatch.setattr(outcome_log, "SETTLE_ROWS", settle_rows)
    project.write()
    command = ("send", "invitation", "--meeting", MEETING["id"], "--yes")
    with Journal(project.state):
        pass
    with sqlite3.connect(project.state) as db:  # the database refuses every delivery row
        db.execute(
            """CREATE TRIGGER full BEFORE INSERT ON deliveries
               BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"""
        )
    code, out = project.main(*command)
    assert code == 2, out
    assert "cannot record what was sent: database or disk is full" in capsys.readouterr().err
    assert len(server.recorder.received) == len(project.members)
    assert rows(project.state) == []
    assert project.state.with_name("state.sqlite-log").stat().st_size > 0

    with sqlite3.connect(project.state) as db:
        db.execute("DROP TRIGGER full")
    with Journal(project.state, readonly=True) as journal:  # e.g. `mailer status`
        assert {s.recipient for s in journal.deliveries()} == {m[1].lower() for m in project.members}
    assert not project.state.with_name("state.sqlite-log").exists()
    code, out = project.main(*command)
    assert (code, out.splitlines()[-1]) == (0, "nothing to send")
    assert len(server.recorder.received) == len(project.members)


def test_a_log_left_by_a_run_killed_after_the_next_one_opened_is_moved_before_it_plans(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    Journal(path).close()
    killed = Journal(path)
    with killed.sending():
        killed.outcomes.append(SENT)  # logged, not yet moved, when the run is killed
        later = Journal(path)  # the next run opens the journal meanwhile (the lock is busy)
        os.close(killed.outcomes._fd)  # type: ignore[arg-type]  # kill -9: nothing more from this run
        killed.outcomes._fd, killed.outcomes._unsettled = None, []
        with pytest.raises(MailerError, match="another mailer run is sending"), later.sending():
            pass
    # (the killed run's lock is gone with it; its log is still there)
    path.with_name("state.sqlite-log").write_text(json.dumps(SENT) + "\n", encoding="utf-8")
    with later.sending():
        assert later.sent_versions("newsletter") == {SENT.recipient: {"0"}}
        later.outcomes.append(SENT._replace(recipient="other@x.example", email="other@x.example"))
    later.close()
    assert sorted(rows(path)) == [("other@x.example", "sent", 250, 1), (SENT.recipient, "sent", 250, 1)]


def test_outcomes_left_in_the_log_when_the_database_refused_are_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    run = Journal(path)
    with pytest.raises(MailerError, match="cannot record what was sent: busy"), run.sending():
        run.outcomes.append(FAILED)  # attempts=3
        with sqlite3.connect(path) as db:  # the database refuses for a moment
            db.execute("CREATE TRIGGER t BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'busy'); END")
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER t")
    Journal(path, readonly=True).close()  # `mailer status` meanwhile moves the log
    run.close()
    assert rows(path) == [(FAILED.recipient, "failed", 451, 3)]


def test_a_log_beside_a_removed_database_is_not_taken_for_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    log = path.with_name("state.sqlite-log")
    log.write_text(json.dumps(SENT) + "\n", encoding="utf-8")  # the coordinator removed state.sqlite
    with Journal(path, readonly=True) as journal:  # `mailer status`: nothing, and nothing created
        assert journal.deliveries() == []
    assert not path.exists() and log.exists()
    with Journal(path) as journal:  # the next send starts afresh
        assert journal.sent_versions("newsletter") == {}
    assert not log.exists()


def test_a_server_reply_in_no_utf8_is_recorded() -> None:
    """aiosmtplib decodes a reply's stray bytes to lone surrogates; the row must still go in."""
    delivery = SimpleNamespace(
        campaign=SimpleNamespace(
            key="newsletter", version="0", meeting=None, method=None, sequence=0, fingerprint=""
        ),
        member=SimpleNamespace(key=SENT.recipient, email=SENT.email, name=SENT.name, language="da"),
    )
    outgoing = SimpleNamespace(message_id=SENT.message_id)
    outcome = Outcome(delivery, outgoing, False, 550, "5.1.1 ukendt modtager f\udcf8r", 1)  # type: ignore[arg-type]
    row = run._row(outcome, SENT.at)  # type: ignore[arg-type]
    assert row.reply == "5.1.1 ukendt modtager f?r"


def test_returns_read_messages_and_imap_positions_are_kept(tmp_path: Path) -> None:
    from mailer.journal import Return

    path = tmp_path / "state.sqlite"
    bounce = Return(
        "anne@roskilde.example",
        "bounce",
        "<1@x.example>",
        "invitation",
        "2027-01-02T10:00:00+00:00",
        "550 5.1.1 no such user",
        "bounces/1.eml",
    )
    with Journal(path) as journal:
        assert journal.record_return(bounce)
        assert not journal.record_return(bounce)  # the same notice read again
        journal.mark_read("<a@x.example>", "bounce", "bounces/1.eml")
        journal.set_imap_position("u@imap.example/INBOX", 7, 12)
    with Journal(path) as journal:
        assert journal.returns() == [bounce]
        assert journal.was_read("<a@x.example>") and not journal.was_read("<b@x.example>")
        assert journal.imap_position("u@imap.example/INBOX") == (7, 12)
        assert journal.imap_position("u@imap.example/Sent") is None
        assert journal.clear_bounces("anne@roskilde.example") == 1
        assert journal.clear_bounces("anne@roskilde.example") == 0
        assert journal.returns("anne@roskilde.example")[0].cleared_at is not None


def test_a_journal_from_before_the_inbox_kept_senders_is_read_and_then_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "state.sqlite"
    with Journal(path) as journal:
        journal.mark_read("<a@x.example>", "other", "svar/1.eml", sender="Søren Ærø <s@x.example>")
    db = sqlite3.connect(path)  # the table as the first journals that read mail made it
    db.executescript(
        """DROP TABLE inbox_read;
        CREATE TABLE inbox_read (key TEXT PRIMARY KEY, kind TEXT, source TEXT, at TEXT);
        INSERT INTO inbox_read VALUES ('<a@x.example>', 'other', 'svar/1.eml', '2027-01-02T10:00:00');"""
    )
    db.close()
    with Journal(path, readonly=True) as journal:
        (read,) = journal.read_messages("other")
        assert read == ("svar/1.eml", "2027-01-02T10:00:00", "", "", "", "<a@x.example>", "")
    with Journal(path) as journal:  # a writable open adds the columns
        journal.mark_read(
            "<b@x.example>", "other", "svar/2.eml", sender="Mads <m@x.example>", subject="Re: møde"
        )
        found = {m.source: (m.sender, m.subject) for m in journal.read_messages("other")}
        assert found == {"svar/1.eml": ("", ""), "svar/2.eml": ("Mads <m@x.example>", "Re: møde")}
