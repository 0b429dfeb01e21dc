"""`mailer send` against a real SMTP server on loopback: security modes, sign-in, faults, re-runs,
the selection options, validation before anything goes out, and secrets kept out of every output.

Every assertion is on what the server received (parsed back) or what the coordinator sees.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import conftest
import icalendar
import pytest
from conftest import (
    MEETING,
    PASSWORD,
    USER,
    BusyRecorder,
    Faults,
    Project,
    RefusingRecorder,
    RevokedRecorder,
    SmtpServer,
    StallingRecorder,
)
from ical.calendar_stream import IcsCalendarStream

from mailer import forked
from mailer.cli import main
from mailer.compose import Composer
from mailer.config import load_settings
from mailer.journal import Journal
from mailer.plan import Selection
from mailer.run import SendReport, load_inputs, make_plan, send
from mailer.signin import SmtpSignIn
from mailer.transport.smtp import RateLimiter, SmtpTransport

MEETING_ID = MEETING["id"]
SEND = ("send", "invitation", "--meeting", MEETING_ID)
CAMPAIGN = f"invitation:{MEETING_ID}"
Factory = Callable[..., SmtpServer]
# A template line that fails for the last member in the list only: a column he does not have.
MADS_ONLY_ERROR = '{% if recipient.name == "Mads Køhler" %}{{ recipient.telefon }}{% endif %}\n'


def member_emails(project: Project) -> list[str]:
    return sorted(m[1] for m in project.members)


def delivered_to(server: SmtpServer) -> Counter[str]:
    """How many messages each address got (by envelope recipient)."""
    return Counter(server.recipients)


def more_members(count: int) -> list[tuple[str, str, str, str]]:
    return [(f"Medlem {n}", f"medlem{n}@greve.example", "Greve Bibliotek", "da") for n in range(count)]


def journal_rows(project: Project) -> dict[str, tuple[str, int | None, str]]:
    """recipient -> (status, code, reply), read straight from the state file."""
    with sqlite3.connect(project.state) as db:
        rows = db.execute("SELECT recipient, status, code, reply FROM deliveries").fetchall()
    return {recipient: (status, code, reply) for recipient, status, code, reply in rows}


def journal_attempts(project: Project) -> dict[str, int]:
    with sqlite3.connect(project.state) as db:
        return dict(db.execute("SELECT recipient, attempts FROM deliveries").fetchall())


# -- security modes ---------------------------------------------------------------------


@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_starttls_with_auth(project: Project, server: SmtpServer) -> None:
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert sorted(server.recipients) == member_emails(project)
    # connections are reused: at most one sign-in per worker, never one per message
    assert set(server.recorder.logins) == {conftest.USER}
    assert len(server.recorder.logins) <= 4
    for msg in server.messages:
        assert msg.get_content_type() == "multipart/mixed"
        assert "Hvad siger brugerne?" in str(msg["Subject"]) or "What" in str(msg["Subject"])


def test_implicit_tls(project: Project, smtp_server_factory: Factory) -> None:
    server = smtp_server_factory("tls")
    project.smtp = server.smtp_config()
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert sorted(server.recipients) == member_emails(project)
    assert server.recorder.logins


def test_plain_relay_without_auth(project: Project, smtp_server_factory: Factory) -> None:
    server = smtp_server_factory("none", auth=False)
    project.smtp = server.smtp_config(auth=False)
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert sorted(server.recipients) == member_emails(project)
    assert not server.recorder.logins


def test_password_over_plain_text_refused(
    project: Project, smtp_server_factory: Factory, capsys: pytest.CaptureFixture[str]
) -> None:
    server = smtp_server_factory("none", auth=True)
    project.smtp = server.smtp_config()
    code, out = project.main(*SEND, "--yes")
    assert code == 2, out
    assert "unencrypted" in capsys.readouterr().err
    assert server.recorder.received == []
    assert not server.recorder.logins


def test_password_over_plain_text_allowed_on_loopback_when_configured(
    project: Project, smtp_server_factory: Factory
) -> None:
    server = smtp_server_factory("none", auth=True)
    project.smtp = {**server.smtp_config(), "allow_plain_auth_on_loopback": True}
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert sorted(server.recipients) == member_emails(project)
    assert server.recorder.logins


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.parametrize("problem", ["wrong name", "unknown CA"])
def test_certificate_failure_refused(
    project: Project,
    smtp_server_factory: Factory,
    capsys: pytest.CaptureFixture[str],
    security: str,
    problem: str,
) -> None:
    if problem == "wrong name":
        server = smtp_server_factory(security, cert_for="mail.other.example")
        project.smtp = server.smtp_config()
    else:
        server = smtp_server_factory(security)
        project.smtp = {k: v for k, v in server.smtp_config().items() if k != "ca_file"}
    code, out = project.main(*SEND, "--yes")
    err = capsys.readouterr().err
    assert code == 2, out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err  # one clear line
    assert "TLS" in errors[0] and "certificate verify failed" in errors[0]
    assert server.recorder.received == []
    assert server.recorder.auth_attempts == 0
    assert not project.state.exists() or journal_rows(project) == {}


def test_wrong_password_stops_at_once(
    project: Project, smtp_server_factory: Factory, capsys: pytest.CaptureFixture[str]
) -> None:
    server = smtp_server_factory("starttls", handler=RefusingRecorder)
    project.smtp = {**server.smtp_config(), "concurrency": 4, "max_attempts": 5}
    code, out = project.main(*SEND, "--yes")
    err = capsys.readouterr().err
    assert code == 2, out + err
    assert "refused the sign-in" in err and "535" in err and "nothing was sent" in err
    assert server.recorder.received == []
    # one try: not once per connection, nor once per mechanism the server offers
    assert server.recorder.auth_attempts == 1
    assert journal_rows(project) == {}


def test_sign_in_refused_mid_run_stops_and_says_how_far_it_got(
    project: Project,
    smtp_server_factory: Factory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # (the connection dropped after two messages, so that it must sign in again)
    server = smtp_server_factory("starttls", faults=Faults(drop_after=2), handler=RevokedRecorder)
    project.smtp = {**server.smtp_config(), "concurrency": 1}
    code, out = project.main(*SEND, "--yes")
    err = capsys.readouterr().err
    assert code == 2, out + err
    assert "refused the sign-in" in err and "2 of 4 messages were done before that" in err
    assert "run the same command again to finish" in err
    assert server.recorder.auth_attempts == 2
    assert len(server.recorder.received) == 2
    assert [status for status, _, _ in journal_rows(project).values()] == ["sent", "sent"]

    fixed = smtp_server_factory("starttls")
    project.smtp = fixed.smtp_config()
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert sorted(server.recipients + fixed.recipients) == member_emails(project)


# -- faults -----------------------------------------------------------------------------


def test_tempfail_then_success_delivers_each_once(project: Project, smtp_server_factory: Factory) -> None:
    server = smtp_server_factory("starttls", faults=Faults(tempfail_first=True))
    project.smtp = {**server.smtp_config(), "concurrency": 2}
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert delivered_to(server) == Counter(member_emails(project))
    assert all(count == 2 for count in server.recorder.tried.values())  # 451 first, then accepted
    assert len(server.recorder.logins) <= 2  # a 451 for one address does not cost a new connection
    assert {status for status, _, _ in journal_rows(project).values()} == {"sent"}


@pytest.mark.parametrize(
    ("security", "auth"), [("starttls", True), ("starttls", False), ("tls", False), ("none", False)]
)
@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_the_size_declared_at_mail_from_is_the_size_received(
    project: Project, smtp_server_factory: Factory, security: str, auth: bool
) -> None:
    # aiosmtpd offers SIZE (RFC 1870): mailer declares each message's length on MAIL FROM, the
    # first of each connection too (without a sign-in, the greeting is what tells of SIZE)
    server = smtp_server_factory(security, auth=auth)
    project.smtp = {**server.smtp_config(auth=auth), "concurrency": 1}
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert len(server.recorder.received) == len(member_emails(project))
    for (_, _, data), options in zip(server.recorder.received, server.recorder.mail_options, strict=True):
        assert [o.upper() for o in options] == [f"SIZE={len(data)}"]  # the plain path's sendmail: size=


@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_permanent_failure_for_one_member_the_rest_go_through(
    project: Project, smtp_server_factory: Factory
) -> None:
    bad = "maria.lohse@roskilde.example"
    server = smtp_server_factory("starttls", faults=Faults(reject={bad}))
    project.smtp = server.smtp_config()
    code, out = project.main(*SEND, "--yes")
    assert code == 1, out
    assert sorted(server.recipients) == sorted(set(member_emails(project)) - {bad})
    assert server.recorder.tried[bad] == 1  # a 5xx is not retried
    assert "sent: 3, skipped (already sent): 0, failed: 1" in out
    assert f"failed: {bad}: 550 5.1.1 No such mailbox here" in out
    assert journal_rows(project)[bad] == ("failed", 550, "5.1.1 No such mailbox here")

    # a 5xx counts as a bounce: the same command again leaves the member out, and says so
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert server.recorder.tried[bad] == 1
    assert f"1 member left out because their address bounced:\n    {bad}" in out
    code, out = project.main("status")
    assert f"bouncing: {bad}" in out and "5.1.1 No such mailbox here" in out
    code, out = project.main("status", CAMPAIGN)
    assert f"{bad} seq 0  550 5.1.1 No such mailbox here" in out

    # put back by the coordinator: only the failed member is tried, and it still fails
    assert project.main("bounced", "--clear", bad)[0] == 0
    code, out = project.main(*SEND, "--yes")
    assert code == 1, out
    assert server.recorder.tried[bad] == 2
    assert len(server.recorder.received) == 3
    assert "sent: 0, skipped (already sent): 3, failed: 1" in out
    assert project.main("bounced", "--clear", bad)[0] == 0

    # once the server takes it, the run completes and the journal says so
    server.faults.reject.clear()
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert delivered_to(server) == Counter(member_emails(project))
    assert journal_rows(project)[bad][0] == "sent"


@pytest.mark.parametrize("fault", [Faults(drop_after=2), Faults(rate_limit_after=2)], ids=["drop", "421"])
def test_connection_lost_mid_run_every_member_once(
    project: Project, smtp_server_factory: Factory, fault: Faults
) -> None:
    server = smtp_server_factory("starttls", faults=fault)
    project.smtp = {**server.smtp_config(), "concurrency": 2}
    project.members += more_members(6)
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert delivered_to(server) == Counter(member_emails(project))
    assert fault.drop_after is None and fault.rate_limit_after is None  # the fault did happen
    assert sorted(journal_attempts(project).values()) == [1] * (len(project.members) - 1) + [2]
    ids = [msg["Message-ID"] for msg in server.messages]
    assert len(set(ids)) == len(ids)


# -- re-runs and what is selected ---------------------------------------------------------


@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_rerun_after_success_sends_nothing_and_new_member_gets_theirs(
    project: Project, server: SmtpServer
) -> None:
    assert project.main(*SEND, "--yes")[0] == 0
    first_ids = {msg["To"].addresses[0].addr_spec: msg["Message-ID"] for msg in server.messages}

    code, out = project.main(*SEND, "--yes")
    assert (code, len(server.recorder.received)) == (0, 4), out
    assert "nothing to send" in out and "4 members already have it" in out

    project.members.append(("Ida Ørsted", "ida.orsted@greve.example", "Greve Bibliotek", "da"))
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert "campaign invitation:2027-09-21-hvad-siger-brugerne: 1 new" in out
    assert "sent: 1, skipped (already sent): 4, failed: 0" in out
    assert delivered_to(server) == Counter(member_emails(project))

    code, out = project.main(*SEND, "--yes", "--resend", now=conftest.FIXED + timedelta(hours=1))
    assert code == 0, out
    assert delivered_to(server) == Counter({e: 2 for e in member_emails(project)})
    again = [msg for msg in server.messages[5:]]
    for msg in again:  # sent again on purpose: a new Message-ID, so no mailbox drops it as a copy
        to = msg["To"].addresses[0].addr_spec
        assert msg["Message-ID"] != first_ids.get(to)


def test_limit_sends_at_most_n_and_the_rest_later(project: Project, server: SmtpServer) -> None:
    code, out = project.main(*SEND, "--yes", "--limit", "3")
    assert code == 0, out
    assert f"to send: 3 messages to 3 members via 127.0.0.1:{server.port} as {conftest.USER}" in out
    assert len(server.recorder.received) == 3
    code, out = project.main(*SEND, "--yes", "--limit", "3")
    assert code == 0, out
    assert "sent: 1, skipped (already sent): 3, failed: 0" in out
    assert delivered_to(server) == Counter(member_emails(project))


@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_only_one_member(project: Project, server: SmtpServer) -> None:
    code, out = project.main(*SEND, "--yes", "--only", "MADS.Kohler@koege.example")
    assert code == 0, out
    assert server.recipients == ["mads.kohler@koege.example"]
    assert set(journal_rows(project)) == {"mads.kohler@koege.example"}

    code, out = project.main(*SEND, "--yes", "--only", "nobody@koege.example")
    assert code == 2
    assert len(server.recorder.received) == 1


@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_test_to_delivers_only_to_the_test_address_and_records_nothing(
    project: Project, server: SmtpServer
) -> None:
    code, out = project.main(
        *SEND, "--test-to", "koordinator@roskilde.example", "--only", "maria.lohse@roskilde.example"
    )
    assert code == 0, out
    assert server.recipients == ["koordinator@roskilde.example"]
    (msg,) = server.messages
    assert msg["X-Mailer-Test"]
    assert msg["Subject"] == "[TEST] Netværksmøde: Hvad siger brugerne? – Tuesday, 21 September 2027"
    # written to a made-up member at the test address: nothing of Maria's goes to it
    (to,) = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Test Testesen", "koordinator@roskilde.example")
    assert b"maria" not in server.recorder.received[0][2].lower()
    assert "sent to koordinator@roskilde.example; nothing recorded" in out
    assert journal_rows(project) == {}

    # its calendar is not the meeting: a UID of its own, [TEST] in its title, the tester invited
    (part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    ics = part.get_payload(decode=True)
    event = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
    strict = IcsCalendarStream.calendar_from_ics(ics.decode("utf-8")).events[0]
    real_uid = f"{MEETING_ID}@roskilde.example"
    for uid, summary, attendees in (
        (str(event["UID"]), str(event["SUMMARY"]), [str(event["ATTENDEE"])]),
        (strict.uid, strict.summary, [a.uri for a in strict.attendees]),
    ):
        assert uid != real_uid and uid.startswith("mailer-test-") and uid.endswith(real_uid)
        assert summary == "[TEST] Netværksmøde: Hvad siger brugerne?"
        assert attendees == ["mailto:koordinator@roskilde.example"]

    # the real run afterwards still sends to every member; Maria's message is not taken for
    # a copy of the test by a mailbox that has both (the test has its own Message-ID)
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert sorted(server.recipients[1:]) == member_emails(project)
    (real,) = [
        m for m in server.messages[1:] if m["To"].addresses[0].addr_spec == "maria.lohse@roskilde.example"
    ]
    assert real["Message-ID"] != msg["Message-ID"]
    real_text = real.get_body(("plain",)).get_content()
    assert "[TEST] " + real["Subject"] == msg["Subject"]
    assert real_text.replace("Maria Lohse", "Test Testesen") == msg.get_body(("plain",)).get_content()

    # an Accept pressed on the test is never recorded as anyone's answer
    answer = icalendar.Calendar.from_ical(ics)
    answer["METHOD"] = "REPLY"
    answer.walk("VEVENT")[0]["ATTENDEE"].params["PARTSTAT"] = "ACCEPTED"
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = "koordinator@roskilde.example", USER, "Accepteret"
    reply["Message-ID"] = "<accept-test@roskilde.example>"
    reply.set_content(answer.to_ical(), "text", "calendar", params={"method": "REPLY"})
    (project.root / "svar.eml").write_bytes(reply.as_bytes())
    for again in (False, True):
        code, out = project.main("inbox", str(project.root / "svar.eml"))
        assert code == 0 and "recorded 0 answers" in out, out
        assert ("answered a test message" in out) is not again and ("read before" in out) is again
    with Journal(project.state, readonly=True) as journal:
        assert journal.answers(MEETING_ID) == {}


def test_test_to_checks_every_message_first(
    project: Project, server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    body = project.root / "templates" / "invitation" / "da" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8") + MADS_ONLY_ERROR, encoding="utf-8")
    code, out = project.main(*SEND, "--test-to", "koordinator@roskilde.example")
    assert code == 2, out  # the test would be Søren's message, which renders; Mads's does not
    assert "telefon" in capsys.readouterr().err
    assert server.recorder.received == []


@pytest.mark.parametrize("limit", ["0", "-1", "alle"])
def test_limit_must_be_a_count(project: Project, limit: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        project.main(*SEND, "--yes", "--limit", limit)
    assert exit_.value.code == 2
    assert "is not a number of messages" in capsys.readouterr().err


@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_dry_run_writes_the_outbox_and_sends_nothing(project: Project, server: SmtpServer) -> None:
    code, out = project.main(*SEND, "--dry-run")
    assert code == 0, out
    written = sorted((project.root / "outbox").rglob("*.eml"))
    assert len(written) == 4
    tos = set()
    for path in written:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        tos.add(msg["To"].addresses[0].addr_spec)  # type: ignore[union-attr]
    assert sorted(tos) == member_emails(project)
    assert server.recorder.received == []
    assert not project.state.exists() or journal_rows(project) == {}


class Keyboard(io.StringIO):
    """Standard input that is (or is not) a terminal, with the answer already typed."""

    def __init__(self, text: str, *, tty: bool) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_no_terminal_and_no_yes_refuses(
    project: Project,
    server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", Keyboard("y\n", tty=False))  # piped input is not an answer
    code, out = project.main(*SEND)
    assert code == 2, out
    assert "error: no terminal to confirm on; add --yes to send" in capsys.readouterr().err
    assert f"to send: 4 messages to 4 members via 127.0.0.1:{server.port} as {conftest.USER}" in out
    assert server.recorder.received == []


@pytest.mark.parametrize(("answer", "sent"), [("ja\n", 4), ("n\n", 0), ("\n", 0)])
def test_terminal_confirmation(
    project: Project, server: SmtpServer, monkeypatch: pytest.MonkeyPatch, answer: str, sent: int
) -> None:
    monkeypatch.setattr(sys, "stdin", Keyboard(answer, tty=True))
    code, out = project.main(*SEND)
    assert code == (0 if sent else 2), out
    assert "send now? [y/N] " in out
    assert len(server.recorder.received) == sent
    assert ("nothing sent" in out) == (not sent)


def test_a_missing_password_is_said_before_the_question(
    project: Project,
    server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MAILER_SMTP__PASSWORD")
    # piped input: nobody to ask for the password (at a terminal mailer asks: test_passwords.py)
    monkeypatch.setattr(sys, "stdin", Keyboard("y\n", tty=False))
    code, out = project.main(*SEND)
    assert code == 2
    assert "send now?" not in out
    err = capsys.readouterr().err
    assert "no password" in err and "mailer password" in err and "MAILER_SMTP__PASSWORD" in err
    assert server.recorder.received == [] and server.recorder.auth_attempts == 0


# -- validation before anything goes out -------------------------------------------------------


def test_a_bad_row_stops_the_run_before_sending(
    project: Project, server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project.members.append(("Anna", "anna@", "Solrød Bibliotek", "da"))
    code, out = project.main(*SEND, "--yes")
    assert code == 2, out
    assert "recipients.csv:6: email:" in capsys.readouterr().err
    assert server.recorder.received == []
    assert server.recorder.auth_attempts == 0


@pytest.mark.parametrize("processes", [0, 1], ids=["built-here", "built-by-a-worker"])
def test_a_template_error_for_one_member_sends_nothing(
    project: Project, smtp_server_factory: Factory, capsys: pytest.CaptureFixture[str], processes: int
) -> None:
    """Mads is last: with a worker process, his message is one the worker checks."""
    server = smtp_server_factory("starttls")
    project.smtp = {**server.smtp_config(), "concurrency": 1, "compose_processes": processes}
    body = project.root / "templates" / "invitation" / "da" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8") + MADS_ONLY_ERROR, encoding="utf-8")
    code, out = project.main(*SEND, "--yes")
    err = capsys.readouterr().err
    assert code == 2, out + err
    assert "body.txt" in err and "telefon" in err
    assert server.recorder.received == []
    assert journal_rows(project) == {}


def test_the_worker_builds_in_the_background(project: Project) -> None:
    """The building runs ahead of the sending and must not take turns with it. (The check
    before sending, which the run waits for, is forked from the run: at its priority.)"""
    project.write()
    composer = Composer(load_settings(project.config), now=conftest.FIXED)
    with forked.Builders(composer.outgoing, [], processes=1) as builders:
        assert builders._pool is not None
        assert builders._pool.submit(os.nice, 0).result() == os.nice(0)
        assert builders._pool.submit(forked._build_batch, 0, 0).result() == []
        assert builders._pool.submit(os.nice, 0).result() == forked.BACKGROUND_NICE
    assert os.nice(0) != forked.BACKGROUND_NICE  # the run itself is not slowed


def _dies(*args: object) -> None:
    os._exit(1)  # as the kernel's out-of-memory killer would end it


def test_a_checking_process_that_dies_is_one_clear_error_and_nothing_is_sent(
    project: Project,
    smtp_server_factory: Factory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server_factory("starttls")
    project.members += more_members(10)
    project.smtp = {**server.smtp_config(), "compose_processes": 1}
    monkeypatch.setattr(forked, "_check_range", _dies)  # what the forked process checks with
    code, out = project.main(*SEND, "--yes")
    assert code == 2, out
    assert "a process checking messages stopped unexpectedly" in capsys.readouterr().err
    assert server.recorder.received == [] and journal_rows(project) == {}


# A run whose build worker dies (as the out-of-memory killer would end it) while batches are
# still asked of the pool: it must say so and end, not hang waiting for the other worker.
DYING_BUILD = """
import asyncio, os, sys
from datetime import UTC, datetime
from pathlib import Path
from mailer import forked
from mailer.compose import RUN_AGAIN, Composer
from mailer.config import load_settings
from mailer.errors import MailerError
from mailer.journal import Journal
from mailer.plan import Selection
from mailer.run import load_inputs, make_plan

