"""Each command imports only what it uses: a person waiting on `mailer --help` or `status` does
not pay for Jinja2, icalendar, MSAL or pydantic-settings (benchmarks/startup.py has the times)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MEETING_ID

HEAVY = (
    "jinja2",
    "icalendar",
    "css_inline",
    "markdown_it",
    "msal",
    "pydantic_settings",
    "pydantic",
    "email_validator",
    "babel",
    "aiosmtplib",
    "asyncio",
    "multiprocessing",
)
PROBE = """
import io, json, sys
from mailer.cli import main
try:
    main(sys.argv[1:], out=io.StringIO())
except SystemExit:
    pass
print(json.dumps(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


def imported(folder: Path, *args: str, environment: dict[str, str] | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MAILER_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        cwd=folder,
        env={**env, **(environment or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    assert imported(tmp_path, "--help") == []


def test_status_reads_the_config_and_journal_only(sample: Path) -> None:
    assert imported(sample.parent, "status") == ["pydantic"]


def test_previewing_an_invitation_leaves_out_markdown_signing_in_and_environment_settings(
    sample: Path,
) -> None:
    used = imported(sample.parent, "preview", "invitation", "--meeting", MEETING_ID)

    assert {"jinja2", "icalendar", "email_validator"} <= set(used)
    assert not {"markdown_it", "msal", "pydantic_settings"} & set(used)
    assert not {"aiosmtplib", "asyncio", "multiprocessing"} & set(used)  # nothing is sent


def test_check_leaves_out_sending_and_worker_processes(sample: Path) -> None:
    used = imported(sample.parent, "check")

    assert {"jinja2", "icalendar", "email_validator", "babel"} <= set(used)
    assert not {"aiosmtplib", "asyncio", "multiprocessing", "msal"} & set(used)


@pytest.mark.parametrize("variable", ["MAILER_SMTP__HOST", "mailer_smtp__host"])
def test_pydantic_settings_comes_in_when_the_environment_sets_a_key(sample: Path, variable: str) -> None:
    assert "pydantic_settings" in imported(sample.parent, "status", environment={variable: "relay.example"})
    assert "pydantic_settings" not in imported(
        sample.parent, "status", environment={"MAILER_CONFIG": str(sample)}
    )
