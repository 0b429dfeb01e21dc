"""`mailer login` / `logout` and the saved sign-in, against a local stand-in for Microsoft Entra ID.

`EntraStub` is a real HTTPS server on 127.0.0.1 (certificate from a throw-away `trustme` CA)
that answers what MSAL asks of Entra ID's v2.0 endpoints: the OpenID metadata, the
device-code grant (RFC 8628: /devicecode, then /token answering `authorization_pending`
until the user has typed the code) and the refresh-token grant (RFC 6749 §6), with
JWT-shaped id_tokens and `client_info` as Entra sends them. MSAL itself is not touched.
tests/test_xoauth2.py reuses it for sending with the saved sign-in.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import shutil
import ssl
import stat
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
import trustme
from conftest import MEETING_ID, SAMPLE_NOW

from mailer.cli import main
from mailer.config import load_settings
from mailer.errors import ConfigError
from mailer.oauth import SavedSignIn, cache_path
from mailer.signin import SmtpSignIn

REPO = Path(__file__).resolve().parents[1]
CLIENT_ID = "5f1d7c2e-0b7a-4c1e-9d3f-6a2b8e4c1f07"  # made up, as IT would paste it
SCOPE = "https://outlook.office.com/SMTP.Send"
IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
OIDC = {"offline_access", "openid", "profile"}  # MSAL adds these to every request
USER = "brugernesrum@roskilde.example"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class EntraStub:
    """Entra ID's v2.0 endpoints for one tenant, one app and one user, over HTTPS on loopback.

    Refresh tokens are single-use here (stricter than Entra), so a client that does not
    save the rotated one fails visibly. `revoke()` is what "sign out everywhere" or a
    password change does: refresh tokens and (as Exchange Online's continuous access
    evaluation enforces) access tokens stop working.
    """

    tenant_id = "3c1e5b8a-7d2f-4e9a-b6c0-1f4d8e2a9b57"
    user_oid = "a7e4c2d1-9b3f-4a6e-8c5d-2e1f0b9a7c63"

    def __init__(self, ca: trustme.CA, *, user: str = USER, client_id: str = CLIENT_ID) -> None:
        self.user = user
        self.client_id = client_id
        self.pending_polls = 2  # the user is still typing the code for this many polls
        self.access_tokens: set[str] = set()  # valid ones
        self.refresh_tokens: set[str] = set()  # valid ones
        self.granted: dict[str, frozenset[str]] = {}  # the permissions behind each token
        self.introspected: list[bool] = []  # each introspection's answer (a mail server asking)
        self.grants: list[str] = []  # every /token request's outcome, in order
        self.devices: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub._answer(self, "GET", {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                stub._answer(self, "POST", form)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base_url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def __enter__(self) -> EntraStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def revoke(self) -> None:
        with self._lock:
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def is_valid(self, token: str) -> bool:
        with self._lock:
            return token in self.access_tokens

    def expire(self, token: str) -> None:
        with self._lock:
            self.access_tokens.discard(token)

    # -- the endpoints ------------------------------------------------------------------

    def _answer(self, request: BaseHTTPRequestHandler, method: str, form: dict[str, str]) -> None:
        tenant, _, rest = request.path.lstrip("/").partition("/")
        with self._lock:
            if method == "GET" and rest == "v2.0/.well-known/openid-configuration":
                status, body = 200, self._metadata(tenant)
            elif method == "POST" and rest == "oauth2/v2.0/devicecode":
                status, body = self._devicecode(form)
            elif method == "POST" and rest == "oauth2/v2.0/token":
                status, body = self._token(form)
            elif method == "POST" and request.path == "/devicelogin":
                status, body = self._user_enters_code(form)
            elif method == "POST" and request.path == "/introspect":
                status, body = self._introspect(form)
            else:
                status, body = 404, {"error": "not_found"}
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _metadata(self, tenant: str) -> dict[str, Any]:
        base = f"{self.base_url}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{self.base_url}/{{tenantid}}/v2.0",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        }

    def _error(self, error: str, code: int, text: str, status: int = 400) -> tuple[int, dict[str, Any]]:
        trace = "Trace ID: 0f6c1d2e-aaaa-bbbb-cccc-000000000000\r\nCorrelation ID: 11111111-2222"
        return status, {
            "error": error,
            "error_description": f"AADSTS{code}: {text}\r\n{trace}",
            "error_codes": [code],
        }

    def _devicecode(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("client_id") != self.client_id:
            return self._error(
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        scopes = form.get("scope", "").split()
        if SCOPE not in scopes or "offline_access" not in scopes:
            return self._error("invalid_scope", 70011, f"The provided value for scope {scopes} is not valid.")
        user_code = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(9))
        device_code = secrets.token_urlsafe(32)
        self.devices[device_code] = {
            "user_code": user_code,
            "entered": False,
            "polls": 0,
            "scopes": frozenset(scopes) - OIDC,  # what the user consents to by signing in
        }
        verification_uri = f"{self.base_url}/devicelogin"
        return 200, {
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": verification_uri,
            "expires_in": 900,
            "interval": 0,  # Entra says 5; 0 keeps the test from sleeping between polls
            "message": f"To sign in, use a web browser to open the page {verification_uri} and "
            f"enter the code {user_code} to authenticate.",
        }

    def _user_enters_code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        for device in self.devices.values():
            if device["user_code"] == form.get("user_code"):
                device["entered"] = True
                return 200, {"signed_in": True}
        return 400, {"signed_in": False}

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("client_id") != self.client_id:
            return self._error("unauthorized_client", 700016, "Application was not found in the directory.")
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            device = self.devices.get(form.get("device_code", ""))
            if device is None:
                self.grants.append("device_code:bad")
                return self._error("invalid_grant", 70000, "Provided grant is invalid or malformed.")
            device["polls"] += 1
            if not device["entered"] or device["polls"] <= self.pending_polls:
                self.grants.append("device_code:pending")
                return self._error(
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                )
            del self.devices[form["device_code"]]
            self.grants.append("device_code:ok")
            return 200, self._issue(device["scopes"], device["scopes"])
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if token not in self.refresh_tokens:
                self.grants.append("refresh_token:refused")
                return self._error(
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is "
                    "needed. The user might have changed or reset their password.",
                )
            wanted = frozenset(form.get("scope", "").split()) - OIDC
            if not wanted:
                return self._error("invalid_scope", 70011, "The provided value for scope is not valid.")
            if not wanted <= self.granted[token]:
                self.grants.append("refresh_token:not-consented")
                return self._error(
                    "invalid_grant",
                    65001,
                    f"The user or administrator has not consented to use the application with ID "
                    f"'{self.client_id}'. Send an interactive authorization request for this user "
                    "and resource.",
                )
            self.refresh_tokens.discard(token)
            self.grants.append("refresh_token:ok")
            return 200, self._issue(wanted, self.granted[token])
        return self._error(
            "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
        )

    def _introspect(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """RFC 7662 token introspection, as a mail server asks it about an XOAUTH2 token: active only
        for a valid token that carries the permission to read mail (IMAP.AccessAsUser.All)."""
        token = form.get("token", "")
        active = token in self.access_tokens and IMAP_SCOPE in self.granted.get(token, frozenset())
        self.introspected.append(active)
        if not active:
            return 200, {"active": False}
        return 200, {"active": True, "username": self.user, "scope": " ".join(sorted(self.granted[token]))}

    def grant(self, scopes: frozenset[str]) -> str:
        """An access token with these permissions, as someone might get one with another tool."""
        with self._lock:
            return str(self._issue(scopes, scopes)["access_token"])

    def _issue(self, scopes: frozenset[str], consented: frozenset[str]) -> dict[str, Any]:
        access, refresh = f"EwB-at.{secrets.token_urlsafe(24)}", f"0.AR-rt.{secrets.token_urlsafe(32)}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        self.granted[access], self.granted[refresh] = frozenset(scopes), frozenset(consented)
        now = int(time.time())
        claims = {
            "aud": self.client_id,
            "iss": f"{self.base_url}/{self.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": "Brugernes Rum",
            "oid": self.user_oid,
            "preferred_username": self.user,
            "sub": "p4Hq1nJxXl8uYcW0bVdRz3sTfK6mA2gE9oLiN5yU7wQ",
            "tid": self.tenant_id,
            "ver": "2.0",
        }
        header = _b64url(json.dumps({"typ": "JWT", "alg": "RS256", "kid": "stub"}).encode())
        id_token = f"{header}.{_b64url(json.dumps(claims).encode())}.{_b64url(b'not-signed')}"
        return {
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes)),
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": id_token,
            "client_info": _b64url(json.dumps({"uid": self.user_oid, "utid": self.tenant_id}).encode()),
        }


class Coordinator(io.StringIO):
    """The terminal `mailer login` prints to, and the coordinator reading it: when she is shown
    an address and a code, she opens the address and types the code (an HTTPS POST)."""

    def __init__(self, ca_file: Path) -> None:
        super().__init__()
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self.entered: str | None = None

    def write(self, text: str) -> int:
        written = super().write(text)
        shown = re.search(r"open (https://\S+) and enter the code (\w+)", self.getvalue())
        if shown and self.entered is None:
            self.entered = shown.group(2)
            form = urlencode({"user_code": self.entered}).encode()
            with urllib.request.urlopen(shown.group(1), data=form, context=self.context) as answer:
                assert answer.status == 200
        return written


def write_config(folder: Path, *, smtp: dict[str, Any], oauth: dict[str, Any] | None = None) -> Path:
    """A config.toml with the repository's templates and a small member list, in `folder`."""
    shutil.copytree(REPO / "templates", folder / "templates")
    (folder / "recipients.csv").write_text(
        "Navn;E-mail;Bibliotek;Sprog\n"
        "Birgitte Holm;birgitte.holm@odsherred.example;Odsherred Bibliotek;da\n"
        "Jonas Friis;jonas.friis@faxe.example;Faxe Kommunes Biblioteker;da\n"
        "Søren Ærø;soren.aero@koege.example;Køge Bibliotek;da\n"
        "Camilla Lund;camilla.lund@guldborgsund.example;Guldborgsund Bibliotekerne;en\n",
        encoding="utf-8",
    )

    def table(values: dict[str, Any]) -> str:
        return "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())

    text = (
        '[sender]\nname = "Brugernes Rum"\nemail = "brugernesrum@roskilde.example"\n\n'
        f"[smtp]\n{table(smtp)}\n"
        + (f"[smtp.oauth]\n{table(oauth)}\n" if oauth is not None else "")
        + f'[[meetings]]\nid = "{MEETING_ID}"\n'
        'title = "Netværksmøde: Hvad siger brugerne?"\n'
        "start = 2027-09-21T13:00:00\nend = 2027-09-21T16:00:00\n"
        'location = "Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde"\n'
    )
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def oauth_settings(entra: EntraStub, ca_file: Path) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "authority_host": entra.base_url, "ca_file": str(ca_file)}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def entra(ca: trustme.CA) -> Iterator[EntraStub]:
    with EntraStub(ca) as stub:
        yield stub


