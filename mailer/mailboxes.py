"""Reading the mail that came back: .eml files, Outlook's .msg files, mbox files, Maildir folders
and the `[imap]` mailbox (signed in with a password or an OAuth2 token, read without marking
anything as read, and only what arrived since the last read).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import imaplib
import mailbox
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailer.config import Settings
from mailer.errors import ConfigError, ReplyError
from mailer.outlook import OLE_MAGIC, outlook_message
from mailer.passwords import no_password
from mailer.transport.tls import client_context, is_loopback

IMAP_BATCH = 50


@dataclass(frozen=True)
class Received:
    """One message as read: where it was, its bytes, and what tells it apart on a later read."""

    source: str  # shown in reports: a file, file#3 in an mbox, imap:INBOX/12
    raw: bytes  # RFC 5322 bytes (an Outlook .msg converted)
    key: str  # its Message-ID, else a digest of the bytes as stored


def received(source: str, raw: bytes, stored: bytes | None = None) -> Received:
    head = email.message_from_bytes(raw.partition(b"\r\n\r\n")[0].partition(b"\n\n")[0] + b"\n\n")
    message_id = " ".join(str(head.get("Message-ID", "")).split())
    key = message_id if "@" in message_id else "sha256:" + hashlib.sha256(stored or raw).hexdigest()
    return Received(source, raw, key)


# -- files -------------------------------------------------------------------------------


def messages_at(path: Path) -> Iterator[Received]:
    """Each message in an .eml or .msg file, an mbox file or a Maildir folder.

    A folder that is not a Maildir is read as a folder of .eml and .msg files.
    """
    try:
        if path.is_dir():
            if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
                maildir = mailbox.Maildir(path, factory=None, create=False)
                for key in sorted(maildir.keys()):
                    yield received(f"{path}/{key}", maildir.get_bytes(key))
            else:
                for file in sorted(p for p in path.iterdir() if p.suffix.lower() in (".eml", ".msg")):
                    yield _file(file)
            return
        with path.open("rb") as handle:
            head = handle.read(5)
        if head == b"From ":
            box = mailbox.mbox(path, factory=None, create=False)
            try:
                for number, key in enumerate(box.keys(), start=1):
                    yield received(f"{path}#{number}", box.get_bytes(key))
            finally:
                box.close()
        else:
            yield _file(path)
    except OSError as err:
        raise ReplyError(f"cannot be read: {err.strerror or err}", path=path) from err


def _file(path: Path) -> Received:
    data = path.read_bytes()
    if data.startswith(OLE_MAGIC):
        return received(str(path), outlook_message(path), stored=data)
    return received(str(path), data)


# -- IMAP --------------------------------------------------------------------------------


class ImapMailbox:
    """The `[imap]` mailbox, opened read-only (EXAMINE): nothing is marked as read.

    `messages(since)` gives what arrived after the last UID read, as long as the mailbox's
    UIDVALIDITY is still the one remembered (RFC 3501 §2.3.1.1: otherwise every UID may have
    changed, and everything is read again; the inbox's record of read messages keeps it from
    counting anything twice).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        imap = settings.imap
        self.name = f"{imap.username}@{imap.host}/{imap.mailbox}"
        self.uidvalidity = 0
        self.last_uid = 0
        self.count = 0  # messages in the mailbox when it was opened
        _require_imap(settings)
        secret = _secret(settings)  # before connecting: a sign-in to renew stops nothing half-read
        self._client = _imap_connect(settings)
        try:
            _sign_in(self._client, settings, secret)
            status, data = self._client.select(_quoted(imap.mailbox), readonly=True)
            if status != "OK":
                raise ConfigError(
                    f"no mailbox {imap.mailbox!r} on {imap.host}: {_text(data)}",
                    path=settings.path,
                    field="imap.mailbox",
                )
            self.count = int(data[0]) if data and isinstance(data[0], bytes) and data[0].isdigit() else 0
            _, found = self._client.response("UIDVALIDITY")
            self.uidvalidity = int(found[0]) if found and found[0] else 0
        except (OSError, imaplib.IMAP4.error) as err:
            self.close()
            raise ReplyError(f"IMAP {imap.host}:{imap.port}: {_text(err)}", field="imap") from err
        except BaseException:
            self.close()
            raise

    def messages(self, since: tuple[int, int] | None = None) -> Iterator[Received]:
        """Each message after the position `since` (UIDVALIDITY, last UID), oldest first."""
        first = since[1] + 1 if since is not None and since[0] == self.uidvalidity else 1
        imap = self.settings.imap
        try:
            status, data = self._client.uid("SEARCH", f"UID {first}:*")
            found = (data[0] or b"").split() if status == "OK" and data else []
            uids = sorted(int(u) for u in found if int(u) >= first)  # n:* always names the last
            self.last_uid = since[1] if first > 1 and since is not None else 0
            for start in range(0, len(uids), IMAP_BATCH):
                batch = ",".join(str(u) for u in uids[start : start + IMAP_BATCH])
                status, data = self._client.uid("FETCH", batch, "(BODY.PEEK[])")
                if status != "OK":
                    raise ReplyError(f"IMAP FETCH failed: {_text(data)}", field="imap")
                for item in data:
                    if isinstance(item, tuple):
                        uid = re.search(rb"UID (\d+)", item[0])
                        number = int(uid.group(1)) if uid else 0
                        yield received(f"imap:{imap.mailbox}/{number or '?'}", item[1])
                        self.last_uid = max(self.last_uid, number)
        except (OSError, imaplib.IMAP4.error) as err:
            raise ReplyError(f"IMAP {imap.host}:{imap.port}: {_text(err)}", field="imap") from err

    def close(self) -> None:
        # A connection already gone needs no goodbye; the mailbox was opened read-only.
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self._client.logout()

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def try_mailbox(settings: Settings) -> str:
    """Sign in to the [imap] mailbox and open it read-only as `mailer inbox --imap` does, then
    leave: what `mailer check --signin` says ('signed in; INBOX holds 12 messages')."""
    from mailer.words import count

    with ImapMailbox(settings) as mailbox:
        return f"signed in; {settings.imap.mailbox} holds {count(mailbox.count, 'message')}"