settings = load_settings(Path(sys.argv[1]))
with Journal(settings.resolve(settings.files.state)) as journal:
    plan = make_plan(load_inputs(settings), journal, Selection("invitation", sys.argv[2]))
build_batch = forked._build_batch

def dying(start, stop):
    if start >= 136:
        os._exit(1)
    return build_batch(start, stop)

forked._build_batch = dying

async def read(builders):
    return [outgoing async for _, outgoing in builders.results()]

composer = Composer(settings, now=datetime(2026, 11, 25, tzinfo=UTC))
try:
    with forked.Builders(composer.outgoing, plan.deliveries, 2) as builders:
        composer.check(plan.deliveries, 2)
        with forked.stopped_unexpectedly("building messages", RUN_AGAIN):
            asyncio.run(read(builders))
except MailerError as err:
    print(err)
"""


def test_a_build_worker_that_dies_is_one_clear_error_and_the_run_ends(project: Project) -> None:
    project.members += more_members(600)
    project.write()
    for _ in range(3):  # the pool's own thread and the run's cancelling once raced, often
        done = subprocess.run(
            [sys.executable, "-c", DYING_BUILD, str(project.config), MEETING_ID],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "a process building messages stopped unexpectedly" in done.stdout, done.stderr
        assert "Traceback" not in done.stderr  # told once, not once per batch still asked for


@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_a_message_over_the_size_limit_stops_the_run_before_anything_is_sent(
    project: Project, smtp_server_factory: Factory, capsys: pytest.CaptureFixture[str]
) -> None:
    server = smtp_server_factory("starttls")
    project.smtp = {**server.smtp_config(), "max_message_mb": 0.001}
    code, out = project.main(*SEND, "--yes")
    assert code == 2, out
    assert "over smtp.max_message_mb (0.001 MB)" in capsys.readouterr().err
    assert server.recorder.received == [] and journal_rows(project) == {}


def test_worker_processes_send_the_very_bytes_preview_shows(
    project: Project, smtp_server_factory: Factory
) -> None:
    """Messages built by forked workers, a few batches ahead of the sending, are the same
    bytes as the preview's, each member once, in the plan's order per connection."""
    server = smtp_server_factory("starttls")
    project.members += more_members(150)  # several batches of 64
    project.smtp = {**server.smtp_config(), "compose_processes": 2}
    code, out = project.main(*SEND, "--dry-run")
    assert code == 0, out
    previewed = {
        email.message_from_bytes(path.read_bytes())["To"]: path.read_bytes()
        for path in (project.root / "outbox").rglob("*.eml")
    }
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert delivered_to(server) == Counter(member_emails(project))
    received = {email.message_from_bytes(data)["To"]: data for _, _, data in server.recorder.received}
    assert received.keys() == previewed.keys()
    for to, data in received.items():
        assert data.replace(b"\r\n", b"\n") == previewed[to].replace(b"\r\n", b"\n"), to


# -- secrets -------------------------------------------------------------------------------


def test_password_never_printed_or_stored(
    project: Project,
    smtp_server_factory: Factory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = smtp_server_factory("starttls", faults=Faults(reject={"mads.kohler@koege.example"}))
    project.smtp = server.smtp_config()
    outputs = [project.main(*SEND, "--dry-run")[1], project.main(*SEND, "--yes")[1]]
    outputs.append(project.main("--debug", *SEND, "--yes", "--resend")[1])
    outputs.append(project.main("status")[1])
    assert len(server.recorder.received) == 6
    project.smtp = smtp_server_factory("starttls", handler=RefusingRecorder).smtp_config()
    code, out = project.main("--debug", *SEND, "--yes", "--resend")  # with a traceback
    assert code == 2
    outputs.append(out)
    captured = capsys.readouterr()
    secret = PASSWORD.encode()
    for text in [*outputs, captured.out, captured.err]:
        assert PASSWORD not in text
    files = [p for p in project.root.rglob("*") if p.is_file() and "templates" not in p.parts]
    assert any(p.suffix == ".eml" for p in files) and any(p.name.startswith("state.sqlite") for p in files)
    for path in files:
        assert secret not in path.read_bytes(), path


# -- pacing: rate limit and back-off, measured without waiting ------------------------------


class FakeTime:
    """A clock that stands still; `sleep` records when the sleeper would wake up."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.wakes: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.wakes.append(self.now + seconds)
        await asyncio.sleep(0)


