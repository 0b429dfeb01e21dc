"""`mailer inbox`: everything that comes back, sorted by kind and recorded once.

The messages in tests/data/inbox are what real servers and clients send: a Microsoft 365 NDR
(RFC 3464), an Exim and a qmail bounce (their own text formats), a Postfix delay warning, an
unsubscribe mail from a member and one from a stranger, an Outlook out-of-office and an RFC 3834
vacation reply, and Outlook .msg files written by .msg libraries (see make_outlook_msg.py): an
answer with its calendar attached, a plain reply, and a meeting response item (no calendar).
"""

from __future__ import annotations

import csv
import email
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import icalendar
import pytest
from conftest import FIXED, MEETING_ID, ROOT, Project, SmtpServer
from ical.calendar_stream import IcsCalendarStream

from mailer import __version__
from mailer.journal import Journal
from mailer.outlook import outlook_message

INBOX = ROOT / "tests" / "data" / "inbox"
REPLIES = ROOT / "tests" / "data" / "replies"
ANNE, SOREN = "anne.mette@roskilde.example", "soren.aero@vordingborg.example"
MARIA, MADS = "maria.lohse@roskilde.example", "mads.kohler@koege.example"
EVERYTHING = [*sorted(INBOX.glob("*.eml")), *sorted(INBOX.glob("*.msg")), REPLIES / "plain-reply.eml"]


@pytest.fixture
def sent(project: Project, server: SmtpServer) -> Project:
    """The invitation and a newsletter sent to the four members over loopback SMTP."""
    for command in (("invitation", "--meeting", MEETING_ID), ("newsletter",)):
        code, out = project.main("send", *command, "--yes")
        assert code == 0, out
    return project


def returns(project: Project) -> dict[tuple[str, str], str]:
    with Journal(project.state, readonly=True) as journal:
        return {(r.recipient, r.kind): r.campaign for r in journal.returns() if r.cleared_at is None}


def unsubscribed(project: Project) -> list[list[str]]:
    path = project.root / "unsubscribed.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_each_kind_is_sorted_recorded_and_reported(sent: Project) -> None:
    code, out = sent.main("inbox", *map(str, EVERYTHING))
    assert code == 0, out
    assert f"read {len(EVERYTHING)} messages\n" in out

    # bounces from Microsoft 365, Exim and qmail, each matched to the newsletter by its Message-ID
    assert returns(sent) == {
        (ANNE, "bounce"): "newsletter",
        (SOREN, "bounce"): "newsletter",
        (MADS, "bounce"): "newsletter",
        (MARIA, "delay"): "newsletter",  # a delay warning: recorded, not a bounce
    }
    assert "bounces (the address no longer takes mail; later sends leave the member out): 3" in out
    assert "550 5.1.10 RESOLVER.ADR.RecipientNotFound" in out
    assert "Sorry, no mailbox here by that name. (#5.1.1)" in out
    assert "delay warnings (the server is still trying: not a bounce): 1" in out

    # the unsubscribe mail of a member is honoured, with date and source; a stranger's is listed
    rows = unsubscribed(sent)
    assert rows[0] == ["email", "date", "source"]
    assert rows[1][:2] == [MARIA, "2026-12-02"] and rows[1][2].endswith("unsubscribe.eml")
    assert len(rows) == 2
    assert "jens.holm@example.org" in out and "not a member: look at it yourself" in out

    # auto-replies are counted and ignored, plain replies are listed to read
    assert "auto-replies (out of office and the like: ignored): 2" in out
    assert "to read yourself (record an answer with `mailer answer`): 2" in out
    assert "outlook-plain.msg" in out and "plain-reply.eml" in out

    # the Outlook .msg with the answer attached counts like any calendar answer, and so does
    # Outlook's own meeting response item, which has no calendar in it
    with Journal(sent.state, readonly=True) as journal:
        answers = journal.answers(MEETING_ID)
    assert {key: a.partstat for key, a in answers.items()} == {
        MADS: "ACCEPTED",
        MARIA: "DECLINED",
        ANNE: "ACCEPTED",
        SOREN: "TENTATIVE",
    }
    assert answers[MADS].comment == "Jeg tager kage med til frokosten."

    # status says who bounces (which message, when, the server's words) and who is delayed
    code, out = sent.main("status")
    assert f"bouncing: {ANNE}  2026-12-01 10:02 newsletter  550 5.1.10" in out  # Copenhagen time
    assert f"delay warning (the server is still trying): {MARIA}" in out


