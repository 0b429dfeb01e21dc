"""The name mailer greets the server with (EHLO), as a test SMTP server on loopback receives
it: smtp.local_hostname when set, else the machine's name when it is fully qualified, else
the connection's own address (RFC 5321 4.1.4); never a bare `localhost`, which strict relays
refuse."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from conftest import MEETING, Faults, Project, SmtpServer

SEND = ("send", "invitation", "--meeting", MEETING["id"], "--yes")


def strict_server(project: Project, start: Callable[..., SmtpServer], security: str) -> SmtpServer:
    server = start(security, auth=security != "none", faults=Faults(strict_helo=True))
    project.smtp = server.smtp_config(auth=security != "none")
    return server


def delivered_to_everyone(project: Project, server: SmtpServer) -> None:
    code, out = project.main(*SEND)
    assert code == 0, out
    assert sorted(server.recipients) == sorted(m[1] for m in project.members)
    assert server.recorder.refusals == []


@pytest.mark.parametrize("security", ["starttls", "tls", "none"])
def test_a_machine_without_a_qualified_name_greets_with_its_address(
    project: Project,
    smtp_server_factory: Callable[..., SmtpServer],
    monkeypatch: pytest.MonkeyPatch,
    security: str,
) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "localhost")  # as on many laptops
    server = strict_server(project, smtp_server_factory, security)
    delivered_to_everyone(project, server)
    assert server.recorder.greetings
    assert set(server.recorder.greetings) == {"[127.0.0.1]"}  # before and after STARTTLS alike


def test_over_ipv6_the_address_literal_says_so(
    project: Project, smtp_server_factory: Callable[..., SmtpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "localhost")
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    server = smtp_server_factory("none", auth=False, faults=Faults(strict_helo=True), host="::1")
    project.smtp = server.smtp_config(auth=False)
    delivered_to_everyone(project, server)
    assert set(server.recorder.greetings) == {"[IPv6:::1]"}  # RFC 5321 4.1.3


def test_a_machine_with_a_qualified_name_greets_with_it(
    project: Project, smtp_server_factory: Callable[..., SmtpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "pc42.roskilde.example")
    server = strict_server(project, smtp_server_factory, "starttls")
    delivered_to_everyone(project, server)
    assert set(server.recorder.greetings) == {"pc42.roskilde.example"}
    assert len(server.recorder.greetings) >= 2  # EHLO again after STARTTLS (RFC 3207 4.2)


def test_the_name_from_the_settings_is_used_as_it_is(
    project: Project, smtp_server_factory: Callable[..., SmtpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "pc42.roskilde.example")
    server = strict_server(project, smtp_server_factory, "starttls")
    project.smtp["local_hostname"] = "mailer.roskilde.example"
    delivered_to_everyone(project, server)
    assert set(server.recorder.greetings) == {"mailer.roskilde.example"}


def test_this_machines_own_default_is_never_localhost(
    project: Project, smtp_server_factory: Callable[..., SmtpServer]
) -> None:
    server = strict_server(project, smtp_server_factory, "starttls")
    delivered_to_everyone(project, server)
    machine = socket.getfqdn()
    expected = machine if "." in machine and not machine.startswith("localhost") else "[127.0.0.1]"
    assert set(server.recorder.greetings) == {expected}


def test_a_strict_relay_refuses_a_bare_localhost(
    project: Project, smtp_server_factory: Callable[..., SmtpServer]
) -> None:
    """The fault the server fixture plays is real: set on purpose, `localhost` is refused."""
    server = strict_server(project, smtp_server_factory, "starttls")
    project.smtp["local_hostname"] = "localhost"
    code, out = project.main(*SEND)
    assert code == 1
    assert server.recipients == []
    assert "need fully-qualified hostname" in out


@pytest.mark.parametrize("name", ["pc 42", "[pc42]", "-pc42", "pc_42.roskilde.example"])
def test_a_name_that_is_no_name_is_refused_by_check(
    project: Project, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    project.smtp["local_hostname"] = name
    code, _ = project.main("check")
    err = capsys.readouterr().err
    assert code == 2
    assert "smtp.local_hostname" in err and "[192.0.2.7]" in err
    assert name not in err


def test_starttls_after_the_greeting_still_refuses_a_server_without_it(
    project: Project, smtp_server_factory: Callable[..., SmtpServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = smtp_server_factory("none", auth=False)
    project.smtp = {**server.smtp_config(auth=False), "security": "starttls"}
    code, _ = project.main(*SEND)
    assert code != 0
    err = capsys.readouterr().err
    assert "127.0.0.1 does not offer STARTTLS; nothing was sent." in err, err
    assert server.recipients == []
