"""What a send tries again, and how long it waits first: the one place that decides it.

An SMTP reply says it in its first digit (RFC 5321 section 4.2.1): 4xx is a temporary failure,
worth another try after a wait; 5xx is permanent, and the same message to the same address
meets it again (so it counts as a bounce). No reply at all (a connection lost, a server that
did not answer in time) is worth another try too. A refused sign-in, a TLS failure, or a server
that cannot be reached at all stops the whole run at once: every message would meet it.
"""

from __future__ import annotations

from mailer.errors import AuthenticationError, DeliveryError, SecurityError, UnreachableError

STOPS_THE_RUN = (AuthenticationError, SecurityError, UnreachableError)


def permanent(code: int | None) -> bool:
    """A 5xx reply ("550 User unknown"): refused for good, until the address is corrected."""
    return code is not None and 500 <= code < 600


def temporary(code: int | None) -> bool:
    """A 4xx reply, or none at all: worth another try."""
    return code is None or 400 <= code < 500


def worth_another_try(err: DeliveryError) -> bool:
    """Whether the message that met `err` is tried again (unless its tries are used up)."""
    return not isinstance(err, STOPS_THE_RUN) and temporary(err.code)


def start_afresh(code: int | None, connected: bool) -> bool:
    """After a failure, a new connection for the next try: the old one was lost, timed out, or
    the server is closing it (421); after another 4xx the transaction was reset and the
    connection carries on."""
    return code is None or code == 421 or not connected


def wait_before(attempt: int, backoff: float) -> float:
    """Seconds to wait after try `attempt` (from 1): `backoff`, doubled after each try."""
    return backoff * 2 ** (attempt - 1)
