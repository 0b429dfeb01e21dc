"""Members' answers: REPLY messages as Outlook, Gmail, Apple Calendar and Thunderbird write them,
read from .eml files, an mbox and a Maildir, tallied in the journal and shown by `mailer status`.
"""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
from conftest import MEETING_ID, ROOT, Project, SmtpServer
from test_status_page import excel_rows

from mailer.errors import ReplyError
from mailer.journal import Journal
from mailer.rsvp import calendar_address, replies_in

REPLIES = ROOT / "tests" / "data" / "replies"
FILES = sorted(REPLIES.glob("*.eml"))
BENTE = ("Bente Kjær", "bente.kjaer@greve.example", "Greve Bibliotek", "da")  # delegates to Ole Ørsted
LISE = ("Lise Grøn", "lise.gron@greve.example", "Greve Bibliotek", "da")  # never answers

EXPECTED = {
    "soren.aero@vordingborg.example": "ACCEPTED",  # Outlook, MAILTO:, CN unquoted, COMMENT
    "anne.mette@roskilde.example": "DECLINED",  # Gmail, inline and invite.ics
    "maria.lohse@roskilde.example": "ACCEPTED",  # Apple, CN quoted, address in mixed case
    "mads.kohler@koege.example": "TENTATIVE",  # Thunderbird, inline
    "bente.kjaer@greve.example": "ACCEPTED",  # her delegate Ole answered (DELEGATED-FROM)
}


@pytest.fixture
def invited(project: Project, smtp_server_factory) -> Project:  # type: ignore[no-untyped-def]
    """The sample meeting's invitation sent to six members over loopback SMTP."""
    server: SmtpServer = smtp_server_factory("starttls")
    project.smtp = server.smtp_config()
    project.members += [BENTE, LISE]
    code, out = project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    assert len(server.messages) == 6
    project.server = server  # type: ignore[attr-defined]
    return project


def answers(project: Project) -> dict[str, str]:
    with Journal(project.state, readonly=True) as journal:
        return {key: a.partstat for key, a in journal.answers(MEETING_ID).items()}


def as_mbox(folder: Path, files: list[Path]) -> Path:
    path = folder / "svar.mbox"
    box = mailbox.mbox(path)
    for file in files:
        box.add(file.read_bytes())
    box.flush()
    box.close()
    return path


def as_maildir(folder: Path, files: list[Path]) -> Path:
    path = folder / "Maildir"
    box = mailbox.Maildir(path, create=True)
    for file in files:
        box.add(file.read_bytes())
    return path


@pytest.mark.parametrize("form", ["eml", "mbox", "maildir"])
def test_each_clients_reply_is_tallied_and_the_rest_reported(
    invited: Project, tmp_path: Path, form: str
) -> None:
    paths = {
        "eml": lambda: [str(f) for f in FILES],
        "mbox": lambda: [str(as_mbox(tmp_path, FILES))],
        "maildir": lambda: [str(as_maildir(tmp_path, FILES))],
    }[form]()
    code, out = invited.main("rsvp", *paths)
    assert code == 0, out
    assert answers(invited) == EXPECTED
    assert f"read {len(FILES)} messages" in out
    assert "recorded 5 answers" in out
    assert "skipped 3" in out
    assert "to read yourself (record an answer with `mailer answer`): 1" in out  # the plain reply
    lines = out.splitlines()

    def reason(text: str) -> str:
        found = [line for line in lines if text in line]
        assert len(found) == 1, (text, out)
        return found[0]

    assert "UID 2026-11-10-samskabelse@roskilde.example is not one of our meetings" in out
    assert "karen.vestergaard@kalundborg.example was never invited" in out
    assert "the calendar cannot be read" in out
    assert "ole.orsted@greve.example" in reason("bente.kjaer@greve.example")
    assert "Jeg glæder mig, vi ses i Roskilde." in reason("soren.aero@vordingborg.example")
    if form == "eml":
        assert str(REPLIES / "garbage.eml") in reason("cannot be read")
        assert str(REPLIES / "unknown-uid.eml") in reason("is not one of our meetings")


def test_the_time_recorded_is_the_replys_dtstamp(invited: Project) -> None:
    code, out = invited.main("rsvp", str(REPLIES / "outlook.eml"), str(REPLIES / "apple.eml"))
    assert code == 0, out
    with Journal(invited.state, readonly=True) as journal:
        got = journal.answers(MEETING_ID)
    assert got["soren.aero@vordingborg.example"].answered_at == "2026-11-25T10:15:11+00:00"
    assert got["maria.lohse@roskilde.example"].answered_at == "2026-11-25T12:19:07+00:00"
    assert got["maria.lohse@roskilde.example"].source == str(REPLIES / "apple.eml")


def test_the_newest_answer_is_kept_whatever_order_the_mail_is_read_in(
    invited: Project, tmp_path: Path
) -> None:
    tentative = (REPLIES / "thunderbird.eml").read_bytes()
    assert b"PARTSTAT=TENTATIVE" in tentative and b"DTSTAMP:20261125T140233Z" in tentative
    declined = (
        tentative.replace(b"PARTSTAT=TENTATIVE", b"PARTSTAT=DECLINED")
        .replace(b"DTSTAMP:20261125T140233Z", b"DTSTAMP:20261127T081500Z")
        .replace(b"<0f9d2c4e-", b"<1a2b3c4d-")  # a message of its own
    )
    later = tmp_path / "later.eml"
    later.write_bytes(declined)
    box = as_mbox(tmp_path, [later, REPLIES / "thunderbird.eml"])  # the newer answer first

    code, out = invited.main("rsvp", str(box))
    assert code == 0, out
    assert answers(invited)["mads.kohler@koege.example"] == "DECLINED"
    assert "recorded 1 answer" in out
    assert "not recorded, an answer given later is already there: 1" in out

    code, out = invited.main("rsvp", str(REPLIES / "thunderbird.eml"))  # read again later: still older
    assert code == 0
    assert answers(invited)["mads.kohler@koege.example"] == "DECLINED"
    assert "(1 read before: not counted again)" in out

    code, out = invited.main("rsvp", str(later))  # the same message again counts nothing twice
    assert "read 1 message (1 read before: not counted again)" in out
    assert "recorded 0 answers" in out


