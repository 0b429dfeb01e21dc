"""What the coordinator reads after a send: failures told apart (refused for good, or for now),
a progress bar that counts failures as failures, English counts, quiet pipes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable

import conftest
import pytest
from conftest import MEETING, BusyRecorder, Faults, Project, SmtpServer

from mailer.cli import main

SEND = ("send", "invitation", "--meeting", MEETING["id"], "--yes")
REFUSED = "maria.lohse@roskilde.example"
LATER = BusyRecorder.busy
Factory = Callable[..., SmtpServer]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_refused_addresses_are_told_apart_from_ones_to_try_again(
    project: Project, smtp_server_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server_factory(
        "starttls", faults=Faults(reject={REFUSED}), handler=BusyRecorder
    )  # 451 for LATER
    project.smtp = {**server.smtp_config(), "max_attempts": 1}

    code, out = project.main(*SEND)

    assert code == 1
    report = out[out.index("sent: 2") :]
    assert report == (
        "sent: 2, skipped (already sent): 0, failed: 2\n"
        "refused by the server (1 address):\n"
        f"  failed: {REFUSED}: 550 5.1.1 No such mailbox here\n"
        "  check these addresses in the member list (or ask the members): they are left out of "
        "later sends (when one works again: mailer bounced --clear EMAIL)\n"
        "not delivered this time (1 message):\n"
        f"  failed: {LATER}: 451 4.3.0 Mailbox busy, try again later\n"
        "run the same command again to send it\n"
    )


def test_only_refused_addresses_get_no_run_again(project: Project, smtp_server_factory: Factory) -> None:
    server = smtp_server_factory("starttls", faults=Faults(reject={REFUSED}))
    project.smtp = server.smtp_config()

    code, out = project.main(*SEND)

    assert code == 1
    assert "refused by the server (1 address):" in out
    assert "run the same command again" not in out
    assert "not delivered this time" not in out


def test_the_bar_counts_a_failed_message_as_failed(project: Project, smtp_server_factory: Factory) -> None:
    server = smtp_server_factory("starttls", faults=Faults(reject={REFUSED}))
    project.smtp = {**server.smtp_config(), "concurrency": 1}
    project.write()
    terminal = Terminal()

    code = main(["--config", str(project.config), *SEND], clock=conftest.fixed_clock, out=terminal)

    assert code == 1
    last = terminal.getvalue().split("\r")[-1]
    assert last.startswith("[" + "#" * 22 + "!" * 8 + "] 3/4 sent, 1 failed · ")


def test_counts_read_right_for_one_and_for_many(project: Project, server: SmtpServer) -> None:
    code, out = project.main(*SEND, "--only", REFUSED)
    assert code == 0, out
    assert f"to send: 1 message to 1 member via 127.0.0.1:{server.port}" in out

    code, out = project.main(*SEND)
    assert code == 0, out
    assert "to send: 3 messages to 3 members" in out
    code, out = project.main("preview", "invitation", "--meeting", MEETING["id"])
    assert "4 members already have it (not sent again)" in out
    assert "wrote 0 messages to " in out
    code, out = project.main(
        "preview", "invitation", "--meeting", MEETING["id"], "--only", REFUSED, "--resend"
    )
    assert "wrote 1 message to " in out


def test_output_into_a_closed_pipe_ends_quietly(project: Project) -> None:
    """`mailer check | head -1`: the reader is gone before the output is written."""
    project.write()
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mailer", "--config", str(project.config), "check"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert done.stderr == ""
    assert done.returncode == 0
