"""MAILER_PLAIN=1 turns every speed path off, and a run writes the same bytes either way: every
message sent (built by forked workers on the fast path, here in this process on the plain one)
and every journal row."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import MEETING, MEMBERS, PASSWORD, ROOT, Project, SmtpServer

from mailer.config import load_settings
from mailer.forked import builder_processes

Factory = Callable[..., SmtpServer]

# Names that take every way through the headers: æøå, a long one that folds, ASCII, none, one
# that looks like an encoded word; English and Danish members.
ODD = [
    ("Åse Bøgh-Østergaard Kjærsgaard, Bibliotekernes Formidlingsnetværk Åbenrå", "da"),
    ("Ida Strand", "en"),
    ("", "da"),
    ("=?utf-8?b?SGVq?=", "en"),
    ('Eva "Ond" <eva@x.example>', "da"),
]


def members(count: int) -> list[tuple[str, str, str, str]]:
    found = list(MEMBERS)
    for n in range(count - len(found)):
        name, language = ODD[n % len(ODD)]
        found.append(
            (f"{name} {n}".strip() if name else "", f"medlem{n}@køge.example", "Køge Bibliotek", language)
        )
    return found


def sent_and_recorded(
    root: Path, server: SmtpServer, plain: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Any], list[Any]]:
    shutil.copytree(ROOT / "templates", root / "templates")
    smtp = {**server.smtp_config(), "compose_processes": 2}
    project = Project(root, smtp, [dict(MEETING)], members(260))
    monkeypatch.setenv("MAILER_SMTP__PASSWORD", PASSWORD)
    if plain:
        monkeypatch.setenv("MAILER_PLAIN", "1")
    else:
        monkeypatch.delenv("MAILER_PLAIN", raising=False)
    code, out = project.main("send", "invitation", "--meeting", MEETING["id"], "--yes")
    assert code == 0, out
    # each message's envelope (MAIL FROM with its SIZE, RCPT TO) and bytes, as the server took them;
    # SIZE in any case (an ESMTP keyword, RFC 1869): `sendmail`, the plain path's, writes "size="
    recorder = server.recorder
    envelopes = zip(recorder.received, recorder.mail_options, strict=True)
    received = sorted((*message, [o.upper() for o in options]) for message, options in envelopes)
    with sqlite3.connect(project.state) as db:
        rows = db.execute("SELECT * FROM deliveries ORDER BY recipient").fetchall()
    return received, rows


def test_a_send_is_the_same_bytes_and_journal_on_both_paths(
    tmp_path: Path, smtp_server_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = sent_and_recorded(tmp_path / "fast", smtp_server_factory("starttls"), False, monkeypatch)
    plain = sent_and_recorded(tmp_path / "plain", smtp_server_factory("starttls"), True, monkeypatch)
    assert len(fast[0]) == 260
    assert fast == plain


def test_the_plain_path_builds_every_message_in_this_process(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.smtp = {**project.smtp, "compose_processes": 2}
    assert builder_processes(load_settings(project.write()), 10_000) == 2
    monkeypatch.setenv("MAILER_PLAIN", "1")
    assert builder_processes(load_settings(project.write()), 10_000) == 0
