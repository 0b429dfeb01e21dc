"""What was previewed is what is sent: a preview keeps a record of what it showed, and `send`
says in its summary, before it asks, what changed since (or that no preview was made)."""

from __future__ import annotations

import os
import stat

import pytest
from conftest import MEETING, Project, SmtpServer

SEND = ("send", "invitation", "--meeting", MEETING["id"])
PREVIEW = ("preview", "invitation", "--meeting", MEETING["id"])
WHEN = "2026-11-25 10:30"  # FIXED, in Copenhagen


def summary(out: str) -> list[str]:
    """What `send` says before it asks (or, with --yes, before it sends)."""
    lines = out.splitlines()
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("to send:"))]


def received_by(server: SmtpServer) -> set[str]:
    return {to for _, rcpts, _ in server.recorder.received for to in rcpts}


def test_a_send_without_a_preview_says_so(project: Project, server: SmtpServer) -> None:
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert (
        "  no preview was made for this: --dry-run (or mailer preview) shows each message first"
        in summary(out)
    )


def test_a_send_as_previewed_says_so_and_the_record_is_the_owners_only(
    project: Project, server: SmtpServer
) -> None:
    old = os.umask(0o022)
    try:
        assert project.main(*PREVIEW)[0] == 0
    finally:
        os.umask(old)
    (record,) = (project.state.parent / "previews").iterdir()
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(project.state.parent.stat().st_mode) == 0o700  # .mailer/, made by the preview
    assert "Søren" not in record.read_text(encoding="utf-8")  # addresses and digests only

    code, out = project.main(*SEND, "--yes")

    assert code == 0, out
    assert f"  the same as previewed on {WHEN}" in summary(out)
    assert len(server.recorder.received) == len(project.members)


def test_send_names_what_changed_since_the_preview_before_it_asks(
    project: Project, server: SmtpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert project.main(*PREVIEW)[0] == 0
    # The list changed: Anne taken off, Maria's name corrected, a new member.
    project.members = [m for m in project.members if not m[1].startswith("anne")]
    project.members[1] = ("Maria Lohse-Berg", *project.members[1][1:])
    project.members.append(("Ida Ny", "ida.ny@greve.example", "Greve Bibliotek", "da"))
    # So did the template's text and the meeting's place.
    body = project.root / "templates" / "invitation" / "da" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8") + "\nHilsen fra en kollega\n", encoding="utf-8")
    project.meetings[0]["location"] = "Køge Bibliotek, Kirkestræde 18"

    code, out = project.main(*SEND)  # no terminal to confirm on: asks, and sends nothing

    assert code == 2
    assert "no terminal to confirm on" in capsys.readouterr().err
    assert server.recorder.received == []
    assert summary(out)[-6:] == [
        f"  changed since the preview of {WHEN}:",
        "    1 member added since, not in the preview: ida.ny@greve.example",
        "    1 member in the preview left out now: anne.mette@roskilde.example",
        "    1 member changed (a name, library, language or other column in the list, or the kind of "
        "message): maria.lohse@roskilde.example",
        "    the template changed (its texts or template.toml)",
        "    a meeting changed (config.toml, or `mailer cancel`)",
    ]

    assert project.main(*PREVIEW)[0] == 0  # looked at again: the same
    code, out = project.main(*SEND, "--yes")
    assert code == 0, out
    assert f"  the same as previewed on {WHEN}" in summary(out)
    assert "ida.ny@greve.example" in received_by(server)


def test_an_attachment_and_the_sender_changed_since_are_named(
    project: Project, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project.root / "templates" / "invitation" / "attachments"
    folder.mkdir()
    (folder / "Program.pdf").write_bytes(b"%PDF-1.4 first programme")
    assert project.main(*PREVIEW)[0] == 0
    (folder / "Program.pdf").write_bytes(b"%PDF-1.4 another programme")
    monkeypatch.setenv("MAILER_SENDER__NAME", "Brugernes Rum (Køge)")

    code, out = project.main(*SEND, "--yes")

    assert code == 0, out
    assert summary(out)[-3:] == [
        f"  changed since the preview of {WHEN}:",
        "    an attachment changed",
        "    the sender changed (config.toml [sender])",
    ]


def test_members_sent_since_the_preview_are_not_taken_for_left_out(
    project: Project, server: SmtpServer
) -> None:
    assert project.main(*PREVIEW)[0] == 0
    assert project.main(*SEND, "--yes", "--limit", "2")[0] == 0

    code, out = project.main(*SEND, "--yes")

    assert code == 0, out
    assert f"  the same as previewed on {WHEN}" in summary(out)
    assert len(server.recorder.received) == len(project.members)


def test_a_preview_of_one_member_is_not_a_preview_of_everyone(project: Project, server: SmtpServer) -> None:
    assert project.main(*PREVIEW, "--only", "Soren.Aero@vordingborg.example")[0] == 0

    code, out = project.main(*SEND, "--yes")

    assert code == 0, out
    assert summary(out)[-3:] == [
        f"  changed since the preview of {WHEN}:",
        "    the preview was of --only soren.aero@vordingborg.example; this send is for everyone",
        "    3 members added since, not in the preview: anne.mette@roskilde.example, "
        "mads.kohler@koege.example, maria.lohse@roskilde.example",
    ]
