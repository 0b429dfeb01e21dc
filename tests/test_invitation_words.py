"""What the shipped invitation says (Danish and English, text and HTML), as members receive it
from aiosmtpd, both with the speed paths and without: a meeting with no place yet, no
description or programme, reads cleanly; the answer is asked for with the buttons' own names;
an update names a description and a programme change each once, as what they are."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from conftest import MEETING_ID, Project, SmtpServer

pytestmark = pytest.mark.usefixtures("plain")

SEND = ("send", "invitation", "--meeting", MEETING_ID, "--yes")
EMPTY = re.compile(r"<(p|td)\b[^>]*>\s*</\1>")  # a paragraph or a cell with nothing in it
DESCRIBED = ("Beskrivelsen er opdateret.", "The description has been updated.")
PROGRAMMED = ("Programmet er opdateret.", "The programme has been updated.")
DANISH, ENGLISH = "soren.aero@vordingborg.example", "maria.lohse@roskilde.example"


def sent(project: Project, server: SmtpServer) -> dict[str, tuple[str, str]]:
    """Each member's text and HTML of what one send delivers (the messages since the last)."""
    before = len(server.messages)
    code, out = project.main(*SEND)
    assert code == 0, out
    found = {}
    for msg in server.messages[before:]:
        parts = [msg.get_body((kind,)) for kind in ("plain", "html")]
        assert all(isinstance(part, EmailMessage) for part in parts)
        text, html = (part.get_content().replace("\r\n", "\n") for part in parts if part is not None)
        found[str(msg["To"]).rsplit("<", 1)[-1].rstrip(">")] = (text, html)
    return found


def test_no_place_yet_and_nothing_described_reads_cleanly(project: Project, server: SmtpServer) -> None:
    project.smtp = server.smtp_config()
    project.meetings[0].update(location="", description="", agenda=[], status="tentative")
    got = sent(project, server)

    danish, html = got[DANISH]
    assert "Hvor: følger senere\n" in danish and "Hvor: \n" not in danish
    assert "\n\n\n" not in danish, danish
    assert "Svar med Accepter/Ja eller Afvis/Nej i invitationen" in danish
    assert ">følger senere</td>" in html and not EMPTY.search(html)
    english, html = got[ENGLISH]
    assert "Where: to follow\n" in english and "\n\n\n" not in english, english
    assert "Please answer with Accept/Yes or Decline/No in the invitation" in english
    assert ">to follow</td>" in html and not EMPTY.search(html)


@pytest.mark.parametrize(
    ("change", "danish", "english"),
    [
        ({"description": "Nyt om brugerne."}, [DESCRIBED[0]], [DESCRIBED[1]]),
        ({"agenda": ["Velkomst", "Frokost"]}, [PROGRAMMED[0]], [PROGRAMMED[1]]),
        (
            {"description": "Nyt.", "agenda": ["Velkomst"]},
            [DESCRIBED[0], PROGRAMMED[0]],
            [DESCRIBED[1], PROGRAMMED[1]],
        ),
    ],
)
def test_an_update_says_what_changed_once_each(
    project: Project, server: SmtpServer, change: dict[str, object], danish: list[str], english: list[str]
) -> None:
    project.smtp = server.smtp_config()
    sent(project, server)
    project.meetings[0].update(change)
    got = sent(project, server)
    for address, lines in ((DANISH, danish), (ENGLISH, english)):
        text, html = got[address]
        said = re.findall(r"^(?:Beskrivelsen|Programmet|The description|The programme) .*$", text, re.M)
        assert said == lines, text
        assert [line for line in lines if re.search(f"<li[^>]*>{line}</li>", html)] == lines
