"""Every kind of send from the desk, each the same as its command: the update after a change,
the cancellation (`mailer cancel`), the reminder and the newsletter, with the summary's words
for each, a test message, and what the members got parsed from what aiosmtpd received."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

import icalendar
from conftest import FIXED, MEETING_ID, ROOT, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_calendar_parts import calendar_parts, methods_of
from test_desk_pages import text_of

REPLIES = ROOT / "tests" / "data" / "replies"
COORDINATOR = "koordinator@roskilde.example"


def opened(desk: Any) -> DeskClient:
    client = DeskClient(desk.address)
    client.open()
    return client


def send(desk: Any, client: DeskClient, choice: dict[str, str], expected: int) -> str:
    """The summary's button pressed, the run followed to its end: the result page's words."""
    job = client.post("/send", {**choice, "expected": str(expected)}).headers["Location"]
    desk.pages.jobs.wait()
    return text_of(client.get(job).text)


def by_address(messages: list[EmailMessage]) -> dict[str, EmailMessage]:
    return {m["To"].addresses[0].addr_spec: m for m in messages}


def test_the_update_and_the_cancellation_as_send_and_cancel_do(project: Project, server: SmtpServer) -> None:
    invitation = {"template": "invitation", "meeting": MEETING_ID}
    code, out = project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    project.meetings[0].update(start="2027-09-21T14:00:00", end="2027-09-21T17:00:00")
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        summary = text_of(client.get("/send?" + urlencode(invitation)).text)
        assert "4 opdateringer" in summary and "4 beskeder til 4 medlemmer" in summary
        result = send(desk, client, invitation, 4)
        assert "sendt: 4" in result
        updates = by_address(server.messages[4:])
        assert set(updates) == {m[1] for m in project.members}
        for message in updates.values():
            assert methods_of(message) == ["REQUEST", "REQUEST"]
            event = icalendar.Calendar.from_ical(calendar_parts(message)[0].get_payload(decode=True))
            assert event.walk("VEVENT")[0]["SEQUENCE"] == 1
        assert "14.00" in updates["soren.aero@vordingborg.example"].get_body(("plain",)).get_content()

        cancel = {"template": ":cancel", "meeting": MEETING_ID}
        summary = text_of(client.get("/send?" + urlencode(cancel)).text)
        assert "4 aflysninger" in summary
        result = send(desk, client, cancel, 4)
    assert "sendt: 4" in result
    cancelled = by_address(server.messages[8:])
    assert set(cancelled) == {m[1] for m in project.members}
    assert all(methods_of(m) == ["CANCEL", "CANCEL"] for m in cancelled.values())
    code, out = project.main("cancel", MEETING_ID, "--yes")  # the terminal agrees: it is done
    assert code == 0 and "nothing to send" in out


def test_the_reminder_goes_to_those_still_coming_with_a_test_first(
    project: Project, server: SmtpServer
) -> None:
    code, out = project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    # Søren accepts (Outlook), Anne Mette declines (Gmail), Mads is tentative (Thunderbird).
    replies = [str(REPLIES / name) for name in ("outlook.eml", "gmail.eml", "thunderbird.eml")]
    code, out = project.main("inbox", *replies)
    assert code == 0, out
    reminder = {"template": "reminder", "meeting": MEETING_ID}
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        summary = text_of(client.get("/send?" + urlencode(reminder)).text)
        assert "3 beskeder" in summary and "3 beskeder til 3 medlemmer" in summary
        test = client.post("/send/test", {**reminder, "test_to": COORDINATOR})
        assert "er sendt til " + COORDINATOR in text_of(test.text)
        (tested,) = server.messages[4:]
        assert server.recipients[4:] == [COORDINATOR]
        assert str(tested["Subject"]).startswith("[TEST] Påmindelse: ")
        assert tested["X-Mailer-Test"]
        result = send(desk, client, reminder, 3)
    assert "sendt: 3, havde den allerede: 0, fejlede: 0" in result
    reminded = by_address(server.messages[5:])
    assert set(reminded) == {
        "soren.aero@vordingborg.example",
        "maria.lohse@roskilde.example",
        "mads.kohler@koege.example",
    }
    assert all(methods_of(m) == [] for m in reminded.values())  # the calendar has the meeting
    assert str(reminded["soren.aero@vordingborg.example"]["Subject"]).startswith("Påmindelse: ")
    assert str(reminded["maria.lohse@roskilde.example"]["Subject"]).startswith("Reminder: ")
    code, out = project.main("send", "reminder", "--meeting", MEETING_ID, "--yes")
    assert code == 0 and "nothing to send" in out


def test_the_newsletter_with_its_list_headers_and_calendar_file_and_a_new_issue(
    project: Project, server: SmtpServer
) -> None:
    newsletter = {"template": "newsletter"}
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        summary = text_of(client.get("/send?" + urlencode(newsletter)).text)
        assert "Det bliver sendt: Nyhedsbrev" in summary and "4 beskeder til 4 medlemmer" in summary
        client.post("/send/test", {**newsletter, "test_to": COORDINATOR})
        (tested,) = server.messages
        assert str(tested["Subject"]).startswith("[TEST] ") and tested["Precedence"] == "bulk"
        result = send(desk, client, newsletter, 4)
        assert "sendt: 4" in result
        issued = by_address(server.messages[1:])
        assert set(issued) == {m[1] for m in project.members}
        for message in issued.values():
            assert message["Precedence"] == "bulk" and message["List-Id"]
            assert [p.get_filename() for p in message.iter_attachments()] == ["meetings.ics"]
            assert methods_of(message) == ["PUBLISH"]

        again = text_of(client.get("/send?" + urlencode(newsletter)).text)
        assert "Intet at sende: alle har fået det." in again
        assert "Et nyt nummer? Giv det sit eget navn under Flere valg, fx newsletter-2" in again
        issue = {**newsletter, "campaign": "newsletter-2027-03"}
        summary = text_of(client.get("/send?" + urlencode(issue)).text)
        assert "Det bliver sendt: newsletter-2027-03" in summary and "4 beskeder" in summary
        assert "sendt: 4" in send(desk, client, issue, 4)
    assert len(server.messages) == 9