def test_rate_limiter_spaces_messages_across_connections() -> None:
    time = FakeTime()
    limiter = RateLimiter(per_minute=30, per_hour=None, clock=time.clock, sleep=time.sleep)

    async def connection() -> None:
        for _ in range(3):
            await limiter.wait()

    async def run() -> None:
        await asyncio.gather(*(connection() for _ in range(4)))

    asyncio.run(run())
    # 12 messages from 4 connections arriving at once: the first now, then one every 2 s
    assert sorted(time.wakes) == [1000.0 + 2 * n for n in range(1, 12)]


def test_rate_limiter_takes_the_stricter_limit_and_does_not_bank_idle_time() -> None:
    time = FakeTime()
    limiter = RateLimiter(per_minute=60, per_hour=360, clock=time.clock, sleep=time.sleep)
    assert limiter.interval == 10.0
    asyncio.run(limiter.wait())
    asyncio.run(limiter.wait())
    assert time.wakes == [1010.0]
    time.now = 5000.0  # a long pause: the next goes at once, the one after waits a full interval
    asyncio.run(limiter.wait())
    asyncio.run(limiter.wait())
    assert time.wakes == [1010.0, 5010.0]
    unlimited = RateLimiter(None, None, clock=time.clock, sleep=time.sleep)
    asyncio.run(unlimited.wait())
    assert len(time.wakes) == 2


