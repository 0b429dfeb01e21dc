"""The mail service's limits: Microsoft 365's and Gmail's applied unless config.toml sets its own,
the day's limit counted from the journal across runs (a run sends what is left of today's and
says how to send the rest), and how long a run takes at the rate limit, said before it starts.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import FIXED, MEETING, Project, SmtpServer

from mailer.config import SmtpSettings
from mailer.limits import duration, sending_limits
from mailer.providers import GMAIL, MICROSOFT_365, likely_provider

SEND = ("send", "invitation", "--meeting", MEETING["id"], "--yes")


@pytest.mark.parametrize(
    ("smtp", "minute", "day", "by"),
    [
        ({"host": "smtp.office365.com"}, 30, 10_000, "Microsoft 365"),
        ({"host": "smtp.gmail.com", "username": "rum@gmail.com"}, None, 500, "Gmail"),
        ({"host": "smtp.gmail.com", "username": "rum@GoogleMail.com"}, None, 500, "Gmail"),
        ({"host": "smtp.gmail.com", "username": "rum@roskilde.example"}, None, 2_000, "Gmail"),
        ({"host": "smtp.office365.com", "rate_per_minute": 10}, 10, 10_000, "Microsoft 365"),
        ({"host": "smtp.office365.com", "rate_per_day": 300}, 30, 300, "config.toml (rate_per_day)"),
        ({"host": "mail.roskilde.example"}, None, None, ""),
    ],
)
def test_known_services_limits_unless_the_config_sets_its_own(
    smtp: dict[str, object], minute: float | None, day: int | None, by: str
) -> None:
    limits = sending_limits(SmtpSettings(**smtp))  # type: ignore[arg-type]
    assert (limits.per_minute, limits.per_day, limits.day_set_by) == (minute, day, by)


@pytest.mark.parametrize("address", ["rum@gmail.com", "rum@GoogleMail.com"])
def test_an_own_gmail_address_is_taken_for_gmail_by_init_and_by_the_limits(address: str) -> None:
    assert likely_provider(address) == GMAIL
    assert sending_limits(SmtpSettings(host=GMAIL.host, username=address)).per_day == 500
    assert likely_provider("rum@roskilde.example") == MICROSOFT_365


def test_how_long_at_the_rate() -> None:
    office = SmtpSettings(host="smtp.office365.com")
    assert duration(10, office) == "at 30 messages a minute this takes less than a minute"
    assert duration(20, office) == "at 30 messages a minute this takes about 1 minute"
    assert duration(1_000, office) == "at 30 messages a minute this takes about 33 minutes"
    assert duration(10_000, office) == "at 30 messages a minute this takes about 5 hours 33 minutes"
    assert (
        duration(1_000, SmtpSettings(rate_per_hour=600))
        == "at 10 messages a minute this takes about 1 hour 40 minutes"
    )
    assert duration(1_000, SmtpSettings()) == ""


def test_the_summary_says_how_long_the_run_takes(project: Project, server: SmtpServer) -> None:
    project.smtp = {**server.smtp_config(), "rate_per_minute": 600}
    code, out = project.main(*SEND)
    assert code == 0, out
    assert "to send: 4 messages to 4 members" in out
    assert "  at 600 messages a minute this takes less than a minute\n" in out


def test_the_days_limit_holds_across_runs(project: Project, server: SmtpServer) -> None:
    project.smtp = {**server.smtp_config(), "rate_per_day": 3}
    code, out = project.main(*SEND)
    assert code == 0, out
    assert (
        "config.toml (rate_per_day) allows 3 messages a day from one mailbox, and 0 messages went out in "
        "the last 24 hours: this run sends 3 of the 4. Run the same command again tomorrow for the other 1"
    ) in out
    assert len(server.recorder.received) == 3

    later = FIXED + timedelta(hours=23)
    code, out = project.main(*SEND, now=later)
    assert code == 0, out
    assert "3 messages went out in the last 24 hours: nothing is sent now" in out
    assert "Run the same command again tomorrow to send the 1" in out
    assert len(server.recorder.received) == 3

    code, out = project.main(*SEND, now=FIXED + timedelta(days=1, minutes=1))
    assert code == 0, out
    assert "config.toml (rate_per_day) allows 3 messages a day: 3 left today" in out
    assert len(server.recorder.received) == 4
    assert sorted(server.recipients) == sorted(m[1] for m in project.members)
