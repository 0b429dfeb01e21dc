"""A new meeting's id: left empty, the desk makes it from the day and the title (æ, ø, å written
ae, oe, aa); one typed with letters an id cannot have is refused at the field with one it can;
and the browser checks the field itself (its pattern compiles under the v flag Chromium uses)."""

from __future__ import annotations

from typing import Any

from conftest import FIXED, Project
from desk_client import running_desk
from test_desk_editing import NEW, check, commented, opened
from test_desk_meeting_form import problem_at
from test_desk_pages import text_of

from mailer.config import load_settings

MADE = "2027-11-16-moede-i-naestved-aarets-foerste"  # cut at a word under 40 letters


def test_a_new_meeting_gets_its_id_from_the_day_and_the_title(project: Project) -> None:
    commented(project)
    title = "Møde i Næstved: årets første samskabelse"
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/meetings/edit")
        wrong = client.post("/meetings/edit", {**NEW, "id": "møde i næstved"})
        said = problem_at(wrong.text, "id")
        assert "'møde i næstved' is not an id" in said and "e.g. moede-i-naestved" in said, said
        saved = client.post("/meetings/edit", {**NEW, "id": "", "title": title, "start": "16.11.2027 10.00"})
        assert "Gemt i config.toml" in text_of(saved.text), text_of(saved.text)
        assert f'href="/meetings/edit?id={MADE}"' in saved.text
    assert load_settings(project.config).meeting(MADE).title == title
    assert check(project.config)[0] == 0


def test_the_browser_checks_the_id_field(project: Project, browser: Any) -> None:
    project.write()
    with running_desk(project.config, FIXED) as desk:
        page = browser.new_page(locale="da-DK")
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text))
        try:
            page.goto(desk.address)
            page.goto(page.url.split("?")[0].rstrip("/") + "/meetings/edit")
            field = page.locator("#meeting-form [name=id]")
            field.fill("møde i næstved")
            assert field.evaluate("input => input.validity.patternMismatch")
            field.fill("2027-11-16-naestved")
            assert field.evaluate("input => input.validity.valid")
            assert field.evaluate("input => new RegExp(input.pattern, 'v').test('a-b')")
        finally:
            page.close()
    assert not [p for p in problems if "pattern" in p.lower()], problems
