"""Nothing lost, nothing leaked: the journal is never taken for empty, copied before each send,
kept by `make clean`; an unreadable outcome log is kept aside and told; the files that hold
members' data are their owner's only; a campaign key is a name, and a preview removes only
what a preview wrote.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXED, MEETING, ROOT, Project, SmtpServer

from mailer.backups import KEEP, backups

INBOX = ROOT / "tests" / "data" / "inbox"
SEND = ("send", "invitation", "--meeting", MEETING["id"], "--yes")
PREVIEW = ("preview", "invitation", "--meeting", MEETING["id"])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def rows_in(path: Path, table: str = "deliveries") -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


def answers_in(path: Path) -> int:
    return rows_in(path, "answers")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets every local user read what is made, as on many systems."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# -- the journal --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "said"),
    [(b"", "is empty (0 bytes)"), (None, "is a database, but not mailer's")],
    ids=["empty", "another-database"],
)
def test_a_journal_that_is_empty_or_not_a_journal_is_refused_and_nothing_sent(
    project: Project, server: SmtpServer, capsys: pytest.CaptureFixture[str], content: bytes | None, said: str
) -> None:
    project.state.parent.mkdir(parents=True)
    if content is None:
        other = sqlite3.connect(project.state)
        other.execute("CREATE TABLE contacts (name TEXT)")
        other.commit()
        other.close()
    else:
        project.state.write_bytes(content)
    before = project.state.read_bytes()

    for command in (SEND, ("status",), PREVIEW):
        code, _ = project.main(*command)
        err = capsys.readouterr().err
        assert code == 2, command
        assert f"state.sqlite: {said}, not a journal of what was sent" in err
        assert "To start over on purpose, sending everything again, move the file away" in err

    assert server.recorder.received == []
    assert project.state.read_bytes() == before


def test_each_send_copies_the_journal_first_and_a_few_copies_are_kept(
    project: Project, server: SmtpServer
) -> None:
    code, out = project.main(*SEND)
    assert code == 0, out
    sent = rows_in(project.state)
    assert sent == len(project.members)
    backups = project.state.parent / "backups"
    (first,) = backups.iterdir()
    assert rows_in(first) == 0  # the journal as it was before this send
    assert f"the journal as it was is copied to {first}" in out

    for number in range(KEEP + 2):
        project.members.append((f"Ny {number}", f"ny{number}@roskilde.example", "Greve", "da"))
        code, out = project.main(*SEND)
        assert code == 0, out

    copies = sorted(backups.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    assert len(copies) == KEEP
    # the newest copy is the journal just before the last send: all but its one new member
    assert rows_in(copies[-1]) == rows_in(project.state) - 1
    assert all(mode(copy) == 0o600 for copy in copies) and mode(backups) == 0o700


def test_a_send_with_nothing_to_send_makes_no_copy(project: Project, server: SmtpServer) -> None:
    assert project.main(*SEND)[0] == 0
    assert project.main(*SEND)[0] == 0
    assert len(list((project.state.parent / "backups").iterdir())) == 1


def test_a_garbage_outcome_log_is_kept_aside_and_told(
    project: Project, server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert project.main(*SEND)[0] == 0
    log = project.state.with_name("state.sqlite-log")
    log.write_bytes(b"\x00\x01 not a row\n{}\n")

    code, _ = project.main("status")

    err = capsys.readouterr().err
    assert code == 2
    assert "state.sqlite-log: 2 of its lines are not what mailer writes" in err
    (aside,) = project.state.parent.glob("state.sqlite-log.unreadable-*")
    assert aside.read_bytes() == b"\x00\x01 not a row\n{}\n"
    assert aside.name in err
    assert not log.exists()
    code, out = project.main("status")  # told once; the journal goes on
    assert code == 0, out


def test_make_clean_keeps_the_journal_and_the_sign_in(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for made in (".venv/bin/mailer", "outbox/x/0001.eml", ".mailer/state.sqlite", ".mailer/signin.json"):
        (tmp_path / made).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / made).write_bytes(b"kept " + made.encode())

    subprocess.run(["make", "-s", "clean"], cwd=tmp_path, check=True)

    assert not (tmp_path / ".venv").exists() and not (tmp_path / "outbox").exists()
    assert (tmp_path / ".mailer/state.sqlite").read_bytes() == b"kept .mailer/state.sqlite"
    assert (tmp_path / ".mailer/signin.json").read_bytes() == b"kept .mailer/signin.json"


def test_the_demo_leaves_an_existing_journal_as_it_was(project: Project, server: SmtpServer) -> None:
    """`make demo` runs `check` and `preview`: neither changes the journal."""
    assert project.main(*SEND)[0] == 0
    journal = {p.name: p.read_bytes() for p in project.state.parent.rglob("*") if p.is_file()}

    assert project.main("check")[0] == 0
    assert project.main(*PREVIEW)[0] == 0

    after = {p.name: p.read_bytes() for p in project.state.parent.rglob("*") if p.is_file()}
    # SQLite's working files (-wal, -shm) appear when a journal is read, and the preview's record
    # of what it showed (for `send` to compare with); nothing else changes.
    record = "invitation+2027-09-21-hvad-siger-brugerne.json"
    assert {name: data for name, data in after.items() if name in journal and name != record} == {
        name: data for name, data in journal.items() if name != record
    }
    assert set(after) - set(journal) <= {"state.sqlite-wal", "state.sqlite-shm", record}
    assert after.get("state.sqlite-wal", b"") == b""


# -- files with personal data -------------------------------------------------------------


def test_journal_and_outbox_are_the_owners_only_whatever_the_umask(
    project: Project, server: SmtpServer, open_umask: None
) -> None:
    assert project.main(*PREVIEW)[0] == 0
    assert project.main(*SEND)[0] == 0

    folder = project.state.parent
    assert mode(folder) == 0o700
    made = [p for p in folder.iterdir() if p.is_file()]
    assert {p.name for p in made} >= {"state.sqlite", "state.sqlite.lock"}
    assert {p.name: mode(p) for p in made} == {p.name: 0o600 for p in made}
    outbox = project.root / "outbox"
    assert mode(outbox) == 0o700
    for path in outbox.rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    assert any(p.name == "index.html" for p in outbox.rglob("*"))


def test_a_journal_made_before_is_made_the_owners_only(project: Project, server: SmtpServer) -> None:
    assert project.main(*SEND)[0] == 0
    os.chmod(project.state, 0o644)
    os.chmod(project.state.parent, 0o755)

    assert project.main(*SEND)[0] == 0  # nothing to send; the journal was opened to plan

    assert mode(project.state) == 0o600 and mode(project.state.parent) == 0o700


def test_the_wal_files_of_a_send_are_the_owners_only(project: Project, open_umask: None) -> None:
    from mailer.journal import Journal

    with Journal(project.state) as journal:
        journal._db.execute("INSERT INTO imap_position VALUES ('x', 1, 2)")
        journal._db.commit()
        found = {p.name: mode(p) for p in project.state.parent.iterdir()}
    assert found["state.sqlite-wal"] == 0o600 and found["state.sqlite-shm"] == 0o600


# -- campaign names and the outbox ---------------------------------------------------------


@pytest.mark.parametrize("key", ["..", ".", "../x", "a/b", "nyhedsbrev 2027", "-x", "x" * 101, "a..b"])
def test_a_campaign_key_that_is_not_a_name_is_refused(
    project: Project, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    code, _ = project.main(*PREVIEW, f"--campaign={key}")
    err = capsys.readouterr().err
    assert code == 2
    assert f"--campaign: {key!r} is not a campaign name" in err
    assert not (project.root / "outbox").exists()


@pytest.mark.parametrize("key", ["newsletter-2027-03", "invitation:2027-09-21_b", "Nyhedsbrev.2"])
def test_a_campaign_name_is_taken(project: Project, key: str) -> None:
    code, out = project.main(*PREVIEW, "--campaign", key)
    assert code == 0, out


def test_a_preview_removes_only_what_a_preview_wrote(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert project.main(*PREVIEW)[0] == 0
    (folder,) = (project.root / "outbox").iterdir()
    mine = folder / "min egen kopi.eml"
    mine.write_bytes(b"the coordinator's own file")
    project.members = project.members[:2]

    assert project.main(*PREVIEW)[0] == 0

    assert mine.read_bytes() == b"the coordinator's own file"
    assert len([p for p in folder.glob("*.eml") if p != mine]) == 2

    foreign = project.root / "elsewhere" / folder.name
    foreign.mkdir(parents=True)
    (foreign / "index.html").write_text("<p>the library's own page</p>", encoding="utf-8")
    code, _ = project.main(*PREVIEW, "--out", str(project.root / "elsewhere"))
    assert code == 2
    assert "the preview would replace index.html, which mailer did not write" in capsys.readouterr().err
    assert (foreign / "index.html").read_text(encoding="utf-8") == "<p>the library's own page</p>"


def test_the_lists_status_writes_are_the_owners_only(
    project: Project, server: SmtpServer, open_umask: None
) -> None:
    assert project.main(*SEND)[0] == 0
    os.chmod(project.root, 0o755)
    listing, page = project.root / "til-kantinen.csv", project.root / "sider" / "hvem-kommer.html"
    listing.write_text("an older list", encoding="utf-8")
    os.chmod(listing, 0o644)

    code, out = project.main("status", MEETING["id"], "--csv", str(listing), "--html", str(page))
    assert code == 0, out
    code, out = project.main("status", MEETING["id"], "--html")  # beside the outbox
    assert code == 0, out

    assert mode(listing) == 0o600 and "soren.aero@vordingborg.example" in listing.read_text("utf-8-sig")
    assert mode(page) == 0o600 and mode(page.parent) == 0o700
    (default,) = (project.root / "outbox").glob("status-*.html")
    assert mode(default) == 0o600 and mode(default.parent) == 0o700
    assert mode(project.root) == 0o755  # the coordinator's own folder is left as it was


def test_a_list_written_again_replaces_the_old_one_whole(project: Project, server: SmtpServer) -> None:
    assert project.main(*SEND)[0] == 0
    listing = project.root / "til-kantinen.csv"
    listing.write_text("an older list", encoding="utf-8")

    with listing.open(encoding="utf-8") as reading:  # e.g. Excel, with the older list open
        code, out = project.main("status", MEETING["id"], "--csv", str(listing))
        assert code == 0, out
        assert reading.read() == "an older list"  # never a half-written or emptied file
    assert "soren.aero@vordingborg.example" in listing.read_text("utf-8-sig") and mode(listing) == 0o600


def test_a_suppression_list_mailer_starts_is_the_owners_only(project: Project, open_umask: None) -> None:
    project.write()
    code, out = project.main("unsubscribe", "mads.kohler@koege.example")
    assert code == 0, out
    assert mode(project.root / "unsubscribed.csv") == 0o600


# -- copies before every change -----------------------------------------------------------

DATA = ROOT / "tests" / "data"


def copies(project: Project) -> list[Path]:
    return backups(project.state)


def test_answer_inbox_and_bounced_clear_copy_the_journal_before_they_change_it(
    project: Project, server: SmtpServer
) -> None:
    assert project.main(*SEND)[0] == 0
    assert len(copies(project)) == 1

    code, out = project.main("answer", MEETING["id"], "maria.lohse@roskilde.example", "declined")
    assert code == 0, out
    newest = copies(project)[0]
    assert f"the journal as it was is copied to {newest}" in out
    assert len(copies(project)) == 2 and answers_in(newest) == 0 and answers_in(project.state) == 1

    reply, bounce = str(DATA / "replies/outlook.eml"), str(DATA / "inbox/m365-ndr.eml")
    code, out = project.main("inbox", "--dry-run", reply, bounce)
    assert code == 0, out
    assert len(copies(project)) == 2 and "copied" not in out  # a dry run changes nothing

    code, out = project.main("inbox", reply, bounce)
    assert code == 0, out
    newest = copies(project)[0]
    assert len(copies(project)) == 3 and f"the journal as it was is copied to {newest}" in out
    assert answers_in(newest) == 1 and answers_in(project.state) == 2  # one copy for the whole run

    code, out = project.main("inbox", reply, bounce)  # read before: nothing is recorded
    assert code == 0, out
    assert len(copies(project)) == 3 and "copied" not in out

    code, out = project.main("bounced", "--clear", "soren.aero@vordingborg.example")
    assert code == 0, out
    assert len(copies(project)) == 3 and "copied" not in out  # not bouncing: nothing changes
    code, out = project.main("bounced")
    (bouncing,) = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    code, out = project.main("bounced", "--clear", bouncing)
    assert code == 0, out
    assert len(copies(project)) == 4 and f"the journal as it was is copied to {copies(project)[0]}" in out


def test_status_says_when_and_where_the_last_copy_was_made(project: Project, server: SmtpServer) -> None:
    assert project.main(*SEND)[0] == 0
    (copy,) = copies(project)
    made = FIXED.timestamp()  # 09:30 UTC: 10:30 in Copenhagen in November
    os.utime(copy, (made, made))

    code, out = project.main("status")

    assert code == 0, out
    assert f"last copy of the journal: 2026-11-25 10:30, {copy} (README: 'Restoring the journal')" in out


def test_a_day_of_answers_keeps_the_copies_made_before_the_last_send_and_cancel(
    project: Project, server: SmtpServer
) -> None:
    assert project.main(*SEND)[0] == 0
    (before_send,) = copies(project)
    code, out = project.main("cancel", MEETING["id"], "--yes")
    assert code == 0, out
    before_cancel = copies(project)[0]
    assert rows_in(before_cancel) == len(project.members)  # the invitations, not the cancellations

    for number in range(KEEP + 1):
        answer = ("accepted", "declined")[number % 2]
        code, out = project.main("answer", MEETING["id"], "maria.lohse@roskilde.example", answer)
        assert code == 0, out

    kept = copies(project)
    assert len(kept) == KEEP + 2  # the five newest, and the last made before a send and a cancel
    assert kept[-2:] == [before_cancel, before_send]
    assert rows_in(before_send) == 0 and answers_in(before_cancel) == 0 and answers_in(kept[0]) == 1
    assert before_send.name.endswith("-before-send.sqlite")
    assert before_cancel.name.endswith("-before-cancel.sqlite")

    assert project.main(*SEND, "--reinstate")[0] == 0  # a newer copy before a send replaces the older
    assert before_send not in copies(project) and len(copies(project)) == KEEP + 1


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (SEND, "before sending ("),
        (("cancel", MEETING["id"], "--yes"), "before sending the cancellation ("),
        (("inbox", str(INBOX / "m365-ndr.eml")), "before recording what came back ("),
        (
            ("answer", MEETING["id"], "anne.mette@roskilde.example", "accepted"),
            "before recording the answer (",
        ),
        (("bounced", "--clear", "anne.mette@roskilde.example"), "before putting the address back ("),
    ],
    ids=["send", "cancel", "inbox", "answer", "bounced-clear"],
)
def test_a_journal_that_cannot_be_copied_stops_the_command_saying_what_it_was_about_to_do(
    project: Project,
    server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
    command: tuple[str, ...],
    said: str,
) -> None:
    """Every command that changes the journal copies it first; when it cannot (here `backups` is
    a file, not a folder), the command stops before changing anything and says what it was about
    to do, what it left undone, and what to do next."""
    assert project.main(*SEND)[0] == 0  # the invitation, so there is something to cancel or answer
    assert project.main("send", "newsletter", "--yes")[0] == 0
    if command[0] == "bounced":  # a member whose address bounced, to put back
        assert project.main("inbox", str(INBOX / "m365-ndr.eml"))[0] == 0
    if command == SEND:
        project.members.append(("Ny Ærø", "ny.aero@roskilde.example", "Greve", "da"))
    backups = project.state.parent / "backups"
    shutil.rmtree(backups)
    backups.write_bytes(b"not a folder")
    before = project.state.read_bytes()
    received = len(server.recorder.received)
    capsys.readouterr()

    code, _ = project.main(*command)

    err = capsys.readouterr().err
    assert code == 2, err
    assert f"the journal could not be copied {said}" in err
    undone = {"send": "sent", "cancel": "sent", "bounced": "changed"}.get(command[0], "recorded")
    assert f"nothing was {undone}: make room on the disk" in err
    assert "run the same command again" in err
    assert "before sending" not in err or command[0] in ("send", "cancel")
    assert project.state.read_bytes() == before
    assert len(server.recorder.received) == received
