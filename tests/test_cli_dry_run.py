"""The dry run as a coordinator runs it: `mailer check`, `preview`, `ics` and `feed` on a copy of
the repository's sample, every written message parsed back with the standard library and every
calendar with three independent parsers.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
import vobject
from conftest import MEETING_ID, SAMPLE_NOW, Project
from ical.calendar_stream import IcsCalendarStream

from mailer.cli import main
from mailer.config import load_settings
from mailer.journal import Journal, MeetingState
from mailer.outcomes import DeliveryRecord

# What members receive is the same on the fast path and the plain one (MAILER_PLAIN=1).
pytestmark = pytest.mark.usefixtures("plain")

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data"
NOVEMBER = "2027-11-16-samskabelse"
ACROSS_DST = "2027-10-30-overnatning"
SENDER = "brugernesrum@roskilde.example"


CANCELLED_IN_CONFIG = "2028-02-15-aflyst"


@pytest.fixture
def more_meetings(sample: Path) -> Path:
    """The sample plus a past meeting, one across the DST change and a cancelled one."""
    extra = (DATA / "config" / "extra_meetings.toml").read_text(encoding="utf-8")
    sample.write_text(sample.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    return sample


@dataclass(frozen=True)
class Written:
    """One `mailer preview` run: its folder, what it printed, and every message parsed back."""

    folder: Path
    out: str
    raw: dict[str, bytes]
    messages: dict[str, EmailMessage]


@pytest.fixture(scope="module")
def september(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The sample invitation previewed once for the read-only tests below (the slow part)."""
    root = tmp_path_factory.mktemp("september")
    for name in ("config.toml", "recipients.csv"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "templates", root / "templates")
    printed = io.StringIO()
    code = main(
        ["--config", str(root / "config.toml"), "preview", "invitation", "--meeting", MEETING_ID],
        clock=lambda: SAMPLE_NOW,
        out=printed,
    )
    assert code == 0
    folder = outbox(root / "config.toml", f"invitation:{MEETING_ID}")
    raw = {p.name: p.read_bytes() for p in sorted(folder.glob("*.eml"))}
    return Written(folder, printed.getvalue(), raw, messages(folder))


def run(config: Path, *args: str, now: datetime = SAMPLE_NOW) -> int:
    return main(["--config", str(config), *args], clock=lambda: now)


def use_members(config: Path, csv_name: str) -> None:
    """Replace the sample member list with one of the test exports."""
    shutil.copy(DATA / "csv" / csv_name, config.parent / "recipients.csv")


def outbox(config: Path, campaign: str) -> Path:
    return config.parent / "outbox" / campaign.replace(":", "_")


