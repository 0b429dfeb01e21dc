"""After a send went wrong for some: a member whose address bounced is put back from the desk, as
`mailer bounced --clear` does (the journal copied first), with the button beside the mark on
Members; members not reached this time are sent the same again from the button on the result."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import pytest
from conftest import FIXED, MEETING_ID, BusyRecorder, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of

MADS = "mads.kohler@koege.example"
INVITATION = {"template": "invitation", "meeting": MEETING_ID}


def test_a_bouncing_member_is_put_back_with_a_button(project: Project, server: SmtpServer) -> None:
    server.faults.reject.add(MADS)
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 1
    assert MADS in project.main("bounced")[1]
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        page = client.get("/members").text
        row = re.search(rf'<tr data-address="{MADS}".*?</tr>', page, re.S)
        assert row is not None and "adressen virker ikke: 5.1.1 No such mailbox" in text_of(row.group(0))
        assert 'action="/members/bounced"' in row.group(0) and "Adressen virker igen" in row.group(0)
        assert page.count('action="/members/bounced"') == 1  # only beside the bouncing member
        done = client.post("/members/bounced", {"email": MADS})
        said = text_of(done.text)
        assert f"{MADS} får beskeder igen fra næste udsendelse." in said, said
        copy = re.search(r"kopieret til (\S+\.sqlite)", said)
        assert copy is not None and (project.root / copy.group(1)).is_file()
        row = re.search(rf'<tr data-address="{MADS}".*?</tr>', done.text, re.S)
        assert row is not None and "adressen virker ikke" not in text_of(row.group(0))
        again = client.post("/members/bounced", {"email": MADS})
        assert "er ikke markeret" in text_of(again.text)
    assert project.main("bounced")[1].startswith("no member is bouncing")


@pytest.mark.smtp_fault(BusyRecorder)
def test_a_temporary_failure_has_a_button_to_send_the_same_again(
    project: Project, server: SmtpServer
) -> None:
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        client.get("/send?" + urlencode(INVITATION))
        job = client.post("/send", {**INVITATION, "expected": "4"}).headers["Location"]
        desk.pages.jobs.wait()
        result = client.get(job).text
        assert "Ikke leveret denne gang" in text_of(result) and MADS in text_of(result)
        again = re.search(r'id="send-again" href="([^"]+)">Send det samme igen', result)
        assert again is not None, text_of(result)
        summary = client.get(html.unescape(again.group(1)))
        assert "1 besked til 1 medlem" in text_of(summary.text), text_of(summary.text)
        server.recorder.busy = "nobody@example.org"  # type: ignore[attr-defined]  # the mailbox has room now
        client.post("/send", {**INVITATION, "expected": "1"})
        desk.pages.jobs.wait()
    received = sorted(m["To"].addresses[0].addr_spec for m in server.messages)
    assert received == sorted(m[1] for m in project.members)
