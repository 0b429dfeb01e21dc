"""Passwords for the SMTP server and the [imap] mailbox: from the environment first
(MAILER_SMTP__PASSWORD, MAILER_IMAP__PASSWORD), else from this computer's keyring (the `keyring`
library: Windows Credential Manager, macOS Keychain, the Secret Service on Linux), else asked at
the terminal, with hidden typing, and kept in the keyring if the coordinator says so.

Never in a file of mailer's: config.toml refuses them, and nothing here prints one.
"""

from __future__ import annotations

import getpass
import hmac
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TextIO

from pydantic import SecretStr

from mailer.config import Settings
from mailer.errors import ConfigError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

Section = Literal["smtp", "imap"]
KEYRING = "this computer's keyring"


def variable(section: Section) -> str:
    """The environment variable that gives the section's password (and wins over the keyring)."""
    return f"MAILER_{section.upper()}__PASSWORD"


def _flag(section: Section) -> str:
    """What `mailer password` needs to be told to mean the section."""
    return "" if section == "smtp" else " --imap"


def no_password(section: Section) -> str:
    """What to do when there is no password, for the SMTP server or the mailbox."""
    return (
        f"keep it in {KEYRING} with `mailer password{_flag(section)}` (or set {variable(section)}); "
        "at a terminal mailer asks for it"
    )


def _entry(settings: Settings, section: Section) -> tuple[str, str]:
    """The keyring's (service, user name) for a section's server and account."""
    conf = getattr(settings, section)
    return f"mailer {section} {conf.host}", conf.username


def _backend() -> KeyringBackend | None:
    """The system's keyring, or None where this computer has none mailer can use."""
    import keyring
    from keyring.backends import fail, null

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    return backend


def _needs_password(settings: Settings, section: Section) -> bool:
    conf = getattr(settings, section)
    method = settings.smtp.auth_method if section == "smtp" else settings.imap.auth
    return method == "password" and conf.password is None and bool(conf.host and conf.username)


def stored(settings: Settings, section: Section) -> str | None:
    """The password kept in the keyring for this server and account, if any."""
    backend = _backend()
    if backend is None:
        return None
    from keyring.errors import KeyringError

    try:
        return backend.get_password(*_entry(settings, section))
    except KeyringError as err:
        raise ConfigError(f"{KEYRING} cannot be read: {err}", field=f"{section}.password") from err


def keep(settings: Settings, section: Section, password: str) -> str:
    """Keep the password in the keyring; says where it went."""
    backend = _backend()
    if backend is None:
        raise ConfigError(
            f"this computer has no keyring mailer can use: "
            f"set {variable(section)} in the environment instead",
            field=f"{section}.password",
        )
    from keyring.errors import KeyringError

    try:
        backend.set_password(*_entry(settings, section), password)
    except KeyringError as err:
        raise ConfigError(f"{KEYRING} did not take the password: {err}", field=f"{section}.password") from err
    return f"{KEYRING} ({backend.name})"


def forget(settings: Settings, section: Section) -> bool:
    """Remove the kept password; False when there was none."""
    backend = _backend()
    if backend is None:
        return False
    from keyring.errors import PasswordDeleteError

    try:
        backend.delete_password(*_entry(settings, section))
    except PasswordDeleteError:
        return False
    return True


def with_password(settings: Settings, section: Section, password: str | SecretStr) -> Settings:
    """The settings with a password for `section` (held in memory only)."""
    conf = getattr(settings, section)
    secret = password if isinstance(password, SecretStr) else SecretStr(password)
    return settings.model_copy(update={section: conf.model_copy(update={"password": secret})})


Ask = Callable[[str], str]


