"""Replies to read yourself (plain replies the inbox could not read as an answer) stop counting
once they are handled: an answer from the member recorded after the reply was written (to the
meeting it quotes, when it quotes one), or marked handled with `mailer inbox --handled EMAIL` or
the desk's button. `status`, the status page and the desk's overview count the same."""

from __future__ import annotations

import html
import re
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FIXED, MEETING_ID, ROOT, Project, SmtpServer
from desk_client import DeskClient, running_desk
from test_desk_pages import text_of

from mailer.config import load_settings
from mailer.desk.overview import overview
from mailer.journal import Answer, Journal

DATA = ROOT / "tests" / "data"
MADS = "mads.kohler@koege.example"
LATER = FIXED + timedelta(days=1)  # after the replies were written (25 November, afternoon)
TO_READ = "to read yourself (`mailer answer` records what they say"


@pytest.fixture
def waiting(project: Project, server: SmtpServer) -> Project:
    """Invited; two plain replies read: Mads's (.eml) and one from Outlook (.msg)."""
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    replies = (DATA / "replies" / "plain-reply.eml", DATA / "inbox" / "outlook-plain.msg")
    code, out = project.main("inbox", *map(str, replies))
    assert code == 0 and "to read yourself (record an answer with `mailer answer`): 2" in out, out
    assert "a reply to read that needs no answer: `mailer inbox --handled EMAIL`" in out
    return project


def needs(project: Project) -> list[str]:
    return [need.text for need in overview(load_settings(project.config), FIXED).needs]


def test_a_reply_stops_counting_once_the_members_answer_is_recorded(waiting: Project) -> None:
    code, out = waiting.main("status", MEETING_ID)
    assert "  2 replies " + TO_READ in out and f"<{MADS}>" in out
    assert any(line.startswith("2 svar i almindelig tekst") for line in needs(waiting)), needs(waiting)

    # an answer recorded before the reply was written does not answer it
    assert waiting.main("answer", MEETING_ID, MADS, "accepted", now=FIXED)[0] == 0
    assert "  2 replies " + TO_READ in waiting.main("status", MEETING_ID)[1]

    assert waiting.main("answer", MEETING_ID, MADS, "accepted", "--note", "ringede", now=LATER)[0] == 0
    code, out = waiting.main("status", MEETING_ID)
    assert code == 0 and "  1 reply " + TO_READ in out and f"<{MADS}>" not in out
    assert any(line.startswith("1 svar") for line in needs(waiting)), needs(waiting)


def test_inbox_handled_marks_the_replies_that_need_nothing_more(waiting: Project) -> None:
    code, out = waiting.main("inbox", "--handled", MADS.upper(), now=LATER)
    assert code == 0, out
    assert f"1 reply from {MADS.upper()} marked handled: no longer counted as replies to read" in out
    assert "Re: Netværksmøde: Hvad siger brugerne?" in out and "the journal as it was is copied to" in out
    code, out = waiting.main("status", MEETING_ID)
    assert "  1 reply " + TO_READ in out and f"<{MADS}>" not in out

    code, out = waiting.main("inbox", "--handled", MADS, now=LATER)
    assert code == 0 and f"no reply from {MADS} is waiting to be read: nothing to do" in out

    code, out = waiting.main("inbox", "--handled", MADS, str(DATA / "replies" / "plain-reply.eml"))
    assert code == 2

    # reading the same reply again does not bring it back
    code, out = waiting.main("inbox", str(DATA / "replies" / "plain-reply.eml"))
    assert code == 0 and "read before" in out
    assert "  1 reply " + TO_READ in waiting.main("status", MEETING_ID)[1]


