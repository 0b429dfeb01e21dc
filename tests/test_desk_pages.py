"""The desk's pages, served on loopback and read as a browser gets them: the overview counts what
`mailer status` counts, the member list is the one mailer reads, and member data stays text."""

from __future__ import annotations

import html
import re

from conftest import FIXED, MEETING_ID, Project
from desk_client import DeskClient, running_desk
from test_status_page import answered

__all__ = ["answered"]  # the fixture: invited, and answers of every kind read


def text_of(page: str) -> str:
    """The page's words, as a reader sees them (tags dropped, entities read)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_overview_counts_answers_as_status_does_and_says_what_needs_her(answered: Project) -> None:
    project = answered
    project.members.append(("Ny Bibliotekar", "ny@greve.example", "Greve Bibliotek", "da"))
    code, status = project.main("status", MEETING_ID)
    assert code == 0
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        page = client.get("/")
    assert page.status == 200
    shown = text_of(page.text)
    assert "Netværksmøde: Hvad siger brugerne?" in shown
    assert "tirsdag den 21. september 2027 kl. 13.00–16.00" in shown
    # The totals are status's own: "accepted: 1, declined: 0, tentative: 1, no answer: 1, bouncing: 1 ..."
    line = next(line for line in status.splitlines() if line.strip().startswith("accepted:"))
    totals = dict(re.findall(r"(\w[\w ]*): (\d+)", line))
    words = {
        "accepted": "kommer",
        "tentative": "måske",
        "no answer": "intet svar",
        "bouncing": "adressen virker ikke",
    }
    for state, word in words.items():
        assert f"{totals[state]} {word}" in shown, (state, shown)
    assert "4 inviteret" in shown
    assert "1 på listen er ikke inviteret endnu til Netværksmøde: Hvad siger brugerne?" in shown
    assert "1 svar i almindelig tekst skal læses" in shown
    assert "1 adresse virker ikke" in shown
    assert "Netværksmøde: Samskabelse" not in shown  # the fixture has one meeting
    assert (
        "Invitation: Netværksmøde: Hvad siger brugerne? 4 0 onsdag den 25. november 2026 kl. 10.30" in shown
    )


def test_overview_in_english_and_a_broken_config_shown_in_words(project: Project) -> None:
    project.write()
    text = project.config.read_text(encoding="utf-8").replace('language = "da"', 'language = "en"')
    project.config.write_text(text, encoding="utf-8")
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        shown = text_of(client.get("/").text)
        assert "Coming meetings" in shown and "Tuesday, 21 September 2027" in shown
        assert "has not been sent out yet" in shown and "Nothing has been sent yet." in shown
        project.config.write_text(text.replace("[smtp]", "[smtp]\nhots = 1"), encoding="utf-8")
        broken = client.get("/members")
    assert broken.status == 409
    assert "hots" in text_of(broken.text) and "Correct it in config.toml" in text_of(broken.text)


def test_members_page_is_the_list_as_mailer_reads_it(project: Project) -> None:
    project.write()
    rows = [
        "Navn;E-mail;Bibliotek;Sprog;Grupper",
        "Søren Ærø;soren.aero@vordingborg.example;Vordingborg Bibliotekerne;da;netværk",
        "Karen <b>Fed</b> Ø;karen.oe@greve.example;Greve <script>alert(1)</script>;da;",
        "Søren Ærø;Soren.Aero@Vordingborg.example;Vordingborg Bibliotekerne;;styregruppe",
        "Anna;anna@;Køge Bibliotekerne;da;",
        "Åse Bøgh;aase.bogh@soroe.example;Sorø Bibliotek;en;netværk",
    ]
    (project.root / "recipients.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (project.root / "unsubscribed.csv").write_text("email\naase.bogh@soroe.example\n", encoding="utf-8")
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        page = client.get("/members")
        found = client.get("/members?q=" + "sorø".encode().hex("%", 1).join(["%", ""]))
        by_group = client.get("/members?q=styregruppe")
    assert page.status == 200
    assert "<b>Fed</b>" not in page.text and "<script>alert" not in page.text  # text, never markup
    shown = text_of(page.text)
    assert "3 medlemmer" in shown
    assert "Karen <b>Fed</b> Ø" in shown and "Greve <script>alert(1)</script>" in shown
    assert "samme adresse på linje 2, 4: lagt sammen" in shown
    assert "recipients.csv:5" in shown and "anna@" in shown  # the invalid row, and why
    assert "afmeldt: får intet" in shown
    assert found.status == 200 and "1 vist" in text_of(found.text)
    assert "aase.bogh@soroe.example" in found.text and "karen.oe@greve.example" not in found.text
    assert "soren.aero@vordingborg.example" in by_group.text and "aase.bogh" not in by_group.text