def test_a_forwarded_invitation_is_not_an_answer(invited: Project, tmp_path: Path) -> None:
    server: SmtpServer = invited.server  # type: ignore[attr-defined]
    forwarded = tmp_path / "forwarded.eml"
    forwarded.write_bytes(server.recorder.received[0][2])
    code, out = invited.main("rsvp", str(forwarded))
    assert code == 0, out
    assert "METHOD:REQUEST, not a REPLY" in out
    assert answers(invited) == {}


def test_a_reply_before_any_invitation_matches_no_member(project: Project) -> None:
    code, out = project.main("rsvp", str(REPLIES / "outlook.eml"))
    assert code == 0, out
    assert "soren.aero@vordingborg.example was never invited" in out
    assert "recorded 0 answers" in out


def test_unreadable_paths_and_nothing_to_read_exit_2(project: Project, tmp_path: Path) -> None:
    code, _ = project.main("rsvp", str(REPLIES / "outlook.eml"), str(tmp_path / "missing.mbox"))
    assert code == 2
    assert not project.state.exists() or answers(project) == {}
    code, _ = project.main("rsvp")
    assert code == 2


def test_status_shows_answers_per_member_and_in_totals_and_as_csv(invited: Project, tmp_path: Path) -> None:
    assert invited.main("rsvp", *map(str, FILES))[0] == 0
    code, out = invited.main("status", MEETING_ID)
    assert code == 0, out
    assert f"{MEETING_ID}: sequence 0, 6 members invited" in out
    assert "accepted: 3, declined: 1, tentative: 1, no answer: 1" in out
    member_lines = {line.split()[0]: line for line in out.splitlines() if "@" in line}
    assert "accepted" in member_lines["bente.kjaer@greve.example"]
    assert "no answer" in member_lines["lise.gron@greve.example"]
    assert "tentative" in member_lines["mads.kohler@koege.example"]

    target = tmp_path / "til-kantinen.csv"
    code, out = invited.main("status", MEETING_ID, "--csv", str(target))
    assert code == 0, out
    header, *rows = excel_rows(target)  # sender.language is "da": Danish headers
    by_email = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert len(rows) == 6
    soren = by_email["soren.aero@vordingborg.example"]
    assert (soren["Navn"], soren["Svar"]) == ("Søren Ærø", "kommer")
    assert soren["Svaret"] == "2026-11-25T10:15:11+00:00"
    # Outlook sends what the member wrote with the answer; the caterer sees it
    assert soren["Kommentar"] == "Jeg glæder mig, vi ses i Roskilde."
    assert by_email["anne.mette@roskilde.example"]["Svar"] == "kommer ikke"
    assert (by_email["lise.gron@greve.example"]["Svar"], by_email["lise.gron@greve.example"]["Svaret"]) == (
        "intet svar",
        "",
    )


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("MAILTO:Soren.Aero@Vordingborg.example", "soren.aero@vordingborg.example"),
        ("mailto:anne.mette@roskilde.example", "anne.mette@roskilde.example"),
        ('"mailto:bente.kjaer@greve.example"', "bente.kjaer@greve.example"),
        ("Mailto: maria.lohse@roskilde.example ", "maria.lohse@roskilde.example"),
        ("mads.kohler@koege.example", "mads.kohler@koege.example"),
        ("mailto:", ""),
        ("urn:uuid:1234", ""),
    ],
)
def test_attendee_addresses_compare_in_any_case(written: str, address: str) -> None:
    assert calendar_address(written) == address


def test_gmails_two_copies_of_one_reply_count_once() -> None:
    replies = replies_in((REPLIES / "gmail.eml").read_bytes())
    assert [(r.address, r.partstat) for r in replies] == [("anne.mette@roskilde.example", "DECLINED")]


def test_a_reply_without_dtstamp_takes_the_messages_date(tmp_path: Path) -> None:
    raw = (REPLIES / "thunderbird.eml").read_bytes().replace(b"DTSTAMP:20261125T140233Z\n", b"")
    raw = raw.replace(b"Date: Wed, 25 Nov 2026 15:02:33 +0100", b"Date: Wed, 25 Nov 2026 15:07:00 +0100")
    assert b"\nDTSTAMP:" not in raw and b"15:07:00" in raw
    (reply,) = replies_in(raw)
    assert reply.answered_at.isoformat() == "2026-11-25T14:07:00+00:00"


def test_a_message_that_is_not_mail_at_all_is_reported() -> None:
    with pytest.raises(ReplyError, match="no calendar"):
        replies_in(b"\x00\x01 not a message")


def test_status_marks_answers_given_before_the_meeting_moved(invited: Project) -> None:
    assert invited.main("rsvp", str(REPLIES / "outlook.eml"))[0] == 0
    invited.meetings[0].update(start="2027-09-22T13:00:00", end="2027-09-22T16:00:00")
    code, out = invited.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    code, out = invited.main("status", MEETING_ID)
    member_lines = {line.split()[0]: line for line in out.splitlines() if "@" in line}
    assert (
        "accepted (to sequence 0, before the last change)" in member_lines["soren.aero@vordingborg.example"]
    )
    assert "before the last change" not in member_lines["maria.lohse@roskilde.example"]
