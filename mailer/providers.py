"""The mail services mailer knows: where to send, how to sign in, and the limits each sets on
one mailbox. `mailer init` fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """One mail service as config.toml's [smtp] needs it."""

    key: str  # what --provider takes
    title: str  # what the coordinator is asked to choose from
    host: str
    port: int
    security: str
    auth: str  # password | xoauth2
    rate_per_minute: int | None = None  # messages a minute one mailbox may send
    sign_in: str = ""  # how to sign in, for config.toml's comment


MICROSOFT_365 = Provider(
    "microsoft365",
    "Microsoft 365 (Outlook at work)",
    "smtp.office365.com",
    587,
    "starttls",
    "xoauth2",
    rate_per_minute=30,
    sign_in="sign in once with `mailer login` (your IT gives you client_id below)",
)
GMAIL = Provider(
    "gmail",
    "Gmail or Google Workspace",
    "smtp.gmail.com",
    587,
    "starttls",
    "password",
    sign_in="with an app password (Google Account, Security, App passwords): `mailer password`",
)
OTHER = Provider(
    "other",
    "another mail server",
    "",
    587,
    "starttls",
    "password",
    sign_in="with a password: `mailer password`",
)

PROVIDERS = {p.key: p for p in (MICROSOFT_365, GMAIL, OTHER)}
# The domains of Gmail's own addresses (not Google Workspace's, which are the organisation's).
GMAIL_OWN_DOMAINS = ("gmail.com", "googlemail.com")


def likely_provider(email: str) -> Provider:
    """A first guess from the sender's address (Gmail's own domains); Microsoft 365 otherwise,
    which most municipalities use."""
    domain = email.rpartition("@")[2].casefold()
    return GMAIL if domain in GMAIL_OWN_DOMAINS else MICROSOFT_365