def run_pipeline(
    project: Project, transport_settings: dict[str, Any]
) -> tuple[SendReport, list[float], float]:
    """`run.send` for the project's invitation through a transport whose sleeps are only recorded."""
    project.smtp = transport_settings
    project.write()
    settings = load_settings(project.config)
    inputs = load_inputs(settings)
    slept: list[float] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)

    transport = SmtpTransport(settings.smtp, SmtpSignIn(settings), sleep=record_sleep)
    started = time.monotonic()
    with Journal(settings.resolve(settings.files.state)) as journal:
        plan = make_plan(inputs, journal, Selection("invitation", MEETING_ID))
        report = send(inputs, journal, plan, now=conftest.FIXED, transport=transport)
    return report, slept, time.monotonic() - started


def test_rate_per_minute_is_honoured_by_the_transport(project: Project, smtp_server_factory: Factory) -> None:
    server = smtp_server_factory("starttls")
    project.members += more_members(4)
    settings = {**server.smtp_config(), "rate_per_minute": 120, "concurrency": 4}
    report, slept, elapsed = run_pipeline(project, settings)
    assert report.sent == 8 and len(server.recorder.received) == 8
    # 8 messages at 2 a second: each but the first waits for its half-second slot (less the
    # real time already gone by when it asked)
    assert len(slept) == 7
    for n, seconds in enumerate(sorted(slept), start=1):
        assert n * 0.5 - elapsed <= seconds <= n * 0.5


