"""`mailer rsvp --imap` against a real IMAP server on loopback: Dovecot from Debian's packages
(`apt-get install dovecot-imapd`; `.ci/run` installs it), started here with its own config.
"""

from __future__ import annotations

import io
import mailbox
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from conftest import MEETING_ID, ROOT, Project, fixed_clock, free_port
from test_init import Terminal

from mailer.cli import main
from mailer.journal import Journal

DOVECOT = Path("/usr/sbin/dovecot")
REPLIES = ROOT / "tests" / "data" / "replies"
IMAP_USER = "brugernesrum"
IMAP_PASSWORD = "svar-på-invitationer æøå"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
first_valid_uid = {uid}
{passdb}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%n
}}
mail_location = maildir:~/Maildir
service auth {{
  user = root
}}
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
"""
PASSWORD_PASSDB = """\
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {root}/passwd
}}"""


@dataclass
class Dovecot:
    host: str
    ports: dict[str, int]  # by security: tls (implicit TLS), starttls
    ca_pem: Path
    inbox: Path
    uid: int
    gid: int

    def deliver(self, *files: Path) -> None:
        """Put messages in the user's INBOX the way a local delivery agent would."""
        self.inbox.parent.mkdir(exist_ok=True)
        box = mailbox.Maildir(self.inbox, create=True)
        for file in files:
            box.add(file.read_bytes())
        for folder, dirs, names in os.walk(self.inbox.parent):
            os.chown(folder, self.uid, self.gid)
            for name in dirs + names:
                os.chown(Path(folder) / name, self.uid, self.gid)

    def flags(self) -> list[str]:
        box = mailbox.Maildir(self.inbox, create=False)
        return [message.get_flags() for message in box]