def test_later_sends_leave_bouncing_members_out_until_put_back(sent: Project, server: SmtpServer) -> None:
    assert sent.main("inbox", str(INBOX / "m365-ndr.eml"), str(INBOX / "postfix-delay.eml"))[0] == 0
    before = len(server.messages)
    code, out = sent.main("send", "newsletter", "--campaign", "newsletter-2027-01", "--yes")
    assert code == 0, out
    assert f"1 member left out because their address bounced:\n    {ANNE}" in out
    assert len(server.messages) == before + 3  # Maria's delay warning does not keep her out
    assert ANNE not in {rcpt for _, rcpts, _ in server.recorder.received[before:] for rcpt in rcpts}

    code, out = sent.main("bounced")
    assert out.startswith(f"1 member bouncing:\n  {ANNE:38} 2026-12-01 10:02 (newsletter)  550 5.1.10")
    code, out = sent.main("bounced", "--clear", ANNE)
    assert code == 0 and "gets messages again" in out
    code, out = sent.main("send", "newsletter", "--campaign", "newsletter-2027-01", "--yes")
    assert code == 0, out
    assert "sent: 1," in out and "bounced" not in out


def test_reading_again_counts_nothing_twice(sent: Project) -> None:
    assert sent.main("inbox", *map(str, EVERYTHING))[0] == 0
    first_returns, first_rows = returns(sent), unsubscribed(sent)
    code, out = sent.main("inbox", *map(str, EVERYTHING))
    assert code == 0, out
    assert f"read {len(EVERYTHING)} messages ({len(EVERYTHING)} read before: not counted again)" in out
    assert "recorded 0 answers" in out and "bounces (the address" in out and ": 0\n" in out
    assert returns(sent) == first_returns and unsubscribed(sent) == first_rows
    with Journal(sent.state, readonly=True) as journal:
        assert len(journal.returns()) == 4


def test_a_dry_run_reports_the_same_and_records_nothing(sent: Project) -> None:
    code, dry = sent.main("inbox", "--dry-run", *map(str, EVERYTHING))
    assert code == 0, dry
    assert dry.endswith("dry run: nothing was recorded\n")
    assert returns(sent) == {} and unsubscribed(sent) == []
    with Journal(sent.state, readonly=True) as journal:
        assert journal.answers(MEETING_ID) == {}
    code, real = sent.main("inbox", *map(str, EVERYTHING))
    assert code == 0, real
    said = [line for line in real.splitlines() if not line.startswith("the journal as it was is copied")]
    assert said[:-1] == dry.splitlines()[:-1]  # what the dry run said is what happened
    assert len(returns(sent)) == 4


