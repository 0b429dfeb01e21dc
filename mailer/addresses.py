"""Addresses as they go on the wire: an internationalised domain (køge) in its ASCII form
(xn--kge-0na, IDNA, RFC 5891), since mailer does not ask servers for SMTPUTF8 (RFC 6531); and
how mailer tells whether two addresses are the same member, however each was written."""

from __future__ import annotations

from functools import lru_cache


class NoAsciiForm(ValueError):
    """An address with no ASCII form (letters such as ü before the @)."""


@lru_cache(maxsize=256)
def ascii_form(email: str) -> str:
    """The address with its domain in ASCII ('rum@xn--kge-0na.example' for 'rum@køge.example');
    an ASCII address as it is. Raises `NoAsciiForm` for one that has none."""
    if email.isascii():
        return email
    from email_validator import EmailNotValidError, validate_email  # only for the rare address that needs it

    try:
        checked = validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as err:
        raise NoAsciiForm(str(err)) from err
    return checked.ascii_email or email


def address_key(email: str) -> str:
    """What mailer compares an address by: case-folded, with an internationalised domain in its
    Unicode form however it was written. 'Bjoern@Sorø.example' and 'bjoern@xn--sor-2na.example'
    (the form invitations go out in, and what calendars, mail programs and bounces send back,
    and browsers make of a typed address) are the same member."""
    text = email.strip()
    domain = text.rpartition("@")[2]
    if domain.isascii() and "xn--" not in domain.casefold():
        return text.casefold()
    return _unicode_key(text)


@lru_cache(maxsize=1024)
def _unicode_key(text: str) -> str:
    import idna  # only for the rare such address

    local, _, domain = text.rpartition("@")
    try:
        unicode_domain = idna.decode(domain if domain.isascii() else idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError):
        return text.casefold()  # not a domain IDNA knows: compared as written
    return f"{local}@{unicode_domain}".casefold()
