"""Sending with SASL XOAUTH2 to a real SMTP server on 127.0.0.1 (aiosmtpd, STARTTLS with a
throw-away CA), with the access token from the environment, from `smtp.token_command`, and
from `mailer login`'s saved sign-in (tests/test_oauth.py's stand-in for Entra ID).
"""

from __future__ import annotations

import base64
import email
import io
import json
import shlex
import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from conftest import SAMPLE_NOW
from test_oauth import (  # the Entra ID stand-in and its fixtures
    USER,
    EntraStub,
    ca,  # noqa: F401 - a fixture
    ca_file,  # noqa: F401 - a fixture
    entra,  # noqa: F401 - a fixture
    oauth_settings,
    sign_in,
    write_config,
)

from mailer.cli import main

MEMBERS = {
    "birgitte.holm@odsherred.example",
    "jonas.friis@faxe.example",
    "soren.aero@koege.example",
    "camilla.lund@guldborgsund.example",
}


@dataclass
class XOAuth2Mailbox:
    """An aiosmtpd handler that signs clients in with XOAUTH2 and keeps what it accepts.

    `valid(token)` decides whether a bearer token is good. After `expire_after` messages
    the token in use is expired (`expire`) and the connection is closed at the next
    MAIL FROM, as a provider does when a long run outlives the token.
    """

    user: str
    valid: Callable[[str], bool]
    expire: Callable[[str], None] = lambda token: None
    expire_after: int | None = None
    messages: list[email.message.Message] = field(default_factory=list)
    sign_ins: list[bool] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # the tokens it let in

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        raw = base64.b64decode(args[1]) if len(args) == 2 else await server.challenge_auth("")
        assert isinstance(raw, bytes)
        fields = dict(part.split("=", 1) for part in raw.decode().split("\x01") if "=" in part)
        token = fields.get("auth", "").removeprefix("Bearer ")
        if fields.get("user") == self.user and self.valid(token):
            self.sign_ins.append(True)
            self.accepted.append(token)
            return AuthResult(success=True, auth_data=token)
        self.sign_ins.append(False)
        # The error comes as a challenge the client answers with an empty line (RFC 7628 §3.2.2).
        problem = {"status": "401", "schemes": "bearer", "scope": "https://outlook.office.com/SMTP.Send"}
        await server.challenge_auth(json.dumps(problem))
        return AuthResult(success=False, handled=False, message="535 5.7.3 Authentication unsuccessful")

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self.valid(session.auth_data):
            assert server.transport is not None
            server.loop.call_soon(server.transport.close)
            return "421 4.7.0 The access token has expired; closing the connection"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content)
        message["X-Rcpt-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        if self.expire_after is not None and len(self.messages) == self.expire_after:
            self.expire(session.auth_data)
        return "250 2.0.0 Queued"

    @property
    def recipients(self) -> list[str]:
        return [m["X-Rcpt-To"] for m in self.messages]


@dataclass
class Relay:
    host: str
    port: int
    mailbox: XOAuth2Mailbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def relay(ca: trustme.CA) -> Iterator[Callable[..., Relay]]:  # noqa: F811 - the imported fixture
    """Starts an XOAUTH2 relay with the given handler settings; stops every one at the end."""
    controllers: list[Controller] = []

    def start(**handler: Any) -> Relay:
        mailbox = XOAuth2Mailbox(USER, **handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        port = free_port()
        controller = Controller(
            mailbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
        )
        controller.start()
        controllers.append(controller)
        return Relay("127.0.0.1", port, mailbox)

    yield start
    for controller in controllers:
        controller.stop()


def smtp_settings(relay: Relay, ca_file: Path, **extra: Any) -> dict[str, Any]:  # noqa: F811
    return {
        "host": relay.host,
        "port": relay.port,
        "security": "starttls",
        "username": USER,
        "auth": "xoauth2",
        "ca_file": str(ca_file),
        "concurrency": 1,
        "backoff": 0,
        "max_attempts": 3,
        **extra,
    }


def send(config: Path, out: io.StringIO | None = None) -> int:
    return main(["--config", str(config), "send", "newsletter", "--yes"], clock=lambda: SAMPLE_NOW, out=out)


def token_script(folder: Path, tokens: list[str]) -> str:
    """A helper program that prints the next of `tokens` each time it runs (a token_command)."""
    script = folder / "print-token.py"
    script.write_text(
        "import pathlib, sys\n"
        f"state = pathlib.Path({str(folder / 'runs')!r})\n"
        "runs = int(state.read_text()) if state.exists() else 0\n"
        "state.write_text(str(runs + 1))\n"
        f"print({tokens!r}[runs])\n",
        encoding="utf-8",
    )
    return shlex.join([sys.executable, str(script)])


def test_token_from_the_environment(
    tmp_path: Path,
    relay: Callable[..., Relay],
    ca_file: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = "EwB-from-the-environment"
    server = relay(valid=lambda t: t == token)
    config = write_config(tmp_path, smtp=smtp_settings(server, ca_file))
    monkeypatch.setenv("MAILER_SMTP__ACCESS_TOKEN", token)

    out = io.StringIO()
    assert send(config, out) == 0
    assert sorted(server.mailbox.recipients) == sorted(MEMBERS)
    assert server.mailbox.sign_ins == [True]  # one connection, signed in once
    assert token not in out.getvalue() + capsys.readouterr().err
    assert not list(tmp_path.rglob("*.eml"))


def test_token_from_a_token_command(
    tmp_path: Path,
    relay: Callable[..., Relay],
    ca_file: Path,  # noqa: F811
) -> None:
    server = relay(valid=lambda t: t == "EwB-from-the-helper")
    command = token_script(tmp_path, ["EwB-from-the-helper"])
    config = write_config(tmp_path / "network", smtp=smtp_settings(server, ca_file, token_command=command))

    assert send(config) == 0
    assert sorted(server.mailbox.recipients) == sorted(MEMBERS)
    assert (tmp_path / "runs").read_text() == "1"  # asked once per run, not once per message


def test_a_failing_token_command_is_named_and_nothing_is_sent(
    tmp_path: Path,
    relay: Callable[..., Relay],
    ca_file: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = relay(valid=lambda t: True)
    script = tmp_path / "no-token.py"
    script.write_text("import sys\nsys.exit('oauth2 helper: no refresh token stored')\n", encoding="utf-8")
    command = shlex.join([sys.executable, str(script)])
    config = write_config(tmp_path / "network", smtp=smtp_settings(server, ca_file, token_command=command))

    assert send(config) == 2
    err = capsys.readouterr().err
    assert f"smtp.token_command {command!r} failed (exit 1): oauth2 helper: no refresh token stored" in err
    assert server.mailbox.messages == [] and server.mailbox.sign_ins == []


def test_token_from_the_saved_sign_in(
    tmp_path: Path,
    relay: Callable[..., Relay],
    ca_file: Path,  # noqa: F811
    entra: EntraStub,  # noqa: F811
) -> None:
    server = relay(valid=entra.is_valid)
    smtp = smtp_settings(server, ca_file)
    config = write_config(tmp_path, smtp=smtp, oauth=oauth_settings(entra, ca_file))
    sign_in(config, ca_file)
    (at_login,) = entra.access_tokens

    assert send(config) == 0
    assert sorted(server.mailbox.recipients) == sorted(MEMBERS)
    assert entra.grants.count("refresh_token:ok") == 1  # refreshed once, before the run
    assert server.mailbox.sign_ins == [True]
    (used,) = server.mailbox.accepted
    assert used != at_login and entra.is_valid(used)  # the run used the token refreshed before it


def test_check_signin_signs_in_with_the_saved_sign_in_and_sends_nothing(
    tmp_path: Path,
    relay: Callable[..., Relay],
    ca_file: Path,  # noqa: F811
    entra: EntraStub,  # noqa: F811
) -> None:
    server = relay(valid=entra.is_valid)
    config = write_config(tmp_path, smtp=smtp_settings(server, ca_file), oauth=oauth_settings(entra, ca_file))
    sign_in(config, ca_file)
    out = io.StringIO()
    assert main(["--config", str(config), "check", "--signin"], clock=lambda: SAMPLE_NOW, out=out) == 0
    assert "signed in to 127.0.0.1 just now: the sign-in works; nothing was sent" in out.getvalue()
    assert server.mailbox.sign_ins == [True] and server.mailbox.messages == []
    assert not [token for token in entra.access_tokens if token in out.getvalue()]


def test_check_signin_with_a_refused_token_says_what_to_do(
    tmp_path: Path,
    relay: Callable[..., Relay],
    ca_file: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = relay(valid=lambda t: t == "EwB-the-right-one")
    config = write_config(tmp_path, smtp=smtp_settings(server, ca_file))
    monkeypatch.setenv("MAILER_SMTP__ACCESS_TOKEN", "EwB-a-wrong-one")
    assert main(["--config", str(config), "check", "--signin"], clock=lambda: SAMPLE_NOW) == 2
    err = capsys.readouterr().err
    assert f"refused the sign-in as '{USER}'" in err and "sign in again with `mailer login`" in err
    assert "EwB-a-wrong-one" not in err
    assert server.mailbox.messages == []


def test_a_wrong_token_stops_the_run_at_once(
    tmp_path: Path,
    relay: Callable[..., Relay],
    ca_file: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = relay(valid=lambda t: t == "EwB-the-right-one")
    config = write_config(tmp_path, smtp=smtp_settings(server, ca_file, max_attempts=5))
    monkeypatch.setenv("MAILER_SMTP__ACCESS_TOKEN", "EwB-a-wrong-one")

    assert send(config) == 2
    err = capsys.readouterr().err
    assert f"refused the sign-in as '{USER}'" in err and "EwB-a-wrong-one" not in err
    assert server.mailbox.messages == []
    assert server.mailbox.sign_ins == [False, False]  # tried, asked for a renewed token once, stopped


def test_a_revoked_sign_in_stops_the_run_before_anything_is_sent(
    tmp_path: Path,
    relay: Callable[..., Relay],
    ca_file: Path,  # noqa: F811
    entra: EntraStub,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = relay(valid=entra.is_valid)
    config = write_config(tmp_path, smtp=smtp_settings(server, ca_file), oauth=oauth_settings(entra, ca_file))
    sign_in(config, ca_file)
    entra.revoke()

    assert send(config) == 2
    assert "sign in again with `mailer login`" in capsys.readouterr().err
    assert server.mailbox.messages == [] and server.mailbox.sign_ins == []


@pytest.mark.parametrize("source", ["mailer login", "token_command"])
def test_a_token_that_expires_mid_run_is_renewed_and_the_run_finishes(
    source: str,
    tmp_path: Path,
    relay: Callable[..., Relay],
    ca_file: Path,  # noqa: F811
    entra: EntraStub,  # noqa: F811
) -> None:
    if source == "mailer login":
        server = relay(valid=entra.is_valid, expire=entra.expire, expire_after=2)
        smtp = smtp_settings(server, ca_file)
        config = write_config(tmp_path / "network", smtp=smtp, oauth=oauth_settings(entra, ca_file))
        sign_in(config, ca_file)
    else:
        valid = {"EwB-first", "EwB-second"}
        server = relay(valid=valid.__contains__, expire=valid.discard, expire_after=2)
        command = token_script(tmp_path, ["EwB-first", "EwB-second"])
        config = write_config(
            tmp_path / "network", smtp=smtp_settings(server, ca_file, token_command=command)
        )

    out = io.StringIO()
    assert send(config, out) == 0
    assert "sent: 4, skipped (already sent): 0, failed: 0" in out.getvalue()
    assert sorted(server.mailbox.recipients) == sorted(MEMBERS)  # each member exactly once
    # signed in, refused with the expired token on reconnecting, signed in with a renewed one
    assert server.mailbox.sign_ins == [True, False, True]
    if source == "mailer login":
        assert entra.grants.count("refresh_token:ok") == 2
    else:
        assert (tmp_path / "runs").read_text() == "2"
