"""Preview and send from the desk, against aiosmtpd on loopback: the same plan, checks, journal,
lock and sign-in as `mailer preview` and `mailer send`, and the members' messages parsed from
what the server received."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
from typing import Any
from urllib.parse import urlencode

import pytest
from aiosmtpd.controller import Controller
from conftest import FIXED, MEETING_ID, USER, Project, SmtpServer, free_port
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of

from mailer.journal import Journal

INVITATION = {"template": "invitation", "meeting": MEETING_ID}


def opened(desk: Any) -> DeskClient:
    client = DeskClient(desk.address)
    client.open()
    return client


def test_preview_is_built_on_demand_and_serves_only_what_it_wrote(project: Project) -> None:
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        form = client.get("/preview")
        assert "invitation" in form.text and MEETING_ID in form.text
        assert not (project.root / "outbox").exists()  # a GET builds nothing
        built = client.post("/preview", INVITATION)
        assert built.status == 303
        where = built.headers["Location"]
        folder = re.match(r"/preview/show/([^?]+)\?", where)
        assert folder, where
        shown = client.get(where)
        assert "4 beskeder" in text_of(shown.text) and "Intet er sendt" in text_of(shown.text)
        index = client.get(f"/preview/files/{folder.group(1)}/index.html")
        listed = re.findall(r'data-address="([^"]+)"', index.text)
        assert sorted(set(listed)) == sorted(m[1] for m in project.members)
        assert "<iframe sandbox" in index.text
        names = re.findall(r'href="(\d{4}-[^"]+\.eml)"', index.text)
        eml = client.get(f"/preview/files/{folder.group(1)}/{names[0]}")
        assert eml.headers["Content-Type"].startswith("message/rfc822")
        assert "attachment" in eml.headers["Content-Disposition"]
        (project.root / "outbox" / folder.group(1) / "notes.txt").write_text("hers", encoding="utf-8")
        for path in (
            f"/preview/files/{folder.group(1)}/notes.txt",
            f"/preview/files/{folder.group(1)}/..%2F..%2Fconfig.toml",
            f"/preview/files/{folder.group(1)}/.written-by-mailer",
        ):
            assert client.get(path).status == 404, path
        assert client.get("/preview/files/..%2F.mailer/state.sqlite").status in (404, 409)
        assert client.get("/preview/files/..%2F..%2F/config.toml").status in (404, 409)
    assert not project.state.exists()  # a preview records nothing


def wait_for(desk: Any) -> None:
    desk.pages.jobs.wait()


def test_send_shows_the_summary_sends_on_one_button_and_names_each_failure(
    project: Project, server: SmtpServer
) -> None:
    server.faults.reject.add("mads.kohler@koege.example")
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        summary = client.get("/send?" + urlencode(INVITATION))
        shown = text_of(summary.text)
        assert "4 nye" in shown
        assert f"4 beskeder til 4 medlemmer via 127.0.0.1:{server.port} som {USER}" in shown
        assert "Ingen grænse for, hvor hurtigt der sendes" in shown
        assert not server.messages  # looking sends nothing
        started = client.post("/send", {**INVITATION, "expected": "4"})
        assert started.status == 303
        job = started.headers["Location"]
        wait_for(desk)
        progress = client.get(job + ".json")
        assert progress.text.replace(" ", "") == '{"state":"done","sent":3,"failed":1,"total":4}'
        result = text_of(client.get(job).text)
    assert "Færdig" in result and "sendt: 3, havde den allerede: 0, fejlede: 1" in result
    assert "mads.kohler@koege.example: 550 No such mailbox here" in result.replace("5.1.1 ", "")
    assert "Journalen, som den var, er kopieret til" in result
    received = {str(m["To"]): m for m in server.messages}
    assert len(received) == 3 and not any("mads" in to for to in received)
    soren = received["Søren Ærø <soren.aero@vordingborg.example>"]
    calendar = next(p for p in soren.walk() if p.get_content_type() == "text/calendar")
    assert "METHOD:REQUEST" in calendar.get_content()
    code, status = project.main("status")
    assert code == 0
    assert "invitation:2027-09-21-hvad-siger-brugerne: 3 sent, 1 failed" in status


def test_a_summary_that_changed_since_she_looked_sends_nothing(project: Project, server: SmtpServer) -> None:
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/send?" + urlencode(INVITATION))
        job = client.post("/send", {**INVITATION, "expected": "3"}).headers["Location"]
        wait_for(desk)
        result = text_of(client.get(job).text)
    assert "Stoppet" in result and "nu 4 beskeder" in result
    assert not server.messages


def test_a_test_message_goes_to_her_only_and_is_not_recorded(project: Project, server: SmtpServer) -> None:
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/send?" + urlencode(INVITATION))
        reply = client.post("/send/test", {**INVITATION, "test_to": "koordinator@roskilde.example"})
    assert reply.status == 200
    assert "er sendt til koordinator@roskilde.example" in text_of(reply.text)
    assert server.recipients == ["koordinator@roskilde.example"]
    assert str(server.messages[0]["Subject"]).startswith("[TEST] ")
    with Journal(project.state, readonly=True) as journal:
        assert journal.campaign_totals() == []


def test_the_password_typed_in_the_page_is_kept_only_when_she_ticks_it(
    project: Project, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import PASSWORD

    monkeypatch.delenv("MAILER_SMTP__PASSWORD")
    project.write()
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        asked = client.get("/send?" + urlencode(INVITATION))
        assert 'type="password"' in asked.text
        test = {**INVITATION, "test_to": "koordinator@roskilde.example", "password": PASSWORD}
        reply = client.post("/send/test", test)
        assert "er sendt til" in text_of(reply.text) and PASSWORD not in reply.text
        assert 'type="password"' in client.get("/send?" + urlencode(INVITATION)).text  # not kept
        reply = client.post("/send/test", {**test, "keep_password": "on"})
        assert PASSWORD not in reply.text
        again = client.get("/send?" + urlencode(INVITATION))
        assert 'type="password"' not in again.text  # kept, in memory
        job = client.post("/send", {**INVITATION, "expected": "4"}).headers["Location"]
        wait_for(desk)
        result = client.get(job).text
    assert "sendt: 4" in text_of(result) and PASSWORD not in result
    assert server.recorder.logins and len(server.messages) == 6


class HeldServer:
    """An aiosmtpd handler that holds every message until the test lets it through."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrived.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        self.received.append(bytes(envelope.content))
        return "250 2.0.0 Message accepted"


