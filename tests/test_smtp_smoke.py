"""The send path against a real STARTTLS + AUTH server on loopback."""

from __future__ import annotations

from collections.abc import Callable

from conftest import MEETING_ID, Project, SmtpServer


def test_send_over_starttls_with_auth_delivers_one_message_per_member(
    project: Project, smtp_server_factory: Callable[..., SmtpServer]
) -> None:
    server = smtp_server_factory("starttls")
    project.smtp = server.smtp_config()
    code, out = project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0, out
    assert sorted(server.recipients) == sorted(m[1] for m in project.members)
    assert server.recorder.logins
    for msg in server.messages:
        assert msg["To"].addresses[0].addr_spec in server.recipients
    code, out = project.main("send", "invitation", "--meeting", MEETING_ID, "--yes")
    assert code == 0
    assert "nothing to send" in out
    assert len(server.recorder.received) == len(project.members)