@pytest.mark.smtp_fault(BusyRecorder)
def test_transient_failures_back_off_exponentially_then_are_reported(
    project: Project, server: SmtpServer
) -> None:
    settings = {**project.smtp, "backoff": 1.5, "max_attempts": 4, "concurrency": 1}
    report, slept, _ = run_pipeline(project, settings)
    assert report.sent == 3
    (failed,) = report.failed
    assert (failed.outgoing.rcpt_to, failed.code, failed.attempts) == (BusyRecorder.busy, 451, 4)
    assert "Mailbox busy" in failed.reply
    assert server.recorder.tried[BusyRecorder.busy] == 4
    assert slept == [1.5, 3.0, 6.0]
    assert journal_rows(project)[BusyRecorder.busy][:2] == ("failed", 451)


@pytest.mark.smtp_fault(StallingRecorder)
def test_a_server_that_stops_answering_is_given_up_on_and_the_message_tried_again(
    project: Project, server: SmtpServer
) -> None:
    settings = {**project.smtp, "timeout": 0.25, "concurrency": 1}
    report, slept, elapsed = run_pipeline(project, settings)
    assert (report.sent, report.failed) == (len(project.members), [])
    assert len(slept) == 1  # one back-off, before the second attempt
    assert elapsed >= 1.0  # the transaction's deadline: four replies' worth of smtp.timeout
    assert sorted(rcpt for _, (rcpt,), _ in server.recorder.received) == member_emails(project)
    with sqlite3.connect(project.state) as db:
        attempts = sorted(n for (n,) in db.execute("SELECT attempts FROM deliveries WHERE status = 'sent'"))
    assert attempts == [1] * (len(project.members) - 1) + [2]  # the stalled one took two


