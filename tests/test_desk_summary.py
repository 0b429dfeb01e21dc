"""The desk's Send summary says what `mailer send` says before it asks, in the coordinator's
language: what the day's sending limit leaves (and the send keeps to it), and what changed since
the preview (a preview built on the desk's Preview page counts). Against aiosmtpd on loopback."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import FIXED, MEETING_ID, USER, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of

INVITATION = {"template": "invitation", "meeting": MEETING_ID}
SEND = ("send", "invitation", "--meeting", MEETING_ID, "--yes")
WHEN = "onsdag den 25. november 2026 kl. 10.30"  # FIXED, in Copenhagen
WHEN_EN = "Wednesday, 25 November 2026 at 10:30"


def opened(desk: Any) -> DeskClient:
    client = DeskClient(desk.address)
    client.open()
    return client


def send_from_the_desk(project: Project, now: datetime, expected: int) -> tuple[str, str]:
    """The summary's words, then the result page's, of one send from the desk at `now`."""
    with running_desk(project.config, now) as desk:
        client = opened(desk)
        summary = client.get("/send?" + urlencode(INVITATION)).text
        job = client.post("/send", {**INVITATION, "expected": str(expected)}).headers["Location"]
        desk.pages.jobs.wait()
        return summary, text_of(client.get(job).text)


def test_the_days_limit_is_said_and_kept_as_send_keeps_it(project: Project, server: SmtpServer) -> None:
    project.smtp = {**server.smtp_config(), "rate_per_day": 3}
    project.write()

    summary, result = send_from_the_desk(project, FIXED, 4)

    shown = text_of(summary)
    assert (
        "config.toml (rate_per_day) tillader 3 beskeder om dagen fra én postkasse, og 0 beskeder er sendt "
        "det seneste døgn: nu sendes 3 af de 4. Send det samme igen fra torsdag den 26. november 2026 "
        "kl. 10.30 for de sidste 1."
    ) in shown
    assert f"3 beskeder til 3 medlemmer via 127.0.0.1:{server.port} som {USER}" in shown
    assert 'id="confirm-form"' in summary
    assert "sendt: 3, havde den allerede: 0, fejlede: 0" in result
    assert (
        "nu sendes 3 af de 4. Send det samme igen fra torsdag den 26. november 2026 kl. 10.30 for de "
        "sidste 1." in result
    )
    assert len(server.recorder.received) == 3

    # 23 hours later the day's three are used: nothing to confirm, and a send sends nothing,
    # as the terminal's does.
    later = FIXED + timedelta(hours=23)
    summary, result = send_from_the_desk(project, later, 1)
    shown = text_of(summary)
    assert (
        "og 3 beskeder er sendt det seneste døgn: intet sendes nu. Send det samme igen fra torsdag den "
        "26. november 2026 kl. 10.30 for at sende de 1."
    ) in shown
    assert 'id="confirm-form"' not in summary
    assert "Stoppet" in result and "intet sendes nu" in result
    code, out = project.main(*SEND, now=later)
    assert code == 0 and "3 messages went out in the last 24 hours: nothing is sent now" in out
    assert len(server.recorder.received) == 3

    summary, result = send_from_the_desk(project, FIXED + timedelta(days=1, minutes=1), 1)
    assert "config.toml (rate_per_day) tillader 3 beskeder om dagen: 3 tilbage i dag." in text_of(summary)
    assert "sendt: 1, havde den allerede: 3" in result
    assert sorted(server.recipients) == sorted(m[1] for m in project.members)


def test_a_services_own_limit_is_written_as_she_writes_numbers(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.smtp = {"host": "smtp.office365.com", "port": 587, "username": USER}
    project.write()
    with running_desk(project.config, FIXED) as desk:
        danish = text_of(opened(desk).get("/send?" + urlencode(INVITATION)).text)
    monkeypatch.setenv("MAILER_SENDER__LANGUAGE", "en")
    with running_desk(project.config, FIXED) as desk:
        english = text_of(opened(desk).get("/send?" + urlencode(INVITATION)).text)
    assert "Microsoft 365 tillader 10.000 beskeder om dagen: 10.000 tilbage i dag." in danish
    assert "Microsoft 365 allows 10,000 messages a day: 10,000 left today." in english

    # Runs of thousands are counted the same way: 10.000 in Danish, 10,000 in English.
    project.members = [
        (f"Medlem {n}", f"medlem{n}@greve.example", "Greve Bibliotek", "da") for n in range(1200)
    ]
    project.write()
    with running_desk(project.config, FIXED) as desk:
        english = text_of(opened(desk).get("/send?" + urlencode(INVITATION)).text)
    monkeypatch.delenv("MAILER_SENDER__LANGUAGE")
    with running_desk(project.config, FIXED) as desk:
        danish = text_of(opened(desk).get("/send?" + urlencode(INVITATION)).text)
    assert "1,200 messages to 1,200 members" in english and "1,200 new" in english
    assert "1.200 beskeder til 1.200 medlemmer" in danish and "1.200 nye" in danish


def since_preview(page: str) -> list[str]:
    """The summary's lines on the preview, in order."""
    found = re.search(r'<div id="since-preview"[^>]*>(.*?)</div>', page, re.S)
    assert found, page
    return [text_of(line).strip() for line in re.findall(r"<(?:p|li)>(.*?)</(?:p|li)>", found.group(1))]


