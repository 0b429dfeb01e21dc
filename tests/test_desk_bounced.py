"""A member whose address bounced is put back from the desk, as `mailer bounced --clear` does
(the journal copied first): the Members page has the button beside the mark."""

from __future__ import annotations

import re

from conftest import FIXED, MEETING_ID, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of

MADS = "mads.kohler@koege.example"


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
