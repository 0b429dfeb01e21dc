"""Shared fixtures: a real SMTP server on loopback (aiosmtpd, STARTTLS or implicit TLS with a
throw-away CA, AUTH) that records what it received and injects faults, and a project folder
built from the repository's own templates.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import shutil
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

ROOT = Path(__file__).resolve().parent.parent
NEWSLETTER = ROOT / "tests" / "data" / "newsletter"
FIXED = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # the clock of a `project`'s runs
# The clock of runs on the repository's sample data (config.toml and tests/data/): after the May
# meeting some of them hold, before September's.
SAMPLE_NOW = datetime(2027, 8, 2, 8, 15, 30, tzinfo=UTC)
USER = "brugernesrum@roskilde.example"
PASSWORD = "korrekt hest batteri hæfteklamme"


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def fixed_clock() -> datetime:
    return FIXED


@dataclass
class Faults:
    """What the server does wrong, chosen per test.

    tempfail_first: answer 451 the first time each recipient is tried, then accept.
    reject: addresses answered 550 at RCPT.
    drop_after: close the connection abruptly once, after this many accepted messages.
    rate_limit_after: answer 421 (rate limit) once, after this many accepted messages.
    strict_helo: refuse recipients of a client that greeted with a name that is not fully
        qualified (`localhost`), as Postfix's reject_non_fqdn_helo_hostname does.
    """

    tempfail_first: bool = False
    reject: set[str] = field(default_factory=set)
    drop_after: int | None = None
    rate_limit_after: int | None = None
    strict_helo: bool = False


class Recorder:
    """An aiosmtpd handler that keeps every accepted message's bytes."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.received: list[tuple[str, list[str], bytes]] = []
        self.mail_options: list[list[str]] = []  # of each accepted message's MAIL FROM
        self.tried: dict[str, int] = {}
        self.refusals: list[str] = []
        self.logins: list[str] = []
        self.auth_attempts = 0
        self.greetings: list[str] = []  # the name given in each EHLO, in order

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself when no hook is given
        self.greetings.append(hostname)
        return responses

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> Any:
        self.auth_attempts += 1
        return MISSING  # aiosmtpd's own mechanisms and the fixture's authenticator decide

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        key = address.casefold()
        self.tried[key] = self.tried.get(key, 0) + 1
        name = session.host_name or ""
        if self.faults.strict_helo and "." not in name and not name.startswith("["):
            return f"504 5.5.2 <{name}>: Helo command rejected: need fully-qualified hostname"
        if key in self.faults.reject:
            self.refusals.append(key)
            return "550 5.1.1 No such mailbox here"
        if self.faults.tempfail_first and self.tried[key] == 1:
            self.refusals.append(key)
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        count = len(self.received)
        faults = self.faults
        assert server.transport is not None
        if faults.rate_limit_after is not None and count == faults.rate_limit_after:
            faults.rate_limit_after = None
            asyncio.get_running_loop().call_soon(server.transport.close)  # once the reply is written
            return "421 4.7.0 Too many messages, slow down"
        if faults.drop_after is not None and count == faults.drop_after:
            faults.drop_after = None
            server.transport.abort()
            return "451 dropped"  # never reaches the client
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))  # type: ignore[arg-type]
        self.mail_options.append(list(envelope.mail_options))
        return "250 2.0.0 Message accepted"


class RefusingRecorder(Recorder):
    """A server that answers every sign-in with 535, as a relay does for a revoked account."""

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> Any:
        self.auth_attempts += 1
        return "535 5.7.8 Authentication credentials invalid"


class RevokedRecorder(Recorder):
    """Takes the first sign-in and refuses every later one: the password was changed mid-run."""

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> Any:
        self.auth_attempts += 1
        return MISSING if self.auth_attempts == 1 else "535 5.7.8 Authentication credentials invalid"


class BusyRecorder(Recorder):
    """Answers 451 to one address every time: a temporary failure that never clears."""

    busy = "mads.kohler@koege.example"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.casefold() == self.busy:
            self.tried[self.busy] = self.tried.get(self.busy, 0) + 1
            return "451 4.3.0 Mailbox busy, try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)


