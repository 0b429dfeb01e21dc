"""Signing in to Microsoft 365 for SMTP (OAuth2 through MSAL): `mailer login` (device code),
the token cache it keeps beside the journal (owner-only), fresh access tokens for `send`,
and `mailer logout`.

Tokens never leave this module except as the return value of `SavedSignIn.token()`; nothing
here prints, logs or puts them in an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import msal
import requests
import requests.adapters
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

from mailer.config import Settings
from mailer.errors import ConfigError
from mailer.private import private_folder, write_private

CACHE_NAME = "signin.json"
SIGN_IN_AGAIN = "sign in again with `mailer login`"
IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
NO_MAILBOX_PERMISSION = (
    "the saved sign-in does not allow reading the mailbox (it was made before mailer read mail, "
    "or IT has not yet given IMAP.AccessAsUser.All): run `mailer login` again"
)


def cache_path(settings: Settings) -> Path:
    """Where `mailer login` keeps its token cache: beside the journal."""
    return settings.resolve(settings.files.state).parent / CACHE_NAME


class SavedSignIn:
    """The sign-in `mailer login` saved, and access tokens got from it without asking anyone.

    The first token is always refreshed (one request to the sign-in service) so that a run
    starts with a token good for its whole lifetime, and a revoked or expired sign-in stops
    the run before anything is sent. Later calls reuse that token until it is near expiry
    (MSAL renews it then), or until `renew` asks for a new one (the server refused it).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = cache_path(settings)
        self._cache: msal.SerializableTokenCache | None = None
        self._app: msal.PublicClientApplication | None = None
        self._refreshed = False

    def accounts(self) -> list[str]:
        """Who is signed in (read from the cache file alone, no network)."""
        cache = self._load() if self.path.exists() else msal.SerializableTokenCache()
        return [a.get("username", "") for a in cache.search(msal.TokenCache.CredentialType.ACCOUNT)]

    def token(self, *, renew: bool = False, mailbox: bool = False) -> str:
        """A valid access token for sending (or, with `mailbox`, for reading the mailbox over IMAP);
        ConfigError when signing in again is needed."""
        oauth = self.settings.smtp.oauth
        scopes = [IMAP_SCOPE] if mailbox else [s for s in oauth.scopes if s != IMAP_SCOPE]
        if not self.path.exists():
            raise ConfigError(
                f"not signed in (no {self.path.name} beside the journal): sign in with `mailer login`",
                field="smtp.auth",
            )
        app = self._application()
        try:
            account = self._account(app)
            result = app.acquire_token_silent_with_error(
                scopes, account, force_refresh=renew or not self._refreshed
            )
        except (OSError, ValueError) as err:  # requests' errors are OSErrors
            raise _unreachable(self.settings, err) from err
        finally:
            app.http_client.close()
        if not result or "access_token" not in result:
            why = f" ({_why(result)})" if result else ""
            if mailbox:
                raise ConfigError(f"{NO_MAILBOX_PERMISSION}{why}", field="imap.auth")
            raise ConfigError(
                f"the saved sign-in for {account.get('username') or 'this account'} cannot be "
                f"renewed{why}: {SIGN_IN_AGAIN}",
                field="smtp.auth",
            )
        self._refreshed = True
        assert self._cache is not None
        if self._cache.has_state_changed:
            _save(self.path, self._cache)
            self._cache.has_state_changed = False
        return str(result["access_token"])

    def _load(self) -> msal.SerializableTokenCache:
        if self._cache is None:
            cache = msal.SerializableTokenCache()
            try:
                cache.deserialize(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise ConfigError(
                    f"the saved sign-in cannot be read: {err}; {SIGN_IN_AGAIN}", path=self.path
                ) from err
            self._cache = cache
        return self._cache

    def _application(self) -> msal.PublicClientApplication:
        if self._app is None:
            self._app = application(self.settings, self._load())
        return self._app

    def _account(self, app: msal.PublicClientApplication) -> dict[str, Any]:
        """The account whose tokens to use: the one named smtp.username, else the only one.

        The only one may differ from smtp.username: a coordinator signs in as herself to send
        from a shared mailbox she may send as (Exchange checks that, not us).
        """
        accounts = app.get_accounts()
        username = self.settings.smtp.username.casefold()
        named = [a for a in accounts if a.get("username", "").casefold() == username]
        if named:
            return dict(named[0])
        if len(accounts) == 1:
            return dict(accounts[0])
        if not accounts:
            raise ConfigError(f"the saved sign-in holds no account: {SIGN_IN_AGAIN}", path=self.path)
        names = ", ".join(a.get("username", "?") for a in accounts)
        raise ConfigError(
            f"the saved sign-in holds {names}, none of them smtp.username: {SIGN_IN_AGAIN}",
            path=self.path,
        )


def application(settings: Settings, cache: msal.SerializableTokenCache) -> msal.PublicClientApplication:
    """MSAL's public client for `[smtp.oauth]`, keeping its tokens in `cache`.

    Instance discovery (a request to Microsoft's central endpoint) is only used for
    Microsoft's own hosts; any other authority_host is taken as given.
    """
    oauth = settings.smtp.oauth
    if not oauth.client_id:
        raise ConfigError(
            "no app to sign in with: set client_id in [smtp.oauth] (your IT registers it in "
            "Microsoft Entra ID), or get tokens from smtp.token_command",
            path=settings.path,
            field="smtp.oauth.client_id",
        )
    authority = f"{oauth.authority_host.rstrip('/')}/{oauth.tenant}"
    known = urlsplit(authority).hostname in WELL_KNOWN_AUTHORITY_HOSTS
    ca_file = str(settings.resolve(Path(oauth.ca_file))) if oauth.ca_file else None
    try:
        return msal.PublicClientApplication(
            oauth.client_id,
            authority=authority,
            token_cache=cache,
            http_client=_Session(ca_file),
            instance_discovery=None if known else False,
        )
    except (OSError, ValueError) as err:
        raise _unreachable(settings, err) from err


class _Session(requests.Session):
    """HTTPS to the sign-in service: a timeout, a retry, and `smtp.oauth.ca_file` when set.

    requests lets REQUESTS_CA_BUNDLE override a session's own `verify`, so the CA is given
    with every request instead.
    """

    def __init__(self, ca_file: str | None) -> None:
        super().__init__()
        self.ca_file = ca_file
        adapter = requests.adapters.HTTPAdapter(max_retries=1)
        self.mount("https://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 30)
        if self.ca_file:
            kwargs.setdefault("verify", self.ca_file)
        return super().request(method, url, *args, **kwargs)


@dataclass
class DeviceSignIn:
    """A sign-in begun with a device code (RFC 8628): the address to open and the code to type
    there, until the coordinator has finished (`finish()`). The device code itself, which the
    sign-in service exchanges for tokens, stays in here."""

    settings: Settings
    address: str
    code: str
    minutes: int  # how long the code works
    _app: msal.PublicClientApplication = field(repr=False)
    _cache: msal.SerializableTokenCache = field(repr=False)
    _flow: dict[str, Any] = field(repr=False)

    def finish(self) -> str:
        """Wait until she has typed the code, then keep the sign-in (replacing any saved one);
        who signed in."""
        try:
            result = self._app.acquire_token_by_device_flow(self._flow)
        except (OSError, ValueError) as err:
            raise _unreachable(self.settings, err) from err
        finally:
            self._app.http_client.close()
        if "access_token" not in result:
            raise ConfigError(f"the sign-in did not finish: {_why(result)}", field="smtp.oauth")
        _save(cache_path(self.settings), self._cache)
        claims = result.get("id_token_claims") or {}
        return str(claims.get("preferred_username") or claims.get("upn") or claims.get("email") or "you")

    def give_up(self) -> None:
        """Stop waiting (MSAL's own way: the flow is taken as expired at its next poll)."""
        self._flow["expires_at"] = 0


def begin_login(settings: Settings) -> DeviceSignIn:
    """Ask the sign-in service for a device code for `[smtp.oauth]`'s scopes."""
    cache = msal.SerializableTokenCache()
    app = application(settings, cache)
    try:
        flow = app.initiate_device_flow(scopes=list(settings.smtp.oauth.scopes))
    except (OSError, ValueError) as err:
        app.http_client.close()
        raise _unreachable(settings, err) from err
    if "user_code" not in flow:
        app.http_client.close()
        raise ConfigError(f"the sign-in service would not start a sign-in: {_why(flow)}", field="smtp.oauth")
    address = str(flow.get("verification_uri") or flow.get("verification_url"))
    minutes = max(1, int(flow.get("expires_in", 900)) // 60)
    return DeviceSignIn(settings, address, str(flow["user_code"]), minutes, app, cache, flow)


def login(settings: Settings, out: TextIO) -> int:
    """`mailer login`: the device-code flow (RFC 8628); the new sign-in replaces any saved one."""
    started = begin_login(settings)
    print(f"To sign in, open {started.address} and enter the code {started.code}", file=out, flush=True)
    print(
        f"Waiting for you to finish there (the code works for {started.minutes} minutes) ...",
        file=out,
        flush=True,
    )
    who = started.finish()
    print(f"Signed in as {who}. Saved in {cache_path(settings)} (readable by you only).", file=out)
    username = settings.smtp.username
    if username and username.casefold() != who.casefold():
        print(
            f"Note: smtp.username is {username}; the server accepts that only if {who} may send as it "
            "(a shared mailbox).",
            file=out,
        )
    print(
        "`mailer send` and `mailer inbox --imap` renew the sign-in by themselves from now on; "
        "`mailer logout` forgets it.",
        file=out,
    )
    return 0


def logout(settings: Settings, out: TextIO) -> int:
    """`mailer logout`: remove the saved sign-in (tokens stay valid at Microsoft until they expire)."""
    path = cache_path(settings)
    try:
        path.unlink()
    except FileNotFoundError:
        print("not signed in: nothing to forget", file=out)
        return 0
    except OSError as err:
        raise ConfigError(f"cannot remove the saved sign-in: {err.strerror}", path=path) from err
    print(f"signed out: removed {path}", file=out)
    return 0


def _save(path: Path, cache: msal.SerializableTokenCache) -> None:
    """Keep the sign-in where only its owner can ever read it, replaced in one step."""
    try:
        private_folder(path.parent)
        write_private(path, cache.serialize().encode("utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot save the sign-in: {err.strerror}", path=path) from err


def _why(result: dict[str, Any]) -> str:
    """The service's reason, first line only (Entra appends trace and correlation ids)."""
    error = str(result.get("error") or "no token in the answer")
    description = str(result.get("error_description") or "").strip().splitlines()
    return f"{error}: {description[0]}" if description else error


def _unreachable(settings: Settings, err: Exception) -> ConfigError:
    oauth = settings.smtp.oauth
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
    return ConfigError(
        f"cannot use the sign-in service at {oauth.authority_host}/{oauth.tenant}: {reason}",
        field="smtp.oauth",
    )
