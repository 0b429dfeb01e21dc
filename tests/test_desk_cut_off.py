"""The desk closed in the middle of a send (the window shut, the computer slept): the progress
page says the connection to mailer is gone and what to do, and once the desk is started again
the Overview says the send reached only some members, with the button to send the rest; the rest
is sent once, nobody twice.

The desk runs as a real process (`python -m mailer desk`) killed while the loopback server holds
a message, so the cut falls at a known point, without sleeps."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from conftest import FIXED, ROOT, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_crash import HoldingRecorder, holding  # noqa: F401  (the fixture)
from test_desk_pages import text_of

NEWSLETTER = {"template": "newsletter", "campaign": "nyhedsbrev-2027-01"}


def desk_process(project: Project) -> tuple[subprocess.Popen[str], str]:
    """`mailer desk --no-browser` as she starts it; the address it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", "--config", str(project.config), "desk", "--no-browser"],
        cwd=project.root,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"(http://\S+)", line)
    assert found, line
    return process, found.group(1)


def test_a_send_cut_off_by_closing_the_desk_is_offered_to_finish(
    project: Project,
    holding: Callable[[bool], SmtpServer],  # noqa: F811  (test_crash's fixture)
) -> None:
    server = holding(False)  # the held message is never taken: the server did not get it
    recorder: HoldingRecorder = server.recorder  # type: ignore[assignment]
    recorder.answered = 2
    project.smtp = {**server.smtp_config(), "concurrency": 1}
    project.members.append(("Kirsten Holm", "kirsten.holm@greve.example", "Greve Bibliotek", "da"))
    project.write()
    process, address = desk_process(project)
    try:
        client = DeskClient(address)
        client.open()
        client.get("/send?" + urlencode(NEWSLETTER))
        started = client.post("/send", {**NEWSLETTER, "expected": "5"})
        assert started.status == 303, started.text
        recorder.wait_until_held(1)  # two sent, the third under way
        process.kill()  # the window closed: no clean stop
    finally:
        process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()
    recorder.answered = None
    recorder.release.set()
    assert len(server.messages) == 2

    with running_desk(project.config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        overview = client.get("/")
        said = "nyhedsbrev-2027-01 er kun sendt til 2 af 5: send resten"
        assert said in text_of(overview.text), text_of(overview.text)
        rest = re.search(r'href="(/send\?[^"]+)">Send resten</a>', overview.text)
        assert rest is not None
        summary = client.get(html.unescape(rest.group(1)))
        assert "3 beskeder til 3 medlemmer" in text_of(summary.text), text_of(summary.text)
        client.post("/send", {**NEWSLETTER, "expected": "3"})
        desk.pages.jobs.wait()
        assert "kun sendt til" not in text_of(client.get("/").text)
    received = Counter(m["To"].addresses[0].addr_spec for m in server.messages)
    assert sorted(received) == sorted(m[1] for m in project.members) and set(received.values()) == {1}


def test_the_progress_page_says_when_the_desk_is_gone(
    project: Project,
    holding: Callable[[bool], SmtpServer],  # noqa: F811  (test_crash's fixture)
    browser: Any,
) -> None:
    server = holding(True)
    recorder: HoldingRecorder = server.recorder  # type: ignore[assignment]
    recorder.answered = 1
    project.smtp = {**server.smtp_config(), "concurrency": 1}
    project.write()
    with running_desk(project.config, FIXED) as desk:
        page = browser.new_page(locale="da-DK")
        try:
            page.goto(desk.address)
            page.goto(page.url.split("?")[0].rstrip("/") + "/send?" + urlencode(NEWSLETTER))
            page.click("#confirm-form button.confirm")
            recorder.wait_until_held(1)
            assert page.locator("#lost").is_hidden()
            page.route("**/send/job/*.json", lambda route: route.abort())  # the desk is gone
            page.wait_for_selector("#lost", state="visible")
            said = page.locator("#lost").inner_text()
            assert "Forbindelsen til mailer er væk" in said and "intet bliver sendt to gange" in said
            page.unroute("**/send/job/*.json")  # back: the page goes on to the end
            recorder.release.set()
            page.wait_for_selector("#result", timeout=60_000)
            assert "Nyhedsbrevet nyhedsbrev-2027-01 er sendt" in page.locator("h1").inner_text()
        finally:
            recorder.release.set()
            page.close()
