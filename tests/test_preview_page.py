"""The preview page in a real headless browser: Debian's Chromium driven by Playwright.

Playwright's own browser builds are never downloaded: the test points Playwright at
/usr/bin/chromium (`apt-get install chromium`, which .ci/run does) and skips without it.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import MEETING_ID, SAMPLE_NOW

from mailer.cli import main

# What members receive is the same on the fast path and the plain one (MAILER_PLAIN=1).
pytestmark = pytest.mark.usefixtures("plain")

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = {
    "soren.aero@vordingborg.example": "Søren Ærø",
    "aase.bogh@soroe.example": "Åse Bøgh",
    "maria.lohse@roskilde.example": "Maria Lohse",
    "kontakt@kalundborg.example": "",
    "karen.oe@greve.example": "Karen <b>Fed</b> Ø",
}


@pytest.fixture
def folder(newsletter_folder: Path) -> Path:
    return newsletter_folder


def preview(folder: Path, *args: str) -> Path:
    out = io.StringIO()
    code = main(
        ["--config", str(folder / "config.toml"), "preview", *args], clock=lambda: SAMPLE_NOW, out=out
    )
    assert code == 0, out.getvalue()
    page = Path(out.getvalue().rsplit("preview page: ", 1)[1].strip())
    assert page.is_file()
    return page


def test_newsletter_preview_lists_every_message_and_renders_member_html(
    browser: Any, folder: Path, tmp_path: Path
) -> None:
    index = preview(folder, "newsletter")
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    try:
        page.goto(index.as_uri())
        rows = page.locator("#messages tbody tr")
        assert rows.count() == len(MEMBERS) == len(list(index.parent.glob("*.eml")))
        listed = [rows.nth(i).get_attribute("data-address") for i in range(rows.count())]
        assert sorted(listed) == sorted(MEMBERS)  # type: ignore[type-var]
        table = page.locator("#messages").inner_text()
        assert "Sorø Bibliotek" in table and "meetings.ics" in table and "KB" in table
        assert "Karen <b>Fed</b> Ø" in table  # shown as the text it is
        assert page.locator(".event").count() == 0  # meetings.ics is an attachment, not an invitation
        # Søren's message as he will see it: the layout and his greeting, inside the sandbox.
        number = listed.index("soren.aero@vordingborg.example") + 1
        frame = page.frame_locator(f'iframe[title="HTML of message {number}"]')
        shown = frame.locator("body").inner_text()
        assert "Kære Søren Ærø" in shown
        assert "Kommende arrangementer" in shown
        assert "tirsdag den 21. september 2027 kl. 13.00–16.00" in shown
        assert "Afmeld nyhedsbrevet" in shown
        heading = frame.locator("h2").first
        assert heading.evaluate("h => getComputedStyle(h).color") == "rgb(31, 78, 95)"  # inlined CSS applied
        # Maria reads English.
        english = frame_text(page, listed.index("maria.lohse@roskilde.example") + 1)
        assert "Dear Maria Lohse" in english and "Tuesday, 21 September 2027 at 13:00" in english
        section = page.locator(f"#m{number}")
        assert "Nyhedsbrev: medlemmet kan framelde sig via" in section.inner_text()
        assert "Kære Søren Ærø" in section.locator("pre.text").inner_text()
        problems = page.locator(
            f"#m{listed.index('kontakt@kalundborg.example') + 1} .problem"
        ).all_inner_texts()
        assert any("medlemmet har intet navn på listen" in p for p in problems)
        shot = tmp_path / "newsletter-preview.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        page.close()


def frame_text(page: Any, number: int) -> str:
    return str(page.frame_locator(f'iframe[title="HTML of message {number}"]').locator("body").inner_text())


def test_invitation_preview_shows_the_event_in_danish_time(
    browser: Any, folder: Path, tmp_path: Path
) -> None:
    index = preview(folder, "invitation", "--meeting", MEETING_ID)
    page = browser.new_page()
    try:
        page.goto(index.as_uri())
        assert page.locator("#messages tbody tr").count() == len(MEMBERS)
        events = page.locator(".event").all_inner_texts()
        assert len(events) == len(MEMBERS)
        assert all("Invitation, første udsendelse" in e for e in events)
        assert {page.locator(".event").nth(i).get_attribute("data-method") for i in range(len(events))} == {
            "REQUEST"
        }
        assert any("tirsdag den 21. september 2027 kl. 13.00–16.00" in e for e in events)
        assert "Du inviteres hermed" in frame_text(page, 1)
        assert "framelde" not in page.content()
        page.screenshot(path=str(tmp_path / "invitation-preview.png"))
    finally:
        page.close()


# -- the page in the coordinator's language ------------------------------------------------


@pytest.fixture
def sample_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's own sample: 25 members (æøå, one address at køge.example), Danish."""
    monkeypatch.delenv("MAILER_CONFIG", raising=False)
    for name in ("config.toml", "recipients.csv"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return tmp_path


def visible(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text())


def test_the_page_speaks_danish_without_calendar_terms_and_shows_addresses_as_written(
    browser: Any, sample_folder: Path
) -> None:
    index = preview(sample_folder, "invitation", "--meeting", MEETING_ID)
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    try:
        page.goto(index.as_uri())
        assert page.locator("html").get_attribute("lang") == "da"
        run = visible(page, "#run")
        assert "25 beskeder" in run and "Intet er sendt." in run
        assert "Invitation, første udsendelse: 25" in run
        assert "Pr. sprog: dansk 23, engelsk 2" in run
        table = visible(page, "#messages")
        assert "mads.kohler@køge.example" in table and "xn--" not in table
        assert page.locator("#messages td.what").first.inner_text() == "Invitation, første udsendelse"
        event = page.locator(".event").first.inner_text()
        assert "I kalenderen: Netværksmøde: Hvad siger brugerne? (bekræftet)" in event
        words = visible(page, "body")  # the headers are folded away; what is shown has no jargon
        for jargon in ("REQUEST", "sequence", "CONFIRMED", "xn--"):
            assert jargon not in words
    finally:
        page.close()


def test_the_page_opens_with_what_changed_for_members_told_before(browser: Any, sample_folder: Path) -> None:
    from test_cli_dry_run import record_invited

    config = sample_folder / "config.toml"
    told = [
        ("birgitte.holm@odsherred.example", "Birgitte Holm", "da"),
        ("jonas.friis@faxe.example", "Jonas Friis", "da"),
    ]
    record_invited(config, MEETING_ID, told)
    text = config.read_text(encoding="utf-8")
    text = text.replace("start = 2027-09-21T13:00:00", "start = 2027-09-21T14:00:00")
    text = text.replace(
        "Dronning Margrethes Vej 14, 4000 Roskilde", "Musicon, Rabalderstræde 2, 4000 Roskilde"
    )
    config.write_text(text, encoding="utf-8")

    index = preview(sample_folder, "invitation", "--meeting", MEETING_ID)
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    try:
        page.goto(index.as_uri())
        run = visible(page, "#run")
        assert "Invitation, første udsendelse: 23" in run
        assert "Opdatering: tid og sted ændret: 2" in run
        changes = page.locator("#changes li").all_inner_texts()
        assert changes == [
            "tid: tirsdag den 21. september 2027 kl. 13.00–16.00 → "
            "tirsdag den 21. september 2027 kl. 14.00–16.00",
            "sted: Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde → "
            "Roskilde Bibliotek, Musicon, Rabalderstræde 2, 4000 Roskilde",
        ]
        rows = page.locator("#messages tbody tr")
        updated = [
            rows.nth(i).locator("td.what").inner_text()
            for i in range(rows.count())
            if rows.nth(i).get_attribute("data-address") in {a for a, _, _ in told}
        ]
        assert updated == ["Opdatering: tid og sted ændret"] * 2
    finally:
        page.close()


def test_the_page_speaks_english_for_an_english_coordinator(browser: Any, sample_folder: Path) -> None:
    config = sample_folder / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('language = "da"', 'language = "en"', 1), "utf-8"
    )

    index = preview(sample_folder, "invitation", "--meeting", MEETING_ID)
    page = browser.new_page()
    try:
        page.goto(index.as_uri())
        run = visible(page, "#run")
        assert "25 messages" in run and "Nothing has been sent." in run
        assert "Invitation, first sending: 25" in run and "Per language: Danish 23, English 2" in run
        assert "In the calendar: Netværksmøde: Hvad siger brugerne? (confirmed)" in visible(
            page, ".event >> nth=0"
        )
    finally:
        page.close()
