"""Delivery over SMTP with aiosmtplib: a few reused connections, a shared rate limit,
retries with back-off for what may pass, and an immediate stop for what will not
(a refused sign-in, a certificate that does not verify).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import re
import socket
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import aiosmtplib
from aiosmtplib.email import quote_address

from mailer.config import SmtpSettings
from mailer.errors import AuthenticationError, ConfigError, DeliveryError, SecurityError, UnreachableError
from mailer.limits import sending_limits
from mailer.message import OutgoingMessage
from mailer.transport import retry
from mailer.transport.tls import client_context, is_loopback

T = TypeVar("T")

# Seconds to reach the server and hear its greeting (smtp.timeout if that is shorter): a host
# that does not answer is told within this, whatever smtp.timeout allows each command.
CONNECT_TIMEOUT = 10.0


class SignIn(Protocol):
    """How `send` proves who it is: nothing, a password, or an OAuth2 access token."""

    method: str  # none | password | xoauth2

    def secret(self, *, renew: bool = False) -> str:
        """The password or a valid access token (renewed when `renew`)."""
        ...


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """How one message went: accepted, or failed with the server's last reply."""

    item: T
    outgoing: OutgoingMessage
    ok: bool
    code: int | None
    reply: str
    attempts: int

    @property
    def permanent(self) -> bool:
        """Refused for good ("User unknown"): the same address will be refused again."""
        return not self.ok and retry.permanent(self.code)


@dataclass
class _Connection:
    """One worker's connection (none until opened), kept where an interrupted send cannot lose it."""

    client: aiosmtplib.SMTP | None = None


class RateLimiter:
    """Spaces messages evenly so that no provider limit is passed, across all connections."""

    def __init__(
        self,
        per_minute: float | None,
        per_hour: float | None,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        intervals = [60 / per_minute if per_minute else 0.0, 3600 / per_hour if per_hour else 0.0]
        self.interval = max(intervals)
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = (self._clock or asyncio.get_running_loop().time)()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)