@pytest.fixture
def config(tmp_path: Path, entra: EntraStub, ca_file: Path) -> Path:
    smtp = {"host": "smtp.roskilde.example", "username": USER, "auth": "xoauth2"}
    return write_config(tmp_path / "network", smtp=smtp, oauth=oauth_settings(entra, ca_file))


def sign_in(config: Path, ca_file: Path) -> Coordinator:
    """`mailer login` as the coordinator does it; returns what she saw."""
    screen = Coordinator(ca_file)
    assert main(["--config", str(config), "login"], clock=lambda: SAMPLE_NOW, out=screen) == 0
    return screen


def test_login_shows_the_code_waits_for_it_and_keeps_the_tokens_private(
    config: Path, entra: EntraStub, ca_file: Path
) -> None:
    old_umask = os.umask(0)  # the file must be private whatever the umask
    try:
        screen = sign_in(config, ca_file)
    finally:
        os.umask(old_umask)

    shown = screen.getvalue()
    assert f"open {entra.base_url}/devicelogin and enter the code {screen.entered}" in shown
    assert f"Signed in as {USER}" in shown
    # MSAL kept polling through authorization_pending until the code was typed (RFC 8628 §3.5)
    assert entra.grants == ["device_code:pending"] * 2 + ["device_code:ok"]

    saved = cache_path(load_settings(config))
    assert saved == config.parent / ".mailer" / "signin.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    kept = saved.read_text(encoding="utf-8")
    assert any(token in kept for token in entra.refresh_tokens)
    for token in entra.access_tokens | entra.refresh_tokens:
        assert token not in shown