def messages(folder: Path) -> dict[str, EmailMessage]:
    """Every .eml in the folder, parsed as a client would (policy=default)."""
    found = {}
    for path in sorted(folder.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        found[path.name] = msg
    return found


def distinct_sample_addresses() -> set[str]:
    """The sample's distinct members, worked out here independently of mailer."""
    with (ROOT / "recipients.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    return {ascii_address(row["E-mail"]) for row in rows}


def ascii_address(address: str) -> str:
    local, _, domain = address.strip().partition("@")
    return f"{local.casefold()}@{domain.encode('idna').decode('ascii').casefold()}"


def the_one(msg: EmailMessage, header: str) -> tuple[str, str]:
    (address,) = msg[header].addresses
    return address.display_name, address.addr_spec


def calendars(msg: EmailMessage) -> tuple[bytes, bytes]:
    """The inline text/calendar part and the invite.ics attachment."""
    (inline,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    (attached,) = [p for p in msg.iter_attachments() if p.get_filename() == "invite.ics"]
    return bytes(inline.get_payload(decode=True)), bytes(attached.get_payload(decode=True))  # type: ignore[arg-type]


def event_of(data: bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(data)
    (event,) = cal.walk("VEVENT")
    return cal, event


def utc_instants(data: bytes) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each VEVENT's (start, end) in UTC as icalendar, vobject and ical each read the bytes."""
    text = data.decode("utf-8")
    return {
        "icalendar": [
            (e.decoded("dtstart").astimezone(UTC), e.decoded("dtend").astimezone(UTC))
            for e in icalendar.Calendar.from_ical(data).walk("VEVENT")
        ],
        "vobject": [
            (e.dtstart.value.astimezone(UTC), e.dtend.value.astimezone(UTC))
            for e in vobject.readOne(text).vevent_list
        ],
        "ical": [
            (e.dtstart.astimezone(UTC), e.dtend.astimezone(UTC))  # type: ignore[union-attr]
            for e in IcsCalendarStream.calendar_from_ics(text).events
        ],
    }


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def body_text(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_subtype() == subtype
    return str(part.get_content())


# -- check ---------------------------------------------------------------------------------


def test_check_on_the_sample_passes(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(sample, "check") == 0

    out = capsys.readouterr().out
    assert f"members: {len(distinct_sample_addresses())} distinct" in out
    assert "duplicate: jonas.friis@faxe.example appears on lines 3, 5; merged into one member" in out
    assert "invalid rows: 0" in out
    assert "meetings: 2" in out
    assert "tirsdag den 21. september 2027 kl. 13.00–16.00" in out
    assert "all good: nothing was sent" in out
    assert not (sample.parent / "outbox").exists()


def test_check_counts_one_member_in_the_singular(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    members = sample.parent / "recipients.csv"
    members.write_text(
        "\n".join(members.read_text(encoding="utf-8-sig").splitlines()[:2]) + "\n", encoding="utf-8"
    )

    assert run(sample, "check") == 0

    out = capsys.readouterr().out
    assert "rendered for 1 member × 2 meetings" in out
    assert "1 members" not in out


def test_check_counts_many_members_in_the_plural(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(sample, "check") == 0

    assert f"rendered for {len(distinct_sample_addresses())} members × 2 meetings" in capsys.readouterr().out


# -- preview: the invitation -----------------------------------------------------------------


def test_preview_writes_one_message_per_distinct_member(september: Written) -> None:
    found = september.messages
    expected = distinct_sample_addresses()

    assert len(found) == len(expected) == 25
    assert {the_one(m, "To")[1].casefold() for m in found.values()} == expected
    assert f"campaign invitation:{MEETING_ID}: 25 new" in september.out
    assert f"wrote {len(expected)} messages to {september.folder}" in september.out
    index = (september.folder / "index.html").read_text(encoding="utf-8")
    for name in found:
        assert name in index


@pytest.mark.parametrize(
    ("timezone", "template", "made"),
    [
        ("Asia/Tokyo", "invitation", "onsdag den 25. november 2026 kl. 18.30"),
        ("America/New_York", "invitation", "onsdag den 25. november 2026 kl. 04.30"),
        ("Asia/Tokyo", "newsletter", "onsdag den 25. november 2026 kl. 10.30"),  # no meeting: the network's
    ],
)
def test_the_preview_page_says_when_it_was_made_in_the_meetings_own_zone(
    project: Project, timezone: str, template: str, made: str
) -> None:
    """The page's time is written as `mailer status` writes a meeting's: in its own zone, the
    one its invitation's times are in (the clock is 09:30 UTC)."""
    project.meetings[0]["timezone"] = timezone
    meeting = ["--meeting", MEETING_ID] if template == "invitation" else []
    code, out = project.main("preview", template, *meeting, "--out", str(project.root / "out"))
    assert code == 0, out
    (page,) = (project.root / "out").glob("*/index.html")
    summary = re.search(r'<p id="summary">(.*?)</p>', page.read_text(encoding="utf-8"), re.DOTALL)
    assert summary is not None
    assert f"lavet {made}." in " ".join(summary.group(1).split())


@pytest.mark.parametrize("template", ["invitation", "newsletter"])
def test_the_preview_page_is_the_same_with_each_header_parsed_once(
    sample: Path, monkeypatch: pytest.MonkeyPatch, template: str
) -> None:
    """The page reads the written messages back with headers parsed once (PARSED_ONCE); with
    MAILER_PLAIN=1, with the standard policy: the page must not tell them apart."""
    meeting = ["--meeting", MEETING_ID] if template == "invitation" else []
    pages = {}
    for plain in ("", "1"):
        if plain:
            monkeypatch.setenv("MAILER_PLAIN", plain)
        folder = sample.parent / f"preview-{plain or 'fast'}"
        assert run(sample, "preview", template, *meeting, "--out", str(folder)) == 0
        (page,) = folder.glob("*/index.html")
        pages[plain] = page.read_text(encoding="utf-8")
    assert pages[""] == pages["1"]
    assert "Content-Type: multipart/mixed" in pages[""]


def test_each_message_is_an_imip_invitation_to_that_member_alone(september: Written) -> None:
    everyone = distinct_sample_addresses()

    for name, msg in september.messages.items():
        raw = september.raw[name]
        assert not msg.defects and all(not part.defects for part in msg.walk()), name
        # multipart/mixed > multipart/alternative (text, html, calendar) + invite.ics
        assert msg.get_content_type() == "multipart/mixed"
        body, *attachments = msg.iter_parts()
        assert body.get_content_type() == "multipart/alternative"
        parts = list(body.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html", "text/calendar"]
        assert parts[2].get_param("method") == "REQUEST"
        assert str(parts[2].get_param("charset")).upper() == "UTF-8"
        assert [a.get_filename() for a in attachments] == ["invite.ics"]
        assert attachments[0].get_content_disposition() == "attachment"
        # Headers: only this member in To, nobody in Cc/Bcc, no other member's address anywhere.
        to_name, to_address = the_one(msg, "To")
        assert "Cc" not in msg and "Bcc" not in msg
        for other in everyone - {to_address.casefold()}:
            assert other.encode() not in raw.lower(), (name, other)
        assert the_one(msg, "From") == ("Brugernes Rum", SENDER)
        assert msg["Reply-To"] == "koordinator@roskilde.example"
        assert msg["Date"].datetime == SAMPLE_NOW
        assert msg["Message-ID"].endswith("@roskilde.example>")
        # The calendar: the same inline and attached, addressed to this member.
        inline, attached = calendars(msg)
        assert inline == attached
        cal, event = event_of(inline)
        assert str(cal["method"]) == "REQUEST"
        assert str(event["uid"]) == f"{MEETING_ID}@roskilde.example"
        assert event["sequence"] == 0
        assert event.decoded("dtstamp") == SAMPLE_NOW
        assert str(event["organizer"]) == f"mailto:{SENDER}"
        attendee = event["attendee"]
        assert not isinstance(attendee, list)
        assert str(attendee) == f"mailto:{to_address}"
        assert attendee.params["CN"] == to_name
        assert (attendee.params["RSVP"], attendee.params["PARTSTAT"]) == ("TRUE", "NEEDS-ACTION")
        assert inline.count(b"ATTENDEE") == 1


def test_invitation_vtimezone_and_instants_in_three_parsers(september: Written) -> None:
    for name, msg in september.messages.items():
        inline, _ = calendars(msg)
        cal = icalendar.Calendar.from_ical(inline)
        (zone,) = cal.walk("VTIMEZONE")
        assert str(zone["tzid"]) == "Europe/Copenhagen"
        for kind in ("DAYLIGHT", "STANDARD"):
            (rule,) = zone.walk(kind)
            assert rule["rrule"]["BYDAY"] == ["-1SU"], (name, kind)
        for parser, events in utc_instants(inline).items():
            assert events == [(utc(2027, 9, 21, 11), utc(2027, 9, 21, 14))], (name, parser)


def test_winter_meeting_is_one_hour_from_utc(sample: Path) -> None:
    assert run(sample, "preview", "invitation", "--meeting", NOVEMBER) == 0
    found = messages(outbox(sample, f"invitation:{NOVEMBER}"))

    assert found
    for msg in found.values():
        inline, _ = calendars(msg)
        assert str(event_of(inline)[1]["status"]) == "TENTATIVE"
        for parser, events in utc_instants(inline).items():
            assert events == [(utc(2027, 11, 16, 9), utc(2027, 11, 16, 13, 30))], parser


def test_meeting_across_the_dst_change(more_meetings: Path) -> None:
    only = "soren.aero@vordingborg.example"
    assert run(more_meetings, "preview", "invitation", "--meeting", ACROSS_DST, "--only", only) == 0
    (msg,) = messages(outbox(more_meetings, f"invitation:{ACROSS_DST}")).values()

    inline, _ = calendars(msg)
    # 18:00 summer time on Saturday, 10:00 winter time on Sunday (clocks go back at 03:00).
    assert b"DTSTART;TZID=Europe/Copenhagen:20271030T180000" in inline
    assert b"DTEND;TZID=Europe/Copenhagen:20271031T100000" in inline
    for parser, events in utc_instants(inline).items():
        assert events == [(utc(2027, 10, 30, 16), utc(2027, 10, 31, 9))], parser


def test_preview_is_deterministic(sample: Path, tmp_path: Path, september: Written) -> None:
    """The same input previewed again (here into --out) gives the same ids and the same bytes."""
    again = tmp_path / "kig"

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID, "--out", str(again)) == 0

    written = {p.name: p.read_bytes() for p in (again / f"invitation_{MEETING_ID}").glob("*.eml")}
    assert not (sample.parent / "outbox").exists()  # --out was honoured
    ids = [msg["Message-ID"] for msg in september.messages.values()]
    assert len(set(ids)) == len(ids)  # one id per member
    assert written == september.raw


def test_danish_characters_end_to_end(september: Written) -> None:
    (name,) = [n for n in september.raw if n.endswith("-soren.aero@vordingborg.example.eml")]
    raw, msg = september.raw[name], september.messages[name]

    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head  # RFC 2047 on the wire
    assert msg["Subject"] == "Netværksmøde: Hvad siger brugerne? – tirsdag den 21. september 2027"
    assert the_one(msg, "To") == ("Søren Ærø", "soren.aero@vordingborg.example")
    assert "Kære Søren Ærø" in body_text(msg, "plain")
    assert "Hvornår: tirsdag den 21. september 2027 kl. 13.00–16.00" in body_text(msg, "plain")
    assert "Kære Søren Ærø" in body_text(msg, "html")
    inline, _ = calendars(msg)
    _, event = event_of(inline)
    assert event["attendee"].params["CN"] == "Søren Ærø"
    assert str(event["summary"]) == "Netværksmøde: Hvad siger brugerne?"
    assert 'CN="Søren Ærø"'.encode() in inline
    assert "SUMMARY:Netværksmøde: Hvad siger brugerne?".encode() in inline
    (by_ical,) = IcsCalendarStream.calendar_from_ics(inline.decode()).events
    assert by_ical.summary == "Netværksmøde: Hvad siger brugerne?"
    assert by_ical.attendees[0].common_name == "Søren Ærø"


def test_internationalised_domain_is_sent_in_ascii_form(sample: Path) -> None:
    assert (
        run(sample, "preview", "invitation", "--meeting", MEETING_ID, "--only", "MADS.kohler@køge.example")
        == 0
    )
    (msg,) = messages(outbox(sample, f"invitation:{MEETING_ID}")).values()

    assert the_one(msg, "To") == ("Mads Køhler", "mads.kohler@xn--kge-0na.example")
    assert str(event_of(calendars(msg)[0])[1]["attendee"]) == "mailto:mads.kohler@xn--kge-0na.example"


def test_english_member_gets_the_english_text(sample: Path) -> None:
    assert (
        run(
            sample, "preview", "invitation", "--meeting", MEETING_ID, "--only", "lars.brondum@horsens.example"
        )
        == 0
    )
    (msg,) = messages(outbox(sample, f"invitation:{MEETING_ID}")).values()

    assert msg["Subject"] == "Netværksmøde: Hvad siger brugerne? – Tuesday, 21 September 2027"
    assert "Dear Lars Brøndum" in body_text(msg, "plain")


# -- selecting members ---------------------------------------------------------------------


def test_group_selects_members_with_the_tag_after_merging(sample: Path) -> None:
    with (ROOT / "recipients.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    steering = {ascii_address(r["E-mail"]) for r in rows if "styregruppe" in r["Grupper"].split(";")}

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID, "--group", "styregruppe") == 0

    found = messages(outbox(sample, f"invitation:{MEETING_ID}"))
    assert {the_one(m, "To")[1].casefold() for m in found.values()} == steering
    # Jonas is tagged only on his duplicate row (line 5): merging kept the tag.
    assert "jonas.friis@faxe.example" in steering


@pytest.mark.parametrize("command", [("preview", "newsletter"), ("send", "newsletter", "--dry-run")])
def test_a_group_nobody_is_in_is_refused_naming_the_lists_groups(
    sample: Path, command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(sample, *command, "--group", "styregrupe") == 2
    err = capsys.readouterr().err
    assert "no member is in the group 'styregrupe'; the groups on the list are: styregruppe, " in err
    assert not (sample.parent / "outbox").exists()


def test_only_selects_one_member_in_any_case(sample: Path) -> None:
    assert (
        run(
            sample,
            "preview",
            "invitation",
            "--meeting",
            MEETING_ID,
            "--only",
            "Soren.Aero@Vordingborg.example",
        )
        == 0
    )

    (msg,) = messages(outbox(sample, f"invitation:{MEETING_ID}")).values()
    assert the_one(msg, "To")[1] == "soren.aero@vordingborg.example"


def test_only_an_unknown_address_is_an_error(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(sample, "preview", "invitation", "--meeting", MEETING_ID, "--only", "nobody@skive.example") == 2
    )
    assert "nobody@skive.example" in capsys.readouterr().err


def test_invitation_without_a_meeting_is_an_error(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(sample, "preview", "invitation") == 2
    assert "--meeting" in capsys.readouterr().err


def test_unknown_meeting_is_an_error(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(sample, "preview", "invitation", "--meeting", "2027-09-20") == 2
    assert MEETING_ID in capsys.readouterr().err  # the known ids are listed


# -- member lists from real exports ----------------------------------------------------------


@pytest.mark.parametrize(
    ("export", "to"),
    [
        ("danish_excel_utf8_bom.csv", ("Søren Ærø", "soren.aero@vordingborg.example")),
        ("danish_excel_cp1252.csv", ("Søren Ærø", "soren.aero@vordingborg.example")),
        ("unicode_text_utf16.txt", ("Søren Ærø", "soren.aero@vordingborg.example")),
        ("comma_utf8_e-mail.csv", ("Maria Do Carmo Lohse", "maria.lohse@roskilde.example")),
        ("email_header.csv", ("Ida Strand", "ida.strand@xn--kge-0na.example")),
    ],
)
def test_preview_from_each_real_export(sample: Path, export: str, to: tuple[str, str]) -> None:
    use_members(sample, export)

    assert run(sample, "check") == 0
    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 0

    found = list(messages(outbox(sample, f"invitation:{MEETING_ID}")).values())
    assert the_one(found[0], "To") == to
    names = {the_one(m, "To")[0] for m in found}
    assert all("\ufffd" not in n and "Ã" not in n for n in names)  # no mojibake


def use_sender(config: Path, address: str, reply_to: str) -> None:
    text = config.read_text(encoding="utf-8").replace(SENDER, address, 1)
    config.write_text(text.replace("koordinator@roskilde.example", reply_to, 1), encoding="utf-8")


def test_a_sender_at_an_internationalised_domain_sends_its_ascii_form(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_sender(sample, "rum@køge.example", "svar@køge.example")

    assert run(sample, "check") == 0
    assert "all good: nothing was sent" in capsys.readouterr().out
    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 0

    folder = outbox(sample, f"invitation:{MEETING_ID}")
    assert all(p.read_bytes().partition(b"\r\n\r\n")[0].isascii() for p in folder.glob("*.eml"))
    found = messages(folder)
    assert len(found) == 25
    for msg in found.values():
        assert the_one(msg, "From") == ("Brugernes Rum", "rum@xn--kge-0na.example")
        assert the_one(msg, "Reply-To")[1] == "svar@xn--kge-0na.example"
        assert msg["Message-ID"].endswith("@xn--kge-0na.example>")
        for data in calendars(msg):
            _, event = event_of(data)
            assert str(event["ORGANIZER"]) == "mailto:rum@xn--kge-0na.example"
            assert str(event["UID"]).endswith("@xn--kge-0na.example")


def test_a_sender_address_with_no_ascii_form_is_refused_naming_the_key(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_sender(sample, "rüm@køge.example", "koordinator@roskilde.example")

    assert run(sample, "check") == 2

    err = capsys.readouterr().err
    assert "config.toml:7: sender.email: 'rüm@køge.example' cannot be sent from" in err
    assert "plain letters a-z" in err
    assert "Traceback" not in err


def test_duplicates_are_reported_by_check_and_sent_once(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_members(sample, "duplicates.csv")

    assert run(sample, "check") == 0
    out = capsys.readouterr().out
    assert "members: 2 distinct" in out
    assert "duplicate: tina.hove@roskilde.example appears on lines 2, 4, 5; merged into one member" in out
    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 0
    assert len(messages(outbox(sample, f"invitation:{MEETING_ID}"))) == 2


def test_invalid_rows_stop_check_with_every_line_named(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_members(sample, "invalid_rows.csv")

    assert run(sample, "check") == 2

    out = capsys.readouterr().out
    assert "invalid rows: 4" in out
    assert "recipients.csv:2: email: 'anna@' is not an address" in out
    assert "recipients.csv:3: email: missing address" in out
    assert "recipients.csv:4: language: 'sv'" in out
    assert "recipients.csv:5: name: line breaks are not allowed" in out


def test_control_characters_stop_check_naming_row_and_column(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_members(sample, "control_characters.csv")

    assert run(sample, "check") == 2

    out = capsys.readouterr().out
    assert "invalid rows: 3" in out
    assert "recipients.csv:3: name: an invisible control character (U+000B)" in out
    assert "recipients.csv:4: organization: an invisible control character (U+001C)" in out
    assert "recipients.csv:5: telefon: an invisible control character (U+001D)" in out
    assert "retype the cell in the spreadsheet" in out
    # A tab is text, not a control character to refuse.
    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID, "--skip-invalid") == 0
    sent = messages(outbox(sample, f"invitation:{MEETING_ID}")).values()
    assert {msg["To"].addresses[0].addr_spec for msg in sent} == {
        "soren.aero@vordingborg.example",
        "tina.hove@roskilde.example",
    }


@pytest.mark.parametrize(
    "export", ["nul_and_form_feed.csv", "nul_and_form_feed_cp1252.csv"], ids=["utf-8", "cp1252"]
)
def test_a_nul_or_form_feed_in_a_cell_is_refused_by_row_and_column(
    sample: Path, capsys: pytest.CaptureFixture[str], export: str
) -> None:
    use_members(sample, export)

    assert run(sample, "check") == 2

    out = capsys.readouterr().out
    assert "invalid rows: 2" in out
    assert "recipients.csv:3: name: an invisible control character (U+0000)" in out
    assert "recipients.csv:4: organization: an invisible control character (U+000C)" in out
    # A file that is no text at all is still told as such, not read as a list.
    (sample.parent / "recipients.csv").write_bytes(bytes(range(256)) * 4)
    assert run(sample, "check") == 2
    assert "recipients.csv: this is not a text file" in capsys.readouterr().err


def test_invalid_rows_stop_preview(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use_members(sample, "invalid_rows.csv")

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 2

    assert "recipients.csv:2: email: 'anna@'" in capsys.readouterr().err
    assert not (sample.parent / "outbox").exists()


def test_check_with_invalid_rows_ends_saying_it_is_not_ready_and_what_to_do(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_members(sample, "invalid_rows.csv")

    assert run(sample, "check") == 2

    out = capsys.readouterr().out
    assert "all good" not in out
    assert out.splitlines()[-1] == (
        "not ready to send: 4 invalid rows in recipients.csv: fix them there (each line above says what "
        "is wrong), or add --skip-invalid to preview and send to leave them out"
    )


def test_skip_invalid_leaves_the_rows_out_and_says_so(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_members(sample, "invalid_rows.csv")

    assert run(sample, "check", "--skip-invalid") == 0
    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID, "--skip-invalid") == 0

    out = capsys.readouterr().out
    for line in (2, 3, 4, 5):
        assert f"skipped invalid row: recipients.csv:{line}: " in out
    found = messages(outbox(sample, f"invitation:{MEETING_ID}"))
    assert sorted(the_one(m, "To")[1] for m in found.values()) == [
        "camilla.lund@guldborgsund.example",
        "ida.strand@koege.example",
    ]


def test_check_skip_invalid_still_lists_the_rows(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use_members(sample, "invalid_rows.csv")

    assert run(sample, "check", "--skip-invalid") == 0

    assert "recipients.csv:2: email: 'anna@'" in capsys.readouterr().out


def test_missing_email_column_stops_check_and_preview(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_members(sample, "no_email_column.csv")

    assert run(sample, "check") == 2
    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID, "--skip-invalid") == 2

    err = capsys.readouterr().err
    assert (
        err.count("error: recipients.csv:1: email: no e-mail column (columns are: Navn, Bibliotek, Telefon)")
        == 2
    )


def test_header_injection_from_the_member_list(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use_members(sample, "header_injection.csv")

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 2
    assert "recipients.csv:2: name: line breaks are not allowed" in capsys.readouterr().err

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID, "--skip-invalid") == 0
    folder = outbox(sample, f"invitation:{MEETING_ID}")
    found = messages(folder)
    assert len(found) == 2
    for name, msg in found.items():
        assert "Bcc" not in msg
        assert b"angriber" not in (folder / name).read_bytes()


def test_markup_in_a_name_is_escaped_in_html_and_kept_in_text(sample: Path) -> None:
    use_members(sample, "markup_in_name.csv")

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 0

    (msg,) = messages(outbox(sample, f"invitation:{MEETING_ID}")).values()
    html = body_text(msg, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'Kære <script>alert("Øv")</script>' in body_text(msg, "plain")
    assert the_one(msg, "To") == ('<script>alert("Øv")</script>', "hacker@skive.example")


# -- cancellation ------------------------------------------------------------------------------


def cancel_in_config(config: Path, meeting_id: str) -> None:
    """Set the meeting's status to "cancelled", as the coordinator would in config.toml."""
    text = config.read_text(encoding="utf-8")
    start = text.index(f'id = "{meeting_id}"')
    at = text.index('status = "', start)
    end = text.index("\n", at)
    config.write_text(text[:at] + 'status = "cancelled"' + text[end:], encoding="utf-8")


def record_invited(config: Path, meeting_id: str, people: list[tuple[str, str, str]]) -> None:
    """The journal as a real `send` of the invitation leaves it: sequence 0, one REQUEST each."""
    settings = load_settings(config)
    meeting = settings.meeting(meeting_id)
    uid = meeting.uid(settings.sender.domain)
    with Journal(settings.resolve(settings.files.state)) as journal:
        journal.record_meeting(MeetingState(meeting_id, uid, 0, meeting.fingerprint(), meeting.snapshot()))
        for address, name, language in people:
            journal.outcomes.append(
                DeliveryRecord(
                    campaign=f"invitation:{meeting_id}",
                    recipient=address.casefold(),
                    email=address,
                    name=name,
                    language=language,
                    version=f"0:{meeting.fingerprint()}",
                    message_id=f"<{address}@roskilde.example>",
                    meeting_id=meeting_id,
                    method="REQUEST",
                    sequence=0,
                    fingerprint=meeting.fingerprint(),
                    status="sent",
                    code=250,
                    reply="2.0.0 OK",
                    attempts=1,
                    at="2027-08-01T10:00:00+00:00",
                )
            )


def test_cancelled_meeting_with_nobody_invited_sends_nothing(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cancel_in_config(sample, MEETING_ID)

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 0

    out = capsys.readouterr().out
    assert f"campaign cancellation:{MEETING_ID}: nothing to send" in out
    assert "wrote 0 messages" in out
    assert messages(outbox(sample, f"cancellation:{MEETING_ID}")) == {}


def test_cancelled_meeting_cancels_for_everyone_invited(sample: Path) -> None:
    invited = [
        ("soren.aero@vordingborg.example", "Søren Ærø", "da"),
        ("lars.brondum@horsens.example", "Lars Brøndum", "en"),
        ("tidligere.medlem@sorø.example", "Tidligere Medlem", "da"),  # since taken off the list
    ]
    record_invited(sample, MEETING_ID, invited)
    cancel_in_config(sample, MEETING_ID)

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 0

    found = messages(outbox(sample, f"cancellation:{MEETING_ID}"))
    by_address = {the_one(m, "To")[1]: m for m in found.values()}
    assert set(by_address) == {
        "soren.aero@vordingborg.example",
        "lars.brondum@horsens.example",
        ascii_address("tidligere.medlem@sorø.example"),
    }
    soren = by_address["soren.aero@vordingborg.example"]
    assert soren["Subject"] == "Aflyst: Netværksmøde: Hvad siger brugerne? – tirsdag den 21. september 2027"
    assert "aflyst" in body_text(soren, "plain")
    assert by_address["lars.brondum@horsens.example"]["Subject"].startswith("Cancelled: ")
    for address, msg in by_address.items():
        (inline_part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
        assert inline_part.get_param("method") == "CANCEL"
        inline, attached = calendars(msg)
        assert inline == attached
        cal, event = event_of(inline)
        assert str(cal["method"]) == "CANCEL"
        assert str(event["status"]) == "CANCELLED"
        assert str(event["uid"]) == f"{MEETING_ID}@roskilde.example"  # the same event, removed
        assert event["sequence"] == 1  # higher than the invitation's 0
        assert str(event["organizer"]) == f"mailto:{SENDER}"
        assert str(event["attendee"]) == f"mailto:{address}"
        for parser, events in utc_instants(inline).items():
            assert events == [(utc(2027, 9, 21, 11), utc(2027, 9, 21, 14))], parser


def test_cancelled_meeting_with_group_cancels_only_for_those_invited_in_it(sample: Path) -> None:
    record_invited(
        sample,
        MEETING_ID,
        [
            ("tina.hove@roskilde.example", "Tina Marie Hove", "da"),  # styregruppe
            ("soren.aero@vordingborg.example", "Søren Ærø", "da"),
        ],
    )
    cancel_in_config(sample, MEETING_ID)

    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID, "--group", "styregruppe") == 0

    found = messages(outbox(sample, f"cancellation:{MEETING_ID}"))
    assert [the_one(m, "To")[1] for m in found.values()] == ["tina.hove@roskilde.example"]


# -- ics and feed -------------------------------------------------------------------------------


def test_ics_publishes_one_meeting(sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "møde.ics"

    assert run(sample, "ics", MEETING_ID, "-o", str(target)) == 0

    assert f"wrote {target}" in capsys.readouterr().out
    data = target.read_bytes()
    cal, event = event_of(data)
    assert str(cal["method"]) == "PUBLISH"
    assert b"ATTENDEE" not in data
    assert str(event["uid"]) == f"{MEETING_ID}@roskilde.example"
    assert str(event["summary"]) == "Netværksmøde: Hvad siger brugerne?"
    assert event.decoded("dtstamp") == SAMPLE_NOW
    assert len(cal.walk("VTIMEZONE")) == 1
    for parser, events in utc_instants(data).items():
        assert events == [(utc(2027, 9, 21, 11), utc(2027, 9, 21, 14))], parser


def test_ics_for_an_unknown_meeting(sample: Path, tmp_path: Path) -> None:
    assert run(sample, "ics", "2027-13-01", "-o", str(tmp_path / "x.ics")) == 2
    assert not (tmp_path / "x.ics").exists()


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Before everything: all, soonest first (the cancelled one as cancelled).
        (
            datetime(2027, 6, 1, tzinfo=UTC),
            ["2027-06-08-sommermoede", MEETING_ID, ACROSS_DST, NOVEMBER, CANCELLED_IN_CONFIG],
        ),
        # Between meetings: June and September are over.
        (datetime(2027, 10, 1, tzinfo=UTC), [ACROSS_DST, NOVEMBER, CANCELLED_IN_CONFIG]),
    ],
    ids=["june", "october"],
)
def test_feed_has_the_meetings_not_yet_over_and_the_cancelled_ones_as_cancelled(
    more_meetings: Path, tmp_path: Path, now: datetime, expected: list[str]
) -> None:
    target = tmp_path / "moeder.ics"

    assert run(more_meetings, "feed", "-o", str(target), now=now) == 0

    data = target.read_bytes()
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["method"]) == "PUBLISH"
    assert b"ATTENDEE" not in data
    assert [str(e["uid"]) for e in cal.walk("VEVENT")] == [f"{m}@roskilde.example" for m in expected]
    # a calendar that took the cancelled one from an earlier feed drops it
    statuses = [str(e["status"]) for e in cal.walk("VEVENT")]
    assert statuses[-1] == "CANCELLED" and "CANCELLED" not in statuses[:-1]
    settings = load_settings(more_meetings)
    instants = [
        (settings.meeting(m).start.astimezone(UTC), settings.meeting(m).end.astimezone(UTC)) for m in expected
    ]
    for parser, events in utc_instants(data).items():
        assert events == instants, parser
    if ACROSS_DST in expected:
        assert instants[expected.index(ACROSS_DST)] == (utc(2027, 10, 30, 16), utc(2027, 10, 31, 9))


# -- files saved by Windows editors ------------------------------------------------------------


def test_a_config_saved_with_a_bom_is_read(sample: Path) -> None:
    sample.write_bytes(b"\xef\xbb\xbf" + sample.read_bytes())
    assert run(sample, "check") == 0


def test_a_config_saved_as_ansi_says_so_naming_the_line_and_how_to_save_it(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = sample.read_text(encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if not row.isascii())
    sample.write_bytes(text.encode("cp1252"))
    assert run(sample, "check") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: config.toml:{line}: is not saved as UTF-8 (the 'æ' in this line"), err
    assert "choose File, Save as, set Encoding to UTF-8" in err and "codec" not in err


def test_templates_saved_with_a_bom_do_not_carry_it_into_the_message(sample: Path) -> None:
    folder = sample.parent / "templates" / "invitation"
    for path in (folder / "template.toml", *(folder / "da").iterdir()):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert run(sample, "preview", "invitation", "--meeting", MEETING_ID) == 0
    found = messages(outbox(sample, f"invitation:{MEETING_ID}"))
    assert any(body_text(m, "plain").startswith("Kære ") for m in found.values())
    for msg in found.values():
        assert "\ufeff" not in msg["Subject"] + body_text(msg, "plain") + body_text(msg, "html")