def test_an_answer_entered_by_hand_counts_and_the_newest_wins(sent: Project) -> None:
    code, out = sent.main(
        "answer", MEETING_ID, "Soren.Aero@vordingborg.example", "declined", "--note", "Ringede"
    )
    assert code == 0, out
    assert "declined" in out and "entered by hand" in out
    code, out = sent.main("status", MEETING_ID)
    assert "declined" in next(line for line in out.splitlines() if SOREN in line)

    # his Outlook REPLY (accepted, 2026-11-25 10:15) was written after the call (2026-11-25 09:30)
    code, out = sent.main("inbox", str(REPLIES / "outlook.eml"))
    assert "recorded 1 answer" in out
    later = FIXED + timedelta(days=3)
    assert sent.main("answer", MEETING_ID, SOREN, "tentative", now=later)[0] == 0
    with Journal(sent.state, readonly=True) as journal:
        answer = journal.answers(MEETING_ID)[SOREN]
    assert (answer.partstat, answer.source, answer.comment) == ("TENTATIVE", "entered by hand", "")


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (("2030-01-01-ukendt", SOREN, "accepted"), "no meeting '2030-01-01-ukendt'"),
        ((MEETING_ID, "karen@kalundborg.example", "accepted"), "was not invited to"),
    ],
)
def test_an_answer_for_an_unknown_meeting_or_member_is_refused(
    sent: Project, args: tuple[str, ...], wanted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sent.main("answer", *args)[0] == 2
    assert wanted in capsys.readouterr().err
    with Journal(sent.state, readonly=True) as journal:
        assert journal.answers(MEETING_ID) == {}


def test_a_folder_of_eml_and_msg_files_is_read(sent: Project, tmp_path: Path) -> None:
    folder = tmp_path / "gemt"
    folder.mkdir()
    for file in ("outlook-accept.msg", "outlook-plain.msg", "qmail.eml"):
        (folder / file).write_bytes((INBOX / file).read_bytes())
    code, out = sent.main("inbox", str(folder))
    assert code == 0, out
    assert "read 3 messages" in out and "recorded 1 answer" in out
    assert returns(sent) == {(MADS, "bounce"): "newsletter"}


def test_a_bounce_for_an_address_never_mailed_is_listed_not_recorded(
    project: Project, tmp_path: Path
) -> None:
    project.members = [m for m in project.members if m[1] != ANNE]
    code, out = project.main("inbox", str(INBOX / "m365-ndr.eml"))
    assert code == 0, out
    assert "not a member: nothing recorded" in out
    assert returns(project) == {}


@pytest.mark.parametrize(
    ("file", "member", "partstat", "comment", "answered_at"),
    [
        ("outlook-response-declined.msg", MARIA, "DECLINED", "I am on holiday that week, sorry.", "14:05"),
        ("outlook-response-accepted.msg", ANNE, "ACCEPTED", "", "08:30"),
        (
            "outlook-response-tentative.msg",
            SOREN,
            "TENTATIVE",
            "Jeg skal lige have vagtplanen på plads.",
            "07:45",
        ),
    ],
)
def test_an_outlook_meeting_response_without_a_calendar_counts_as_the_answer(
    sent: Project, file: str, member: str, partstat: str, comment: str, answered_at: str
) -> None:
    """Outlook keeps an answer that arrived as a meeting response item: the answer in its message
    class (IPM.Schedule.Meeting.Resp.Pos, .Neg, .Tent), the meeting in its global object id, no
    calendar."""
    response = INBOX / file
    code, out = sent.main("inbox", str(response))
    assert code == 0, out
    assert "recorded 1 answer\n" in out
    assert f"  {MEETING_ID}  {member}" in out and partstat.lower() in out and str(response) in out
    with Journal(sent.state, readonly=True) as journal:
        answer = journal.answers(MEETING_ID)[member]
    assert (answer.partstat, answer.comment, answer.sequence) == (partstat, comment, 0)
    assert answer.answered_at.endswith(f"T{answered_at}:00+00:00")
    assert sent.main("inbox", str(response))[1].startswith("read 1 message (1 read before")


def test_the_reply_an_outlook_meeting_response_stands_for_names_mailer_as_its_other_calendars_do(
    project: Project,
) -> None:
    """The REPLY made from an Outlook meeting response (it has no calendar of its own) carries
    the PRODID every calendar mailer writes carries: the program and its version."""
    written = project.root / "one.ics"
    code, out = project.main("ics", MEETING_ID, "-o", str(written))
    assert code == 0, out
    prodid = f"-//mailer//mailer {__version__}//EN"
    assert str(icalendar.Calendar.from_ical(written.read_bytes())["PRODID"]) == prodid
    msg = email.message_from_bytes(outlook_message(INBOX / "outlook-response-accepted.msg"), policy=SMTP)
    assert isinstance(msg, EmailMessage)
    (part,) = (p for p in msg.walk() if p.get_content_type() == "text/calendar")
    reply = part.get_payload(decode=True)
    assert isinstance(reply, bytes)
    assert str(icalendar.Calendar.from_ical(reply)["PRODID"]) == prodid
    assert IcsCalendarStream.calendar_from_ics(reply.decode("utf-8")).prodid == prodid


def test_replies_to_read_name_the_member_as_the_list_does_and_keep_the_address(
    project: Project, tmp_path: Path
) -> None:
    """In the list of replies to read, a member is 'Name <address>' with the name from the
    member list (whatever their From: says); anyone else by their From:'s name, if it has one."""
    folder = tmp_path / "replies"
    folder.mkdir()
    senders = {
        "maria.lohse@roskilde.example": "bare-member.eml",  # no name in From:
        "Mads fra Køge <mads.kohler@koege.example>": "named-member.eml",
        "Jens Holm <jens.holm@example.org>": "named-stranger.eml",
        "kontakt@example.org": "bare-stranger.eml",
    }
    for sender, name in senders.items():
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, "brugernesrum@roskilde.example", "Sv: Netværksmøde"
        msg.set_content("Jeg kommer gerne, men kan først fra kl. 14.\n")
        (folder / name).write_bytes(msg.as_bytes(policy=SMTP))

    code, out = project.main("inbox", str(folder))

    assert code == 0, out
    listed = out.split("to read yourself (record an answer with `mailer answer`): 4\n")[1].splitlines()
    shown = {line.split()[-1].rsplit("/", 1)[-1]: " ".join(line.split()[:-3]) for line in listed[:4]}
    assert shown == {
        "bare-member.eml": "Maria Lohse <maria.lohse@roskilde.example>",
        "named-member.eml": "Mads Køhler <mads.kohler@koege.example>",
        "named-stranger.eml": "Jens Holm <jens.holm@example.org>",
        "bare-stranger.eml": "kontakt@example.org",
    }