def test_each_run_gets_a_fresh_token_silently_and_keeps_the_rotated_refresh_token(
    config: Path, entra: EntraStub, ca_file: Path
) -> None:
    sign_in(config, ca_file)
    first_token = next(iter(entra.access_tokens))
    settings = load_settings(config)

    run = SavedSignIn(settings)
    token = run.token()
    assert token != first_token and entra.is_valid(token)
    assert run.token() == token  # the same run reuses it: no request
    assert entra.grants[-1] == "refresh_token:ok" and entra.grants.count("refresh_token:ok") == 1

    renewed = run.token(renew=True)  # the SMTP server refused the token
    assert renewed not in (token, first_token) and entra.is_valid(renewed)

    # A later run starts from the file: the single-use refresh token it holds must be the newest.
    assert entra.is_valid(SavedSignIn(settings).token())
    assert entra.grants.count("refresh_token:ok") == 3
    assert entra.grants[2] == "device_code:ok"  # nobody was asked to sign in again
    assert stat.S_IMODE(cache_path(settings).stat().st_mode) == 0o600


def test_a_revoked_sign_in_asks_to_sign_in_again(
    config: Path, entra: EntraStub, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_in(config, ca_file)
    assert entra.is_valid(SavedSignIn(load_settings(config)).token())
    entra.revoke()  # the coordinator changed her password

    assert main(["--config", str(config), "check", "--signin"], clock=lambda: SAMPLE_NOW) == 2
    err = capsys.readouterr().err
    assert "sign in again with `mailer login`" in err
    assert "invalid_grant: AADSTS50173" in err and "Trace ID" not in err
    with pytest.raises(ConfigError, match="cannot be renewed"):
        SavedSignIn(load_settings(config)).token()


def test_check_says_how_it_will_sign_in(
    config: Path, entra: EntraStub, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "check"], clock=lambda: SAMPLE_NOW) == 0
    assert "xoauth2 as brugernesrum@roskilde.example" in capsys.readouterr().out
    assert "NOT signed in: run `mailer login`" in SmtpSignIn(load_settings(config)).describe()
    assert main(["--config", str(config), "check", "--signin"], clock=lambda: SAMPLE_NOW) == 2
    assert "not signed in" in capsys.readouterr().err

    sign_in(config, ca_file)
    assert main(["--config", str(config), "check"], clock=lambda: SAMPLE_NOW) == 0
    out = capsys.readouterr().out
    assert f"signed in as {USER}; renewed before each run" in out
    assert not [t for t in entra.access_tokens if t in out]
    # (`check --signin` with a server to sign in to: tests/test_xoauth2.py)