# -- progress ------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_plain_lines_off_a_terminal_and_a_bar_on_one(
    project: Project, smtp_server_factory: Factory
) -> None:
    server = smtp_server_factory("none", auth=False)
    project.smtp = server.smtp_config(auth=False)
    project.members += more_members(16)
    code, out = project.main(*SEND, "--yes", "--limit", "10")
    assert code == 0, out
    assert "\r" not in out
    lines = [line for line in out.splitlines() if re.fullmatch(r"\d+/10 sent · [\d.]+/s · \d+s left", line)]
    assert lines[0].startswith("1/10 ") and lines[-1].startswith("10/10 ")
    assert out.splitlines()[-1] == "sent: 10, skipped (already sent): 0, failed: 0"

    terminal = Terminal()
    code = main(["--config", str(project.config), *SEND, "--yes"], clock=conftest.fixed_clock, out=terminal)
    assert code == 0
    shown = terminal.getvalue()
    # one bar redrawn in place (a few times a second at most): the first message, the last
    bars = re.findall(r"\r\[[#-]{30}\] (\d+)/10 sent[^\r\n]*(\n?)", shown)
    assert bars[0] == ("1", "") and bars[-1] == ("10", "\n")
    assert len(bars) <= 10 and all(end == "" for _, end in bars[:-1])
    assert "\r[##############################] 10/10 sent" in shown
    assert len(server.recorder.received) == 20


def test_a_second_newsletter_under_the_same_key_is_not_sent_and_says_how(
    project: Project, server: SmtpServer
) -> None:
    assert project.main("send", "newsletter", "--yes")[0] == 0
    code, out = project.main("send", "newsletter", "--yes")
    assert code == 0 and "nothing to send" in out
    assert "--campaign newsletter-2" in out
    code, out = project.main("send", "newsletter", "--campaign", "newsletter-2027-03", "--yes")
    assert code == 0, out
    assert delivered_to(server) == Counter({e: 2 for e in member_emails(project)})
