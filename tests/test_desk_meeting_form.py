"""The meeting form edits what config.toml allows for a meeting: all-day meetings (dates only),
the end or a duration, the time zone, the calendar reminder and attachments chosen from the
project folder. It writes with tomlkit (her comments stay), checks the result as `mailer check`
does before anything is replaced, and shows a problem at the field it is about."""

from __future__ import annotations

import email
import email.policy
import io
import re
from email.message import EmailMessage
from pathlib import Path

import icalendar
from conftest import FIXED, Project
from desk_client import running_desk
from test_desk_editing import COMMENT, NEW, check, commented, opened
from test_desk_pages import text_of

from mailer.cli import main
from mailer.config import load_settings

PROGRAM = "Program 16. november.pdf"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_an_all_day_meeting_through_the_form(project: Project) -> None:
    before = commented(project)
    all_day = {**NEW, "id": "2027-10-05-studietur", "title": "Studietur til Aarhus", "all_day": "on"}
    all_day.update(start="2027-10-05", end="2027-10-06", timezone="Europe/Copenhagen")
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/meetings/edit")
        saved = client.post("/meetings/edit", all_day)
        assert "Gemt i config.toml" in text_of(saved.text), text_of(saved.text)
        after = project.config.read_text(encoding="utf-8")
        assert after.startswith(before)  # what she wrote stays as she wrote it
        written = after[len(before) :]
        assert "all_day = true" in written and "start = 2027-10-05\n" in written
        assert "end = 2027-10-06\n" in written and "T" not in written.split("start", 1)[1].split("\n")[0]
        meeting = load_settings(project.config).meeting("2027-10-05-studietur")
        assert meeting.all_day and str(meeting.start) == "2027-10-05" and str(meeting.end) == "2027-10-06"
        assert "tirsdag den 5. oktober til onsdag den 6. oktober 2027" in text_of(
            client.get("/meetings").text
        )

        form = client.get("/meetings/edit?id=2027-10-05-studietur").text
        assert 'name="all_day" checked' in form and 'name="start" value="2027-10-05"' in form
        # a duration belongs to a meeting with times: said at the field, nothing saved
        wrong = client.post("/meetings/edit", {**all_day, "new": "", "end": "", "duration": "3:00"})
        assert "an all-day meeting ends on a day" in problem_at(wrong.text, "duration")
    assert project.config.read_text(encoding="utf-8") == after
    code, out = check(project.config)
    assert code == 0, out