class SmtpTransport:
    """Sends messages over `smtp.concurrency` connections, reporting each outcome."""

    def __init__(
        self,
        settings: SmtpSettings,
        signin: SignIn,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        plain: bool = False,
    ) -> None:
        """`plain` (MAILER_PLAIN=1): each message sent by aiosmtplib's `sendmail`."""
        self.settings = settings
        self.signin = signin
        self._sleep = sleep
        self.plain = plain
        self._context = (
            client_context(settings.ca_file, setting="smtp.ca_file") if settings.security != "none" else None
        )
        # MAIL, RCPT, DATA and the end of the data, each given smtp.timeout to answer.
        self._deadline = settings.timeout * 4
        self.limiter = RateLimiter(sending_limits(settings).per_minute, settings.rate_per_hour, sleep=sleep)
        self._signed_in = False  # once one connection has signed in, the others may open at once
        # A refused sign-in, a TLS failure or no token: nobody tries again.
        self._fatal: DeliveryError | ConfigError | None = None
        self._first: asyncio.Lock | None = None
        loopback_allowed = settings.allow_plain_auth_on_loopback and is_loopback(settings.host)
        if signin.method != "none" and settings.security == "none" and not loopback_allowed:
            raise SecurityError(
                "refusing to sign in over an unencrypted connection; use security = "
                '"starttls" or "tls" (or allow_plain_auth_on_loopback for a local relay)'
            )

    async def connect(self) -> aiosmtplib.SMTP:
        """One signed-in connection; a refused sign-in or TLS failure stops the run.

        Until one connection has signed in, connections are opened one at a time, so a wrong
        password or an untrusted certificate is tried once, not once per worker.
        """
        if self._signed_in:
            try:
                return await self._open()
            except UnreachableError as err:  # it worked before: a passing trouble, retried
                raise DeliveryError(err.message) from err
        if self._first is None:
            self._first = asyncio.Lock()
        async with self._first:
            if self._fatal is not None:
                raise self._fatal
            try:
                client = await self._open()
            except (AuthenticationError, SecurityError, UnreachableError, ConfigError) as err:
                self._fatal = err
                raise
            self._signed_in = True
            return client

    async def sign_in_only(self) -> None:
        """Connect, greet, start TLS and sign in as `send` would, then QUIT: nothing is sent
        (`mailer check --signin`). Raises what `send` would stop on."""
        await _quit(await self.connect())

    async def _open(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            start_tls=False,  # below, once the greeting's name is known
            tls_context=self._context,
            timeout=s.timeout,
            local_hostname=s.local_hostname or None,  # None: the machine's name (socket.getfqdn)
        )
        try:
            await client.connect(timeout=min(s.timeout, CONNECT_TIMEOUT))
            try:
                if not s.local_hostname:
                    client.local_hostname = greeting_name(client)
                if s.security == "starttls":
                    await client.starttls()
            except BaseException:
                _close(client)
                raise
        except aiosmtplib.SMTPConnectResponseError as err:  # it answered, but not "ready" (421 busy)
            raise DeliveryError(
                f"{s.host} is not taking messages now: {err.code} {err.message}",
                code=err.code,
                reply=err.message,
            ) from err
        except (ssl.SSLError, aiosmtplib.SMTPConnectError) as err:
            cause = err if isinstance(err, ssl.SSLError) else err.__cause__
            if isinstance(cause, ssl.SSLError):
                raise SecurityError(f"TLS with {s.host}:{s.port} failed: {cause}") from err
            raise unreachable(s, err, min(s.timeout, CONNECT_TIMEOUT)) from err
        except aiosmtplib.SMTPException as err:
            if "STARTTLS" in str(err):
                raise SecurityError(f"{s.host} does not offer STARTTLS") from err
            raise DeliveryError(f"cannot connect to {s.host}:{s.port}: {err}") from err
        try:
            await self._sign_in(client)
            await _greet(client)  # no sign-in: greet now, so that SIZE is known
        except BaseException:
            _close(client)
            raise
        return client

    async def _sign_in(self, client: aiosmtplib.SMTP) -> None:
        method = self.signin.method
        if method == "none":
            return
        for renew in (False, True):
            try:
                if method == "xoauth2":
                    await client.auth_xoauth2(self.settings.username, self.signin.secret(renew=renew))
                else:
                    await self._password(client)
                return
            except aiosmtplib.SMTPAuthenticationError as err:
                if method == "xoauth2" and not renew:
                    continue  # the token may have expired during the run: get a fresh one once
                await _quit(client)  # politely: the server closes its side first
                if retry.temporary(err.code):  # e.g. 454 temporary authentication failure
                    raise DeliveryError(
                        f"{self.settings.host} could not sign in just now", code=err.code, reply=err.message
                    ) from err
                raise AuthenticationError(
                    f"{self.settings.host} refused the sign-in as {self.settings.username!r}: "
                    f"{err.code} {err.message}",
                    code=err.code,
                    reply=err.message,
                ) from err
            except aiosmtplib.SMTPException as err:
                _close(client)  # the session may be stuck (a timeout): do not wait for it again
                raise AuthenticationError(
                    f"{self.settings.host} cannot sign in as {self.settings.username!r}: {err}"
                ) from err

    async def _password(self, client: aiosmtplib.SMTP) -> None:
        """Sign in with the password, once: unlike `SMTP.login`, a refused password is not tried
        again with every other mechanism (each try counts against the account's lock-out).
        Another mechanism is tried only when the server says it cannot use this one (504, 534).
        """
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        methods = client.supported_auth_methods
        if not methods:
            offered = ", ".join(client.server_auth_methods) or "none"
            raise aiosmtplib.SMTPException(f"it offers no sign-in method mailer can use (offers: {offered})")
        password = self.signin.secret()
        for name in methods:
            auth = getattr(client, f"auth_{name.replace('-', '')}")
            try:
                await auth(self.settings.username, password)
                return
            except aiosmtplib.SMTPAuthenticationError as err:
                if err.code not in (504, 534) or name == methods[-1]:
                    raise

    async def deliver(
        self,
        items: Iterable[tuple[T, OutgoingMessage]] | AsyncIterable[tuple[T, OutgoingMessage]],
        report: Callable[[Outcome[T]], None],
    ) -> None:
        """Send everything `items` yields; `report` is called once per message, in any order.

        A fatal error (sign-in, TLS) stops every connection and is raised; messages not
        reported were not sent.
        """
        queue: asyncio.Queue[tuple[T, OutgoingMessage] | None] = asyncio.Queue(
            maxsize=self.settings.concurrency * 4
        )
        feeding = asyncio.current_task()
        assert feeding is not None, "deliver runs in a task"
        failure: list[BaseException] = []

        def stopped(task: asyncio.Task[None]) -> None:
            # A worker that stopped the run (sign-in, TLS) must not leave this task waiting
            # on a full queue that nobody takes from any more.
            if not task.cancelled() and task.exception() is not None and not failure:
                failure.append(task.exception())  # type: ignore[arg-type]
                feeding.cancel()

        workers = [asyncio.create_task(self._worker(queue, report)) for _ in range(self.settings.concurrency)]
        for task in workers:
            task.add_done_callback(stopped)
        try:
            async for item in _each(items):
                await queue.put(item)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            if failure:
                feeding.uncancel()  # the cancel was ours, to stop feeding: not the caller's
                raise failure[0] from None
            raise
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(
        self,
        queue: asyncio.Queue[tuple[T, OutgoingMessage] | None],
        report: Callable[[Outcome[T]], None],
    ) -> None:
        connection = _Connection()
        try:
            while (entry := await queue.get()) is not None:
                item, outgoing = entry
                report(await self._send_one(connection, item, outgoing))
        finally:
            if connection.client is not None:
                await _quit(connection.client)

    async def _send_one(self, connection: _Connection, item: T, outgoing: OutgoingMessage) -> Outcome[T]:
        """Send one message over the worker's connection (opened, or opened again, as needed)."""
        code: int | None = None
        reply = ""
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            await self.limiter.wait()
            try:
                if connection.client is None or not connection.client.is_connected:
                    connection.client = await self.connect()
                # One deadline for the whole transaction instead of aiosmtplib's timer per
                # command: as long in the worst case, at a fraction of the cost per message.
                async with asyncio.timeout(self._deadline):
                    reply = await _transaction(connection.client, outgoing, plain=self.plain)
                return Outcome(item, outgoing, True, 250, reply, attempt)
            except aiosmtplib.SMTPResponseException as err:
                code, reply = err.code, err.message
            except TimeoutError:
                code, reply = None, f"no reply from {self.settings.host} within {self._deadline:g} s"
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as err:
                code, reply = None, str(err) or type(err).__name__
            except DeliveryError as err:
                if not retry.worth_another_try(err):
                    raise
                code, reply = err.code, err.message
            if retry.permanent(code):
                return Outcome(item, outgoing, False, code, reply, attempt)
            client = connection.client
            if client is not None and retry.start_afresh(code, client.is_connected):
                _close(client)
                connection.client = None
            if attempt < attempts:
                await self._sleep(retry.wait_before(attempt, self.settings.backoff))
        return Outcome(item, outgoing, False, code, reply, attempts)