def test_logout_forgets_the_sign_in(config: Path, ca_file: Path) -> None:
    sign_in(config, ca_file)
    out = io.StringIO()
    assert main(["--config", str(config), "logout"], out=out) == 0
    assert "signed out" in out.getvalue()
    assert not (config.parent / ".mailer" / "signin.json").exists()
    with pytest.raises(ConfigError, match="not signed in"):
        SavedSignIn(load_settings(config)).token()
    out = io.StringIO()
    assert main(["--config", str(config), "logout"], out=out) == 0
    assert "nothing to forget" in out.getvalue()


def test_an_app_the_tenant_does_not_know_is_named(
    tmp_path: Path, entra: EntraStub, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oauth = {**oauth_settings(entra, ca_file), "client_id": "00000000-0000-0000-0000-000000000000"}
    config = write_config(tmp_path, smtp={"username": USER, "auth": "xoauth2"}, oauth=oauth)
    assert main(["--config", str(config), "login"], out=Coordinator(ca_file)) == 2
    err = capsys.readouterr().err
    assert "would not start a sign-in: unauthorized_client: AADSTS700016" in err
    assert not cache_path(load_settings(config)).exists()


def test_a_sign_in_service_whose_certificate_does_not_verify_is_refused(
    tmp_path: Path, entra: EntraStub, ca_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oauth = {**oauth_settings(entra, ca_file), "ca_file": ""}
    config = write_config(tmp_path, smtp={"username": USER, "auth": "xoauth2"}, oauth=oauth)
    assert main(["--config", str(config), "login"], out=Coordinator(ca_file)) == 2
    err = capsys.readouterr().err
    assert f"cannot use the sign-in service at {entra.base_url}/organizations" in err
    assert "CERTIFICATE_VERIFY_FAILED" in err
    assert entra.grants == []


def test_login_needs_the_app_it_signs_in_with(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, smtp={"username": USER, "auth": "xoauth2"})
    assert main(["--config", str(config), "login"], out=io.StringIO()) == 2
    assert "smtp.oauth.client_id: no app to sign in with" in capsys.readouterr().err
