"""The mail service's limits: Microsoft 365's and Gmail's applied unless config.toml sets its own,
the day's limit counted from the journal across runs (a run sends what is left of today's and
says how to send the rest), and how long a run takes at the rate limit, said before it starts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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
        "the last 24 hours: this run sends 3 of the 4; the next can go from 2026-11-26 10:30 "
        "(Europe/Copenhagen): run the same command again then for the other 1"
    ) in out
    assert len(server.recorder.received) == 3

    later = FIXED + timedelta(hours=23)
    code, out = project.main(*SEND, now=later)
    assert code == 0, out
    assert "3 messages went out in the last 24 hours: nothing is sent now" in out
    assert "the next can go from 2026-11-26 10:30 (Europe/Copenhagen): run the same command again then" in out
    assert len(server.recorder.received) == 3

    code, out = project.main(*SEND, now=FIXED + timedelta(days=1, minutes=1))
    assert code == 0, out
    assert "config.toml (rate_per_day) allows 3 messages a day: 3 left today" in out
    assert len(server.recorder.received) == 4
    assert sorted(server.recipients) == sorted(m[1] for m in project.members)


def at_copenhagen(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Copenhagen")).astimezone(UTC)


def test_the_days_limit_says_exactly_when_the_next_messages_can_go_across_midnight(
    project: Project, server: SmtpServer
) -> None:
    """Not 'tomorrow': a run at 23:45 that fills the day's limit says the next message can go at
    23:45 the next evening (to the minute, the coordinator's clock), and a run just after
    midnight, 'tomorrow' already, is told the same and sends nothing."""
    project.smtp = {**server.smtp_config(), "rate_per_day": 3}
    code, out = project.main(*SEND, now=at_copenhagen("2026-11-25T23:45:30"))
    assert code == 0, out
    assert (
        "this run sends 3 of the 4; the next can go from 2026-11-26 23:46 (Europe/Copenhagen): "
        "run the same command again then for the other 1"
    ) in out

    for now in ("2026-11-26T00:05:00", "2026-11-26T23:45:00"):
        code, out = project.main(*SEND, now=at_copenhagen(now))
        assert code == 0, out
        assert (
            "3 messages went out in the last 24 hours: nothing is sent now; the next can go from "
            "2026-11-26 23:46 (Europe/Copenhagen): run the same command again then to send the 1"
        ) in out
    assert len(server.recorder.received) == 3

    code, out = project.main(*SEND, now=at_copenhagen("2026-11-26T23:46:00"))
    assert code == 0, out
    assert "allows 3 messages a day: 3 left today" in out
    assert len(server.recorder.received) == 4


def test_the_next_message_waits_for_the_message_that_fills_the_day(
    project: Project, server: SmtpServer
) -> None:
    """Of several runs in the last 24 hours, the oldest message counted first: the next can go
    when the one that fills the day's limit is 24 hours old."""
    project.smtp = {**server.smtp_config(), "rate_per_day": 3}
    everyone = list(project.members)
    project.members = everyone[:2]
    assert project.main(*SEND, now=at_copenhagen("2026-11-25T08:00:00"))[0] == 0  # 2 of 3
    project.members = everyone
    code, out = project.main(*SEND, now=at_copenhagen("2026-11-25T20:00:00"))
    assert code == 0, out
    assert "this run sends 1 of the 2; the next can go from 2026-11-26 08:00 (Europe/Copenhagen)" in out

    project.smtp["rate_per_day"] = 1  # 3 in the day now, the limit 1: the third must age out
    code, out = project.main(*SEND, now=at_copenhagen("2026-11-26T09:00:00"))
    assert code == 0, out
    assert "nothing is sent now; the next can go from 2026-11-26 20:00 (Europe/Copenhagen)" in out
    assert len(server.recorder.received) == 3
