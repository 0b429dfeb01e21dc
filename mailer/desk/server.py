"""Starting the desk: sockets on the loopback addresses only, the guard in front of the app,
uvicorn serving until Ctrl-C."""

from __future__ import annotations

import ipaddress
import signal
import socket
import webbrowser
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import uvicorn

from mailer.desk.app import Pages, create_app
from mailer.desk.guard import Guard, Keys
from mailer.errors import MailerError

Clock = Callable[[], datetime]


def listening_sockets(port: int) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1 (and ::1 on the same port where the computer has IPv6);
    `port` 0 takes a free one. Anything that is not a loopback address is refused."""
    first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        first.bind(("127.0.0.1", port))
    except OSError as err:
        first.close()
        other = port + 1 if 0 < port < 65535 else 8765
        raise MailerError(
            f"port {port} is taken: another program on this computer already uses it "
            f"({err.strerror}). Start the desk on another port, e.g. mailer desk --port {other}, "
            "or leave --port out and the desk takes a free one",
            field="--port",
        ) from err
    sockets = [first]
    chosen = first.getsockname()[1]
    if socket.has_ipv6:
        six = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            six.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            six.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            six.bind(("::1", chosen))
            sockets.append(six)
        except OSError:  # no IPv6 loopback here (or the port is taken on it): 127.0.0.1 serves
            six.close()
    for sock in sockets:
        address = sock.getsockname()[0]
        if not ipaddress.ip_address(address).is_loopback:
            for s in sockets:
                s.close()
            raise MailerError(f"the desk listens on loopback addresses only, not on {address}")
        # Listening before uvicorn starts: a browser (or a test) that connects at once waits in
        # the queue instead of being refused.
        sock.listen(64)
    return sockets


class Desk:
    """One desk: its sockets, keys and server. `run()` serves until `stop()` or Ctrl-C."""

    def __init__(self, config: Path, *, port: int = 0, clock: Clock | None = None) -> None:
        self.keys = Keys()
        self.sockets = listening_sockets(port)
        self.port: int = self.sockets[0].getsockname()[1]
        app = create_app(config, csrf=self.keys.csrf, clock=clock or (lambda: datetime.now(UTC)))
        self.pages: Pages = app.state.pages
        guarded = Guard(app, self.keys, self.port)
        self.server = uvicorn.Server(
            uvicorn.Config(
                guarded,
                log_level="warning",
                access_log=False,  # the token is in the first request's address
                lifespan="off",
                proxy_headers=False,
                server_header=False,
            )
        )

    @property
    def address(self) -> str:
        """Where the desk opens: its token goes in the address, the browser keeps a cookie."""
        return f"http://127.0.0.1:{self.port}/?token={self.keys.token}"

    def run(self) -> None:
        try:
            self.server.run(sockets=self.sockets)
        finally:
            self.pages.signins.give_up()

    def stop(self) -> None:
        self.server.should_exit = True


def serve(config: Path, *, port: int, open_browser: bool, out: TextIO) -> int:
    """`mailer desk`: print the address, open it, serve until Ctrl-C."""
    desk = Desk(config, port=port)
    # Ctrl-C before uvicorn takes the signal over asks the desk to stop, as uvicorn would: a
    # KeyboardInterrupt raised then could land in a garbage collector's callback, where Python
    # ignores it, and the desk would keep serving.
    previous = signal.signal(signal.SIGINT, lambda signum, frame: desk.stop())
    try:
        print(f"the desk is at {desk.address}", file=out)
        print("open it in a browser on this computer; Ctrl-C stops it", file=out, flush=True)
        if open_browser:
            webbrowser.open(desk.address)
        desk.run()
    except KeyboardInterrupt:  # uvicorn stops on Ctrl-C, then passes it on
        pass
    finally:
        signal.signal(signal.SIGINT, previous)
    print("the desk is closed", file=out)
    return 0
