"""Signing in to Microsoft 365 from the desk, as `mailer login` does (MSAL's device-code flow),
against the local stand-in for Entra ID (tests/test_oauth.py) and an SMTP relay that takes only
XOAUTH2 with the tokens it issued: the Send page offers the sign-in when there is no usable saved
one, shows the address and the code (never a token), waits for her to finish, then goes on."""

from __future__ import annotations

import email.policy
import logging
import re
import ssl
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import FIXED, MEETING_ID, chromium
from desk_client import DeskClient, running_desk
from test_desk_browser import Day
from test_desk_pages import text_of
from test_oauth import (  # the Entra ID stand-in and its fixtures
    USER,
    EntraStub,
    ca,  # noqa: F401 - a fixture
    ca_file,  # noqa: F401 - a fixture
    entra,  # noqa: F401 - a fixture
    oauth_settings,
    write_config,
)
from test_xoauth2 import MEMBERS, Relay, relay, smtp_settings  # noqa: F401 - relay is a fixture

INVITATION = {"template": "invitation", "meeting": MEETING_ID}


def types_the_code(page: str, ca_pem: Path) -> str:
    """What the coordinator does with the sign-in page: opens the address it shows and types the
    code there (an HTTPS POST to the sign-in service); the code."""
    address = re.search(r'id="signin-address">([^<]+)<', page)
    code = re.search(r'id="signin-code">(\w+)<', page)
    assert address and code, page
    form = urlencode({"user_code": code.group(1)}).encode()
    context = ssl.create_default_context(cafile=str(ca_pem))
    with urllib.request.urlopen(address.group(1), data=form, context=context) as answer:
        assert answer.status == 200
    return code.group(1)