def with_passwords(
    settings: Settings,
    sections: tuple[Section, ...],
    *,
    ask: Ask | None = None,
    confirm: Ask | None = None,
    out: TextIO | None = None,
) -> Settings:
    """The settings with each section's password where it is needed and the environment has none:
    from the keyring, else asked with `ask` (hidden) and, if `confirm` says yes, kept there."""
    for section in sections:
        if not _needs_password(settings, section):
            continue
        password = stored(settings, section)
        if password is None and ask is not None:
            conf = getattr(settings, section)
            password = ask(f"Password for {conf.username} at {conf.host}: ")
            if password and confirm is not None and _backend() is None:
                print("(this computer has no keyring mailer can use: it asks again next time)", file=out)
            elif password and confirm is not None:
                answer = confirm(f"Keep it in {KEYRING}, so mailer does not ask again? [y/N] ")
                if answer.strip().casefold() in ("y", "yes", "j", "ja"):
                    print(f"kept in {keep(settings, section, password)}", file=out)
        if password:
            settings = with_password(settings, section, password)
    return settings


def terminal_asks() -> tuple[Ask | None, Ask | None]:
    """Hidden typing and a yes/no question when a person is at the terminal; nothing otherwise."""
    if not sys.stdin.isatty():
        return None, None
    return getpass.getpass, input


def with_passwords_asked(settings: Settings, out: TextIO, *sections: Section) -> Settings:
    """The settings with the passwords a command needs: the environment's, the keyring's, or
    asked at the terminal (and kept in the keyring if she says so)."""
    ask, confirm = terminal_asks()
    return with_passwords(settings, sections, ask=ask, confirm=confirm, out=out)


def from_environment(section: Section) -> bool:
    """Does the environment set the section's password (which then wins over the keyring)?"""
    wanted = variable(section)
    return any(name.upper() == wanted for name in os.environ)


PasswordSource = Literal["environment", "keyring", "typed", "missing"]


def where_from(settings: Settings, section: Section) -> PasswordSource:
    """Where the section's password comes from (ConfigError: the keyring cannot be read)."""
    conf = getattr(settings, section)
    if conf.password is not None and from_environment(section):
        return "environment"
    kept = stored(settings, section)
    if kept is not None and (conf.password is None or _same(conf.password.get_secret_value(), kept)):
        return "keyring"
    return "typed" if conf.password is not None else "missing"


def source(settings: Settings, section: Section) -> str:
    """Where the password comes from, for `check` (never the password)."""
    try:
        found = where_from(settings, section)
    except ConfigError as err:
        return f"password NOT to be had: {err.message}"
    if found == "environment":
        return f"password from {variable(section)} (set)"
    if found == "keyring":
        return f"password from {KEYRING} (kept with `mailer password`)"
    if found == "typed":
        return "password typed just now"
    return (
        f"password NOT set: `mailer password{_flag(section)}` keeps it in {KEYRING}, "
        f"or set {variable(section)}; "
        "mailer asks for it at a terminal"
    )


def _same(password: str, other: str) -> bool:
    """Two passwords equal, compared in constant time as every secret is (as UTF-8: a password
    may hold æøå, which `compare_digest` takes only as bytes)."""
    return hmac.compare_digest(password.encode(), other.encode())


def password_command(settings: Settings, section: Section, *, forget_it: bool, out: TextIO) -> int:
    """`mailer password [--imap] [--forget]`: keep the password in the keyring, or forget it."""
    conf = getattr(settings, section)
    for name in ("host", "username"):
        if not getattr(conf, name):
            raise ConfigError(
                "is not set: the password belongs to a server and an account", field=f"{section}.{name}"
            )
    method = settings.smtp.auth_method if section == "smtp" else settings.imap.auth
    if method != "password" and not forget_it:
        raise ConfigError(
            f'signs in with auth = "{method}", not a password (Microsoft 365: `mailer login`)',
            path=settings.path,
            field=f"{section}.auth",
        )
    who = f"{conf.username} at {conf.host}"
    if forget_it:
        said = "forgot the password for" if forget(settings, section) else "no password was kept for"
        print(f"{said} {who}", file=out)
        return 0
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {who}: ")
    else:  # a script: the first line of the input
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ConfigError("no password given: nothing was kept", field=f"{section}.password")
    print(f"the password for {who} is kept in {keep(settings, section, password)}", file=out)
    if conf.password is not None:
        print(f"note: {variable(section)} is set, and wins over the keyring while it is", file=out)
    check = "mailer check --signin" if section == "smtp" else "mailer inbox --imap --dry-run"
    print(f"try it: {check}", file=out)
    return 0