def _secret(settings: Settings) -> str:
    """The password, or an access token from the first of the sources `send` also uses."""
    imap = settings.imap
    if imap.auth == "password":
        assert imap.password is not None  # _require_imap said so
        return imap.password.get_secret_value()
    if imap.access_token is not None:
        return imap.access_token.get_secret_value()
    if imap.token_command:
        from mailer.signin import run_token_command

        return run_token_command(imap.token_command, "imap.token_command")
    from mailer.oauth import SavedSignIn

    return SavedSignIn(settings).token(mailbox=True)


def _token_source(settings: Settings) -> str:
    imap = settings.imap
    if imap.access_token is not None:
        return "the token in MAILER_IMAP__ACCESS_TOKEN (it expires within about an hour: get a new one)"
    if imap.token_command:
        return "the token from imap.token_command"
    return "the token from `mailer login` (run `mailer login` again)"


def _sign_in(client: imaplib.IMAP4, settings: Settings, secret: str) -> None:
    imap = settings.imap
    try:
        if imap.auth == "xoauth2":
            client.authenticate("XOAUTH2", _xoauth2(imap.username, secret))
        else:
            _login(client, imap.username, secret)
    except imaplib.IMAP4.error as err:
        what = _token_source(settings) if imap.auth == "xoauth2" else "the login"
        raise ConfigError(
            f"the IMAP server refused {what} as {imap.username!r}: {_text(err)}; nothing was read",
            path=settings.path,
            field="imap.username" if imap.auth == "password" else "imap.auth",
        ) from err


def _xoauth2(username: str, token: str) -> Callable[[bytes], bytes]:
    """SASL XOAUTH2: the bearer token first; to the server's error (a JSON challenge, RFC 7628
    §3.2.2) an empty answer, after which the server says NO."""
    answers = iter([f"user={username}\x01auth=Bearer {token}\x01\x01".encode()])

    def answer(challenge: bytes) -> bytes:
        return next(answers, b"")

    return answer


def _login(client: imaplib.IMAP4, username: str, password: str) -> None:
    """AUTHENTICATE PLAIN where offered: it carries UTF-8 (RFC 4616), so 'æøå' in a password
    works; imaplib's LOGIN sends ASCII only."""
    if "AUTH=PLAIN" in client.capabilities:
        client.authenticate("PLAIN", lambda _: f"\0{username}\0{password}".encode())
    elif username.isascii() and password.isascii():
        client.login(username, password)
    else:
        raise imaplib.IMAP4.error("the server offers no AUTH=PLAIN, and LOGIN cannot carry non-ASCII")


def _require_imap(settings: Settings) -> None:
    imap = settings.imap
    for name in ("host", "username"):
        if not getattr(imap, name):
            raise ConfigError("is not set", path=settings.path, field=f"imap.{name}")
    if imap.auth == "password" and imap.password is None:
        raise ConfigError(
            f'no password: {no_password("imap")}; with Microsoft 365, auth = "xoauth2" instead',
            path=settings.path,
            field="imap",
        )
    if imap.security == "none" and not is_loopback(imap.host):
        raise ConfigError(
            "security = 'none' would send the password in the clear; use tls or starttls",
            path=settings.path,
            field="imap.security",
        )


class _ImapOverTls(imaplib.IMAP4_SSL):
    """IMAP4_SSL that closes its socket when the TLS handshake fails (imaplib leaves it open)."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = imaplib.IMAP4._create_socket(self, timeout)  # type: ignore[attr-defined]
        try:
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _imap_connect(settings: Settings) -> imaplib.IMAP4:
    imap = settings.imap
    context = client_context(imap.ca_file, setting="imap.ca_file") if imap.security != "none" else None
    try:
        if imap.security == "tls":
            return _ImapOverTls(imap.host, imap.port, ssl_context=context, timeout=30)
        client = imaplib.IMAP4(imap.host, imap.port, timeout=30)
        if imap.security == "starttls":
            try:
                client.starttls(ssl_context=context)
            except BaseException:
                with contextlib.suppress(OSError):
                    client.shutdown()
                raise
        return client
    except (OSError, imaplib.IMAP4.error) as err:
        raise ReplyError(
            f"cannot connect to IMAP {imap.host}:{imap.port}: {_text(err)}", field="imap"
        ) from err


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, BaseException):  # imaplib puts the server's bytes in args[0]
        return _text(value.args[0]) if value.args and isinstance(value.args[0], bytes) else str(value)
    return str(value)
