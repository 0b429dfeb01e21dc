"""Attachments: a template's files and a meeting's own arrive byte-identical for every member,
in the preview (.eml files) and over SMTP (the bytes a real server on 127.0.0.1 received),
with æøå file names intact (RFC 2231); `check` refuses a missing file and an oversized message.
"""

from __future__ import annotations

import email
import email.policy
import io
import re
import shutil
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import MEETING_ID, SAMPLE_NOW
from test_oauth import write_config

from mailer.cli import main
from mailer.compose import Composer
from mailer.config import load_settings
from mailer.journal import Journal
from mailer.plan import Campaign, Delivery, Selection
from mailer.run import load_inputs, make_plan

DATA = Path(__file__).parent / "data" / "attachments"
PDF = "Program 21. september.pdf"
CSV = "Deltagere – Køge, Ærø og Åbyhøj.csv"
MEMBERS = 4


class Keeper:
    """An aiosmtpd handler that keeps the bytes of every message it accepts."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.received.append(envelope.content)
        return "250 2.0.0 Queued"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def relay() -> Iterator[tuple[int, Keeper]]:
    """A local relay without TLS or sign-in (as a municipality's internal relay may be)."""
    keeper = Keeper()
    port = free_port()
    controller = Controller(keeper, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, keeper
    controller.stop()


def project(
    folder: Path, *, smtp: dict[str, object] | None = None, meeting_files: list[str] | None = None
) -> Path:
    """The network's folder: the CSV as the invitation template's file, the PDF as the meeting's."""
    config = write_config(folder, smtp=smtp or {"host": "127.0.0.1"})
    (folder / "templates" / "invitation" / "attachments").mkdir()
    shutil.copy(DATA / CSV, folder / "templates" / "invitation" / "attachments" / CSV)
    (folder / "filer").mkdir()
    shutil.copy(DATA / PDF, folder / "filer" / PDF)
    files = ", ".join(f'"{name}"' for name in (meeting_files or [f"filer/{PDF}"]))
    text = config.read_text(encoding="utf-8").replace(
        "start = 2027-09-21T13:00:00", f"attachments = [{files}]\nstart = 2027-09-21T13:00:00"
    )
    config.write_text(text, encoding="utf-8")
    return config


def files_in(raw: bytes) -> dict[str, tuple[str, bytes]]:
    """Each attachment's name -> (content type, decoded bytes), parsed back from the wire bytes."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    found = {}
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found[part.get_filename() or ""] = (part.get_content_type(), payload)
    return found


def assert_carries_both_files(raw: bytes) -> None:
    found = files_in(raw)
    assert found[PDF] == ("application/pdf", (DATA / PDF).read_bytes())
    assert found[CSV] == ("text/csv", (DATA / CSV).read_bytes())
    assert "invite.ics" in found  # beside the invitation, not instead of it
    # RFC 2231: the non-ASCII name travels as utf-8''percent-encoded, not mangled or dropped
    assert (
        b"filename*=utf-8''Deltagere%20%E2%80%93%20K%C3%B8ge%2C%20%C3%86r%C3%B8%20og%20%C3%85byh%C3%B8j.csv"
        in raw
    )


@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_every_member_gets_the_files_byte_identical_in_the_preview(tmp_path: Path) -> None:
    config = project(tmp_path)
    out = io.StringIO()
    argv = ["--config", str(config), "preview", "invitation", "--meeting", MEETING_ID]
    assert main(argv, clock=lambda: SAMPLE_NOW, out=out) == 0

    written = sorted((tmp_path / "outbox").rglob("*.eml"))
    assert len(written) == MEMBERS
    for path in written:
        assert_carries_both_files(path.read_bytes())
    page = next((tmp_path / "outbox").rglob("index.html")).read_text(encoding="utf-8")
    assert PDF in page and "Køge, Ærø og Åbyhøj" in page


@pytest.mark.usefixtures("plain")  # the same on the fast path and the plain one
def test_every_member_gets_the_files_byte_identical_over_smtp(
    tmp_path: Path, relay: tuple[int, Keeper]
) -> None:
    port, keeper = relay
    config = project(tmp_path, smtp={"host": "127.0.0.1", "port": port, "security": "none", "backoff": 0})
    argv = ["--config", str(config), "send", "invitation", "--meeting", MEETING_ID, "--yes"]
    assert main(argv, clock=lambda: SAMPLE_NOW, out=io.StringIO()) == 0

    assert len(keeper.received) == MEMBERS
    for raw in keeper.received:
        assert_carries_both_files(raw)


def planned(config: Path) -> tuple[Composer, list[Delivery], Campaign]:
    settings = load_settings(config)
    with Journal(settings.resolve(settings.files.state)) as journal:
        plan = make_plan(load_inputs(settings), journal, Selection("invitation", meeting_id=MEETING_ID))
    return Composer(settings, now=SAMPLE_NOW), list(plan.deliveries), plan.campaign


def test_shared_files_are_encoded_once_and_reused_for_every_member(tmp_path: Path) -> None:
    composer, deliveries, campaign = planned(project(tmp_path))
    danish = [d for d in deliveries if d.member.language == "da"]
    assert len(danish) == 3
    assert_carries_both_files(composer.outgoing(danish[0]).data)
    parts = composer._shared_parts(campaign, "da")

    (tmp_path / "filer" / PDF).unlink()  # read once: later members no longer need the file
    for delivery in danish[1:]:
        assert_carries_both_files(composer.outgoing(delivery).data)
    # encoded once: every member's message is assembled from the very same MIME part objects
    again = composer._shared_parts(campaign, "da")
    assert len(again) == 2 and all(a is b for a, b in zip(parts, again, strict=True))
    assert {p.get_filename() for p in parts} == {PDF, CSV}


def test_shared_files_are_read_once_per_run_whatever_the_members_languages(tmp_path: Path) -> None:
    composer, deliveries, _ = planned(project(tmp_path))
    assert {d.member.language for d in deliveries} == {"da", "en"}
    assert_carries_both_files(composer.outgoing(deliveries[0]).data)
    (tmp_path / "filer" / PDF).unlink()
    for delivery in deliveries[1:]:
        assert_carries_both_files(composer.outgoing(delivery).data)


def test_check_refuses_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = project(tmp_path, meeting_files=["filer/Program 22. september.pdf"])
    assert main(["--config", str(config), "check"], clock=lambda: SAMPLE_NOW, out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "Program 22. september.pdf: attachment cannot be read: No such file or directory" in err


def test_check_refuses_a_message_over_the_size_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path, smtp={"host": "127.0.0.1", "max_message_mb": 0.001})
    assert main(["--config", str(config), "check"], clock=lambda: SAMPLE_NOW, out=io.StringIO()) == 2
    err = capsys.readouterr().err
    found = re.search(
        r"invitation: a message is \d+\.\d\d MB \(([\d,]+) bytes\), over smtp\.max_message_mb", err
    )
    assert found and int(found.group(1).replace(",", "")) > 1048, err


def test_check_lists_every_file_where_it_really_is(tmp_path: Path) -> None:
    config = project(tmp_path)
    out = io.StringIO()
    assert main(["--config", str(config), "check"], clock=lambda: SAMPLE_NOW, out=out) == 0
    folder = tmp_path.resolve()
    template_file = folder / "templates" / "invitation" / "attachments" / CSV
    meeting_file = folder / "filer" / PDF
    listed = out.getvalue()
    assert (
        f"invitation:{MEETING_ID}: {CSV}: {template_file}, {template_file.stat().st_size:,} bytes\n" in listed
    )
    assert (
        f"invitation:{MEETING_ID}: {PDF}: {meeting_file}, {meeting_file.stat().st_size:,} bytes\n" in listed
    )


def test_a_link_out_of_the_template_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    secret = tmp_path / "privat" / "adgangskoder.txt"
    secret.parent.mkdir()
    secret.write_text("not for the members", encoding="utf-8")
    link = tmp_path / "templates" / "invitation" / "attachments" / "Program.txt"
    link.symlink_to(secret)

    for command in (["check"], ["preview", "invitation", "--meeting", MEETING_ID]):
        assert main(["--config", str(config), *command], clock=lambda: SAMPLE_NOW, out=io.StringIO()) == 2
        err = capsys.readouterr().err
        assert f"Program.txt: is a link to {secret.resolve()}, outside the template's folder" in err
    assert not list((tmp_path / "outbox").rglob("*.eml"))


def test_a_link_inside_the_template_folder_keeps_its_name(tmp_path: Path) -> None:
    config = project(tmp_path)
    folder = tmp_path / "templates" / "invitation"
    shutil.copy(DATA / PDF, folder / "program-v3.pdf")
    (folder / "attachments" / "Program.pdf").symlink_to(folder / "program-v3.pdf")

    assert (
        main(
            ["--config", str(config), "preview", "invitation", "--meeting", MEETING_ID],
            clock=lambda: SAMPLE_NOW,
        )
        == 0
    )

    for eml in (tmp_path / "outbox").rglob("*.eml"):
        assert files_in(eml.read_bytes())["Program.pdf"][1] == (DATA / PDF).read_bytes()


def test_a_relative_path_out_of_the_project_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "andet" / "Program.pdf"
    outside.parent.mkdir()
    shutil.copy(DATA / PDF, outside)
    config = project(tmp_path / "netværk", meeting_files=["../andet/Program.pdf"])

    assert main(["--config", str(config), "check"], clock=lambda: SAMPLE_NOW, out=io.StringIO()) == 2

    err = capsys.readouterr().err
    assert (
        f"attachment '../andet/Program.pdf' leads out of the project folder (to {outside.resolve()})" in err
    )
    assert "write the full path" in err


def test_an_absolute_path_out_of_the_project_is_taken_and_check_says_so(tmp_path: Path) -> None:
    outside = (tmp_path / "andet" / "Program.pdf").resolve()
    outside.parent.mkdir()
    shutil.copy(DATA / PDF, outside)
    config = project(tmp_path / "netværk", meeting_files=[str(outside)])
    out = io.StringIO()

    assert main(["--config", str(config), "check"], clock=lambda: SAMPLE_NOW, out=out) == 0

    assert (
        f"Program.pdf: {outside}, {outside.stat().st_size:,} bytes (outside the project folder"
        in out.getvalue()
    )
    assert (
        main(
            ["--config", str(config), "preview", "invitation", "--meeting", MEETING_ID],
            clock=lambda: SAMPLE_NOW,
        )
        == 0
    )
    for eml in (tmp_path / "netværk" / "outbox").rglob("*.eml"):
        assert files_in(eml.read_bytes())["Program.pdf"][1] == (DATA / PDF).read_bytes()