def unreachable(settings: SmtpSettings, err: Exception, waited: float) -> UnreachableError:
    """Why the server could not be reached, in plain words, and what to do about it."""
    host, port = settings.host, settings.port
    cause = err.__cause__ or err
    if isinstance(cause, socket.gaierror):
        return UnreachableError(
            f"the server name {host!r} is not known ({cause.strerror}): check [smtp] host in "
            "config.toml for a typo, and that this computer is on the internet"
        )
    if isinstance(cause, ConnectionRefusedError) or "Connect call failed" in str(cause):
        return UnreachableError(
            f"{host} is there, but nothing answers on port {port} (the port is closed): check [smtp] "
            'port in config.toml (587 with security = "starttls", 465 with "tls"); if it is right, '
            "ask IT whether a firewall blocks it"
        )
    if isinstance(err, TimeoutError | aiosmtplib.SMTPTimeoutError):
        hint = ' (port 465 wants security = "tls")' if port == 465 and settings.security != "tls" else ""
        return UnreachableError(
            f"no answer from {host}:{port} within {waited:g} seconds{hint}: check [smtp] host and "
            "port in config.toml; if they are right, the server is down or a firewall is in the way "
            "(ask IT)"
        )
    reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
    if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        reason += "; is this computer on the network?"
    return UnreachableError(
        f"cannot connect to {host}:{port} ({reason}): check [smtp] host and port in config.toml"
    )


