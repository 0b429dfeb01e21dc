"""`kill -9` in the middle of a send, then the same command again: nobody is left out, and a
member gets the message twice only when the server had taken it but the journal had not yet
heard so, and then with the same Message-ID.

The send runs as a real process (`python -m mailer`) against the loopback server. The server
answers the first K messages and then holds every later one (before or after keeping its
bytes) until the test has killed the process, so the kill falls at a known point, without
sleeps.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import MEETING, ROOT, Faults, Project, Recorder, SmtpServer

from mailer.journal import Journal

ANSWERED = 5  # messages the server answers before it starts holding them
CONCURRENCY = 3
COMMAND = ("send", "invitation", "--meeting", MEETING["id"], "--yes")


class HoldingRecorder(Recorder):
    """Answers `answered` messages, then holds each later one until `release` is set.

    keep_held: whether a held message's bytes are kept (the server has taken it, the client
    has not heard) or not (the server never took it).
    """

    answered: int | None = ANSWERED
    keep_held = True

    def __init__(self, faults: Faults) -> None:
        super().__init__(faults)
        self.release = threading.Event()
        self.arrived = threading.Condition()
        self.held = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        item = (envelope.mail_from or "", list(envelope.rcpt_tos), bytes(envelope.content or b""))
        with self.arrived:
            hold = self.answered is not None and len(self.received) + self.held >= self.answered
            if not hold or self.keep_held:
                self.received.append(item)
            self.held += hold
            self.arrived.notify_all()
        if hold:
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
            if not self.keep_held:
                return "451 4.3.0 Try again"  # the client is gone by now; nothing was taken
        return "250 2.0.0 Message accepted"

    def wait_until_held(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: self.held >= count, timeout=30), "the send never got going"


@pytest.fixture
def holding(
    monkeypatch: pytest.MonkeyPatch, smtp_server_factory: Callable[..., SmtpServer]
) -> Iterator[Callable[[bool], SmtpServer]]:
    servers: list[SmtpServer] = []

    def start(keep_held: bool) -> SmtpServer:
        handler = type("Holding", (HoldingRecorder,), {"keep_held": keep_held})
        server = smtp_server_factory("starttls", handler=handler)
        servers.append(server)
        return server

    yield start
    for server in servers:  # never leave a server thread waiting (the factory stops them next)
        server.recorder.release.set()  # type: ignore[attr-defined]


def mailer(project: Project, log: Path) -> subprocess.Popen[bytes]:
    """`python -m mailer --config ... send ... --yes` as the coordinator would run it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mailer", "--config", str(project.config), *COMMAND],
            cwd=project.root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def message_ids(server: SmtpServer) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for (_, rcpts, _), msg in zip(server.recorder.received, server.messages, strict=True):
        found.setdefault(rcpts[0], []).append(str(msg["Message-ID"]))
    return found


@pytest.mark.parametrize(
    ("keep_held", "processes"),
    [(True, 0), (False, 0), (True, 1)],
    ids=["taken-unanswered", "not-taken", "taken-unanswered-built-by-a-worker"],
)
def test_kill_mid_run_then_rerun_loses_nobody_and_duplicates_keep_their_id(
    project: Project, holding: Callable[[bool], SmtpServer], keep_held: bool, processes: int
) -> None:
    """With a worker process building the messages, the kill must not leave it behind holding
    the journal's lock (the re-run would refuse to start)."""
    server = holding(keep_held)
    recorder: HoldingRecorder = server.recorder  # type: ignore[assignment]
    project.smtp = {**server.smtp_config(), "concurrency": CONCURRENCY, "compose_processes": processes}
    project.members += [
        (f"Medlem {n}", f"medlem{n}@greve.example", "Greve Bibliotek", "da") for n in range(11)
    ]
    assert len(project.members) > ANSWERED + CONCURRENCY  # some are still to go at the kill
    project.write()
    everyone = sorted(m[1] for m in project.members)
    log = project.root / "mailer.log"

    first = mailer(project, log)
    try:
        recorder.wait_until_held(CONCURRENCY)  # every connection is waiting for an answer
        first.kill()  # SIGKILL: no cleanup, no journal flush, no QUIT
    finally:
        first.wait(timeout=30)
    assert first.returncode == -9
    taken_before = Counter(server.recipients)
    held = recorder.held
    assert held == CONCURRENCY
    with Journal(project.state, readonly=True) as journal:  # `mailer status` after the kill
        assert len(journal.deliveries()) == ANSWERED  # every answered message, from the log
    recorder.answered = None
    recorder.release.set()

    second = mailer(project, log)
    assert second.wait(timeout=60) == 0, log.read_text(encoding="utf-8")

    got = Counter(server.recipients)
    assert sorted(got) == everyone  # nobody left out
    twice = {rcpt for rcpt, n in got.items() if n > 1}
    assert max(got.values()) <= 2
    # at most one message per connection can be taken but not yet journalled at the kill
    assert len(twice) <= CONCURRENCY
    if keep_held:
        # the held ones were taken and never answered: they must go again (the bound is reached)
        held_rcpts = {rcpt for rcpt, n in taken_before.items() if n}
        assert len(twice) >= held and twice <= held_rcpts
    for rcpt, ids in message_ids(server).items():
        assert len(set(ids)) == 1, f"{rcpt} got two different Message-IDs: {ids}"

    with sqlite3.connect(project.state) as db:
        rows = dict(db.execute("SELECT recipient, status FROM deliveries").fetchall())
        journal_ids = dict(db.execute("SELECT recipient, message_id FROM deliveries").fetchall())
    assert rows == dict.fromkeys(everyone, "sent")
    assert all(journal_ids[rcpt] == ids[0] for rcpt, ids in message_ids(server).items())

    # and a third run finds nothing left to do
    code, out = project.main(*COMMAND)
    assert (code, out.splitlines()[-1]) == (0, "nothing to send")
    assert Counter(server.recipients) == got
    assert not left_running(project.config), "a process of the killed run is still there"


def left_running(config: Path) -> list[int]:
    """Processes (the run, or workers it forked) still running with this project's config."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if str(config).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found
