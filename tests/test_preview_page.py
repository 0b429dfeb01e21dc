"""The preview page in a real headless browser: Debian's Chromium driven by Playwright.

Playwright's own browser builds are never downloaded: the test points Playwright at
/usr/bin/chromium (`apt-get install chromium`, which .ci/run does) and skips without it.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mailer.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "newsletter"
FIXED = datetime(2027, 8, 2, 8, 0, tzinfo=UTC)
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
MEMBERS = {
    "soren.aero@vordingborg.example": "Søren Ærø",
    "aase.bogh@soroe.example": "Åse Bøgh",
    "maria.lohse@roskilde.example": "Maria Lohse",
    "kontakt@kalundborg.example": "",
    "karen.oe@greve.example": "Karen <b>Fed</b> Ø",
}


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, or a skip where either is missing."""
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
    with chromium() as started:
        yield started


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MAILER_CONFIG", raising=False)
    shutil.copy(DATA / "config.toml", tmp_path / "config.toml")
    shutil.copy(DATA / "recipients.csv", tmp_path / "recipients.csv")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return tmp_path


def preview(folder: Path, *args: str) -> Path:
    out = io.StringIO()
    code = main(["--config", str(folder / "config.toml"), "preview", *args], clock=lambda: FIXED, out=out)
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
        assert "Newsletter headers: unsubscribe via" in section.inner_text()
        assert "Kære Søren Ærø" in section.locator("pre.text").inner_text()
        problems = page.locator(
            f"#m{listed.index('kontakt@kalundborg.example') + 1} .problem"
        ).all_inner_texts()
        assert any("no name in the list" in p for p in problems)
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
    index = preview(folder, "invitation", "--meeting", "2027-09-21-hvad-siger-brugerne")
    page = browser.new_page()
    try:
        page.goto(index.as_uri())
        assert page.locator("#messages tbody tr").count() == len(MEMBERS)
        events = page.locator(".event").all_inner_texts()
        assert len(events) == len(MEMBERS)
        assert all("REQUEST" in e and "sequence 0" in e for e in events)
        assert any("tirsdag den 21. september 2027 kl. 13.00–16.00" in e for e in events)
        assert "Du inviteres hermed" in frame_text(page, 1)
        assert "Newsletter headers" not in page.content()
        page.screenshot(path=str(tmp_path / "invitation-preview.png"))
    finally:
        page.close()
