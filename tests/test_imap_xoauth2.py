"""`mailer inbox --imap` signed in with OAuth2 (SASL XOAUTH2), as Microsoft 365 requires, against
a real Dovecot on loopback whose `oauth2` passdb asks the local stand-in for Entra ID (tests/
test_oauth.py's HTTPS endpoint) about each token (RFC 7662 introspection): the token comes from
the environment, from `imap.token_command`, or from `mailer login`'s saved sign-in.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from conftest import Project
from test_imap import (
    IMAP_USER,
    REPLIES,
    Dovecot,
    invited,  # noqa: F401 - a fixture
    partstats,
    run,
    running_dovecot,
    settings_for,
)
from test_oauth import CLIENT_ID, IMAP_SCOPE, SCOPE, EntraStub, sign_in

from mailer.journal import Journal

OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}"""


@pytest.fixture(scope="module")
def entra(ca: trustme.CA) -> Iterator[EntraStub]:
    with EntraStub(ca, user=IMAP_USER) as stub:
        yield stub


@pytest.fixture(scope="module")
def dovecot_server(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA, ca_pem: Path, entra: EntraStub
) -> Iterator[Dovecot]:
    """Dovecot taking XOAUTH2 only, each token checked with the sign-in service over HTTPS."""
    root = tmp_path_factory.mktemp("dovecot-oauth2")
    (root / "dovecot-oauth2.conf.ext").write_text(
        f"introspection_mode = post\n"
        f"introspection_url = {entra.base_url}/introspect\n"
        "username_attribute = username\n"
        "active_attribute = active\n"
        "active_value = true\n"
        f"tls_ca_cert_file = {ca_pem}\n",
        encoding="utf-8",
    )
    with running_dovecot(root, ca, ca_pem, mechanisms="xoauth2 oauthbearer", passdb=OAUTH2_PASSDB) as server:
        yield server


@pytest.fixture
def dovecot(dovecot_server: Dovecot, entra: EntraStub) -> Dovecot:
    shutil.rmtree(dovecot_server.inbox.parent, ignore_errors=True)
    entra.revoke()
    dovecot_server.deliver(REPLIES / "outlook.eml", REPLIES / "thunderbird.eml")
    return dovecot_server


@pytest.fixture
def signed_in_project(
    invited: Project,  # noqa: F811 - the fixture imported above
    entra: EntraStub,
    ca_pem: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Project:
    """The coordinator's project with the built-in Microsoft 365 sign-in set up (not yet signed in)."""
    monkeypatch.setenv("MAILER_SMTP__OAUTH__CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MAILER_SMTP__OAUTH__AUTHORITY_HOST", entra.base_url)
    monkeypatch.setenv("MAILER_SMTP__OAUTH__CA_FILE", str(ca_pem))
    return invited


def xoauth2(server: Dovecot, **extra: object) -> dict[str, object]:
    return {**settings_for(server), "auth": "xoauth2", **extra}


ANSWERED = {"soren.aero@vordingborg.example": "ACCEPTED", "mads.kohler@koege.example": "TENTATIVE"}


def test_a_token_from_the_environment(
    signed_in_project: Project, dovecot: Dovecot, entra: EntraStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_IMAP__ACCESS_TOKEN", entra.grant(frozenset({IMAP_SCOPE})))
    code, out = run(signed_in_project, xoauth2(dovecot), "inbox", "--imap")
    assert code == 0, out
    assert "read 2 messages" in out and partstats(signed_in_project) == ANSWERED
    assert entra.introspected == [True]  # Dovecot asked the sign-in service, and it said yes
    assert all("S" not in flags for flags in dovecot.flags())


def test_a_token_from_the_token_command(
    signed_in_project: Project, dovecot: Dovecot, entra: EntraStub, tmp_path: Path
) -> None:
    kept = tmp_path / "token.txt"
    kept.write_text(entra.grant(frozenset({IMAP_SCOPE})) + "\n", encoding="utf-8")
    code, out = run(signed_in_project, xoauth2(dovecot, token_command=f"cat {kept}"), "inbox", "--imap")
    assert code == 0, out
    assert partstats(signed_in_project) == ANSWERED


def test_a_token_from_mailer_login_which_asks_for_sending_and_reading_at_once(
    signed_in_project: Project, dovecot: Dovecot, entra: EntraStub, ca_pem: Path
) -> None:
    signed_in_project.write()
    sign_in(signed_in_project.config, ca_pem)
    consented = next(entra.granted[t] for t in entra.refresh_tokens)
    assert consented == {SCOPE, IMAP_SCOPE}  # one sign-in for both
    code, out = run(signed_in_project, xoauth2(dovecot), "inbox", "--imap")
    assert code == 0, out
    assert partstats(signed_in_project) == ANSWERED
    assert entra.grants[-1] == "refresh_token:ok"


def test_a_refused_token_stops_with_a_clear_message_and_nothing_recorded(
    signed_in_project: Project,
    dovecot: Dovecot,
    entra: EntraStub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MAILER_IMAP__ACCESS_TOKEN", entra.grant(frozenset({SCOPE})))  # sending only
    code, _ = run(signed_in_project, xoauth2(dovecot), "inbox", "--imap")
    assert code == 2
    err = capsys.readouterr().err
    assert "the IMAP server refused the token in MAILER_IMAP__ACCESS_TOKEN" in err
    assert "nothing was read" in err
    assert entra.introspected[-1] is False
    assert partstats(signed_in_project) == {}
    with Journal(signed_in_project.state, readonly=True) as journal:
        assert journal.imap_position(f"{IMAP_USER}@127.0.0.1/INBOX") is None
    assert os.environ["MAILER_IMAP__ACCESS_TOKEN"] not in err


def test_a_sign_in_saved_before_mailer_read_mail_is_asked_to_sign_in_again(
    signed_in_project: Project,
    dovecot: Dovecot,
    entra: EntraStub,
    ca_pem: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MAILER_SMTP__OAUTH__SCOPES", f'["{SCOPE}"]')  # what `mailer login` asked before
    signed_in_project.write()
    sign_in(signed_in_project.config, ca_pem)
    monkeypatch.delenv("MAILER_SMTP__OAUTH__SCOPES")
    asked = len(entra.introspected)
    code, _ = run(signed_in_project, xoauth2(dovecot), "inbox", "--imap")
    assert code == 2
    err = capsys.readouterr().err
    assert "run `mailer login` again" in err and "AADSTS65001" in err
    assert len(entra.introspected) == asked  # stopped before the mailbox was even asked
    assert partstats(signed_in_project) == {}

    code, _ = run(signed_in_project, xoauth2(dovecot), "check", "--signin")  # check finds it out too
    assert code == 2 and "run `mailer login` again" in capsys.readouterr().err

    sign_in(signed_in_project.config, ca_pem)  # signing in again asks for both
    code, out = run(signed_in_project, xoauth2(dovecot), "check", "--signin")
    assert code == 0, out
    assert "token from `mailer login` (signed in as" in out and "(signed in; INBOX holds 2 messages)" in out
    code, out = run(signed_in_project, xoauth2(dovecot), "inbox", "--imap")
    assert code == 0, out
    assert partstats(signed_in_project) == ANSWERED
