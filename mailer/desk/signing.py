"""Signing in to Microsoft 365 from the desk: `mailer login`'s device-code sign-in
(oauth.begin_login), its address and code shown in the page while a thread waits for the
coordinator to finish there; then the page she came from goes on.

Only the address and the code she types are ever in a page; the device code and the tokens
stay in oauth.py.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from mailer.config import Settings
from mailer.errors import ConfigError, MailerError
from mailer.oauth import DeviceSignIn, SavedSignIn, begin_login
from mailer.signin import SmtpSignIn


@dataclass
class SignIn:
    """One sign-in begun from the desk, as its page shows it."""

    id: str
    address: str
    code: str
    minutes: int
    back: str  # the desk's page to go on with when she has signed in
    state: str = "waiting"  # waiting | done | failed
    who: str = ""
    error: str = ""
    started: DeviceSignIn | None = field(default=None, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, str]:
        return {"state": self.state}


class SignIns:
    def __init__(self) -> None:
        self._signins: dict[str, SignIn] = {}
        self._lock = threading.Lock()

    def begin(self, settings: Settings, back: str) -> SignIn:
        """Ask for a device code and wait for her, in a thread, to finish the sign-in."""
        started = begin_login(settings)
        signin = SignIn(
            secrets.token_urlsafe(12), started.address, started.code, started.minutes, back, started=started
        )

        def wait() -> None:
            try:
                signin.who = started.finish()
                signin.state = "done"
            except MailerError as err:
                signin.error = str(err)
                signin.state = "failed"

        # A daemon: a sign-in she never finishes does not keep the desk from closing (nothing
        # is kept until it finishes).
        signin.thread = threading.Thread(target=wait, name=f"desk-signin-{signin.id}", daemon=True)
        with self._lock:
            self._signins[signin.id] = signin
        signin.thread.start()
        return signin

    def get(self, signin_id: str) -> SignIn | None:
        with self._lock:
            return self._signins.get(signin_id)

    def wait(self) -> None:
        """Until every sign-in begun has finished or failed."""
        with self._lock:
            threads = [s.thread for s in self._signins.values() if s.thread is not None]
        for thread in threads:
            thread.join()

    def give_up(self) -> None:
        """Stop waiting for every sign-in not finished (the desk is closing)."""
        with self._lock:
            waiting = [s for s in self._signins.values() if s.state == "waiting"]
        for signin in waiting:
            if signin.started is not None:
                signin.started.give_up()


def sign_in_first(settings: Settings, *, mailbox: bool = False) -> str:
    """Why she must sign in to Microsoft 365 before the desk can send (or, with `mailbox`, read
    the [imap] mailbox), "" when the saved sign-in works or another source gives the token: the
    same token `send` (`inbox --imap`) would get, got now."""
    try:
        if mailbox:
            imap = settings.imap
            if imap.auth == "xoauth2" and imap.access_token is None and not imap.token_command:
                SavedSignIn(settings).token(mailbox=True)
        else:
            signin = SmtpSignIn(settings)
            if signin.saved:
                signin.secret()
    except ConfigError as err:
        return str(err)
    return ""


def local_page(back: str) -> str:
    """`back` if it is a page of the desk itself ('/send?...'), else the overview: a sign-in
    never sends her anywhere else."""
    if back.startswith("/") and not back.startswith(("//", "/\\")) and back.isprintable():
        return back
    return "/"
