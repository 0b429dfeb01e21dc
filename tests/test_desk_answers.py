"""Who is coming, in the desk: a meeting's invited members by their answer with library and
comment (escaped: member data is text), and the same list for Excel as `mailer status ID --csv`
writes it, served only with the desk's key, as a download that is not kept in any cache."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from conftest import FIXED, MEETING_ID, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of

COMMENT = "Vi kommer <b>to</b> fra Roskilde & Co."


def opened(desk: Any) -> DeskClient:
    client = DeskClient(desk.address)
    client.open()
    return client


def section(page: str, state: str) -> list[str]:
    """The rows (as text) of the answers' section for `state`."""
    found = re.search(rf'<section class="answers" data-state="{state}">(.*?)</section>', page, re.S)
    assert found is not None, f"no section {state}"
    return [text_of(row) for row in re.findall(r"<tr><td>.*?</tr>", found.group(1), re.S)]


def test_a_meeting_page_lists_who_is_coming_and_gives_the_list_for_excel(
    project: Project, server: SmtpServer, tmp_path: Any
) -> None:
    server.faults.reject.add("mads.kohler@koege.example")
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 1
    for email, answer, note in (
        ("soren.aero@vordingborg.example", "accepted", COMMENT),
        ("anne.mette@roskilde.example", "declined", "Desværre, vi har åbent hus den dag"),
    ):
        assert project.main("answer", MEETING_ID, email, answer, "--note", note)[0] == 0
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        meetings = client.get("/meetings").text
        assert f'href="/meetings/{MEETING_ID}/answers">Hvem kommer</a>' in meetings
        page = client.get(f"/meetings/{MEETING_ID}/answers")
        assert page.status == 200
        assert (
            "<b>" not in page.text and "Vi kommer &lt;b&gt;to&lt;/b&gt; fra Roskilde &amp; Co." in page.text
        )
        coming = section(page.text, "ACCEPTED")
        assert len(coming) == 1 and "Søren Ærø" in coming[0] and "Vordingborg Bibliotekerne" in coming[0]
        assert COMMENT in coming[0] and "skrevet ind i hånden" in coming[0]
        assert "Desværre, vi har åbent hus den dag" in section(page.text, "DECLINED")[0]
        assert [r.split()[0] for r in section(page.text, "NO ANSWER")] == ["Maria"]
        assert (
            "550" in section(page.text, "NOT DELIVERED")[0]
            and "Mads Køhler" in section(page.text, "NOT DELIVERED")[0]
        )
        shown = text_of(page.text)
        assert "kommer (1)" in shown and "kommer ikke (1)" in shown and "intet svar (1)" in shown
        download = client.get(f"/meetings/{MEETING_ID}/answers.csv")
        assert download.status == 200 and download.headers["Content-Type"].startswith("text/csv")
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert "no-store" in download.headers["Cache-Control"]
        stranger = DeskClient(desk.address)  # no key, no list
        assert stranger.request("GET", f"/meetings/{MEETING_ID}/answers.csv").status == 403
        raw = client.request("GET", f"/meetings/{MEETING_ID}/answers.csv")
        assert client.get("/meetings/nowhere/answers").status == 409
    # the same bytes as mailer status --csv writes
    written = tmp_path / "svar.csv"
    assert project.main("status", MEETING_ID, "--csv", str(written))[0] == 0
    assert raw.text.encode() == written.read_bytes()
    rows = list(csv.reader(io.StringIO(written.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["E-mail", "Navn", "Bibliotek", "Svar"]
    assert ["soren.aero@vordingborg.example", "Søren Ærø", "Vordingborg Bibliotekerne", "kommer"] in [
        r[:4] for r in rows
    ]