@contextmanager
def running_dovecot(
    root: Path, ca: trustme.CA, ca_pem: Path, *, mechanisms: str = "plain", passdb: str = PASSWORD_PASSDB
) -> Iterator[Dovecot]:
    """A Dovecot with its own config, certificate and passdb (by default a passwd-file user)."""
    if not DOVECOT.exists():
        pytest.skip("Dovecot is not installed here (apt-get install dovecot-imapd)")
    if os.geteuid() != 0:
        pytest.skip("the Dovecot fixture starts the server as root (it serves mail as 'nobody')")
    nobody = pwd.getpwnam("nobody")
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    (root / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n", encoding="utf-8")
    # Dovecot never serves mail as uid 0, and pytest's tmp_path is private to its owner, so the
    # mail itself lives in a folder of its own that 'nobody' can reach.
    with tempfile.TemporaryDirectory(prefix="mailer-imap-") as mail:
        os.chmod(mail, 0o755)
        ports = {"starttls": free_port(), "tls": free_port()}
        conf = root / "dovecot.conf"
        conf.write_text(
            CONFIG.format(
                root=root,
                mail=mail,
                uid=nobody.pw_uid,
                gid=nobody.pw_gid,
                imap_port=ports["starttls"],
                imaps_port=ports["tls"],
                mechanisms=mechanisms,
                passdb=passdb.format(root=root),
            ),
            encoding="utf-8",
        )
        with (root / "stderr.log").open("wb") as log:
            process = subprocess.Popen([str(DOVECOT), "-F", "-c", str(conf)], stdout=log, stderr=log)
            try:
                _wait_listening(process, ports.values(), root)
                inbox = Path(mail) / IMAP_USER / "Maildir"
                yield Dovecot("127.0.0.1", ports, ca_pem, inbox, nobody.pw_uid, nobody.pw_gid)
            finally:
                process.terminate()
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def dovecot_server(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA, ca_pem: Path
) -> Iterator[Dovecot]:
    """One Dovecot for the module, with its own config, certificate and passwd-file user."""
    with running_dovecot(tmp_path_factory.mktemp("dovecot"), ca, ca_pem) as server:
        yield server


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The module's Dovecot with an empty INBOX."""
    shutil.rmtree(dovecot_server.inbox.parent, ignore_errors=True)
    return dovecot_server


def _wait_listening(process: subprocess.Popen[bytes], ports: Iterable[int], root: Path) -> None:
    """Until Dovecot accepts connections (it binds its listeners after starting): 10 s at most."""
    deadline = time.monotonic() + 10
    for port in ports:
        while True:
            if process.poll() is not None:
                log = root / "dovecot.log"
                detail = log.read_text(errors="replace") if log.exists() else ""
                pytest.fail(f"dovecot exited with {process.returncode}: {detail}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"dovecot did not listen on {port} within 10 s")
                time.sleep(0.02)


def run(project: Project, imap: dict[str, object], *args: str) -> tuple[int, str]:
    """`mailer ARGS` with an [imap] table in config.toml."""
    write_with_imap(project, imap)
    out = io.StringIO()
    code = main(["--config", str(project.config), *args], clock=fixed_clock, out=out)
    return code, out.getvalue()


def write_with_imap(project: Project, imap: dict[str, object]) -> None:
    """The project's config.toml with an [imap] table."""
    project.write()
    lines = ["", "[imap]", *(f"{key} = {_toml(value)}" for key, value in imap.items()), ""]
    with project.config.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def _toml(value: object) -> str:
    return str(value) if isinstance(value, int) else '"' + str(value).replace("\\", "\\\\") + '"'


@pytest.fixture
def invited(project: Project, smtp_server_factory) -> Project:  # type: ignore[no-untyped-def]
    server = smtp_server_factory("starttls")
    project.smtp = server.smtp_config()
    code, out = project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    return project


def settings_for(server: Dovecot, security: str = "tls") -> dict[str, object]:
    return {
        "host": server.host,
        "port": server.ports[security],
        "security": security,
        "username": IMAP_USER,
        "mailbox": "INBOX",
        "ca_file": str(server.ca_pem),
    }


def partstats(project: Project) -> dict[str, str]:
    with Journal(project.state, readonly=True) as journal:
        return {key: a.partstat for key, a in journal.answers(MEETING_ID).items()}


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_answers_are_read_from_the_imap_mailbox(
    invited: Project, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, security: str
) -> None:
    dovecot.deliver(REPLIES / "outlook.eml", REPLIES / "thunderbird.eml", REPLIES / "plain-reply.eml")
    monkeypatch.setenv("MAILER_IMAP__PASSWORD", IMAP_PASSWORD)
    code, out = run(invited, settings_for(dovecot, security), "rsvp", "--imap")
    assert code == 0, out
    assert "read 3 messages" in out
    assert "recorded 2 answers" in out
    assert "imap:INBOX/" in out
    assert partstats(invited) == {
        "soren.aero@vordingborg.example": "ACCEPTED",
        "mads.kohler@koege.example": "TENTATIVE",
    }
    assert all("S" not in flags for flags in dovecot.flags())  # the mailbox was only looked at


def test_files_and_the_mailbox_are_read_in_one_run(
    invited: Project, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.deliver(REPLIES / "gmail.eml")
    monkeypatch.setenv("MAILER_IMAP__PASSWORD", IMAP_PASSWORD)
    code, out = run(invited, settings_for(dovecot), "rsvp", str(REPLIES / "apple.eml"), "--imap")
    assert code == 0, out
    assert partstats(invited) == {
        "anne.mette@roskilde.example": "DECLINED",
        "maria.lohse@roskilde.example": "ACCEPTED",
    }


def test_a_wrong_password_stops_with_exit_2(
    invited: Project, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dovecot.deliver(REPLIES / "outlook.eml")
    monkeypatch.setenv("MAILER_IMAP__PASSWORD", "forkert")
    code, _ = run(invited, settings_for(dovecot), "rsvp", "--imap")
    assert code == 2
    assert "refused the login" in capsys.readouterr().err
    assert partstats(invited) == {}


def test_a_server_certificate_from_an_unknown_ca_is_refused(
    invited: Project, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILER_IMAP__PASSWORD", IMAP_PASSWORD)
    imap = settings_for(dovecot)
    del imap["ca_file"]
    code, _ = run(invited, imap, "rsvp", "--imap")
    assert code == 2
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err


def test_the_password_comes_only_from_the_environment(
    invited: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MAILER_IMAP__PASSWORD", raising=False)
    imap = {"host": "127.0.0.1", "port": free_port(), "username": IMAP_USER}
    code, _ = run(invited, imap, "rsvp", "--imap")
    assert code == 2
    assert "MAILER_IMAP__PASSWORD" in capsys.readouterr().err
    code, _ = run(invited, {**imap, "password": "x"}, "rsvp", "--imap")
    assert code == 2
    assert "secrets do not belong in config.toml" in capsys.readouterr().err


def test_starttls_with_an_unknown_ca_is_refused_too(
    invited: Project, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAILER_IMAP__PASSWORD", IMAP_PASSWORD)
    imap = settings_for(dovecot, "starttls")
    del imap["ca_file"]
    code, _ = run(invited, imap, "rsvp", "--imap")
    assert code == 2
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err


def test_a_second_read_fetches_only_what_is_new_and_marks_nothing_read(
    invited: Project, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_IMAP__PASSWORD", IMAP_PASSWORD)
    dovecot.deliver(REPLIES / "outlook.eml", REPLIES / "plain-reply.eml")
    code, out = run(invited, settings_for(dovecot), "inbox", "--imap")
    assert code == 0, out
    assert "read 2 messages\n" in out and "recorded 1 answer" in out

    dovecot.deliver(REPLIES / "thunderbird.eml")
    code, out = run(invited, settings_for(dovecot), "inbox", "--imap")
    assert code == 0, out
    assert "read 1 message\n" in out  # only the new one was fetched (UID above the last one read)
    assert partstats(invited) == {
        "soren.aero@vordingborg.example": "ACCEPTED",
        "mads.kohler@koege.example": "TENTATIVE",
    }
    code, out = run(invited, settings_for(dovecot), "rsvp", "--imap")  # the old name: the same command
    assert code == 0 and "read 0 messages" in out
    assert all("S" not in flags for flags in dovecot.flags())
    with Journal(invited.state, readonly=True) as journal:
        assert journal.imap_position(f"{IMAP_USER}@127.0.0.1/INBOX") is not None


def test_a_mailbox_rebuilt_with_a_new_uidvalidity_is_read_again_without_counting_twice(
    invited: Project, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_IMAP__PASSWORD", IMAP_PASSWORD)
    dovecot.deliver(REPLIES / "outlook.eml")
    assert run(invited, settings_for(dovecot), "inbox", "--imap")[0] == 0
    with Journal(invited.state) as journal:  # as if the server had renumbered the mailbox
        name = f"{IMAP_USER}@127.0.0.1/INBOX"
        position = journal.imap_position(name)
        assert position is not None
        journal.set_imap_position(name, position[0] + 1, position[1])
    code, out = run(invited, settings_for(dovecot), "inbox", "--imap")
    assert code == 0, out
    assert "read 1 message (1 read before: not counted again)" in out


@pytest.mark.parametrize(
    ("imap", "environment", "wanted"),
    [
        (
            {"host": "imap.roskilde.example", "username": IMAP_USER},
            {"MAILER_IMAP__PASSWORD": IMAP_PASSWORD},
            f"password as {IMAP_USER} at imap.roskilde.example:993 (tls), folder INBOX, "
            "password from MAILER_IMAP__PASSWORD (set)",
        ),
        (
            {"host": "imap.roskilde.example", "port": 143, "security": "starttls", "username": IMAP_USER},
            {},
            f"password as {IMAP_USER} at imap.roskilde.example:143 (starttls), folder INBOX, "
            "password NOT set: `mailer password --imap` keeps it in this computer's keyring, "
            "or set MAILER_IMAP__PASSWORD; mailer asks for it at a terminal",
        ),
        (
            {"host": "outlook.office365.com", "username": IMAP_USER, "auth": "xoauth2", "mailbox": "Svar"},
            {"MAILER_IMAP__ACCESS_TOKEN": "eyJ0eXAiOiJKV1QiLCJub25jZSI6ImhlbW1lbGlndCJ9"},
            f"xoauth2 as {IMAP_USER} at outlook.office365.com:993 (tls), folder Svar, "
            "token from MAILER_IMAP__ACCESS_TOKEN (set; it expires within about an hour)",
        ),
        (
            {
                "host": "imap.gmail.example",
                "username": IMAP_USER,
                "auth": "xoauth2",
                "token_command": "cat token",
            },
            {},
            f"xoauth2 as {IMAP_USER} at imap.gmail.example:993 (tls), folder INBOX, "
            "token from imap.token_command (cat: found)",
        ),
        (
            {"host": "outlook.office365.com", "username": IMAP_USER, "auth": "xoauth2"},
            {},
            f"xoauth2 as {IMAP_USER} at outlook.office365.com:993 (tls), folder INBOX, "
            "token from `mailer login` (NOT signed in: run `mailer login`)",
        ),
        ({}, {}, "no [imap] mailbox set up (`mailer inbox FILE...` reads saved messages)"),
    ],
    ids=["password", "no-password", "token-in-environment", "token-command", "mailer-login", "none"],
)
def test_check_says_how_the_mailbox_is_signed_in_never_the_secret(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    imap: dict[str, object],
    environment: dict[str, str],
    wanted: str,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    code, out = run(project, imap, "check")
    assert code == 0, out + capsys.readouterr().err
    assert f"\nreading answers: {wanted}\n" in out
    for secret in environment.values():
        assert secret not in out + capsys.readouterr().err


def test_check_signin_signs_in_to_the_mailbox_and_reads_nothing(
    invited: Project, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dovecot.deliver(REPLIES / "outlook.eml", REPLIES / "thunderbird.eml")
    monkeypatch.setenv("MAILER_IMAP__PASSWORD", IMAP_PASSWORD)
    code, out = run(invited, settings_for(dovecot), "check", "--signin")
    assert code == 0, out + capsys.readouterr().err
    assert "password from MAILER_IMAP__PASSWORD (set) (signed in; INBOX holds 2 messages)\n" in out
    assert partstats(invited) == {} and all("S" not in flags for flags in dovecot.flags())

    monkeypatch.setenv("MAILER_IMAP__PASSWORD", "forkert kodeord")
    code, out = run(invited, settings_for(dovecot), "check", "--signin")
    err = capsys.readouterr().err
    assert code == 2 and "all good" not in out
    assert f"the IMAP server refused the login as '{IMAP_USER}'" in err
    assert "forkert kodeord" not in out + err


def test_the_password_is_asked_at_a_terminal_without_being_shown(invited: Project, dovecot: Dovecot) -> None:
    """`mailer inbox --imap` at a terminal (a pseudo-terminal here) with no password in the
    environment or the keyring: it asks for it, the typing is not shown, the mailbox is read
    with it, and it appears nowhere: not on the screen, not in mailer's files."""
    dovecot.deliver(REPLIES / "thunderbird.eml")
    write_with_imap(invited, settings_for(dovecot))
    env = {name: value for name, value in os.environ.items() if not name.upper().startswith("MAILER_")}
    term = Terminal("--config", str(invited.config), "inbox", "--imap", cwd=invited.root, env=env)
    term.wait_for(f"Password for {IMAP_USER} at {dovecot.host}: ")
    term.type(IMAP_PASSWORD)
    term.wait_for("so mailer does not ask again? [y/N] ")
    term.type("n")
    assert term.finish() == 0, term.screen
    assert "recorded 1 answer" in term.screen
    assert partstats(invited) == {"mads.kohler@koege.example": "TENTATIVE"}
    assert IMAP_PASSWORD not in term.screen and "svar-p" not in term.screen  # typed, never echoed
    written = b"".join(p.read_bytes() for p in invited.root.rglob("*") if p.is_file())
    assert IMAP_PASSWORD.encode() not in written
