"""`mailer status`: per campaign, who was sent what and when, and who failed with the server's reply."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from conftest import MEETING, Faults, Project, SmtpServer

MEETING_ID = MEETING["id"]
CAMPAIGN = f"invitation:{MEETING_ID}"
BAD = "maria.lohse@roskilde.example"
AT = "2026-11-25 10:30"  # FIXED in Copenhagen


@pytest.fixture
def sent_with_one_failure(project: Project, smtp_server_factory: Callable[..., SmtpServer]) -> SmtpServer:
    server = smtp_server_factory("starttls", faults=Faults(reject={BAD}))
    project.smtp = server.smtp_config()
    code, out = project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 1, out
    return server


def test_nothing_sent_yet(project: Project) -> None:
    assert project.main("status") == (0, "nothing has been sent yet\n")


def test_status_lists_every_campaign_with_sent_and_failed(
    project: Project, sent_with_one_failure: SmtpServer
) -> None:
    code, out = project.main("send", "newsletter", "--yes")
    assert code == 0, out  # Maria's address bounced: left out, and said so
    assert f"1 member left out because their address bounced:\n    {BAD}" in out
    assert project.main("bounced", "--clear", BAD)[0] == 0
    code, out = project.main("send", "newsletter", "--yes")
    assert code == 1, out  # put back, and her mailbox still refuses
    code, out = project.main("status")
    assert code == 0, out
    # one line per campaign, in local time (FIXED is 09:30 UTC, winter: 10:30 in Copenhagen)
    assert out.splitlines()[:-1] == [
        f"{CAMPAIGN}: 3 sent, 1 failed, last {AT}",
        f"newsletter: 3 sent, 1 failed, last {AT}",
        "each message of one: mailer status CAMPAIGN; who answered: mailer status MEETING_ID",
    ]
    assert out.splitlines()[-1].startswith("last copy of the journal: ")  # tests/test_safekeeping.py
    code, out = project.main("status", "newsletter")
    assert code == 0, out
    lines = out.splitlines()
    assert f"  {AT}  sent    soren.aero@vordingborg.example" in lines
    assert f"  {AT}  failed  {BAD}  550 5.1.1 No such mailbox here" in lines  # the newsletter: no sequence
    code, out = project.main("status", CAMPAIGN)
    assert f"  {AT}  sent    soren.aero@vordingborg.example seq 0" in out.splitlines()
    assert f"  {AT}  failed  {BAD} seq 0  550 5.1.1 No such mailbox here" in out.splitlines()


def test_status_shows_a_summer_meetings_times_in_its_own_zone(
    project: Project, smtp_server_factory: Callable[..., SmtpServer]
) -> None:
    server = smtp_server_factory("starttls")
    project.smtp = server.smtp_config()
    project.meetings[0]["timezone"] = "America/New_York"
    summer = datetime(2027, 6, 1, 16, 5, tzinfo=UTC)
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes", now=summer)[0] == 0

    for meetings in (project.meetings, []):  # taken out of config.toml, the journal still knows it
        project.meetings = meetings
        assert (
            project.main("status")[1].splitlines()[0]
            == f"{CAMPAIGN}: 4 sent, 0 failed, last 2027-06-01 12:05"
        )
        assert "  2027-06-01 12:05  sent " in project.main("status", CAMPAIGN)[1]


def test_status_of_one_campaign_follows_a_retry(project: Project, sent_with_one_failure: SmtpServer) -> None:
    code, out = project.main("status", CAMPAIGN)
    assert code == 0, out
    assert out.splitlines()[0] == f"{CAMPAIGN}: 3 sent, 1 failed"
    assert f"failed  {BAD} seq 0  550 5.1.1 No such mailbox here" in out
    assert sum(line.startswith(f"  {AT}  sent ") for line in out.splitlines()) == 3

    sent_with_one_failure.faults.reject.clear()
    assert project.main("bounced", "--clear", BAD)[0] == 0  # the address works again
    assert project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")[0] == 0
    code, out = project.main("status", CAMPAIGN)
    assert out.splitlines()[0] == f"{CAMPAIGN}: 4 sent, 0 failed"
    assert "failed" not in "\n".join(out.splitlines()[1:]) and "550" not in out


def test_status_of_an_unknown_campaign(project: Project, sent_with_one_failure: SmtpServer) -> None:
    code, out = project.main("status", "invitation:2030-01-01-ukendt")
    assert code == 2
    assert "no campaign or meeting 'invitation:2030-01-01-ukendt'" in out


def test_status_of_the_meeting_lists_the_invited(project: Project, sent_with_one_failure: SmtpServer) -> None:
    code, out = project.main("status", MEETING_ID)
    assert code == 0, out
    assert out.splitlines()[0] == f"{MEETING_ID}: sequence 0, 3 members invited"
    # when and where, written as the members' texts write it (the sender's language)
    assert out.splitlines()[1] == (
        "  tirsdag den 21. september 2027 kl. 13.00–16.00, Roskilde Bibliotek, Dronning Margrethes Vej 14,"
        " 4000 Roskilde (bekræftet)"
    )
    assert "soren.aero@vordingborg.example" in out and "no answer" in out


def test_meeting_status_names_members_whose_invitation_never_arrived(
    project: Project, sent_with_one_failure: SmtpServer
) -> None:
    code, out = project.main("status", MEETING_ID)
    assert code == 0, out
    assert f"{MEETING_ID}: sequence 0, 3 members invited" in out
    assert f"  {BAD:40} not delivered: 550 5.1.1 No such mailbox here  Maria Lohse" in out.splitlines()
    assert "no answer: 3" in out and "not delivered: 1" in out
