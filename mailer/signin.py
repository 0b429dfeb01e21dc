"""Signing in to the SMTP server: a password (mailer.passwords), or an OAuth2 access token from
the environment, a token command, or `mailer login`'s token cache (in that order); and how
the [imap] mailbox is signed in to, as `check` tells it.

Secrets live only in memory here; nothing in this module prints or stores them.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mailer.config import Settings
from mailer.errors import ConfigError
from mailer.passwords import no_password

if TYPE_CHECKING:  # MSAL is imported only when a run signs in with it
    from mailer.oauth import SavedSignIn


@dataclass
class SmtpSignIn:
    """The way `send` signs in, resolved from the settings (see `describe()` for `check`).

    One instance lives for one run: a token is got once and reused by every connection,
    and got again only when the server refuses it (`renew`).
    """

    settings: Settings
    method: str = field(init=False)
    source: str = field(init=False)
    _token: str | None = field(default=None, init=False, repr=False)
    _saved: SavedSignIn | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        smtp = self.settings.smtp
        self.method = smtp.auth_method
        if self.method == "password":
            self.source = "MAILER_SMTP__PASSWORD"
        elif self.method == "xoauth2":
            if smtp.access_token is not None:
                self.source = "MAILER_SMTP__ACCESS_TOKEN"
            elif smtp.token_command:
                self.source = "smtp.token_command"
            else:
                self.source = "mailer login"
        else:
            self.source = ""

    @property
    def saved(self) -> bool:
        """Whether the token comes from `mailer login`'s saved sign-in."""
        return self.source == "mailer login"

    def describe(self) -> str:
        """Which way `send` signs in and whether a secret is there, without asking any server."""
        smtp = self.settings.smtp
        if self.method == "none":
            return f"no sign-in at {smtp.host}:{smtp.port}"
        return f"{self.method} as {smtp.username} at {smtp.host}:{smtp.port}, {self._readiness()}"

    def _readiness(self) -> str:
        return secret_source(self.settings, "smtp")

    def when_refused(self) -> str:
        """What to do when the server refuses this sign-in."""
        user = self.settings.smtp.username
        if self.method == "xoauth2":
            return (
                f"Check that smtp.username ({user}) is the mailbox you signed in as (or one you may "
                "send as), sign in again with `mailer login`; if it is still refused, ask IT to turn "
                "on Authenticated SMTP for the mailbox"
            )
        from mailer.passwords import from_environment

        where = (
            "MAILER_SMTP__PASSWORD is set and wins: correct it there"
            if from_environment("smtp")
            else "keep the right one with `mailer password`"
        )
        return (
            f"The password or the user name ({user}) is wrong: check smtp.username; {where}. If they "
            "are right, ask IT whether the mailbox may sign in to send mail (SMTP AUTH)"
        )

    def secret(self, *, renew: bool = False) -> str:
        """The password or an access token; `renew` after the server refused the token."""
        smtp = self.settings.smtp
        if self.method == "password":
            if smtp.password is None:
                what = no_password("smtp")
                raise ConfigError(
                    f"no password for {smtp.username} at {smtp.host}: {what}", field="smtp.password"
                )
            return smtp.password.get_secret_value()
        if self.method != "xoauth2":
            return ""
        if not smtp.username:
            raise ConfigError(
                'auth = "xoauth2" needs smtp.username (the mailbox to send from)', field="smtp.username"
            )
        if smtp.access_token is not None:  # whoever set it must renew it: nothing to ask
            return smtp.access_token.get_secret_value()
        if smtp.token_command:
            if self._token is None or renew:
                self._token = run_token_command(smtp.token_command)
            return self._token
        if self._saved is None:
            from mailer.oauth import SavedSignIn

            self._saved = SavedSignIn(self.settings)
        return self._saved.token(renew=renew)


def mailbox_signin(settings: Settings) -> str:
    """How `mailer inbox --imap` signs in to the [imap] mailbox, for `check`: server, account,
    password or token and where it comes from (never the secret itself), without asking any server."""
    imap = settings.imap
    if not imap.host:
        return "no [imap] mailbox set up (`mailer inbox FILE...` reads saved messages)"
    account = imap.username or "(imap.username NOT set)"
    where = f"{imap.host}:{imap.port} ({imap.security}), folder {imap.mailbox}"
    return f"{imap.auth} as {account} at {where}, {secret_source(settings, 'imap')}"


def secret_source(settings: Settings, section: Literal["smtp", "imap"]) -> str:
    """Where the password or token of [smtp] or [imap] comes from and whether it is there."""
    conf = settings.smtp if section == "smtp" else settings.imap
    method = settings.smtp.auth_method if section == "smtp" else settings.imap.auth
    variable = f"MAILER_{section.upper()}__"
    if method == "password":
        from mailer.passwords import source

        return source(settings, section)
    if conf.access_token is not None:
        return f"token from {variable}ACCESS_TOKEN (set; it expires within about an hour)"
    if conf.token_command:
        program = (_command_words(conf.token_command) or [""])[0]
        found = "found" if shutil.which(program) else "NOT found"
        return f"token from {section}.token_command ({program}: {found})"
    from mailer.oauth import SavedSignIn

    saved = SavedSignIn(settings)
    try:
        accounts = saved.accounts()
    except ConfigError as err:
        return f"token from `mailer login` (its saved sign-in is unusable: {err.message})"
    if not accounts:
        return "token from `mailer login` (NOT signed in: run `mailer login`)"
    return f"token from `mailer login` (signed in as {', '.join(accounts)}; renewed before each run)"


def run_token_command(command: str, setting: str = "smtp.token_command") -> str:
    """The access token a helper program prints (run without a shell)."""
    words = _command_words(command)
    if not words:
        raise ConfigError(f"{setting} {command!r} cannot be read as a command", field=setting)
    try:
        done = subprocess.run(words, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ConfigError(f"{setting} {command!r} could not run: {err}", field=setting) from err
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        why = f"exit {done.returncode}" if done.returncode else "printed no token"
        detail = done.stderr.strip().splitlines()[-1:] if done.stderr.strip() else []
        raise ConfigError(
            f"{setting} {command!r} failed ({why}){': ' + detail[0] if detail else ''}", field=setting
        )
    return token


def _command_words(command: str) -> list[str]:
    """The program and its arguments, split as a POSIX shell would (no shell runs); [] if unbalanced."""
    try:
        return shlex.split(command)
    except ValueError:
        return []
