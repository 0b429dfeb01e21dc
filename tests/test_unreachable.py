"""A server that cannot be reached is told at once, in plain words, with what to do: the run
stops at the first connection that fails instead of trying every member with back-off.
"""

from __future__ import annotations

import socket
import sqlite3

import conftest
import pytest
from conftest import MEETING, Project, free_port

from mailer.config import load_settings
from mailer.errors import UnreachableError
from mailer.journal import Journal
from mailer.plan import Selection
from mailer.run import load_inputs, make_plan, send
from mailer.signin import SmtpSignIn
from mailer.transport.smtp import SmtpTransport

SEND = ("send", "invitation", "--meeting", MEETING["id"])


def closed_port_settings(**more: object) -> dict[str, object]:
    """Loopback with nothing listening on the port: the connection is refused."""
    return {"host": "127.0.0.1", "port": free_port(), "security": "none", "backoff": 0.0, **more}


def test_a_closed_port_stops_the_send_at_once_and_says_what_to_do(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.smtp = closed_port_settings(concurrency=4, max_attempts=5)
    code, out = project.main(*SEND, "--yes")
    err = capsys.readouterr().err
    assert code == 2, out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    port = project.smtp["port"]
    assert f"nothing answers on port {port}" in errors[0] and "the port is closed" in errors[0]
    assert "check [smtp] port in config.toml" in errors[0] and "ask IT" in errors[0]
    assert "nothing was sent" in errors[0]
    with sqlite3.connect(project.state) as db:  # no member marked as failed: nobody was tried
        assert db.execute("SELECT count(*) FROM deliveries").fetchone() == (0,)


def test_the_first_failed_connection_is_not_retried_per_member(project: Project) -> None:
    project.smtp = closed_port_settings(concurrency=4, max_attempts=5, backoff=60.0)
    project.write()
    settings = load_settings(project.config)
    inputs = load_inputs(settings)
    slept: list[float] = []
    reported: list[object] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)

    transport = SmtpTransport(settings.smtp, SmtpSignIn(settings), sleep=record_sleep)
    with Journal(settings.resolve(settings.files.state)) as journal:
        plan = make_plan(inputs, journal, Selection("invitation", MEETING["id"]))
        with pytest.raises(UnreachableError) as raised:
            send(
                inputs,
                journal,
                plan,
                now=conftest.FIXED,
                transport=transport,
                progress=lambda *counts: reported.append(counts),
            )
    assert "the port is closed" in raised.value.message
    assert slept == []  # no back-off: the run ended at the first refusal
    assert reported == []  # and no member was counted as failed


def test_a_server_that_never_greets_is_told_as_no_answer(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as silent:  # takes the connection (the kernel does) and says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        project.smtp = closed_port_settings(port=silent.getsockname()[1], timeout=0.2, max_attempts=5)
        code, out = project.main(*SEND, "--yes")
    err = capsys.readouterr().err
    assert code == 2, out + err
    assert f"no answer from 127.0.0.1:{project.smtp['port']} within 0.2 seconds" in err
    assert "nothing was sent" in err


def test_the_wait_for_a_greeting_is_at_most_ten_seconds(project: Project) -> None:
    from mailer.transport.smtp import CONNECT_TIMEOUT, unreachable

    project.smtp = closed_port_settings(port=465, security="starttls", timeout=60.0)
    project.write()
    smtp = load_settings(project.config).smtp
    assert CONNECT_TIMEOUT == 10.0
    told = unreachable(smtp, TimeoutError(), min(smtp.timeout, CONNECT_TIMEOUT))
    assert "no answer from 127.0.0.1:465 within 10 seconds" in told.message
    assert 'port 465 wants security = "tls"' in told.message
