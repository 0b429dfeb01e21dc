"""Passwords: asked at the terminal with hidden typing when there is none, kept in the system's
keyring when the coordinator says so (here a keyring that writes to a file of the test's own,
from keyrings.alt: no real keyring is touched), `mailer password` to keep or forget one, the
environment winning over the keyring, and never a password in a file of mailer's or its output.
"""

from __future__ import annotations

import io
import os
import sys

import keyring
import pytest
from conftest import MEETING, PASSWORD, USER, Project, SmtpServer
from test_init import Terminal

from mailer.cli import main

SEND = ("send", "invitation", "--meeting", MEETING["id"], "--yes")


def kept(host: str = "127.0.0.1", section: str = "smtp") -> str | None:
    return keyring.get_password(f"mailer {section} {host}", USER)


def files_of(project: Project) -> bytes:
    """Everything mailer wrote in the project's folder (config, journal, outbox)."""
    return b"".join(p.read_bytes() for p in project.root.rglob("*") if p.is_file())


@pytest.fixture
def no_password(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILER_SMTP__PASSWORD")


def typed(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """What a script pipes into mailer (no terminal)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_mailer_password_keeps_it_and_send_uses_it(
    project: Project, server: SmtpServer, no_password: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed(monkeypatch, PASSWORD + "\n")
    code, out = project.main("password")
    assert code == 0, out
    assert f"the password for {USER} at 127.0.0.1 is kept in this computer's keyring" in out
    assert kept() == PASSWORD
    assert PASSWORD not in out

    code, out = project.main("check")
    assert code == 0, out
    assert "password from this computer's keyring (kept with `mailer password`)" in out

    typed(monkeypatch, "")  # no terminal, nothing to read: the keyring's password is used
    code, out = project.main(*SEND)
    assert code == 0, out
    assert set(server.recorder.logins) == {USER} and len(server.recorder.received) == len(project.members)
    assert PASSWORD.encode() not in files_of(project)


def test_the_environment_wins_over_the_keyring(
    project: Project, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring.set_password("mailer smtp 127.0.0.1", USER, "an old password")
    code, out = project.main("check", "--signin")  # MAILER_SMTP__PASSWORD has the right one
    assert code == 0, out
    assert "password from MAILER_SMTP__PASSWORD (set)" in out
    assert server.recorder.logins == [USER]


def test_forget(
    project: Project, server: SmtpServer, no_password: None, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring.set_password("mailer smtp 127.0.0.1", USER, PASSWORD)
    code, out = project.main("password", "--forget")
    assert code == 0 and f"forgot the password for {USER} at 127.0.0.1" in out
    assert kept() is None
    code, out = project.main("password", "--forget")
    assert code == 0 and "no password was kept for" in out

    code, out = project.main("check")
    assert "password NOT set: `mailer password` keeps it in this computer's keyring" in out
    code, out = project.main(*SEND)  # no terminal to ask on
    assert code == 2
    assert "mailer password" in capsys.readouterr().err


def test_the_imap_password_is_kept_apart(
    project: Project, no_password: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.smtp = {"host": "127.0.0.1", "port": 25, "security": "none"}
    project.write()
    with project.config.open("a", encoding="utf-8") as config:
        config.write('\n[imap]\nhost = "imap.roskilde.example"\nusername = "brugernesrum@roskilde.example"\n')
    typed(monkeypatch, "imap-kode æøå\n")
    out = io.StringIO()
    assert main(["--config", str(project.config), "password", "--imap"], out=out) == 0, out.getvalue()
    assert kept("imap.roskilde.example", "imap") == "imap-kode æøå"
    assert kept() is None


@pytest.mark.parametrize("keep_it", [True, False], ids=["kept", "not-kept"])
def test_send_asks_at_the_terminal_and_keeps_it_when_told(
    project: Project, server: SmtpServer, keep_it: bool
) -> None:
    project.write()
    env = {name: value for name, value in os.environ.items() if name != "MAILER_SMTP__PASSWORD"}
    term = Terminal("--config", str(project.config), *SEND, cwd=project.root, env=env)
    term.wait_for(f"Password for {USER} at 127.0.0.1: ")
    term.type(PASSWORD)
    term.wait_for("Keep it in this computer's keyring, so mailer does not ask again? [y/N] ")
    term.type("ja" if keep_it else "")
    assert term.finish() == 0, term.screen
    assert PASSWORD not in term.screen  # typed without being shown
    assert set(server.recorder.logins) == {USER} and len(server.recorder.received) == len(project.members)
    assert (kept() == PASSWORD) is keep_it
    assert ("kept in this computer's keyring" in term.screen) is keep_it
    assert PASSWORD.encode() not in files_of(project)


def test_no_password_anywhere_and_no_terminal_says_what_to_do(
    project: Project, server: SmtpServer, no_password: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = project.main("check", "--signin")
    assert code == 2
    err = capsys.readouterr().err
    assert "no password" in err and "mailer password" in err and "MAILER_SMTP__PASSWORD" in err
    assert server.recorder.auth_attempts == 0


def test_a_wrong_password_in_the_keyring_says_to_keep_the_right_one(
    project: Project, server: SmtpServer, no_password: None, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring.set_password("mailer smtp 127.0.0.1", USER, "et gammelt kodeord")
    code, _ = project.main("check", "--signin")
    assert code == 2
    err = capsys.readouterr().err
    assert "refused the sign-in" in err and "keep the right one with `mailer password`" in err
    assert "et gammelt kodeord" not in err
    assert server.recorder.auth_attempts == 1


def test_a_microsoft_365_sign_in_has_no_password_to_keep(
    project: Project, no_password: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.smtp = {"host": "smtp.office365.com", "username": USER, "auth": "xoauth2"}
    typed(monkeypatch, PASSWORD + "\n")
    code, _ = project.main("password")
    assert code == 2
    assert (
        'signs in with auth = "xoauth2", not a password (Microsoft 365: `mailer login`)'
        in capsys.readouterr().err
    )
    assert kept("smtp.office365.com") is None


def test_check_signin_says_where_the_password_came_from(
    project: Project, server: SmtpServer, no_password: None
) -> None:
    keyring.set_password("mailer smtp 127.0.0.1", USER, PASSWORD)
    code, out = project.main("check", "--signin")
    assert code == 0, out
    assert "password from this computer's keyring (kept with `mailer password`)" in out
    assert "the password is right" in out


def test_check_signin_asks_at_the_terminal(project: Project, server: SmtpServer) -> None:
    project.write()
    env = {name: value for name, value in os.environ.items() if name != "MAILER_SMTP__PASSWORD"}
    term = Terminal("--config", str(project.config), "check", "--signin", cwd=project.root, env=env)
    term.wait_for(f"Password for {USER} at 127.0.0.1: ")
    term.type(PASSWORD)
    term.wait_for("[y/N] ")
    term.type("n")
    assert term.finish() == 0, term.screen
    assert "password typed just now" in term.screen and "the password is right" in term.screen
    assert PASSWORD not in term.screen and kept() is None


def test_the_desk_takes_the_kept_password(project: Project, server: SmtpServer, no_password: None) -> None:
    from urllib.parse import urlencode

    from conftest import FIXED
    from desk_client import running_desk
    from test_desk_send import INVITATION, opened

    project.write()
    with running_desk(project.config, FIXED) as desk:
        assert 'type="password"' in opened(desk).get("/send?" + urlencode(INVITATION)).text
    keyring.set_password("mailer smtp 127.0.0.1", USER, PASSWORD)
    with running_desk(project.config, FIXED) as desk:
        assert 'type="password"' not in opened(desk).get("/send?" + urlencode(INVITATION)).text


def test_a_kept_password_with_danish_letters_is_told_as_the_keyrings(
    project: Project, server: SmtpServer, no_password: None
) -> None:
    """`check` tells where the password came from by comparing it with the keyring's, in constant
    time; a password with æøå compares too (as UTF-8 bytes)."""
    keyring.set_password("mailer smtp 127.0.0.1", USER, "kodeord med æøå")
    code, out = project.main("check")
    assert code == 0, out
    assert "password from this computer's keyring (kept with `mailer password`)" in out
    assert "æøå" not in out
