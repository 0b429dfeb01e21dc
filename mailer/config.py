"""Settings: config.toml read with pydantic-settings, every key overridable from the environment.

`MAILER_<SECTION>__<KEY>` overrides a key (`MAILER_SMTP__HOST`); secrets come only from
the environment (`MAILER_SMTP__PASSWORD`), never from the file.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import typing
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from mailer.addresses import NoAsciiForm, ascii_form
from mailer.errors import ConfigError
from mailer.meetings import Meeting

DEFAULT_CONFIG = "config.toml"
LANGUAGES = ("da", "en")
SECRET_KEYS = {
    ("smtp", "password"),
    ("smtp", "access_token"),
    ("imap", "password"),
    ("imap", "access_token"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SenderSettings(_Section):
    """Who the messages come from: From: of every message, ORGANIZER of every invitation."""

    name: str
    email: str
    reply_to: str | None = None
    language: Literal["da", "en"] = "da"
    unsubscribe_url: str | None = None

    @field_validator("name", "email", "reply_to")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("must be one line")
        return value

    @field_validator("email", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"{value!r} is not an address")
        if value is not None:
            try:
                ascii_form(value)
            except NoAsciiForm as err:
                raise ValueError(
                    f"{value!r} cannot be sent from: {err} Write the part before the @ in plain "
                    "letters a-z, digits and . - _ (æ, ø and å are fine after the @: rum@køge.example)"
                ) from err
        return value

    @property
    def address(self) -> str:
        """`email` as it goes on the envelope, in From:, ORGANIZER and mailto: links (its
        domain in ASCII, as members' addresses are)."""
        return ascii_form(self.email)

    @property
    def reply_to_address(self) -> str | None:
        return ascii_form(self.reply_to) if self.reply_to else None

    @property
    def domain(self) -> str:
        """The ASCII domain that Message-IDs, List-Id and calendar UIDs end with."""
        return self.address.rpartition("@")[2].lower()


class OAuthSettings(_Section):
    """The built-in Microsoft 365 sign-in used by `mailer login`."""

    client_id: str = ""
    tenant: str = "organizations"
    authority_host: str = "https://login.microsoftonline.com"
    # Sending and reading the mailbox, asked for in one sign-in (Outlook's resource for both).
    scopes: tuple[str, ...] = (
        "https://outlook.office.com/SMTP.Send",
        "https://outlook.office.com/IMAP.AccessAsUser.All",
    )
    ca_file: str = ""  # CA bundle to trust for the sign-in service instead of the usual one (a TLS proxy)


# An EHLO name (RFC 5321 4.1.3): a domain name, or an address literal in brackets.
_GREETING_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[(?:IPv6:)?[0-9A-Fa-f:.]+\]")


class SmtpSettings(_Section):
    """The server `send` delivers through."""

    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "starttls"
    username: str = ""
    auth: Literal["password", "xoauth2", "none"] | None = None
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    token_command: str = ""
    ca_file: str = ""
    allow_plain_auth_on_loopback: bool = False
    concurrency: int = Field(4, ge=1, le=64)
    rate_per_minute: float | None = Field(None, gt=0)
    rate_per_hour: float | None = Field(None, gt=0)
    rate_per_day: int | None = Field(None, gt=0)  # counted over the journal's last 24 hours
    max_attempts: int = Field(5, ge=1, le=50)
    timeout: float = Field(60.0, gt=0)
    backoff: float = Field(2.0, ge=0)
    max_message_mb: float = Field(20.0, gt=0)
    # The name given in EHLO; empty: the machine's name when fully qualified, else its address.
    local_hostname: str = ""
    # Processes that build messages while this one sends: None picks one per spare core for
    # runs of PARALLEL_FROM messages or more; 0 builds everything in this process.
    compose_processes: int | None = Field(None, ge=0, le=32)
    oauth: OAuthSettings = OAuthSettings()

    @field_validator("local_hostname")
    @classmethod
    def _greeting_name(cls, value: str) -> str:
        value = value.strip()
        if value and not _GREETING_NAME.fullmatch(value):
            raise ValueError(
                "not a name to greet the server with: write this computer's fully qualified name "
                '(local_hostname = "pc42.roskilde.example") or its address ("[192.0.2.7]")'
            )
        return value

    @property
    def auth_method(self) -> str:
        """How to sign in: explicit `auth`, else a password when a username is set."""
        if self.auth is not None:
            return self.auth
        return "password" if self.username else "none"


class ImapSettings(_Section):
    """The mailbox `mailer inbox` reads what comes back from (answers, bounces, unsubscribes)."""

    host: str = ""
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str = ""
    auth: Literal["password", "xoauth2"] = "password"
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    token_command: str = ""
    mailbox: str = "INBOX"
    ca_file: str = ""


class FilesSettings(_Section):
    """Where the inputs and outputs live, relative to config.toml."""

    recipients: Path = Path("recipients.csv")
    templates: Path = Path("templates")
    outbox: Path = Path("outbox")
    state: Path = Path(".mailer/state.sqlite")
    unsubscribed: Path = Path("unsubscribed.csv")


_toml_data: ContextVar[dict[str, Any]] = ContextVar("_toml_data")


class Settings(BaseModel):
    """Everything config.toml says, with environment overrides applied (see `load_settings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    sender: SenderSettings
    smtp: SmtpSettings = SmtpSettings()
    imap: ImapSettings = ImapSettings()
    files: FilesSettings = FilesSettings()
    meetings: tuple[Meeting, ...] = ()
    # Every speed path off (MAILER_PLAIN=1): each part rendered by Jinja2 and each message built
    # by the standard library for each member, in this process, and sent by aiosmtplib's
    # `sendmail`. The output is the same bytes.
    plain: bool = False
    base_dir: Path = Field(Path("."), exclude=True)
    path: Path = Field(Path(DEFAULT_CONFIG), exclude=True)

    @model_validator(mode="after")
    def _ca_files_beside_config(self) -> Settings:
        """CA bundles named relative to config.toml, like every other path in it."""
        for section in ("smtp", "imap"):
            model = getattr(self, section)
            if model.ca_file and not Path(model.ca_file).is_absolute():
                resolved = str(self.resolve(Path(model.ca_file)))
                object.__setattr__(self, section, model.model_copy(update={"ca_file": resolved}))
        return self

    @model_validator(mode="after")
    def _unique_meetings(self) -> Settings:
        seen: set[str] = set()
        for index, meeting in enumerate(self.meetings):
            if meeting.id in seen:
                raise ValueError(f"meetings.{index}.id: {meeting.id!r} is used twice")
            seen.add(meeting.id)
        return self

    def resolve(self, path: Path) -> Path:
        """A path from config.toml, relative to the folder config.toml is in."""
        return path if path.is_absolute() else self.base_dir / path

    def meeting(self, meeting_id: str) -> Meeting:
        for meeting in self.meetings:
            if meeting.id == meeting_id:
                return meeting
        known = ", ".join(m.id for m in self.meetings) or "none"
        raise ConfigError(f"no meeting {meeting_id!r} (known: {known})", path=self.path)


ENV_PREFIX = "MAILER_"


def _overridden() -> bool:
    """Does the environment set a key (MAILER_<SECTION>__<KEY>, MAILER_PLAIN)? MAILER_CONFIG
    names the file and sets none."""
    return any(
        name.upper().startswith(ENV_PREFIX)
        and name[len(ENV_PREFIX) :].split("__")[0].lower() in Settings.model_fields
        for name in os.environ
    )


@cache
def _from_environment() -> type[Settings]:
    """Settings read by pydantic-settings: the environment over config.toml. Made (and
    pydantic-settings imported) only when the environment sets a key: most commands a person
    runs do not pay for it at start-up."""
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

    class TomlData(PydanticBaseSettingsSource):
        """The already parsed config.toml, so that its errors can name lines."""

        def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
            return _toml_data.get().get(field_name), field_name, False

        def __call__(self) -> dict[str, Any]:
            return dict(_toml_data.get())

    class FromEnvironment(BaseSettings, Settings):
        model_config = SettingsConfigDict(
            env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
        )

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, TomlData(settings_cls))

    return FromEnvironment


def config_path(given: str | os.PathLike[str] | None) -> Path:
    """--config, else $MAILER_CONFIG, else ./config.toml."""
    return Path(given or os.environ.get("MAILER_CONFIG") or DEFAULT_CONFIG)


def config_text(path: Path) -> str:
    """config.toml's text: UTF-8, with or without the BOM Windows editors write; a file saved in
    another encoding (Notepad's "ANSI") is a ConfigError naming the first line it shows in."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        letter = data[err.start : err.start + 1].decode("cp1252", "replace")
        raise ConfigError(
            f"is not saved as UTF-8 (the {letter!r} in this line is written in another encoding, "
            "such as Windows' ANSI): open it in Notepad, choose File, Save as, set Encoding to "
            "UTF-8 and save",
            path=path,
            line=line,
        ) from err


def load_settings(path: Path) -> Settings:
    """Read and validate config.toml; every problem names the line and key."""
    try:
        text = config_text(path)
    except FileNotFoundError as err:
        raise ConfigError(
            f"not found (looked for {path.absolute()}); say where it is with --config PATH "
            "(before or after the command), or make a new folder with `mailer init`",
            path=path,
        ) from err
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror or err}", path=path) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = _decode_error_line(str(err))
        raise _toml_error(text, line, err, path) from err
    for section, key in SECRET_KEYS:
        if key in data.get(section, {}):
            variable = f"MAILER_{section.upper()}__{key.upper()}"
            raise ConfigError(
                f"secrets do not belong in config.toml; set {variable} in the environment",
                path=path,
                line=_key_line(text, (section, key)),
                field=f"{section}.{key}",
            )
    token = _toml_data.set(data)
    try:
        where = {"base_dir": path.resolve().parent, "path": path}
        if _overridden():
            return _from_environment()(**where)
        return Settings(**{**data, **where})
    except ValidationError as err:
        errors = err.errors()
        # A misspelt key also makes the right one "missing"; the typo is the line to point at.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = _unknown_key(loc)
        elif first["type"].startswith(("datetime_", "date_")):
            message = f"{first['input']!r} is not a date and time; {_date_form(str(loc[-1]), first['input'])}"
        dotted = ".".join(str(part) for part in loc)
        if not loc and ":" in message:
            dotted, _, message = message.partition(": ")
            loc = tuple(int(p) if p.isdigit() else p for p in dotted.split("."))
        named = re.match(r"(\w+): ", message)
        if loc and named and named.group(1) in _known_keys(loc):  # a check of several fields names one
            loc, message = (*loc, named.group(1)), message[named.end() :]
        env_name = _env_variable(loc)
        cause = _without_values(err)  # what --debug shows: never a value, which may be a secret
        if env_name is not None:  # the value came from the environment, not from a line of the file
            raise ConfigError(f"{message} (set by {env_name})", path=path, field=dotted) from cause
        field = _meeting_field(data, loc) or dotted or None
        raise ConfigError(message, path=path, line=_key_line(text, loc), field=field) from cause
    finally:
        _toml_data.reset(token)


def _without_values(err: ValidationError) -> ValueError:
    """Pydantic's problems without the values it was given: a password under a misspelt name
    (MAILER_SMTP__PASWORD) is an unknown key whose value pydantic's own text would show."""
    problems = err.errors(include_url=False, include_context=False, include_input=False)
    return ValueError(
        "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']} [type={e['type']}]" for e in problems)
    )


