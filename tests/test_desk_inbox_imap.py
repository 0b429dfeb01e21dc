"""The Inbox page's "read the mailbox" box, as `mailer inbox --imap`, against a real Dovecot on
loopback (tests/test_imap.py): the password typed in the page where the keyring has none, kept
(in memory) only when she ticks it, never shown."""

from __future__ import annotations

from conftest import FIXED, Project
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of
from test_imap import (
    IMAP_PASSWORD,
    REPLIES,
    Dovecot,
    dovecot,  # noqa: F401 - a fixture
    dovecot_server,  # noqa: F401 - a fixture
    invited,  # noqa: F401 - a fixture
    partstats,
    settings_for,
    write_with_imap,
)

from mailer.config import load_settings
from mailer.passwords import keep

ANSWERED = {"soren.aero@vordingborg.example": "ACCEPTED", "mads.kohler@koege.example": "TENTATIVE"}


def read_form(page: str) -> str:
    return page[page.index('id="read-form"') : page.index("</form>", page.index('id="read-form"'))]


def test_the_mailbox_is_read_with_the_password_typed_in_the_page_kept_only_if_ticked(
    invited: Project,  # noqa: F811
    dovecot: Dovecot,  # noqa: F811
) -> None:
    dovecot.deliver(REPLIES / "outlook.eml", REPLIES / "thunderbird.eml")
    write_with_imap(invited, settings_for(dovecot))
    pages: list[str] = []
    with running_desk(invited.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        page = client.get("/inbox").text
        assert 'name="imap" checked' in read_form(page) and 'type="password"' in read_form(page)

        without = client.post("/inbox", {"imap": "on"})
        pages.append(without.text)
        assert without.status == 409 and "no password" in text_of(without.text)
        assert partstats(invited) == {}

        read = client.post("/inbox", {"imap": "on", "password": IMAP_PASSWORD})
        pages.append(read.text)
        assert read.status == 200, read.text
        report = text_of(read.text)
        assert "Læst: 2 beskeder." in report and "imap:INBOX/" in report
        assert partstats(invited) == ANSWERED
        assert 'type="password"' in read_form(read.text)  # not kept: asked again
        assert 'type="password"' in read_form(client.get("/inbox").text)

        dovecot.deliver(REPLIES / "plain-reply.eml")
        kept = client.post("/inbox", {"imap": "on", "password": IMAP_PASSWORD, "keep_password": "on"})
        pages.append(kept.text)
        assert "Læst: 1 besked." in text_of(kept.text)
        assert 'type="password"' not in read_form(kept.text)  # kept, in memory
        again = client.post("/inbox", {"imap": "on"})
        pages.append(again.text)
        assert again.status == 200 and "Læst: 0 beskeder." in text_of(again.text)
    assert all(IMAP_PASSWORD not in page for page in pages)
    assert all("S" not in flags for flags in dovecot.flags())  # only looked at, as the command does


def test_a_password_kept_in_the_keyring_is_not_asked_for(
    invited: Project,  # noqa: F811
    dovecot: Dovecot,  # noqa: F811
) -> None:
    dovecot.deliver(REPLIES / "outlook.eml")
    write_with_imap(invited, settings_for(dovecot))
    keep(load_settings(invited.config), "imap", IMAP_PASSWORD)  # `mailer password --imap`
    with running_desk(invited.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        assert 'type="password"' not in read_form(client.get("/inbox").text)
        read = client.post("/inbox", {"imap": "on"})
    assert "Læst: 1 besked." in text_of(read.text)
    assert partstats(invited) == {"soren.aero@vordingborg.example": "ACCEPTED"}
