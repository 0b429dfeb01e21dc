"""Addresses as they go on the wire: an internationalised domain (køge) in its ASCII form
(xn--kge-0na, IDNA, RFC 5891), since mailer does not ask servers for SMTPUTF8 (RFC 6531)."""

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
