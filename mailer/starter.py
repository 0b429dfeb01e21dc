"""`mailer init`: a new working folder with a config.toml that says what every key is for, a
member list to fill in and a copy of the shipped templates to edit. Nothing already there is
overwritten.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import mailer
from mailer.errors import ConfigError
from mailer.providers import PROVIDERS, Provider, likely_provider
from mailer.words import count

# A member list as Danish Excel saves it (';', UTF-8 with BOM): the header and one made-up member.
RECIPIENTS = (
    "\ufeffNavn;E-mail;Bibliotek;Sprog;Grupper\r\n"
    "Anna Eksempel;anna@bibliotek.example;Eksempel Bibliotek;da;\r\n"
)


@dataclass(frozen=True)
class Answers:
    """What `mailer init` asks: the network's name, the sender's address and the mail service."""

    name: str
    email: str
    provider: Provider
    host: str  # the server: the provider's, or asked for when it is another one


@dataclass
class Made:
    """What `init` wrote, and what it left alone because it was already there."""

    folder: Path
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def shipped_templates() -> Path:
    """The templates mailer comes with: inside the installed package (a wheel), or the
    repository's templates/ folder in a checkout (also what an editable install uses)."""
    package = Path(mailer.__file__).parent
    for folder in (package / "starter_templates", package.parent / "templates"):
        if (folder / "invitation" / "template.toml").is_file():
            return folder
    raise ConfigError("the templates mailer comes with are missing from this installation: reinstall it")


