"""`mailer status MEETING --html` in a real headless browser (Debian's Chromium, as for the
preview page), and `--csv` read back the way Danish Excel reads it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import MEETING_ID, ROOT, Project, SmtpServer, chromium

DATA = ROOT / "tests" / "data"


@pytest.fixture
def answered(project: Project, server: SmtpServer) -> Project:
    """Invited; Søren accepted (Outlook), Mads tentative (Thunderbird), Anne's address bounced,
    Maria declined on the phone, and a plain reply waits to be read."""
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    files = [
        "replies/outlook.eml",
        "replies/thunderbird.eml",
        "inbox/m365-ndr.eml",
        "replies/plain-reply.eml",
    ]
    code, out = project.main("inbox", *(str(DATA / f) for f in files))
    assert code == 0, out
    code, out = project.main(
        "answer", MEETING_ID, "maria.lohse@roskilde.example", "declined", "--note", "Syg – ringede"
    )
    assert code == 0, out
    return project


@contextmanager
def opened(target: Path) -> Iterator[Any]:
    """The page in Chromium, started once the page is written (Playwright's loop and a send's
    asyncio cannot run at once in one thread)."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.goto(target.as_uri())
        yield page


def excel_rows(path: Path) -> list[list[str]]:
    """The CSV as Danish Excel reads it: a BOM first, then `;`-separated UTF-8."""
    assert path.read_bytes().startswith("\ufeff".encode())
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def test_the_page_shows_totals_bars_libraries_and_what_needs_her(answered: Project, tmp_path: Path) -> None:
    target = tmp_path / "hvem-kommer.html"
    code, out = answered.main("status", MEETING_ID, "--html", str(target))
    assert code == 0, out
    assert f"wrote {target}" in out
    with opened(target) as page:
        assert page.title() == "Hvem kommer: Netværksmøde: Hvad siger brugerne?"
        assert page.get_attribute("html", "lang") == "da"
        counts = {
            row.get_attribute("data-state"): row.inner_text().split()
            for row in page.query_selector_all("#totals .row")
        }
        assert counts["ACCEPTED"][-1] == "1" and counts["DECLINED"][-1] == "1"
        assert counts["TENTATIVE"][-1] == "1" and counts["BOUNCING"][-1] == "1"
        assert counts["NO ANSWER"][-1] == "0" and counts["NOT DELIVERED"][-1] == "0"
        widths = page.eval_on_selector_all(
            "#totals .bar", "bars => bars.map(b => [b.dataset.state, b.getBoundingClientRect().width])"
        )
        drawn = dict(widths)
        assert drawn["ACCEPTED"] > 100 and drawn["ACCEPTED"] == drawn["BOUNCING"]  # same count, same bar
        assert drawn["NO ANSWER"] == 0

        libraries = page.eval_on_selector_all("table.library", "ts => ts.map(t => t.dataset.library)")
        assert libraries == ["Køge Bibliotekerne", "Roskilde Bibliotekerne", "Vordingborg Bibliotekerne"]
        roskilde = page.inner_text('table[data-library="Roskilde Bibliotekerne"]')
        assert "Anne Mette Bøttcher Jensen" in roskilde and "adressen virker ikke" in roskilde
        assert "Syg – ringede" in roskilde and "skrevet ind i hånden" in roskilde
        soren = page.inner_text('tr[data-address="soren.aero@vordingborg.example"]')
        assert "kommer" in soren and "Jeg glæder mig, vi ses i Roskilde." in soren

        needs = page.inner_text("#needs")
        assert "anne.mette@roskilde.example: 550 5.1.10 RESOLVER.ADR.RecipientNotFound" in needs
        assert "lookup (2026-12-01 10:02)" in needs  # the bounce's time on a Danish clock
        assert "mailer bounced --clear" in needs
        # a plain reply: who wrote it, about what and when (Copenhagen time), and where it is
        (reply,) = page.query_selector_all("ul.to-read li")
        assert reply.inner_text().startswith(
            "Mads Køhler <mads.kohler@koege.example>: "
            "Re: Netværksmøde: Hvad siger brugerne? (2026-11-25 16:05, "
        )
        assert reply.inner_text().endswith("plain-reply.eml)")
        page.screenshot(path=str(tmp_path / "status.png"), full_page=True)


def test_the_csv_opens_in_danish_excel_as_it_is(answered: Project, tmp_path: Path) -> None:
    target = tmp_path / "til-kantinen.csv"
    assert answered.main("status", MEETING_ID, "--csv", str(target))[0] == 0
    rows = excel_rows(target)
    assert rows[0] == [
        "E-mail",
        "Navn",
        "Bibliotek",
        "Svar",
        "Svaret",
        "Kommentar",
        "Indtastet i hånden",
        "Version",
    ]
    by_email = {row[0]: row for row in rows[1:]}
    assert by_email["maria.lohse@roskilde.example"][2:4] == ["Roskilde Bibliotekerne", "kommer ikke"]
    assert by_email["maria.lohse@roskilde.example"][5:7] == ["Syg – ringede", "ja"]
    assert by_email["anne.mette@roskilde.example"][3] == "adressen virker ikke"
    assert by_email["mads.kohler@koege.example"][3] == "måske"


def test_in_english_the_csv_and_page_speak_english(answered: Project, tmp_path: Path) -> None:
    answered.write()
    text = answered.config.read_text(encoding="utf-8").replace('language = "da"', 'language = "en"')
    answered.config.write_text(text, encoding="utf-8")
    import io

    from mailer.cli import main

    target, page = tmp_path / "list.csv", tmp_path / "page.html"
    args = ["--config", str(answered.config), "status", MEETING_ID, "--csv", str(target), "--html", str(page)]
    assert main(args, out=io.StringIO()) == 0
    header, *rows = excel_rows(target)
    assert header[:4] == ["email", "name", "library", "answer"]
    assert {row[0]: row[3] for row in rows}["anne.mette@roskilde.example"] == "bouncing"
    assert "<title>Who is coming:" in page.read_text(encoding="utf-8")


def test_csv_and_html_need_a_meeting(answered: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert answered.main("status", "--html")[0] == 2
    assert "--csv and --html are for a meeting" in capsys.readouterr().err


def test_status_lists_the_replies_to_read_and_bounces_in_local_time(answered: Project) -> None:
    code, out = answered.main("status", MEETING_ID)
    assert code == 0, out
    assert "bouncing: anne.mette@roskilde.example  2026-12-01 10:02  550 5.1.10" in out
    assert (
        "  1 reply to read yourself (`mailer answer` records what they say; "
        "one that needs nothing: `mailer inbox --handled EMAIL`):\n" in out
    )
    assert (
        "    Mads Køhler <mads.kohler@koege.example>: "
        "Re: Netværksmøde: Hvad siger brugerne?  (2026-11-25 16:05, " in out
    )