def test_a_meeting_with_a_reminder_and_an_attachment_through_the_form(project: Project) -> None:
    before = commented(project)
    (project.root / PROGRAM).write_bytes(PDF)
    (project.root / "bilag").mkdir()
    (project.root / "bilag" / "Kort over Køge.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    meeting = {**NEW, "reminder": "P1D", "attachments": PROGRAM, "end": "", "duration": "4:30"}
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        form = client.get("/meetings/edit").text
        offered = re.findall(r'name="attachments" value="([^"]+)"', form)
        assert offered == [PROGRAM, "bilag/Kort over Køge.png"]  # not config.toml, the list, templates/
        assert '<option value="P1D">1 dag før</option>' in form
        saved = client.post("/meetings/edit", meeting)
        assert "Gemt i config.toml" in text_of(saved.text), text_of(saved.text)
    after = project.config.read_text(encoding="utf-8")
    assert after.startswith(before) and COMMENT in after
    written = after[len(before) :]
    assert 'reminder = "P1D"' in written and f'attachments = ["{PROGRAM}"]' in written
    assert "end = 2027-11-16T14:30:00" in written  # the duration, written as the end
    settings = load_settings(project.config)
    added = settings.meeting(NEW["id"])
    assert added.reminder is not None and added.reminder.days == 1
    assert added.attachments == (Path(PROGRAM),)
    code, out = check(project.config)
    assert code == 0 and PROGRAM in out, out

    # what members would get: the reminder in the calendar, the file attached
    out = io.StringIO()  # (project.main would write config.toml afresh)
    code = main(["--config", str(project.config), "preview", "invitation", "--meeting", NEW["id"]], out=out)
    assert code == 0, out.getvalue()
    sent = sorted((project.root / "outbox").glob(f"invitation_{NEW['id']}/*.eml"))
    message = email.message_from_bytes(sent[0].read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    files = {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}
    assert files[PROGRAM] == PDF
    calendar = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    alarm = next(iter(icalendar.Calendar.from_ical(calendar.get_payload(decode=True)).walk("VALARM")))
    assert alarm.decoded("TRIGGER").total_seconds() == -86400

    # the form shows the meeting as config.toml has it
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        form = client.get(f"/meetings/edit?id={NEW['id']}").text
    assert '<option value="P1D" selected>' in form
    assert f'name="attachments" value="{PROGRAM}" checked' in form
    assert 'name="end" value="2027-11-16T14:30"' in form


def problem_at(page: str, field: str) -> str:
    found = re.search(rf'id="problem-{field}">([^<]*)<', page)
    assert found is not None, f"no problem shown at {field}: {text_of(page)}"
    return text_of(found.group(1))


def test_a_bad_value_is_shown_at_its_field_and_changes_nothing(project: Project) -> None:
    before = commented(project)
    (project.root / PROGRAM).write_bytes(PDF)
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/meetings/edit")
        for change, field, words in (
            ({"reminder": "om en uge"}, "reminder", "write it as P1D (a day before)"),
            ({"duration": "halvanden time"}, "duration", "write hours:minutes, e.g. 2:30"),
            ({"duration": "2:00"}, "duration", "not the end 14:30: give the end or the duration"),
            ({"end": "2027-11-16T09:00"}, "end", "end must be after start"),
            ({"timezone": "Europe/Køge"}, "timezone", "is not an IANA time zone"),
            ({"start": "2027-03-28T02:30", "end": "2027-03-28T04:00"}, "start", "does not exist"),
            ({"attachments": "gone.pdf"}, "attachments", "'gone.pdf' is not one of the files offered"),
            ({"attachments": "/etc/hostname"}, "attachments", "put the file in the folder"),
            ({"start": "16/11 kl 10"}, "start", "skriv det som 2027-09-21T13:00"),
        ):
            reply = client.post("/meetings/edit", {**NEW, **change})
            assert reply.status == 200
            said = problem_at(reply.text, field)
            assert words in said, (change, said)
            assert "Intet er gemt" in text_of(reply.text) and "Gemt i" not in text_of(reply.text)
            assert project.config.read_text(encoding="utf-8") == before
    assert not list(project.root.glob(".*desk*"))


def test_a_time_written_the_danish_way_is_saved_as_she_wrote_it(project: Project) -> None:
    """14.30 is half past two: never 14:00 and 0.3 seconds. What is not a day and a time to the
    minute is refused at its field, nothing saved."""
    before = commented(project)
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/meetings/edit")
        for change, field in (
            ({"start": "2027-11-16 14.30.5"}, "start"),
            ({"start": "2027-11-16 10:00:15"}, "start"),
            ({"start": "2027-11-16"}, "start"),  # a meeting with times needs its time
            ({"end": "2027-11-16 25.00"}, "end"),
            ({"end": "kl. 16.30"}, "end"),
        ):
            reply = client.post("/meetings/edit", {**NEW, **change})
            said = problem_at(reply.text, field)
            assert "skriv det som 2027-09-21T13:00 (eller 2027-09-21 13.00)" in said, change
            assert project.config.read_text(encoding="utf-8") == before
        danish = {**NEW, "start": "2027-11-16 9.30", "end": "16.11.2027 kl. 14.30"}
        saved = client.post("/meetings/edit", danish)
        assert "Gemt i config.toml" in text_of(saved.text), text_of(saved.text)
        written = project.config.read_text(encoding="utf-8")[len(before) :]
        assert "start = 2027-11-16T09:30:00\n" in written and "end = 2027-11-16T14:30:00\n" in written
        meeting = load_settings(project.config).meeting(NEW["id"])
        assert (meeting.start.hour, meeting.start.minute, meeting.start.second) == (9, 30, 0)
        assert meeting.end is not None and meeting.end.microsecond == 0
        assert "tirsdag den 16. november 2027 kl. 09.30–14.30" in text_of(client.get("/meetings").text)
        again = {**NEW, "new": "", "start": "2027-11-16T10:00", "end": "2027-11-16 14.30"}
        assert "Gemt i config.toml" in text_of(client.post("/meetings/edit", again).text)
    assert load_settings(project.config).meeting(NEW["id"]).start.strftime("%H:%M:%S.%f") == "10:00:00.000000"


def test_an_attachment_gone_from_the_folder_is_named_at_its_field(project: Project) -> None:
    commented(project)
    (project.root / PROGRAM).write_bytes(PDF)
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/meetings/edit")
        assert "Gemt i config.toml" in text_of(
            client.post("/meetings/edit", {**NEW, "attachments": PROGRAM}).text
        )
        saved = project.config.read_text(encoding="utf-8")
        (project.root / PROGRAM).unlink()  # moved away in the file manager
        again = client.post("/meetings/edit", {**NEW, "new": "", "attachments": PROGRAM, "title": "Ny titel"})
        said = problem_at(again.text, "attachments")
        assert PROGRAM in said and "attachment cannot be read" in said, said
        assert project.config.read_text(encoding="utf-8") == saved


def test_a_config_saved_with_a_bom_is_changed_by_the_form(project: Project) -> None:
    """Notepad's "UTF-8 med BOM": the form reads and writes it as the commands read it."""
    project.write()
    project.config.write_bytes(b"\xef\xbb\xbf" + project.config.read_bytes())
    new = {**NEW, "id": "2027-10-05-studietur", "title": "Studietur til Aarhus"}
    with running_desk(project.config, FIXED) as desk:
        client = opened(desk)
        client.get("/meetings/edit")
        saved = client.post("/meetings/edit", new)
        assert "Gemt i config.toml" in text_of(saved.text), text_of(saved.text)
    assert load_settings(project.config).meeting("2027-10-05-studietur").title == "Studietur til Aarhus"
