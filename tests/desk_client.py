"""A plain HTTP client for the desk's tests (the standard library's http.client, so that every
header, the Host one too, is exactly what the test says), and the desk run in a thread."""

from __future__ import annotations

import http.client
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from mailer.desk.server import Desk


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str
    redirected: str = ""  # the page after a change this reply was followed to (its address)


class DeskClient:
    """One browser: opens the desk with its printed address, then keeps the cookie."""

    def __init__(self, address: str) -> None:
        parts = urlsplit(address)
        assert parts.hostname and parts.port
        self.address = address
        self.host = parts.hostname
        self.port = parts.port
        self.cookie = ""
        self.csrf = ""
        self.seen = ""  # the key of the last send summary shown, as its button posts it

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        host: str | None = None,
        connect_to: str | None = None,
    ) -> Reply:
        connection = http.client.HTTPConnection(connect_to or self.host, self.port, timeout=30)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", f"{self.host}:{self.port}" if host is None else host)
            sent = dict(headers or {})
            if self.cookie and "Cookie" not in sent:
                sent["Cookie"] = self.cookie
            if body is not None:
                sent.setdefault("Content-Length", str(len(body)))
            for name, value in sent.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            return Reply(response.status, response.headers, text)
        finally:
            connection.close()

    def open(self) -> Reply:
        """The printed address, as a browser opens it: the token becomes a cookie."""
        parts = urlsplit(self.address)
        reply = self.request("GET", f"{parts.path}?{parts.query}")
        assert reply.status == 303, reply.text
        self.cookie = reply.headers["Set-Cookie"].split(";", 1)[0]
        return reply

    def get(self, path: str) -> Reply:
        reply = self.request("GET", path)
        found = re.search(r'name="csrf" (?:value|content)="([^"]+)"', reply.text)
        if found:
            self.csrf = found.group(1)
        seen = re.search(r'name="seen" value="([^"]*)"', reply.text)
        if seen:
            self.seen = seen.group(1)
        return reply

    def post(self, path: str, fields: dict[str, str], *, csrf: bool = True) -> Reply:
        data = dict(fields)
        if csrf:
            data["csrf"] = self.csrf
        if "expected" in data:  # the send button: under the summary last shown
            data.setdefault("seen", self.seen)
        body = urlencode(data).encode()
        reply = self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        return self._after(reply)

    def _after(self, reply: Reply) -> Reply:
        """The page after a change, as a browser follows the desk's redirect to it (its address
        carries `done=`); other redirects (to a send's progress, a preview) are returned as they are."""
        location = reply.headers.get("Location", "")
        if reply.status != 303 or "done=" not in location:
            return reply
        followed = self.get(location)
        followed.redirected = location
        return followed

    def post_files(self, path: str, fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> Reply:
        """A multipart form as a browser sends one: `files` are (field, file name, content)."""
        boundary = "desk-test-" + uuid.uuid4().hex
        parts: list[bytes] = []
        for name, value in {**fields, "csrf": self.csrf}.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        for name, filename, data in files:
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            )
            parts.append(head.encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        reply = self.request(
            "POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        return self._after(reply)


@contextmanager
def running_desk(config: Path, clock: datetime | None = None) -> Iterator[Desk]:
    """The desk served from a thread of the test; stopped (and joined) at the end."""
    desk = Desk(config, clock=(lambda: clock) if clock else None)
    thread = threading.Thread(target=desk.run, name="desk")
    thread.start()
    try:
        yield desk
    finally:
        desk.stop()
        thread.join()
