"""`mailer check --signin` really signs in (EHLO, STARTTLS, AUTH, QUIT) and sends nothing: a right
password, a wrong one, and a server that cannot be reached, each said in plain words.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import PASSWORD, USER, Project, SmtpServer, free_port

Factory = Callable[..., SmtpServer]


def test_the_right_password_signs_in_and_nothing_is_sent(project: Project, server: SmtpServer) -> None:
    code, out = project.main("check", "--signin")
    assert code == 0, out
    assert f"password as {USER} at 127.0.0.1:{server.port}" in out
    assert "signed in to 127.0.0.1 just now: the password is right; nothing was sent" in out
    assert server.recorder.logins == [USER]  # one real sign-in, over STARTTLS
    assert server.recorder.received == []
    assert PASSWORD not in out


def test_without_signin_check_asks_no_server(project: Project, server: SmtpServer) -> None:
    code, out = project.main("check")
    assert code == 0, out
    assert server.recorder.auth_attempts == 0 and "just now" not in out


def test_a_wrong_password_is_said_with_what_to_do(
    project: Project, server: SmtpServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILER_SMTP__PASSWORD", "forkert kodeord")
    code, out = project.main("check", "--signin")
    err = capsys.readouterr().err
    assert code == 2, out + err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert f"127.0.0.1 refused the sign-in as '{USER}': 535" in line
    assert "The password or the user name" in line and "MAILER_SMTP__PASSWORD" in line
    assert server.recorder.auth_attempts == 1  # tried once: a lock-out counts every try
    assert server.recorder.logins == [] and server.recorder.received == []
    assert "forkert kodeord" not in out + err


def test_a_closed_port_is_said_with_what_to_do(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    project.smtp = {"host": "127.0.0.1", "port": port, "security": "starttls", "username": USER}
    code, out = project.main("check", "--signin")
    err = capsys.readouterr().err
    assert code == 2, out + err
    assert f"nothing answers on port {port} (the port is closed)" in err
    assert "check [smtp] port in config.toml" in err


def test_a_relay_without_sign_in_is_reached(project: Project, smtp_server_factory: Factory) -> None:
    relay = smtp_server_factory("none", auth=False)
    project.smtp = relay.smtp_config(auth=False)
    code, out = project.main("check", "--signin")
    assert code == 0, out
    assert f"127.0.0.1:{relay.port} answered (no sign-in); nothing was sent" in out
    assert relay.recorder.received == []