class StallingRecorder(Recorder):
    """Never answers the first message's data (a server that hangs); answers the rest."""

    stalled = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.stalled:
            self.stalled += 1
            await asyncio.Event().wait()  # until the client gives up and the server is stopped
        return await super().handle_DATA(server, session, envelope)


@dataclass
class SmtpServer:
    """A running server: where it listens, its CA, and what it has received."""

    host: str
    port: int
    security: str
    ca_pem: Path
    recorder: Recorder
    faults: Faults

    @property
    def messages(self) -> list[EmailMessage]:
        """Every accepted message, parsed back from the bytes that arrived."""
        parsed = []
        for _, _, data in self.recorder.received:
            msg = email.message_from_bytes(data, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            parsed.append(msg)
        return parsed

    @property
    def recipients(self) -> list[str]:
        return [rcpt for _, rcpts, _ in self.recorder.received for rcpt in rcpts]

    def smtp_config(self, *, auth: bool = True) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "ca_file": str(self.ca_pem),
            "backoff": 0.0,
            "timeout": 10.0,
        }
        if auth:
            settings["username"] = USER
        return settings


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_mailer_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own MAILER_* settings must not leak into any test."""
    for name in list(os.environ):
        if name.upper().startswith("MAILER_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _own_keyring(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test touches this computer's keyring: each test gets an empty one of its own that writes
    to a file (keyrings.alt), in this process and in the mailer processes a test starts."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("keyring")))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    before = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    yield
    keyring.set_keyring(before)


@pytest.fixture(params=[False, True], ids=["fast", "plain"])
def plain(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run the test on both paths: the speed paths on, then off (MAILER_PLAIN=1). What members
    receive must be the same bytes either way."""
    if request.param:
        monkeypatch.setenv("MAILER_PLAIN", "1")
    return bool(request.param)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the repository's sample (config, members, templates); returns its config.toml."""
    for name in ("config.toml", "recipients.csv"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return tmp_path / "config.toml"


@pytest.fixture
def newsletter_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A newsletter project (tests/data/newsletter: meetings past, cancelled and coming, five
    members, a per-member unsubscribe link) with the shipped templates; returns its folder."""
    monkeypatch.delenv("MAILER_CONFIG", raising=False)
    shutil.copy(NEWSLETTER / "config.toml", tmp_path / "config.toml")
    shutil.copy(NEWSLETTER / "recipients.csv", tmp_path / "recipients.csv")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return tmp_path


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, or a skip where either is missing. Playwright's own
    browser builds are never downloaded (`apt-get install chromium`, which .ci/run does)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python package is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the tests of a module."""
    with chromium() as started:
        yield started


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_pem(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def smtp_server_factory(ca: trustme.CA, ca_pem: Path) -> Iterator[Callable[..., SmtpServer]]:
    """Start servers: `start(security="starttls"|"tls"|"none", auth=True, faults=Faults(),
    handler=Recorder, cert_for=..., host="127.0.0.1")`; `handler` is the aiosmtpd handler class
    (a fault server: `BusyRecorder`, `RefusingRecorder`, ...)."""
    controllers: list[Controller] = []

    def start(
        security: str = "starttls",
        *,
        auth: bool = True,
        faults: Faults | None = None,
        handler: type[Recorder] = Recorder,
        cert_for: str = "127.0.0.1",
        password: str = PASSWORD,
        host: str = "127.0.0.1",
    ) -> SmtpServer:
        faults = faults or Faults()
        recorder = handler(faults)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(cert_for).configure_cert(context)

        def authenticator(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == USER
                and data.password.decode() == password
            )
            if ok:
                recorder.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535

        kwargs: dict[str, Any] = {}
        if auth:
            # aiosmtpd counts only STARTTLS as TLS; with implicit TLS the whole connection is.
            kwargs.update(
                authenticator=authenticator, auth_required=True, auth_require_tls=security == "starttls"
            )
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        port = free_port(host)
        controller = Controller(
            recorder,
            hostname=host,
            port=port,
            ssl_context=context if security == "tls" else None,
            server_hostname="mail.roskilde.example",
            **kwargs,
        )
        controller.start()
        controllers.append(controller)
        return SmtpServer(host, port, security, ca_pem, recorder, faults)

    yield start
    for controller in controllers:
        controller.stop()


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# The repository's sample meeting in September, which the test projects share.
MEETING_ID = "2027-09-21-hvad-siger-brugerne"
MEETING = {
    "id": MEETING_ID,
    "title": "Netværksmøde: Hvad siger brugerne?",
    "start": "2027-09-21T13:00:00",
    "end": "2027-09-21T16:00:00",
    "timezone": "Europe/Copenhagen",
    "location": "Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde",
    "description": "Hvad siger brugerne? Bibliotekernes rolle i lokalsamfundet.",
    "agenda": ["Velkomst", "Hvad siger brugerne?", "Frokost"],
    "status": "confirmed",
}

MEMBERS = [
    ("Søren Ærø", "soren.aero@vordingborg.example", "Vordingborg Bibliotekerne", "da"),
    ("Anne Mette Bøttcher Jensen", "anne.mette@roskilde.example", "Roskilde Bibliotekerne", "da"),
    ("Maria Lohse", "maria.lohse@roskilde.example", "Roskilde Bibliotekerne", "en"),
    ("Mads Køhler", "mads.kohler@koege.example", "Køge Bibliotekerne", "da"),
]


@dataclass
class Project:
    """A coordinator's folder: config.toml, recipients.csv and the shipped templates."""

    root: Path
    smtp: dict[str, Any]
    meetings: list[dict[str, Any]]
    members: list[tuple[str, str, str, str]]
    sender_name: str = "Brugernes Rum"

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def state(self) -> Path:
        return self.root / ".mailer" / "state.sqlite"

    def write(self) -> Path:
        lines = [
            "[sender]",
            f"name = {toml_value(self.sender_name)}",
            f'email = "{USER}"',
            'reply_to = "koordinator@roskilde.example"',
            'language = "da"',
            "",
            "[smtp]",
            *(f"{k} = {toml_value(v)}" for k, v in self.smtp.items()),
            "",
        ]
        for meeting in self.meetings:
            lines.append("[[meetings]]")
            for key, value in meeting.items():
                raw = key in ("start", "end")
                lines.append(f"{key} = {value if raw else toml_value(value)}")
            lines.append("")
        self.config.write_text("\n".join(lines), encoding="utf-8")
        rows = ["name,email,organization,language"]
        rows += [",".join(f'"{v}"' for v in member) for member in self.members]
        (self.root / "recipients.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        return self.config

    def main(self, *args: str, now: datetime = FIXED) -> tuple[int, str]:
        """Run `mailer --config config.toml ARGS` at a fixed time; exit code and output."""
        import io

        from mailer.cli import main

        self.write()
        out = io.StringIO()
        code = main(["--config", str(self.config), *args], clock=lambda: now, out=out)
        return code, out.getvalue()


@pytest.fixture
def server(
    request: pytest.FixtureRequest, project: Project, smtp_server_factory: Callable[..., SmtpServer]
) -> SmtpServer:
    """A STARTTLS + AUTH server on loopback, already in the project's config; a test marked
    `@pytest.mark.smtp_fault(BusyRecorder)` gets that fault server instead."""
    marker = request.node.get_closest_marker("smtp_fault")
    started = smtp_server_factory("starttls", handler=marker.args[0] if marker else Recorder)
    project.smtp = started.smtp_config()
    return started


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The shipped templates, one meeting, four members; SMTP settings to fill in per test."""
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    monkeypatch.setenv("MAILER_SMTP__PASSWORD", PASSWORD)
    monkeypatch.delenv("MAILER_CONFIG", raising=False)
    return Project(
        tmp_path, {"host": "127.0.0.1", "port": 25, "security": "none"}, [dict(MEETING)], list(MEMBERS)
    )