def test_a_terminal_send_is_refused_while_the_desk_sends_and_the_other_way_round(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = HeldServer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        project.smtp = {"host": "127.0.0.1", "port": controller.port, "security": "none"}
        project.write()
        with running_desk(project.config, FIXED) as desk:
            client = opened(desk)
            client.get("/send?" + urlencode(INVITATION))
            job = client.post("/send", {**INVITATION, "expected": "4"}).headers["Location"]
            assert handler.arrived.wait(30)  # the desk's send is under way
            code, _ = project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
            assert code == 2
            assert "another mailer run is sending from this journal now" in capsys.readouterr().err
            handler.release.set()
            wait_for(desk)
            assert "sendt: 4" in text_of(client.get(job).text)
            # And a terminal run holding the lock keeps the desk from sending; the desk says so.
            project.members.append(("Ny Bibliotekar", "ny@greve.example", "Greve Bibliotek", "da"))
            project.write()
            with Journal(project.state) as journal, journal.sending():
                job = client.post("/send", {**INVITATION, "expected": "1"}).headers["Location"]
                wait_for(desk)
            result = text_of(client.get(job).text)
    finally:
        controller.stop()
    assert "Stoppet" in result and "En anden udsendelse er i gang" in result
    parsed = [email.message_from_bytes(data, policy=email.policy.default) for data in handler.received]
    assert sorted(str(m["To"]).rsplit("<", 1)[-1].rstrip(">") for m in parsed) == sorted(
        m[1] for m in project.members[:4]
    )
