"""The Inbox page signs her in to Microsoft 365 when the mailbox is read with the saved sign-in
(imap.auth = "xoauth2") and there is none: the same device-code sign-in as `mailer login`,
against the stand-in for Entra ID, then the mailbox read from a real Dovecot that asks the
stand-in about each token (tests/test_imap_xoauth2.py)."""

from __future__ import annotations

from pathlib import Path

from conftest import FIXED, Project
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of
from test_desk_signin import types_the_code
from test_imap import Dovecot, partstats, write_with_imap
from test_imap_xoauth2 import (  # noqa: F401 - fixtures
    ANSWERED,
    dovecot,
    dovecot_server,
    entra,
    invited,
    signed_in_project,
    xoauth2,
)
from test_oauth import EntraStub


def test_the_inbox_signs_her_in_then_reads_the_mailbox(
    signed_in_project: Project,  # noqa: F811
    dovecot: Dovecot,  # noqa: F811
    entra: EntraStub,  # noqa: F811
    ca_pem: Path,
) -> None:
    project = signed_in_project
    write_with_imap(project, xoauth2(dovecot))
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        page = client.get("/inbox").text
        assert 'id="signin-needed"' in page
        assert "Du er ikke logget ind hos Microsoft 365 til at læse postkassen" in text_of(page)
        where = client.post("/signin", {"back": "/inbox"}).headers["Location"]
        waiting = client.get(where).text
        types_the_code(waiting, ca_pem)
        desk.pages.signins.wait()
        back = client.get(where)
        assert (back.status, back.headers["Location"]) == (303, "/inbox")
        assert 'id="signin-needed"' not in client.get("/inbox").text
        read = client.post("/inbox", {"imap": "on"})
    assert read.status == 200, read.text
    assert "Læst: 2 beskeder." in text_of(read.text)
    assert partstats(project) == ANSWERED
    assert entra.introspected[-1] is True  # Dovecot asked the sign-in service, and it said yes
    tokens = entra.access_tokens | entra.refresh_tokens
    assert tokens and not any(token in read.text or token in waiting for token in tokens)