def _env_variable(loc: Sequence[str | int]) -> str | None:
    """The MAILER_<SECTION>__<KEY> variable that set the value at `loc`, if one did."""
    if not loc:
        return None
    wanted = "MAILER_" + "__".join(str(part).upper() for part in loc)
    return next((name for name in os.environ if name.upper() == wanted), None)


def _unknown_key(loc: Sequence[str | int]) -> str:
    """The closest known key at that place, if one is close ("did you mean `location`?")."""
    known = _known_keys(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean `{close[0]}`?"
    return f"unknown key (a typo?); the keys here are: {', '.join(known)}" if known else "unknown key"


def _known_keys(loc: Sequence[str | int]) -> list[str]:
    """The keys config.toml may write in the table at `loc` (('smtp',), ('meetings', 0))."""
    model: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        is_model = isinstance(model, type) and issubclass(model, BaseModel)
        field = model.model_fields.get(part) if is_model else None
        if field is None:
            return []
        args = typing.get_args(field.annotation)  # tuple[Meeting, ...]: the Meeting
        model = args[0] if args and isinstance(args[0], type) else field.annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [name for name, field in model.model_fields.items() if not field.exclude]


def _meeting_field(data: dict[str, Any], loc: Sequence[str | int]) -> str | None:
    """A field of a meeting named by the meeting's id (`meeting 2027-09-21-x, start`), not its
    place in the list (`meetings.0.start`)."""
    if len(loc) < 2 or loc[0] != "meetings" or not isinstance(loc[1], int):
        return None
    meetings = data.get("meetings")
    entry = meetings[loc[1]] if isinstance(meetings, list) and loc[1] < len(meetings) else None
    meeting_id = entry.get("id") if isinstance(entry, dict) else None
    name = f"meeting {meeting_id}" if meeting_id else f"meeting {loc[1] + 1} (it has no id)"
    rest = ".".join(str(part) for part in loc[2:])
    return f"{name}, {rest}" if rest else name


# Forms people write dates in, tried to show their own date in the form TOML needs.
_DATE_FORMS = ("%d-%m-%Y %H:%M", "%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M", "%d-%m-%Y kl. %H.%M")


def _date_form(key: str, value: object) -> str:
    """The right form for a meeting's time, with the coordinator's own date in it where it can."""
    example = datetime(2027, 9, 21, 13, 0)
    for form in _DATE_FORMS:
        try:
            example = datetime.strptime(str(value).strip().strip("\"'"), form)
            break
        except ValueError:
            continue
    return (
        f"write it as {key} = {example.isoformat(timespec='seconds')} "
        "(year-month-day, T, hours:minutes:seconds; no quotes)"
    )


def _toml_error(text: str, line: int | None, err: tomllib.TOMLDecodeError, path: Path) -> ConfigError:
    """TOML's own complaint, or, on a meeting's time in a form TOML cannot read, which meeting
    and the right form."""
    lines = text.splitlines()
    written = lines[line - 1].split("#", 1)[0].strip() if line and line <= len(lines) else ""
    key, equals, value = written.partition("=")
    key = key.strip()
    meeting_id = _meeting_at(lines, line) if line else None
    if equals and meeting_id is not None and (key in ("start", "end") or re.match(r"\s*\d", value)):
        return ConfigError(
            f"{value.strip()} is not a date and time; {_date_form(key, value)}",
            path=path,
            line=line,
            field=f"meeting {meeting_id}, {key}",
        )
    hint = _quoting_hint(key, value.strip(), str(err)) if equals else None
    return ConfigError(f"not valid TOML: {hint or err}", path=path, line=line)


def _quoting_hint(key: str, value: str, complaint: str) -> str | None:
    """What to write instead for the two slips TOML reports without a word of help: a file name
    without quotes, and a Windows path in double quotes, where a backslash starts an escape
    (`\\U` a Unicode one)."""
    if value.startswith('"') and "\\" in value and ("hex value" in complaint or "'\\'" in complaint):
        path = value.strip('"')
        forward = path.replace("\\", "/")
        return (
            f"a \\ inside double quotes starts an escape such as \\n; write a Windows path in single "
            f"quotes, {key} = '{path}', or with /, {key} = \"{forward}\""
        )
    if value and not re.match(r"""["'\[{+\-\d]|(true|false|inf|nan)\b""", value):
        return f'{value} needs quotes around it: write {key} = "{value}"'
    return None


def _meeting_at(lines: list[str], line: int) -> str | None:
    """The id of the [[meetings]] table that `line` is in (None outside one)."""
    start = None
    for number in range(line - 1, -1, -1):
        if re.match(r"\s*\[", lines[number]):
            start = number if re.match(r"\s*\[\[\s*meetings\s*\]\]", lines[number]) else None
            break
    if start is None:
        return None
    for raw in lines[start + 1 :]:
        if re.match(r"\s*\[", raw):
            break
        if found := re.match(r"\s*id\s*=\s*[\"']([^\"']*)[\"']", raw):
            return found.group(1)
    return "(no id)"


def _decode_error_line(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _key_line(text: str, loc: Sequence[str | int]) -> int | None:
    """The line of config.toml where the key at `loc` (as pydantic names it) is written.

    Falls back to the line of the table the key belongs in (a missing key).
    """
    wanted = [str(part) for part in loc]
    table: list[str] = []
    counts: dict[str, int] = {}
    table_line: int | None = None
    matched = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if header := re.fullmatch(r"\[\[\s*([^\]]+?)\s*\]\]", line):
            name = header.group(1)
            counts[name] = counts.get(name, -1) + 1
            table = [name, str(counts[name])]
        elif header := re.fullmatch(r"\[\s*([^\]]+?)\s*\]", line):
            table = header.group(1).split(".")
        elif key := re.match(r"([A-Za-z0-9_-]+)\s*=", line):
            path = [*table, key.group(1)]
            if wanted[: len(path)] == path:
                return number
            continue
        else:
            continue
        if len(table) > matched and wanted[: len(table)] == table:
            table_line, matched = number, len(table)
    return table_line
