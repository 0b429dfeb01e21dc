"""Cancelling a meeting from the desk: a meeting set to cancelled in the form, after members were
invited, says the cancellation must still be sent (on Meetings and the Overview, with the button
to its summary); a cancellation sent from the desk writes status = "cancelled" into config.toml,
so the overview never says config.toml disagrees with what members were told."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode

from conftest import FIXED, MEETING, MEETING_ID, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_desk_editing import COMMENT, check, commented
from test_desk_pages import text_of

from mailer.config import load_settings

DUE = (
    "Netværksmøde: Hvad siger brugerne? er aflyst, men 4 medlemmer har stadig mødet i kalenderen: "
    "send aflysningen"
)
SUMMARY = "/send?" + html.escape(urlencode({"template": ":cancel", "meeting": MEETING_ID}))


def opened(desk: Any) -> DeskClient:
    client = DeskClient(desk.address)
    client.open()
    client.get("/")
    return client


def the_form(status: str) -> dict[str, str]:
    """The meeting as the form shows it, with `status` chosen."""
    return {
        "new": "",
        **{k: str(MEETING[k]) for k in ("id", "title", "timezone", "location", "description")},
        "start": "2027-09-21T13:00",
        "end": "2027-09-21T16:00",
        "agenda": "\n".join(MEETING["agenda"]),
        "status": status,
    }


def cancellations(server: SmtpServer) -> list[str]:
    """The members whose calendar got METHOD:CANCEL, parsed from what the server received."""
    found = []
    for message in server.messages:
        parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        if parts and "METHOD:CANCEL" in parts[0].get_content():
            found.append(message["To"].addresses[0].addr_spec)
    return sorted(found)


def test_a_meeting_set_to_cancelled_after_the_invitation_says_to_send_the_cancellation(
    project: Project, server: SmtpServer
) -> None:
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    commented(project)
    invited = len(server.messages)
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        assert DUE not in text_of(client.get("/").text)
        client.get(f"/meetings/edit?id={MEETING_ID}")
        saved = client.post("/meetings/edit", the_form("cancelled"))
        shown = text_of(saved.text)
        assert "Gemt i config.toml" in shown and DUE in shown, shown
        assert f'href="{SUMMARY}">Send aflysningen</a>' in saved.text
        overview = client.get("/")
        assert DUE in text_of(overview.text) and f'href="{SUMMARY}">Send aflysningen</a>' in overview.text
        summary = text_of(client.get(html.unescape(SUMMARY)).text)
        assert "4 aflysninger" in summary, summary
        assert len(server.messages) == invited  # saving and looking sent nothing
        client.post("/send", {"template": ":cancel", "meeting": MEETING_ID, "expected": "4"})
        desk.pages.jobs.wait()
        after = text_of(client.get("/").text)
        assert "aflysningen" not in after and "siger noget andet" not in after, after
    assert cancellations(server) == sorted(m[1] for m in project.members)


def test_a_cancellation_sent_from_the_desk_is_written_into_config_toml(
    project: Project, server: SmtpServer
) -> None:
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    before = commented(project)
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/send?" + urlencode({"template": ":cancel", "meeting": MEETING_ID}))
        job = client.post("/send", {"template": ":cancel", "meeting": MEETING_ID, "expected": "4"})
        desk.pages.jobs.wait()
        progress = client.get(job.headers["Location"]).text
        overview = text_of(client.get("/").text)
    assert "siger noget andet" not in overview and "aflyst" in overview, overview
    # the progress page names what went out, not "Sender invitation", and where to go on
    said = text_of(progress)
    assert (
        "Aflysningen af Netværksmøde: Hvad siger brugerne? er sendt" in said and "invitation" not in said
    ), said
    assert f'href="/meetings/{MEETING_ID}/answers">Se hvem der kommer</a>' in progress
    assert 'href="/">Til overblikket</a>' in progress
    after = project.config.read_text(encoding="utf-8")
    assert after == before.replace('status = "confirmed"', 'status = "cancelled"', 1) and COMMENT in after
    assert load_settings(project.config).meeting(MEETING_ID).cancelled
    assert cancellations(server) == sorted(m[1] for m in project.members)
    assert check(project.config)[0] == 0


def test_the_templates_are_offered_in_her_words_and_cancelling_once(project: Project) -> None:
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        for path in ("/send", "/preview"):
            page = client.get(path).text
            offered = re.findall(
                r'<option value="([^"]*)"[^>]*>([^<]*)</option>',
                page.split('name="template"')[1].split("</select>")[0],
            )
            assert offered[1:] == [
                ("invitation", "Invitation (eller opdatering, når mødet er ændret)"),
                ("newsletter", "Nyhedsbrev"),
                ("reminder", "Påmindelse"),
                (":cancel", "Aflys mødet (fjernes fra alle inviteredes kalender)"),
            ], offered


def test_meetings_are_shown_when_the_member_list_cannot_be_read(project: Project) -> None:
    project.write()
    (project.root / "recipients.csv").unlink()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        page = client.get("/meetings")
    assert page.status == 200 and "Netværksmøde: Hvad siger brugerne?" in text_of(page.text)
