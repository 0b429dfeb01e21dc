"""A member at an internationalised domain (bjoern@sorø.example) is one member whichever form of
the domain an address comes in: mail goes out in the ASCII form (xn--sor-2na), so calendar
answers, unsubscribe requests and bounces come back in it, and browsers turn a typed address into
it; the member list and older journals may hold either form.

The files in tests/data/idn are what comes back for the ASCII form: an Apple Calendar REPLY, a
mail program's unsubscribe mail and an Exim bounce.
"""

from __future__ import annotations

import csv
import sqlite3

import pytest
from conftest import MEETING_ID, ROOT, Project, SmtpServer

from mailer.journal import Journal

IDN = ROOT / "tests" / "data" / "idn"
ACCEPT = IDN / "accept-ascii-domain.eml"
UNSUBSCRIBE = IDN / "unsubscribe-ascii-domain.eml"
BOUNCE = IDN / "exim-bounce-ascii-domain.eml"
BJOERN = ("Bjørn Å. Sørensen", "bjoern@sorø.example", "Sorø Bibliotek", "da")
UNICODE, ASCII = "bjoern@sorø.example", "bjoern@xn--sor-2na.example"


@pytest.fixture
def sent(project: Project, server: SmtpServer) -> Project:
    """The invitation and a newsletter sent to five members, Bjørn at sorø.example among them."""
    project.members.append(BJOERN)
    for command in (("invitation", "--meeting", MEETING_ID), ("newsletter",)):
        code, out = project.main("send", *command, "--yes")
        assert code == 0, out
    assert server.recipients.count(ASCII) == 2  # he is sent to in the ASCII form
    return project


def answers(project: Project) -> dict[str, str]:
    with Journal(project.state, readonly=True) as journal:
        return {key: a.partstat for key, a in journal.answers(MEETING_ID).items()}


def unsubscribed(project: Project) -> list[str]:
    path = project.root / "unsubscribed.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [row[0] for row in csv.reader(handle)][1:]


def test_his_answer_unsubscribe_and_bounce_in_the_ascii_form_count_for_him(sent: Project) -> None:
    code, out = sent.main("inbox", str(ACCEPT), str(UNSUBSCRIBE), str(BOUNCE))
    assert code == 0, out
    assert "never invited" not in out and "not a member" not in out, out
    assert answers(sent) == {UNICODE: "ACCEPTED"}
    assert unsubscribed(sent) == [UNICODE]
    with Journal(sent.state, readonly=True) as journal:
        assert [(r.recipient, r.kind) for r in journal.returns()] == [(UNICODE, "bounce")]
    code, out = sent.main("status", MEETING_ID)
    assert "accepted" in next(line for line in out.splitlines() if UNICODE in line and "seq" in line)
    assert f"bouncing: {UNICODE}" in out


def test_what_she_types_in_the_ascii_form_finds_him(sent: Project, server: SmtpServer) -> None:
    code, out = sent.main("answer", MEETING_ID, ASCII, "declined")
    assert code == 0, out
    assert answers(sent) == {UNICODE: "DECLINED"}

    before = len(server.recipients)
    code, out = sent.main("send", "newsletter", "--campaign", "nyt-2", "--only", ASCII.upper(), "--yes")
    assert code == 0, out
    assert server.recipients[before:] == [ASCII]
    assert server.messages[-1]["To"].addresses[0].display_name == "Bjørn Å. Sørensen"

    assert sent.main("inbox", str(BOUNCE))[0] == 0
    code, out = sent.main("bounced", "--clear", ASCII)
    assert code == 0 and "gets messages again" in out, out
    with Journal(sent.state, readonly=True) as journal:
        assert all(r.cleared_at for r in journal.returns())

    assert sent.main("unsubscribe", ASCII)[0] == 0
    code, out = sent.main("send", "newsletter", "--campaign", "nyt-3", "--yes")
    assert code == 0, out
    assert len(server.recipients) == before + 1 + 4, out  # the four others, not him
    assert ASCII not in server.recipients[before + 1 :]


def test_a_journal_that_names_him_in_the_ascii_form_is_read_as_his(sent: Project, server: SmtpServer) -> None:
    """Rows written with the other form of the domain (by hand, by an older mailer) are his."""
    assert sent.main("answer", MEETING_ID, UNICODE, "tentative")[0] == 0
    db = sqlite3.connect(sent.state)
    with db:
        for table in ("deliveries", "answers"):
            db.execute(f"UPDATE {table} SET recipient = ? WHERE recipient = ?", (ASCII, UNICODE))
    db.close()

    before = len(server.messages)
    code, out = sent.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    assert len(server.messages) == before, "invited again"
    code, out = sent.main("send", "newsletter", "--yes")
    assert len(server.messages) == before, "the newsletter again"
    assert answers(sent) == {UNICODE: "TENTATIVE"}
    code, out = sent.main("status", MEETING_ID)
    assert "tentative" in next(line for line in out.splitlines() if UNICODE in line and "seq" in line)

    # his Apple Calendar answer (2026-11-26) is newer than the one recorded in the other form
    code, out = sent.main("inbox", str(ACCEPT))
    assert "recorded 1 answer" in out, out
    assert answers(sent) == {UNICODE: "ACCEPTED"}
    with Journal(sent.state, readonly=True) as journal:
        assert [a.recipient for a in journal.answers(MEETING_ID).values()] == [UNICODE]
    db = sqlite3.connect(sent.state)
    assert db.execute("SELECT recipient FROM answers").fetchall() == [(UNICODE,)]
    db.close()


def test_an_answer_skipped_is_not_remembered_and_counts_once_it_can(
    project: Project, server: SmtpServer
) -> None:
    project.members.append(BJOERN)
    code, out = project.main("inbox", str(ACCEPT))  # before any invitation went out
    assert f"{UNICODE} was never invited to {MEETING_ID}" in out, out
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    code, out = project.main("inbox", str(ACCEPT))
    assert "read before" not in out and "recorded 1 answer" in out, out
    code, out = project.main("inbox", str(ACCEPT))
    assert code == 0 and "(1 read before: not counted again)" in out and "recorded 0 answers" in out, out
    assert answers(project) == {UNICODE: "ACCEPTED"}


def test_an_answer_an_older_mailer_skipped_and_remembered_is_read_again(sent: Project) -> None:
    with Journal(sent.state) as journal:  # what `mailer inbox` wrote when it said "never invited"
        journal.mark_read("<idn-accept-1@mail.xn--sor-2na.example>", "answer", str(ACCEPT))
    code, out = sent.main("inbox", str(ACCEPT))
    assert code == 0 and "read before" not in out and "recorded 1 answer" in out, out
    assert answers(sent) == {UNICODE: "ACCEPTED"}