def test_the_send_page_signs_her_in_then_sends(
    tmp_path: Path,
    relay: Callable[..., Relay],  # noqa: F811
    ca_file: Path,  # noqa: F811
    entra: EntraStub,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    server = relay(valid=entra.is_valid)
    config = write_config(tmp_path, smtp=smtp_settings(server, ca_file), oauth=oauth_settings(entra, ca_file))
    pages: list[str] = []
    with running_desk(config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        summary = client.get("/send?" + urlencode(INVITATION)).text
        pages.append(summary)
        assert 'id="signin-needed"' in summary and 'id="confirm-form"' not in summary
        assert "Du er ikke logget ind hos Microsoft 365" in text_of(summary)
        assert "not signed in (no signin.json beside the journal)" in text_of(summary)

        begun = client.post("/signin", {"back": "/send?" + urlencode(INVITATION)})
        assert begun.status == 303
        where = begun.headers["Location"]
        waiting = client.get(where).text
        pages.append(waiting)
        device_codes = list(entra.devices)
        assert f'id="signin-address">{entra.base_url}/devicelogin<' in waiting
        assert "Koden virker i 15 minutter" in text_of(waiting)
        assert client.get(where + ".json").text.replace(" ", "") == '{"state":"waiting"}'
        code = types_the_code(waiting, ca_file)
        desk.pages.signins.wait()
        assert client.get(where + ".json").text.replace(" ", "") == '{"state":"done"}'
        back = client.get(where)
        assert (back.status, back.headers["Location"]) == (303, "/send?" + urlencode(INVITATION))

        summary = client.get(back.headers["Location"]).text
        pages.append(summary)
        assert 'id="signin-needed"' not in summary and 'id="confirm-form"' in summary
        assert f"du er logget ind som {USER}" in text_of(summary)
        job = client.post("/send", {**INVITATION, "expected": "4"}).headers["Location"]
        desk.pages.jobs.wait()
        result = client.get(job).text
        pages.append(result)
    assert "sendt: 4, havde den allerede: 0, fejlede: 0" in text_of(result)
    assert (config.parent / ".mailer" / "signin.json").is_file()
    assert entra.grants.count("device_code:ok") == 1
    received = {m["X-Rcpt-To"]: m for m in server.mailbox.messages}
    assert set(received) == MEMBERS
    parsed = email.message_from_bytes(
        received["soren.aero@koege.example"].as_bytes(), policy=email.policy.default
    )
    assert parsed["To"].addresses[0].display_name == "Søren Ærø"
    calendar = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    assert "METHOD:REQUEST" in calendar.get_content()
    # The code she types is shown; the device code and every token stay out of pages and logs.
    secrets = set(device_codes) | entra.access_tokens | entra.refresh_tokens | set(server.mailbox.accepted)
    assert code in waiting and secrets
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert all(secret not in page for page in pages) and secret not in logged


def test_a_sign_in_that_does_not_finish_says_why_and_offers_it_again(
    tmp_path: Path,
    relay: Callable[..., Relay],  # noqa: F811
    ca_file: Path,  # noqa: F811
    entra: EntraStub,  # noqa: F811
) -> None:
    server = relay(valid=entra.is_valid)
    config = write_config(tmp_path, smtp=smtp_settings(server, ca_file), oauth=oauth_settings(entra, ca_file))
    with running_desk(config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        client.get("/send?" + urlencode(INVITATION))
        where = client.post("/signin", {"back": "https://elsewhere.example/"}).headers["Location"]
        (signin,) = desk.pages.signins._signins.values()
        assert signin.back == "/"  # only a page of the desk itself
        entra.devices.clear()  # the code ran out before she typed it
        desk.pages.signins.wait()
        page = text_of(client.get(where).text)
    assert (
        "Du blev ikke logget ind: smtp.oauth: the sign-in did not finish: invalid_grant: AADSTS70000" in page
    )
    assert "Prøv igen" in page
    assert not (config.parent / ".mailer" / "signin.json").exists() and not server.mailbox.messages


def test_an_app_the_sign_in_service_does_not_know_is_named_in_the_page(
    tmp_path: Path,
    relay: Callable[..., Relay],  # noqa: F811
    ca_file: Path,  # noqa: F811
    entra: EntraStub,  # noqa: F811
) -> None:
    server = relay(valid=entra.is_valid)
    oauth: dict[str, Any] = {
        **oauth_settings(entra, ca_file),
        "client_id": "00000000-0000-0000-0000-000000000000",
    }
    config = write_config(tmp_path, smtp=smtp_settings(server, ca_file), oauth=oauth)
    with running_desk(config, FIXED) as desk:
        client = DeskClient(desk.address)
        client.open()
        client.get("/send?" + urlencode(INVITATION))
        reply = client.post("/signin", {"back": "/send"})
    assert reply.status == 409
    assert "the sign-in service would not start a sign-in: unauthorized_client" in text_of(reply.text)


def test_in_the_browser_the_sign_in_page_goes_on_by_itself(
    tmp_path: Path,
    relay: Callable[..., Relay],  # noqa: F811
    ca_file: Path,  # noqa: F811
    entra: EntraStub,  # noqa: F811
) -> None:
    server = relay(valid=entra.is_valid)
    config = write_config(tmp_path, smtp=smtp_settings(server, ca_file), oauth=oauth_settings(entra, ca_file))
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with running_desk(config, FIXED) as desk, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="da-DK")
        day = Day(page, shots)
        page.goto(desk.address)
        page.goto(f"http://127.0.0.1:{desk.port}/send?" + urlencode(INVITATION))
        assert "Du er ikke logget ind hos Microsoft 365" in day.text("#signin-needed")
        page.click("#signin-form button")
        page.wait_for_selector("#signin-code")
        day.shot("signin")
        types_the_code(page.content(), ca_file)
        # desk.js asks until she is done, then the page goes back to the summary by itself.
        page.wait_for_selector("#confirm-form", timeout=30_000)
        assert page.url.endswith("/send?" + urlencode(INVITATION))
        assert f"du er logget ind som {USER}" in day.text("#summary")
        page.click("#confirm-form button.confirm")
        page.wait_for_selector("#result", timeout=60_000)
        assert "sendt: 4" in day.text("#result")
    assert {m["X-Rcpt-To"] for m in server.mailbox.messages} == MEMBERS
