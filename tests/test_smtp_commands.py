"""MAIL and RCPT as the fast path writes them: each address exactly as aiosmtplib's own `mail`
and `rcpt` (the plain path) put it on the command line, for every address mailer can hold."""

from __future__ import annotations

import pytest
from aiosmtplib.email import quote_address
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.transport.smtp import DOT_ATOM_ADDRESS, mailbox


def quoted(address: str) -> bytes | type[Exception]:
    """What aiosmtplib writes for the address, or the error it raises."""
    try:
        return quote_address(address).encode("ascii")
    except (ValueError, UnicodeEncodeError) as err:  # UnicodeEncodeError is a ValueError
        return type(err)


def written(address: str) -> bytes | type[Exception]:
    try:
        return mailbox(address)
    except (ValueError, UnicodeEncodeError) as err:
        return type(err)


@settings(max_examples=500, derandomize=True)
@given(st.from_regex(DOT_ATOM_ADDRESS, fullmatch=True))
def test_a_plain_address_is_written_as_it_is_as_aiosmtplib_writes_it(address: str) -> None:
    assert mailbox(address) == quoted(address) == b"<" + address.encode() + b">"


# Letters the address parser treats specially, and the ones an address may hold.
ODD = st.text(st.sampled_from("ab.-_@<>()[]\"\\,;: \t\r\nø+'%!#=?{}|~`^*&/$"), max_size=30)


@settings(max_examples=500, derandomize=True)
@given(st.one_of(ODD, st.text(max_size=30)))
def test_any_other_text_is_written_or_refused_as_aiosmtplib_does(address: str) -> None:
    assert written(address) == quoted(address)


@settings(max_examples=300, derandomize=True)
@given(
    st.from_regex(r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~æøå-]{1,20}@[a-zæøå0-9.-]{1,20}\.example", fullmatch=True)
)
def test_every_address_the_member_list_takes_is_a_plain_one(address: str) -> None:
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return
    ascii_email = checked.ascii_email or checked.normalized
    assert DOT_ATOM_ADDRESS.fullmatch(ascii_email)
    assert mailbox(ascii_email) == quoted(ascii_email)


@pytest.mark.parametrize("address", ["rum@xn--kge-0na.example", "o'hara+nyt@bib.example", "a@localhost"])
def test_examples(address: str) -> None:
    assert mailbox(address) == quoted(address) == f"<{address}>".encode()
