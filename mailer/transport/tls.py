"""TLS for the connections mailer opens (SMTP, IMAP): certificates verified against the
system's CA store plus an extra bundle the configuration names, and what counts as this
machine (where a relay may take a password without TLS, if the config says so)."""

from __future__ import annotations

import ipaddress
import ssl

from mailer.errors import ConfigError


def client_context(ca_file: str, *, setting: str) -> ssl.SSLContext:
    """Verification on, hostnames checked; `ca_file` (for a relay with an internal CA) added."""
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"{ca_file!r} cannot be used: {err}", field=setting) from err
    return context


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