def make_folder(folder: Path, answers: Answers | None) -> Made:
    """Write config.toml (when `answers` are given), recipients.csv and templates/ into `folder`,
    leaving every file already there as it is."""
    made = Made(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if answers is None:
        made.kept.append("config.toml")
    else:
        _write_new(folder / "config.toml", config_text(answers).encode("utf-8"), made)
    _write_new(folder / "recipients.csv", RECIPIENTS.encode("utf-8"), made)
    source = shipped_templates()
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            _write_new(folder / "templates" / path.relative_to(source), path.read_bytes(), made)
    return made


def _write_new(path: Path, data: bytes, made: Made) -> None:
    shown = path.relative_to(made.folder).as_posix()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("xb") as file:  # never over a file that is there
            file.write(data)
    except FileExistsError:
        made.kept.append(shown)
        return
    made.written.append(shown)


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def config_text(answers: Answers) -> str:
    """config.toml for a new folder, with a short comment on every key."""
    p = answers.provider
    smtp: list[tuple[str, str]] = [
        ("[smtp]", f"the server `mailer send` sends through: {p.title}"),
        (f"host = {_toml(answers.host)}", ""),
        (f"port = {p.port}", ""),
        (f'security = "{p.security}"', '"starttls" (port 587), "tls" (port 465), "none" (a local relay)'),
        (f"username = {_toml(answers.email)}", "the mailbox that signs in"),
        (f'auth = "{p.auth}"', f"sign in {p.sign_in}"),
    ]
    if p.rate_per_minute:
        smtp.append((f"rate_per_minute = {p.rate_per_minute}", "the most it takes from one mailbox"))
    if p.auth == "xoauth2":
        smtp += [
            ("", ""),
            ("[smtp.oauth]", "from your IT (the README's section for IT says what they do)"),
            ('client_id = ""', "the Application (client) ID"),
            ('tenant = "organizations"', "or your organisation's Directory (tenant) ID"),
        ]
    lines: list[tuple[str, str]] = [
        (f"# mailer settings for {answers.name}. Paths are relative to this file.", ""),
        ("# Any key can also be set in the environment: MAILER_<SECTION>__<KEY> (MAILER_SMTP__PORT).", ""),
        ("# Passwords never go in this file (mailer refuses them here).", ""),
        ("", ""),
        ("[sender]", "who the messages come from"),
        (f"name = {_toml(answers.name)}", "the sender's name, and the meetings' organizer"),
        (f"email = {_toml(answers.email)}", "From: of every message; answers come back here"),
        ('language = "da"', '"da" or "en": for members without one, and for your pages'),
        ('# reply_to = ""', "where replies go, if not to email"),
        ('# unsubscribe_url = ""', "a page where members leave the newsletter (https://...)"),
        ("", ""),
        *smtp,
        ("", ""),
        ("[files]", "where things are, relative to this file"),
        ('recipients = "recipients.csv"', "the member list: CSV, or .xlsx / .ods as saved"),
        ('templates = "templates"', "one folder per kind of message, yours to edit"),
        ('outbox = "outbox"', "where `mailer preview` puts what members would get"),
        ('state = ".mailer/state.sqlite"', "what was sent to whom: keep it (it has backups)"),
        ('unsubscribed = "unsubscribed.csv"', "addresses never sent anything again"),
        ("", ""),
        ("# A meeting: copy these lines without the # for each one, and fill them in.", ""),
        ("# [[meetings]]", ""),
        ('# id = "2027-09-21-netvaerksmoede"', "a name of your own; keep it once invited"),
        ('# title = "Netværksmøde"', ""),
        ("# start = 2027-09-21T13:00:00", "year-month-day T hour:minute:second, no quotes"),
        ("# end = 2027-09-21T16:00:00", ""),
        ('# location = "Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde"', ""),
        ('# description = "What the meeting is about."', ""),
        ('# agenda = ["Velkomst", "Oplæg", "Frokost"]', ""),
        ('# status = "confirmed"', '"tentative", "confirmed" or "cancelled"'),
        ('# reminder = "P1D"', "calendars remind members a day before"),
    ]
    width = 36
    return "".join(f"{code:<{width}}# {note}\n" if note else f"{code}\n" for code, note in lines)


# -- the questions ------------------------------------------------------------------------

ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def answers_from(
    *,
    name: str | None,
    email: str | None,
    provider: str | None,
    host: str | None,
    ask: Callable[[str], str] | None,
    out: TextIO,
) -> Answers:
    """The answers from the flags; what they leave out is asked with `ask` (a terminal), or is
    an error naming the flag when there is nobody to ask."""

    def value(flag: str, question: str, default: str, valid: Callable[[str], str | None]) -> str:
        given = {"--name": name, "--email": email, "--provider": provider, "--host": host}[flag]
        if given is not None:
            problem = valid(given.strip())
            if problem:
                raise ConfigError(f"{flag} {given!r}: {problem}")
            return given.strip()
        if ask is None:
            raise ConfigError(f"no terminal to ask on: give {flag} (mailer init --help lists them)")
        while True:
            shown = f" [{default}]" if default else ""
            answer = ask(f"{question}{shown}: ").strip() or default
            problem = valid(answer)
            if not problem:
                return answer
            print(f"  {problem}", file=out)

    title = value("--name", "The network's name (the sender's name in members' mail)", "", _one_line)
    address = value("--email", "The address you send from (answers come back to it)", "", _address)
    guess = likely_provider(address)
    if provider is None and ask is not None:
        print("Which mail service is that address on?", file=out)
        for number, choice in enumerate(PROVIDERS.values(), start=1):
            print(f"  {number}. {choice.title}", file=out)
    keys = list(PROVIDERS)
    default = str(keys.index(guess.key) + 1)

    def chosen(text: str) -> Provider | None:
        if text.isdigit() and 1 <= int(text) <= len(keys):
            return PROVIDERS[keys[int(text) - 1]]
        return PROVIDERS.get(text.casefold())

    picked = value(
        "--provider",
        "Choose 1, 2 or 3",
        default,
        lambda t: None if chosen(t) else f"one of {', '.join(keys)} (or 1, 2, 3)",
    )
    service = chosen(picked)
    assert service is not None
    server = service.host
    if not server or host is not None:
        suggested = "smtp." + address.rpartition("@")[2]
        server = value("--host", "The mail server's name (ask IT)", suggested, _host)
    return Answers(title, address, service, server)


def _one_line(text: str) -> str | None:
    return "must be one line, and not empty" if not text or "\n" in text or "\r" in text else None


def _address(text: str) -> str | None:
    return None if ADDRESS.fullmatch(text) else "is not an e-mail address (like koordinator@bibliotek.dk)"


def _host(text: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z0-9.-]+", text) else "is not a server name (like smtp.kommune.dk)"


def terminal_question() -> Callable[[str], str] | None:
    """`input` when a person is at the terminal; None when the input is piped or a file."""
    return input if sys.stdin.isatty() else None


def init(
    folder: Path,
    *,
    name: str | None = None,
    email: str | None = None,
    provider: str | None = None,
    host: str | None = None,
    ask: Callable[[str], str] | None = None,
    out: TextIO,
) -> int:
    """`mailer init [FOLDER]`: ask what is not given (when there is config.toml to write), make
    the folder, and say what was made and what to do next."""
    answers = None
    if not (folder / "config.toml").exists():  # else nothing to ask for
        answers = answers_from(name=name, email=email, provider=provider, host=host, ask=ask, out=out)
    made = make_folder(folder, answers)
    tell(made, out, answers)
    return 0


def tell(made: Made, out: TextIO, answers: Answers | None) -> None:
    """What was made, what was kept, and what to do next."""

    def listed(names: list[str]) -> str:
        files = [name for name in names if not name.startswith("templates/")]
        templates = len(names) - len(files)
        return ", ".join([*files, f"templates/ ({count(templates, 'file')})"] if templates else files)

    if made.written:
        print(f"made in {made.folder}: {listed(made.written)}", file=out)
    if made.kept:
        print(f"already there, kept as they are: {listed(made.kept)}", file=out)
        print("  (mailer init never overwrites a file: for a new one, move the old one away first)", file=out)
    steps: list[str] = []
    if answers is not None and answers.provider.auth == "xoauth2":
        steps.append("ask IT for client_id (README: 'For IT'), write it in config.toml, run `mailer login`")
    elif answers is not None:
        steps.append("keep the password in this computer's keyring: mailer password")
    steps.append(
        "mailer desk: it opens in your browser; upload your member list (the file saved from Excel) "
        "under Members, add the meeting under Meetings, then preview and send there"
    )
    here = made.folder.resolve() == Path.cwd().resolve()
    folder = f'"{made.folder}"' if " " in str(made.folder) else str(made.folder)
    print("next" + ("" if here else f", in that folder (cd {folder})") + ":", file=out)
    for number, step in enumerate(steps, start=1):
        print(f"  {number}. {step}", file=out)
    print(
        "or in the terminal: put your members in recipients.csv (or save your Excel list here and name "
        "it in config.toml), add your meeting at the end of config.toml, then mailer check --signin and "
        "mailer preview invitation --meeting ID",
        file=out,
    )