def test_a_reply_quoting_an_invitation_is_answered_only_by_an_answer_to_that_meeting(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Journal(path) as journal:
        journal.mark_read(
            "<r@koege.example>",
            "other",
            "svar.eml",
            sender=f"Mads Køhler <{MADS}>",
            subject="Re: Samskabelse",
            written="2026-10-01T12:00:00+02:00",
            meeting_id="2027-11-16-samskabelse",
        )
        other = Answer(
            "2027-09-21-hvad-siger-brugerne", MADS, "ACCEPTED", 0, "2026-10-02T09:00:00+00:00", "x"
        )
        journal.record_answer(other)
        assert [r.key for r in journal.replies_to_read()] == ["<r@koege.example>"]
        before = Answer("2027-11-16-samskabelse", MADS, "DECLINED", 0, "2026-10-01T09:59:00+00:00", "x")
        journal.record_answer(before)  # 11:59 in Copenhagen: before the reply was written
        assert len(journal.replies_to_read()) == 1
        journal.record_answer(replace(before, answered_at="2026-10-01T10:00:00+00:00"))
        assert journal.replies_to_read() == []

        # a sender whose clock is ahead: an answer recorded after the reply was read answers it
        journal.mark_read(
            "<ahead@koege.example>", "other", "frem.eml", sender=MADS, written="2099-01-01T10:00:00"
        )
        assert [r.key for r in journal.replies_to_read()] == ["<ahead@koege.example>"]
        journal.record_answer(replace(before, answered_at="2098-12-31T10:00:00+00:00"))
        assert journal.replies_to_read() == []


def test_a_journal_from_before_replies_could_be_handled_is_read_and_then_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Journal(path):
        pass
    db = sqlite3.connect(path)  # inbox_read as journals made it before meeting_id and handled_at
    db.executescript(
        """DROP TABLE inbox_read;
        CREATE TABLE inbox_read (key TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL,
            at TEXT NOT NULL, sender TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '',
            written TEXT NOT NULL DEFAULT '');
        INSERT INTO inbox_read VALUES ('<a@x.example>', 'other', 'svar/1.eml', '2027-01-02T10:00:00',
            'Søren Ærø <soren@x.example>', 'Re: møde', '2027-01-02T09:00:00+01:00');"""
    )
    db.close()
    with Journal(path, readonly=True) as journal:  # read as it is: nothing handled yet
        (reply,) = journal.replies_to_read()
        assert (reply.key, reply.address, reply.meeting_id) == ("<a@x.example>", "soren@x.example", "")
    with Journal(path) as journal:  # a writable open adds the columns
        assert journal.mark_handled("<a@x.example>", LATER)
        assert not journal.mark_handled("<a@x.example>", LATER)
        assert journal.replies_to_read() == []
        assert len(journal.read_messages("other")) == 1  # still read, only no longer waiting
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(inbox_read)")}
    assert {"meeting_id", "handled_at"} <= columns


def test_the_desk_lists_the_replies_to_read_with_a_button_each(waiting: Project) -> None:
    with running_desk(waiting.config, LATER) as desk:
        client = DeskClient(desk.address)
        client.open()
        page = client.get("/inbox")
        shown = text_of(page.text)
        assert "Svar, du selv skal læse" in shown and f"<{MADS}>" in shown
        senders = dict(re.findall(r'<tr data-key="([^"]+)">\s*<td>([^<]*)</td>', page.text))
        assert len(senders) == 2
        mads_key = html.unescape(next(key for key, sender in senders.items() if MADS in sender))
        link = re.search(r'href="(/inbox\?email=mads[^"#]*)#by-hand"', page.text)
        assert link is not None  # the answer form, filled in for the member
        form = client.get(link.group(1).replace("&amp;", "&")).text
        assert f'name="email" value="{MADS}"' in form

        refused = client.post("/inbox/handled", {"key": mads_key}, csrf=False)
        assert refused.status == 403
        assert "2 svar i almindelig tekst" in text_of(client.get("/").text)

        done = client.post("/inbox/handled", {"key": mads_key})
        assert done.status == 200
        shown = text_of(done.text)
        assert f"Svaret fra Mads Køhler <{MADS}> er klaret" in shown
        assert shown.count("Klaret") == 1  # one button left
        again = client.post("/inbox/handled", {"key": mads_key})
        assert "Det svar var allerede klaret." in text_of(again.text)
        assert "1 svar i almindelig tekst" in text_of(client.get("/").text)
    assert "  1 reply " + TO_READ in waiting.main("status", MEETING_ID)[1]


def test_the_inbox_keeps_which_meeting_a_plain_reply_answers(
    project: Project, server: SmtpServer, tmp_path: Path
) -> None:
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    with Journal(project.state, readonly=True) as journal:
        (ours,) = [d.message_id for d in journal.deliveries(meeting_id=MEETING_ID) if d.recipient == MADS]
    reply = tmp_path / "svar.eml"
    quoting = f"In-Reply-To: {ours}\r\nReferences: <other@example.org> {ours}\r\n".encode()
    reply.write_bytes(quoting + (DATA / "replies" / "plain-reply.eml").read_bytes())
    assert project.main("inbox", str(reply))[0] == 0
    with Journal(project.state, readonly=True) as journal:
        assert [r.meeting_id for r in journal.replies_to_read()] == [MEETING_ID]
