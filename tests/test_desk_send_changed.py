"""Send's button sends only what the summary she pressed it under showed: who gets what, not only
how many. A member taken off the list and another put on between looking and pressing (the same
count) stops the send, nothing sent, with the difference named; looking again sends."""

from __future__ import annotations

from urllib.parse import urlencode

from conftest import FIXED, MEETING_ID, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of

INVITATION = {"template": "invitation", "meeting": MEETING_ID}
KIRSTEN = ("Kirsten Holm", "kirsten.holm@greve.example", "Greve Bibliotek", "da")


def test_a_member_swapped_for_another_after_the_summary_stops_the_send(
    project: Project, server: SmtpServer
) -> None:
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        summary = text_of(client.get("/send?" + urlencode(INVITATION)).text)
        assert "4 beskeder til 4 medlemmer" in summary
        shown = client.seen
        # in another tab: Mads taken off the list, Kirsten put on; still four
        gone = project.members.pop()
        project.members.append(KIRSTEN)
        project.write()
        job = client.post("/send", {**INVITATION, "expected": "4", "seen": shown}).headers["Location"]
        desk.pages.jobs.wait()
        stopped = text_of(client.get(job).text)
        assert "Stoppet" in stopped and "har ændret sig, siden du så oversigten" in stopped, stopped
        assert f"med nu, men ikke i oversigten: {KIRSTEN[1]}" in stopped
        assert f"i oversigten, men ikke med nu: {gone[1]}" in stopped
        assert not server.messages
        # a send without a summary seen (or one from before the desk was started again) sends nothing
        refused = client.post("/send", {**INVITATION, "expected": "4", "seen": "old"})
        assert "se oversigten først, og send så" in text_of(refused.text) and not server.messages
        # looking again, the button sends to whom the summary shows
        client.get("/send?" + urlencode(INVITATION))
        sent = client.post("/send", {**INVITATION, "expected": "4"})
        desk.pages.jobs.wait()
        said = text_of(client.get(sent.headers["Location"]).text)
        assert "Invitationen til Netværksmøde: Hvad siger brugerne? er sendt" in said, said
    assert sorted(m["To"].addresses[0].addr_spec for m in server.messages) == sorted(
        m[1] for m in project.members
    )
