"""A file or a calendar reminder added to a meeting members were already invited to is a change
of the meeting: check says to send the update, and the update goes to everyone invited, with the
file and the reminder, the SEQUENCE raised as for a move. Through the CLI against aiosmtpd."""

from __future__ import annotations

import icalendar
import vobject
from conftest import FIXED, MEETING_ID, Project, SmtpServer
from test_meeting_life import at, events, ok

UID = f"{MEETING_ID}@roskilde.example"
PROGRAMME = "Program – Hvad siger brugerne.pdf"
REMINDED = ("Påmindelsen i kalenderen er ændret.", "The reminder in your calendar has changed.")
SEND = ("send", "invitation", "--meeting", MEETING_ID, "--yes")


def sent_since(server: SmtpServer, before: int) -> dict[str, tuple[list[str], bytes, str]]:
    """Each member's message since the first `before`: its files' names, its invitation and its
    text."""
    found = {}
    for msg in server.messages[before:]:
        names = [p.get_filename() or "" for p in msg.iter_attachments()]
        (calendar,) = (p for p in msg.walk() if p.get_content_type() == "text/calendar")
        text = msg.get_body(("plain",))
        assert text is not None
        to = str(msg["To"]).rsplit("<", 1)[-1].rstrip(">")
        found[to] = (names, calendar.get_payload(decode=True), text.get_content())
    return found


def alarms(data: bytes) -> list[str]:
    """The VALARM triggers as icalendar and vobject read them, which must agree."""
    by_icalendar = [str(a["TRIGGER"].dt) for a in icalendar.Calendar.from_ical(data).walk("VALARM")]
    event = vobject.readOne(data.decode()).vevent
    by_vobject = [str(a.trigger.value) for a in getattr(event, "valarm_list", [])]
    assert by_icalendar == by_vobject
    return by_icalendar


def test_a_file_and_a_reminder_added_later_reach_everyone_invited(
    project: Project, server: SmtpServer
) -> None:
    project.smtp = server.smtp_config()
    members = sorted(m[1] for m in project.members)
    ok(project, FIXED, *SEND)
    assert len(server.messages) == 4
    assert "changed since members were invited" not in ok(project, at(1), "check")

    (project.root / PROGRAMME).write_bytes(b"%PDF-1.4 programmet\n")
    project.meetings[0]["attachments"] = [PROGRAMME]
    checked = ok(project, at(2), "check")
    assert f"meeting {MEETING_ID} changed since members were invited: send the invitation" in checked
    ok(project, at(3), *SEND)
    update = sent_since(server, 4)
    assert sorted(update) == members
    for names, calendar, text in update.values():
        assert PROGRAMME in names
        assert f"Vedhæftet: {PROGRAMME}" in text or f"Attached: {PROGRAMME}" in text
        seen = events(calendar, "REQUEST")[UID]
        assert seen.sequence == 1 and seen.status == "CONFIRMED"
        assert alarms(calendar) == []
    assert "changed since members were invited" not in ok(project, at(4), "check")
    ok(project, at(5), *SEND)
    assert len(server.messages) == 8  # told once: nothing goes twice

    project.meetings[0]["reminder"] = "PT30M"
    assert "changed since members were invited" in ok(project, at(6), "check")
    ok(project, at(7), *SEND)
    update = sent_since(server, 8)
    assert sorted(update) == members
    for names, calendar, text in update.values():
        assert PROGRAMME in names
        assert REMINDED[0] in text or REMINDED[1] in text
        assert "Vedhæftet" not in text and "Attached" not in text
        assert events(calendar, "REQUEST")[UID].sequence == 2
        assert alarms(calendar) == ["-1 day, 23:30:00"]
