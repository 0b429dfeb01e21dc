"""The shipped layout as members see it, in headless Chromium: the footer and the meeting's
facts read as sentences, and every HTML message fits a phone (375 px) without sideways
scrolling while keeping its 600-px column on a desktop."""

from __future__ import annotations

import email
import email.policy
import io
import re
import shutil
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailer.cli import main

FIXED = datetime(2027, 8, 2, 8, 0, tzinfo=UTC)
MEETING_ID = "2027-09-21-hvad-siger-brugerne"
PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1280, "height": 1000}
# The shipped templates with an HTML part that reach members before any journal exists (a
# cancellation goes only to those invited; it is the same layout around two paragraphs).
SHIPPED = {
    "invitation": ("--meeting", MEETING_ID),
    "newsletter": (),
}


def previewed(folder: Path, template: str, *args: str) -> dict[str, EmailMessage]:
    """`mailer preview TEMPLATE`: each message written, parsed back, by its To address."""
    shutil.rmtree(folder / "outbox", ignore_errors=True)
    out = io.StringIO()
    code = main(
        ["--config", str(folder / "config.toml"), "preview", template, *args], clock=lambda: FIXED, out=out
    )
    assert code == 0, out.getvalue()
    found = {}
    for path in sorted((folder / "outbox").rglob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        found[msg["To"].addresses[0].addr_spec] = msg
    return found


def html_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def shown(browser: Any, html: str, viewport: dict[str, int]) -> Any:
    page = browser.new_page(viewport=viewport)
    page.set_content(html)
    return page


def words_of(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("with_link", [True, False], ids=["link", "mail-only"])
def test_the_newsletter_footer_reads_as_a_sentence(
    browser: Any, newsletter_folder: Path, with_link: bool
) -> None:
    if not with_link:
        config = newsletter_folder / "config.toml"
        lines = config.read_text(encoding="utf-8").splitlines()
        config.write_text(
            "\n".join(x for x in lines if not x.startswith("unsubscribe_url")), encoding="utf-8"
        )
    messages = previewed(newsletter_folder, "newsletter")
    expected = {
        "soren.aero@vordingborg.example": (
            "Afmeld nyhedsbrevet eller skriv til brugernesrum@roskilde.example."
            if with_link
            else "Vil du ikke have flere, så skriv til brugernesrum@roskilde.example med emnet “unsubscribe”."
        ),
        "maria.lohse@roskilde.example": (
            "Unsubscribe or write to brugernesrum@roskilde.example."
            if with_link
            else "To unsubscribe, write to brugernesrum@roskilde.example with the subject “unsubscribe”."
        ),
    }
    for address, sentence in expected.items():
        page = shown(browser, html_of(messages[address]), DESKTOP)
        try:
            footer = words_of(page.locator("td.footer").inner_text())
        finally:
            page.close()
        assert footer.endswith(sentence), footer


def test_the_meetings_facts_stand_apart_from_its_description(browser: Any, newsletter_folder: Path) -> None:
    messages = previewed(newsletter_folder, "invitation", "--meeting", MEETING_ID)
    for address, label in (
        ("soren.aero@vordingborg.example", "Hvor"),
        ("maria.lohse@roskilde.example", "Where"),
    ):
        page = shown(browser, html_of(messages[address]), DESKTOP)
        try:
            where = page.locator("th", has_text=re.compile(f"^{label}$"))
            row = where.evaluate("th => th.closest('table').getBoundingClientRect().bottom")
            text = page.locator("p", has_text="Bibliotekernes rolle i lokalsamfundet")
            description = text.evaluate("p => p.getBoundingClientRect().top")
        finally:
            page.close()
        assert description - row >= 12, (address, row, description)  # a paragraph's gap


def fits_a_phone_and_a_desktop(browser: Any, html: str, about: str) -> None:
    """Nothing wider than a 375-px phone, text at its own size; the 600-px column on a desktop."""
    page = shown(browser, html, PHONE)
    try:
        width = page.evaluate("document.documentElement.scrollWidth")
        beyond = page.evaluate(
            """limit => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > limit + 0.5)
                .map(e => e.tagName + '.' + e.className)""",
            PHONE["width"],
        )
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('td.content')).fontSize)")
    finally:
        page.close()
    assert (width, beyond) == (PHONE["width"], []), about
    assert size >= 15, about  # read at its own size: the phone does not zoom out
    page = shown(browser, html, DESKTOP)
    try:
        column = page.evaluate("document.querySelector('table.page').getBoundingClientRect().width")
    finally:
        page.close()
    assert column == 600, about


@pytest.mark.parametrize("template", list(SHIPPED))
def test_every_html_message_fits_a_phone_and_keeps_its_column_on_a_desktop(
    browser: Any, newsletter_folder: Path, template: str
) -> None:
    messages = previewed(newsletter_folder, template, *SHIPPED[template])
    for address in ("soren.aero@vordingborg.example", "maria.lohse@roskilde.example"):
        fits_a_phone_and_a_desktop(browser, html_of(messages[address]), f"{template} to {address}")
