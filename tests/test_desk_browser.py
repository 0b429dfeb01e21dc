"""A coordinator's day at the desk, in a real browser (Debian's Chromium under Playwright, as the
preview page's test runs it), against aiosmtpd on loopback: open the desk with its key, upload
a Danish Excel member list, add a meeting through the form, preview, send the invitation and
watch it to the end, read the answers from a Maildir of real replies, move the meeting and send
the update, cancel it. After each step the pages, config.toml and the members' messages (parsed
from what the server received) are checked; each page is saved as a screenshot (in the test's
folder, and in $DESK_SCREENSHOTS when set: that is how docs/desk/ is made)."""

from __future__ import annotations

import mailbox
import os
import shutil
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
from conftest import FIXED, ROOT, Project, SmtpServer, chromium
from desk_client import running_desk
from test_desk_editing import COMMENT, DANISH_LIST, workbook

from mailer.config import load_settings

MEETING_ID = "2027-09-21-hvad-siger-brugerne"
MEMBERS = sorted(row[1] for row in DANISH_LIST[1:])


class Day:
    """The browser at the desk, with a screenshot of each page it looks at."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.shots: list[Path] = []
        keep = os.environ.get("DESK_SCREENSHOTS")
        self.keep = Path(keep) if keep else None

    def shot(self, name: str) -> None:
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        self.shots.append(path)
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.keep / f"{name}.png")

    def text(self, selector: str = "main") -> str:
        return str(self.page.locator(selector).inner_text())

    def go(self, link: str) -> None:
        self.page.click(f'header nav a:text-is("{link}")')

    def send(self, template: str, *, expected: str, shot: str) -> str:
        """Choose, look at the summary, press the one button, follow the progress to the end."""
        page = self.page
        self.go("Send")
        page.select_option("#choose-form select[name=template]", template)
        page.select_option("#choose-form select[name=meeting]", MEETING_ID)
        page.click("#choose-form button[type=submit]")
        summary = self.text("#summary")
        assert expected in summary, summary
        self.shot(shot)
        page.click("#confirm-form button.confirm")
        page.wait_for_selector("#result", timeout=60_000)  # desk.js polls until the run ends
        return self.text()


def messages_since(server: SmtpServer, start: int) -> list[EmailMessage]:
    return server.messages[start:]


def calendar_of(message: EmailMessage) -> icalendar.Calendar:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return icalendar.Calendar.from_ical(part.get_payload(decode=True))


def event_of(message: EmailMessage) -> Any:
    return next(iter(calendar_of(message).walk("VEVENT")))


def test_a_coordinators_day_at_the_desk(project: Project, server: SmtpServer, tmp_path: Path) -> None:
    project.meetings = []
    project.write()
    config = project.config
    config.write_text(config.read_text(encoding="utf-8") + f"\n{COMMENT}\n", encoding="utf-8")
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for name in ("outlook.eml", "thunderbird.eml"):
        maildir.add((ROOT / "tests" / "data" / "replies" / name).read_bytes())
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with running_desk(config, FIXED) as desk, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="da-DK")
        day = Day(page, shots)

        # Open the desk with the address it printed: the key becomes a cookie, the bar loses it.
        page.goto(desk.address)
        assert page.url.endswith(f":{desk.port}/") and "token" not in page.url
        assert "Ingen kommende møder" in day.text()

        # The member list from Danish Excel.
        day.go("Medlemmer")
        page.set_input_files(
            "#upload-form input[type=file]",
            files=[
                {
                    "name": "medlemmer.xlsx",
                    "mimeType": "application/vnd.ms-excel",
                    "buffer": workbook(DANISH_LIST),
                }
            ],
        )
        page.click("#upload-form button")
        assert "Listen er erstattet: 4 medlemmer" in day.text("#note")
        rows = page.locator("#member-list tbody tr")
        assert sorted(rows.nth(i).get_attribute("data-address") for i in range(rows.count())) == MEMBERS
        assert "Åse Bøgh" in day.text("#member-list")
        day.shot("members")

        # A meeting through the form; config.toml keeps what she wrote in it.
        day.go("Møder")
        page.click("#new-meeting")
        form = "#meeting-form"
        page.fill(f"{form} [name=id]", MEETING_ID)
        page.fill(f"{form} [name=title]", "Netværksmøde: Hvad siger brugerne?")
        page.fill(f"{form} [name=start]", "2027-09-21T13:00")
        page.fill(f"{form} [name=end]", "2027-09-21T16:00")
        page.fill(f"{form} [name=location]", "Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde")
        page.fill(f"{form} [name=description]", "Hvad siger brugerne? Bibliotekernes rolle i lokalsamfundet.")
        page.fill(f"{form} [name=agenda]", "Velkomst og kaffe\nHvad siger brugerne?\nFrokost")
        page.select_option(f"{form} [name=status]", "confirmed")
        day.shot("meeting-form")
        page.click(f"{form} button[type=submit]")
        assert "Gemt i config.toml" in day.text("#note")
        assert COMMENT in config.read_text(encoding="utf-8")
        settings = load_settings(config)
        assert settings.meeting(MEETING_ID).agenda == ("Velkomst og kaffe", "Hvad siger brugerne?", "Frokost")
        assert settings.files.recipients == Path("recipients.xlsx")
        assert "tirsdag den 21. september 2027 kl. 13.00–16.00" in day.text()
        day.go("Overblik")
        assert "Netværksmøde: Hvad siger brugerne? er ikke sendt ud endnu" in day.text("#needs")
        day.shot("overview-before")

        # The preview, built on demand; Søren's message as he will see it, in its sandbox.
        day.go("Gennemsyn")
        page.select_option("#preview-form select[name=template]", "invitation")
        page.select_option("#preview-form select[name=meeting]", MEETING_ID)
        page.click("#preview-form button[type=submit]")
        assert "Gennemsynet er lavet: 4 beskeder" in day.text("#made")
        preview = page.frame_locator("iframe.preview")
        listed = preview.locator("#messages tbody tr")
        addresses = [listed.nth(i).get_attribute("data-address") for i in range(listed.count())]
        assert sorted(addresses) == MEMBERS  # type: ignore[type-var]
        number = addresses.index("soren.aero@vordingborg.example") + 1
        frame = preview.frame_locator(f'iframe[title="HTML of message {number}"]')
        assert "Kære Søren Ærø" in frame.locator("body").inner_text()
        day.shot("preview")
        assert not server.messages

        # Send the invitation and watch it to the end.
        result = day.send("invitation", expected="4 nye", shot="send")
        assert "sendt: 4, havde den allerede: 0, fejlede: 0" in result
        day.shot("sent")
        invitations = messages_since(server, 0)
        assert sorted(str(m["To"]).rsplit("<", 1)[1].rstrip(">") for m in invitations) == sorted(
            a if a.isascii() else a.replace("køge", "xn--kge-0na") for a in MEMBERS
        )
        for message in invitations:
            assert calendar_of(message)["METHOD"] == "REQUEST"
            event = event_of(message)
            assert event["SEQUENCE"] == 0
            assert event.decoded("DTSTART").isoformat() == "2027-09-21T13:00:00+02:00"

        # The answers, from a Maildir of real replies (Outlook accepts, Thunderbird maybe).
        day.go("Indbakke")
        page.fill("#read-form [name=path]", str(tmp_path / "Maildir"))
        page.click("#read-form button[type=submit]")
        report = day.text("#report")
        assert "Læst: 2 beskeder." in report
        assert "Svar skrevet ind til Netværksmøde: Hvad siger brugerne? (2)" in report
        day.shot("inbox")
        day.go("Overblik")
        coming = day.text(f'[data-meeting="{MEETING_ID}"]')
        assert "1 kommer" in coming and "1 måske" in coming and "2 intet svar" in coming
        assert "4 inviteret" in coming
        day.shot("overview")

        # The meeting moves an hour; the update goes to everyone invited.
        day.go("Møder")
        page.click(f'[data-meeting="{MEETING_ID}"] a[href^="/meetings/edit"]')
        page.fill("#meeting-form [name=start]", "2027-09-21T14:00")
        page.fill("#meeting-form [name=end]", "2027-09-21T17:00")
        page.click("#meeting-form button[type=submit]")
        assert "Netværksmøde: Hvad siger brugerne? er ændret, siden medlemmerne blev inviteret" in day.text()
        start = len(server.messages)
        result = day.send("invitation", expected="4 opdateringer", shot="send-update")
        assert "sendt: 4" in result
        updates = messages_since(server, start)
        assert len(updates) == 4
        for message in updates:
            event = event_of(message)
            assert event["SEQUENCE"] == 1
            assert event.decoded("DTSTART").isoformat() == "2027-09-21T14:00:00+02:00"
            assert event["UID"] == f"{MEETING_ID}@roskilde.example"

        # And it is cancelled.
        start = len(server.messages)
        result = day.send(":cancel", expected="4 aflysninger", shot="send-cancel")
        assert "sendt: 4" in result
        cancellations = messages_since(server, start)
        assert len(cancellations) == 4
        for message in cancellations:
            assert calendar_of(message)["METHOD"] == "CANCEL"
            assert event_of(message)["STATUS"] == "CANCELLED"
        day.go("Overblik")
        assert "aflyst" in day.text(f'[data-meeting="{MEETING_ID}"]')
        day.shot("overview-cancelled")
        page.close()
    assert len(day.shots) == 11