def test_the_summary_says_whether_it_is_what_the_desks_preview_showed(
    project: Project, server: SmtpServer
) -> None:
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        page = client.get("/send?" + urlencode(INVITATION)).text
        assert since_preview(page) == [
            "Der er ikke lavet gennemsyn af dette: under Gennemsyn ser du hver besked først."
        ]
        assert client.post("/preview", INVITATION).status == 303
        page = client.get("/send?" + urlencode(INVITATION)).text
        assert since_preview(page) == [f"Det samme som i gennemsynet {WHEN}."]

        # The list and the template change after the preview; the summary says so before the button.
        project.members = [m for m in project.members if not m[1].startswith("anne")]
        project.members[1] = ("Maria Lohse-Berg", *project.members[1][1:])
        project.members.append(("Ida Ny", "ida.ny@greve.example", "Greve Bibliotek", "da"))
        project.write()
        body = project.root / "templates" / "invitation" / "da" / "body.txt"
        body.write_text(body.read_text(encoding="utf-8") + "\nHilsen fra en kollega\n", encoding="utf-8")
        page = client.get("/send?" + urlencode(INVITATION)).text
        assert page.index('id="since-preview"') < page.index('id="confirm-form"')
        assert since_preview(page) == [
            f"Ændret siden gennemsynet {WHEN}:",
            "1 medlem tilføjet siden, ikke med i gennemsynet: ida.ny@greve.example",
            "1 medlem fra gennemsynet kommer ikke med nu: anne.mette@roskilde.example",
            "1 medlem ændret (navn, bibliotek, sprog eller en anden kolonne i listen, eller slags besked): "
            "maria.lohse@roskilde.example",
            "skabelonen er ændret (dens tekster eller template.toml)",
        ]
        # A preview of one member is not a preview of everyone.
        assert client.post("/preview", {**INVITATION, "only": "ida.ny@greve.example"}).status == 303
        page = client.get("/send?" + urlencode(INVITATION)).text
        assert since_preview(page)[:2] == [
            f"Ændret siden gennemsynet {WHEN}:",
            "gennemsynet var af kun ida.ny@greve.example; denne udsendelse er til alle",
        ]
        job = client.post("/send", {**INVITATION, "expected": "4"}).headers["Location"]
        desk.pages.jobs.wait()
        assert "sendt: 4" in text_of(client.get(job).text)
    assert "ida.ny@greve.example" in server.recipients


def test_the_summary_on_the_preview_in_english(
    project: Project, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_SENDER__LANGUAGE", "en")
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        page = client.get("/send?" + urlencode(INVITATION)).text
        assert since_preview(page) == ["No preview was made for this: Preview shows each message first."]
        client.post("/preview", INVITATION)
        project.meetings[0]["location"] = "Køge Bibliotek, Kirkestræde 18"
        project.write()
        page = client.get("/send?" + urlencode(INVITATION)).text
    assert since_preview(page) == [
        f"Changed since the preview of {WHEN_EN}:",
        "a meeting changed (config.toml, or a cancellation)",
    ]
