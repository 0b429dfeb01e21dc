"""A member list with invalid rows kept (Members: "Replace the list anyway"): the desk's Preview
and Send leave those rows out by themselves and say so before anything goes out, as
`--skip-invalid` does in the terminal; the terminal still refuses without it. Against aiosmtpd."""

from __future__ import annotations

import io
import re
from urllib.parse import urlencode

from conftest import FIXED, MEETING_ID, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of

from mailer.cli import main

INVITATION = {"template": "invitation", "meeting": MEETING_ID}
INVALID = "recipients.csv:6: email: 'mette(at)soroe.example' is not an address"


def with_an_invalid_row(project: Project, server: SmtpServer) -> None:
    project.smtp = server.smtp_config()
    project.write()
    with (project.root / "recipients.csv").open("a", encoding="utf-8") as rows:
        rows.write('"Mette Sørensen","mette(at)soroe.example","Sorø Bibliotek","da"\n')


def test_the_desk_leaves_kept_invalid_rows_out_and_says_so(project: Project, server: SmtpServer) -> None:
    with_an_invalid_row(project, server)
    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        client.get("/preview")
        built = client.post("/preview", INVITATION)
        assert built.status == 303, text_of(built.text)
        folder = re.match(r"/preview/show/([^?]+)\?", built.headers["Location"])
        assert folder is not None
        index = client.get(f"/preview/files/{folder.group(1)}/index.html").text
        listed = sorted(set(re.findall(r'data-address="([^"]+)"', index)))
        assert listed == sorted(m[1] for m in project.members)

        summary = client.get("/send?" + urlencode(INVITATION))
        shown = text_of(summary.text)
        assert "4 nye" in shown and 'id="confirm-form"' in summary.text, shown
        assert f"ugyldig række sprunget over: {INVALID}" in shown
        job = client.post("/send", {**INVITATION, "expected": "4"}).headers["Location"]
        desk.pages.jobs.wait()
        assert "sendt: 4, havde den allerede: 0, fejlede: 0" in text_of(client.get(job).text)
    assert sorted(server.recipients) == sorted(m[1] for m in project.members)

    out = io.StringIO()
    args = ["--config", str(project.config), "send", "invitation", "--meeting", MEETING_ID, "--yes"]
    assert main(args, clock=lambda: FIXED, out=out) == 2  # the terminal still asks for --skip-invalid
