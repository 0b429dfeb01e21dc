"""Signing in to the SMTP server: a password from the environment, or an OAuth2 access token
from the environment, a token command, or `mailer login`'s token cache (in that order).

Secrets live only in memory here; nothing in this module prints or stores them.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field

from mailer.config import Settings
from mailer.errors import ConfigError


@dataclass
class SmtpSignIn:
    """The way `send` signs in, resolved from the settings (see `describe()` for `check`)."""

    settings: Settings
    method: str = field(init=False)
    source: str = field(init=False)

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

    def describe(self) -> str:
        smtp = self.settings.smtp
        if self.method == "none":
            return f"no sign-in at {smtp.host}:{smtp.port}"
        return f"{self.method} as {smtp.username} at {smtp.host}:{smtp.port}, secret from {self.source}"

    def secret(self, *, renew: bool = False) -> str:
        smtp = self.settings.smtp
        if self.method == "password":
            if smtp.password is None:
                raise ConfigError(
                    "smtp.username is set but no password: set MAILER_SMTP__PASSWORD",
                    field="smtp.password",
                )
            return smtp.password.get_secret_value()
        if self.method == "xoauth2":
            if smtp.access_token is not None:
                return smtp.access_token.get_secret_value()
            if smtp.token_command:
                return run_token_command(smtp.token_command)
            from mailer.oauth import cached_token

            return cached_token(self.settings, renew=renew)
        return ""


def run_token_command(command: str) -> str:
    """The access token a helper program prints (run without a shell)."""
    try:
        done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ConfigError(
            f"smtp.token_command {command!r} could not run: {err}", field="smtp.token_command"
        ) from err
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        why = f"exit {done.returncode}" if done.returncode else "printed no token"
        detail = done.stderr.strip().splitlines()[-1:] if done.stderr.strip() else []
        raise ConfigError(
            f"smtp.token_command {command!r} failed ({why}){': ' + detail[0] if detail else ''}",
            field="smtp.token_command",
        )
    return token