async def _transaction(client: aiosmtplib.SMTP, outgoing: OutgoingMessage, *, plain: bool = False) -> str:
    """One message's MAIL, RCPT and DATA; the server's reply to DATA.

    What `sendmail` (the plain path) does for one recipient, less its two parses of both
    addresses (checked when the member list and the config were read) and its second pass over
    the message for the SIZE it declares: mailer's messages have CRLF line ends only, so their
    length is that size. After a refusal the transaction is reset (RSET), so the connection can
    carry the next one.
    """
    if plain:
        return await _sendmail(client, outgoing)
    options = [f"SIZE={len(outgoing.data)}"] if client.supports_extension("size") else []
    try:
        await _mail(client, outgoing.mail_from, options)
        await _rcpt(client, outgoing.rcpt_to)
        return (await client.data(outgoing.data, timeout=None)).message
    except aiosmtplib.SMTPResponseException:
        with contextlib.suppress(aiosmtplib.SMTPResponseException, ConnectionError):
            await client.rset(timeout=None)  # a refusal of the reset is no news
        raise


async def _sendmail(client: aiosmtplib.SMTP, outgoing: OutgoingMessage) -> str:
    """aiosmtplib's `sendmail` to the one recipient (it resets the transaction after a refusal);
    a refused recipient raised as `rcpt` raises it."""
    try:
        return (await client.sendmail(outgoing.mail_from, [outgoing.rcpt_to], outgoing.data, timeout=None))[1]
    except aiosmtplib.SMTPRecipientsRefused as err:
        raise err.recipients[0] from err


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO to an old server (no extensions, as `sendmail` would find), unless done."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()


async def _mail(client: aiosmtplib.SMTP, sender: str, options: list[str]) -> None:
    """`SMTP.mail`: the same command, reply and error, from an address written as it is."""
    await _greet(client)  # (done when the connection opened; `mail` makes sure, so this does too)
    arguments = [option.encode("ascii") for option in options]
    reply = await client.execute_command(b"MAIL", b"FROM:" + mailbox(sender), *arguments, timeout=None)
    if reply.code != aiosmtplib.SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)


async def _rcpt(client: aiosmtplib.SMTP, recipient: str) -> None:
    """`SMTP.rcpt`: the same command, reply and error, from an address written as it is."""
    reply = await client.execute_command(b"RCPT", b"TO:" + mailbox(recipient), timeout=None)
    if reply.code not in (aiosmtplib.SMTPStatus.completed, aiosmtplib.SMTPStatus.will_forward):
        raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient)


# An address whose local part is a dot-atom (RFC 5322 section 3.2.3) at a domain name, in ASCII:
# every address the member list takes (email-validator's, in its ASCII form) and any usual
# sender. aiosmtplib's `quote_address` gives such an address back as it is, in angle brackets
# (tests/test_smtp_commands.py); any other address is written by it.
DOT_ATOM_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def mailbox(address: str) -> bytes:
    """The address as MAIL and RCPT write it, `<address>`: aiosmtplib's `quote_address`, which
    parses it (email.utils.parseaddr), only for an address not in the plain form above."""
    if DOT_ATOM_ADDRESS.fullmatch(address):
        return b"<" + address.encode("ascii") + b">"
    return quote_address(address).encode("ascii")


async def _each(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def _quit(client: aiosmtplib.SMTP) -> None:
    """End a session with QUIT when the connection still works, then close it."""
    transport = client.transport  # `quit` forgets it, with a TLS goodbye still under way
    if client.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):  # closed below all the same
            await client.quit()
    _close(client, transport)


def greeting_name(client: aiosmtplib.SMTP) -> str:
    """The name a connected client gives in EHLO when smtp.local_hostname is not set: the
    machine's name when it is fully qualified, otherwise the connection's own address as an
    address literal, '[192.0.2.7]' (RFC 5321 4.1.4). Strict relays refuse `localhost`."""
    name = client.local_hostname or ""
    if "." in name and not name.casefold().startswith("localhost"):
        return name
    host = str(client.get_transport_info("sockname")[0]).split("%")[0]  # no IPv6 zone
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return f"[IPv6:{address.compressed}]" if address.version == 6 else f"[{address}]"


def _close(client: aiosmtplib.SMTP, transport: asyncio.BaseTransport | None = None) -> None:
    """Close at once: after QUIT (or a failure) the TLS goodbye is not worth waiting for, and a
    TLS close that waits for the server's reply can outlive the run's event loop (leaving the
    socket open)."""
    transport = transport or client.transport
    client.close()
    if isinstance(transport, asyncio.Transport):
        transport.abort()
