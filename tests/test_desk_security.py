"""The desk holds personal data and can send mail as the coordinator: `mailer desk` run as she
runs it (a process of its own, serving on loopback), probed with plain HTTP requests."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from conftest import FIXED, Project
from desk_client import DeskClient, running_desk


@pytest.fixture
def desk(project: Project) -> Iterator[tuple[DeskClient, subprocess.Popen[str]]]:
    config = project.write()
    with subprocess.Popen(
        [sys.executable, "-m", "mailer", "--config", str(config), "desk", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=project.root,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()  # printed once the sockets listen
        found = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", first)
        try:
            assert found, first + process.stderr.read()
            yield DeskClient(found.group(0)), process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.communicate(timeout=30)


def token_of(client: DeskClient) -> str:
    return client.address.rsplit("token=", 1)[1]


def test_nothing_without_the_token_and_the_token_becomes_a_strict_httponly_cookie(
    desk: tuple[DeskClient, subprocess.Popen[str]],
) -> None:
    client, _ = desk
    for path in ("/", "/members", "/static/desk.css", "/no-such-page"):
        assert client.request("GET", path).status == 403
    wrong = client.request("GET", "/?token=" + "x" * 43)
    assert wrong.status == 403 and "Set-Cookie" not in wrong.headers
    assert client.request("GET", "/", headers={"Cookie": f"mailer_desk_{client.port}=guessed"}).status == 403

    opened = client.open()
    assert opened.headers["Location"] == "/"  # the address bar is left without the token
    cookie = opened.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert token_of(client) not in cookie
    page = client.get("/")
    assert page.status == 200 and "Kommende møder" in page.text
    assert token_of(client) not in page.text
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]


def test_two_desks_at_once_keep_their_own_cookies(project: Project) -> None:
    """A browser keeps cookies per host, not per port: the cookies of two desks on 127.0.0.1 go
    into one jar, and each desk still knows its own after the other was opened."""
    config = project.write()
    with running_desk(config, FIXED) as first, running_desk(config, FIXED) as second:
        a, b = DeskClient(first.address), DeskClient(second.address)
        jar: dict[str, str] = {}
        for client in (a, b):  # opened one after the other, as two tabs of the same browser
            name, value = client.open().headers["Set-Cookie"].split(";", 1)[0].split("=", 1)
            jar[name] = value
        a.cookie = b.cookie = "; ".join(f"{name}={value}" for name, value in jar.items())
        assert len(jar) == 2
        assert a.get("/").status == 200 and b.get("/").status == 200


def test_only_its_loopback_name_is_answered(desk: tuple[DeskClient, subprocess.Popen[str]]) -> None:
    """A page on a domain made to point at 127.0.0.1 (DNS rebinding) sends its own name as Host."""
    client, _ = desk
    client.open()
    port = client.port
    assert client.request("GET", "/", host=f"localhost:{port}").status == 200
    for host in (f"rebind.example:{port}", "127.0.0.1", f"127.0.0.1.nip.example:{port}", ""):
        reply = client.request("GET", "/", host=host)
        assert reply.status == 403, host
        assert "Kommende" not in reply.text


def test_a_post_without_the_csrf_token_or_from_another_site_is_refused(
    desk: tuple[DeskClient, subprocess.Popen[str]],
) -> None:
    client, _ = desk
    client.open()
    assert client.get("/").status == 200 and client.csrf
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/", {}, csrf=False).status == 403
    assert client.post("/", {"csrf": "guessed"}, csrf=False).status == 403
    evil = {**form, "Origin": "http://rebind.example"}
    body = f"csrf={client.csrf}".encode()
    assert client.request("POST", "/", body, evil).status == 403
    # With its token the request reaches the desk (which has no POST at / to offer).
    assert client.request("POST", "/", body, form).status == 405
    assert client.request("PUT", "/", body, form).status == 405
    assert client.request("DELETE", "/", None).status == 405


def test_nothing_changes_on_get(desk: tuple[DeskClient, subprocess.Popen[str]], project: Project) -> None:
    client, _ = desk
    before = {p: p.read_bytes() for p in project.root.rglob("*") if p.is_file()}
    client.open()
    for path in ("/", "/members", "/members?q=K%C3%B8ge"):
        assert client.get(path).status == 200
    after = {p: p.read_bytes() for p in project.root.rglob("*") if p.is_file()}
    assert after == before


def non_loopback_address() -> str | None:
    """This machine's address on its network, if it has one (a UDP socket sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routed, never reached
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_not_reachable_on_the_machines_other_addresses(
    desk: tuple[DeskClient, subprocess.Popen[str]],
) -> None:
    client, _ = desk
    client.open()
    assert client.get("/").status == 200
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, client.port), timeout=5).close()


def test_ctrl_c_stops_it(desk: tuple[DeskClient, subprocess.Popen[str]]) -> None:
    client, process = desk
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "the desk is closed" in out
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", client.port), timeout=5).close()


def test_it_refuses_a_port_that_is_taken(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _ = project.main("desk", "--no-browser", "--port", str(port))
    said = capsys.readouterr().err
    assert code == 2
    assert f"port {port} is taken: another program on this computer already uses it" in said, said
    assert f"mailer desk --port {port + 1}" in said and "leave --port out" in said, said


def test_listens_on_loopback_only() -> None:
    from mailer.desk.server import listening_sockets

    sockets = listening_sockets(0)
    try:
        import ipaddress

        assert all(ipaddress.ip_address(s.getsockname()[0]).is_loopback for s in sockets)
        assert len({s.getsockname()[1] for s in sockets}) == 1
    finally:
        for s in sockets:
            s.close()


def test_ipv6_loopback_serves_under_its_own_name(desk: tuple[DeskClient, subprocess.Popen[str]]) -> None:
    client, _ = desk
    client.open()
    try:
        socket.create_connection(("::1", client.port), timeout=5).close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    assert client.request("GET", "/", host=f"[::1]:{client.port}", connect_to="::1").status == 200
    assert client.request("GET", "/", host=f"rebind.example:{client.port}", connect_to="::1").status == 403
