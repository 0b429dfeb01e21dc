"""Sending benchmark: mailer's real `send` path against a discarding SMTP server on loopback,
next to a bare aiosmtplib loop over the same number of connections (the ceiling).

    python benchmarks/send.py [--messages 5000] [--concurrency 8] [--port 2525]
                              [--members-for-memory 100000] [--repeats 3] [--profile FILE]

What it measures, in one run (see benchmarks/README.md for figures and how to read them):
- messages/s of `mailer send invitation --meeting ID --yes` (through `mailer.cli.main`: loading
  and validating the member list, planning, composing, SMTP delivery, journal writes), of the
  same with `OutcomeLog.append` a no-op (the journal's cost), of mailer's SMTP transport alone
  with prebuilt messages, and of a bare aiosmtplib loop with the same prebuilt messages;
  repeated in paired rounds, medians and every figure printed;
- µs per message of each composing step, one core, no network;
- peak RSS of a separate process sending to `--members-for-memory` members.

The receiver is postfix's `smtp-sink` (far faster than any Python server); if it is missing, an
aiosmtpd discarding server in a subprocess, and the output says so: that figure then mostly
measures aiosmtpd. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import csv
import hashlib
import io
import json
import os
import platform
import pstats
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib

from mailer import cli
from mailer.calendar import MeetingEvent, Person, PreparedCalendar
from mailer.compose import Composer
from mailer.config import Settings, load_settings
from mailer.frames import build_message
from mailer.journal import Journal
from mailer.message import CalendarPart, Draft, OutgoingMessage, message_id
from mailer.outcomes import DeliveryRecord, OutcomeLog
from mailer.plan import Delivery, Plan, Selection
from mailer.run import load_inputs, make_plan
from mailer.signin import SmtpSignIn
from mailer.templates import MessageTemplate, Rendered
from mailer.transport import smtp
from mailer.transport.smtp import Outcome, SmtpTransport

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"
SMTP_SINK = Path("/usr/sbin/smtp-sink")
MEETING_ID = "2027-09-21-hvad-siger-brugerne"
NOW = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)  # fixed, before the meeting
TICKS = os.sysconf("SC_CLK_TCK")

FIRST_NAMES = (
    "Søren", "Mette", "Jørgen", "Birgitte", "Åse", "Anders", "Kirsten", "Bjørn", "Lærke", "Mads",
    "Signe", "Rasmus", "Ida", "Frederik", "Maja", "Nikolaj", "Karen", "Ole", "Hanne", "Thøger",
)  # fmt: skip
LAST_NAMES = (
    "Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
    "Rasmussen", "Jørgensen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Møller", "Lund", "Holm",
    "Ærø", "Kjær", "Dahl",
)  # fmt: skip
LIBRARIES = (
    ("Roskilde Bibliotekerne", "roskilde"), ("Køge Bibliotekerne", "koege"),
    ("Greve Bibliotek", "greve"), ("Vordingborg Bibliotekerne", "vordingborg"),
    ("Sorø Bibliotek", "soroe"), ("Kalundborg Bibliotekerne", "kalundborg"),
    ("Faxe Kommunes Biblioteker", "faxe"), ("Holbæk Bibliotekerne", "holbaek"),
    ("Næstved Bibliotek", "naestved"), ("Slagelse Bibliotekerne", "slagelse"),
)  # fmt: skip
ASCII = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})

CONFIG = """\
# Written by benchmarks/send.py: a loopback discarding server, no sign-in, no rate limit.
[sender]
name = "Brugernes Rum"
email = "brugernesrum@roskilde.example"
reply_to = "koordinator@roskilde.example"
language = "da"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
concurrency = {concurrency}
max_attempts = 3
timeout = 30
backoff = 0.1

[files]
recipients = "recipients.csv"
templates = "templates"
outbox = "outbox"
state = ".mailer/state.sqlite"
unsubscribed = "unsubscribed.csv"

[[meetings]]
id = "{meeting}"
title = "Netværksmøde: Hvad siger brugerne?"
start = 2027-09-21T13:00:00
end = 2027-09-21T16:00:00
timezone = "Europe/Copenhagen"
location = "Roskilde Bibliotek, Dronning Margrethes Vej 14, 4000 Roskilde"
description = \"\"\"Vi har et nyt punkt på programmet: Hvad siger brugerne? Bibliotekernes rolle i \\
lokalsamfundet. Roskilde Bibliotekerne fortæller om en større undersøgelse blandt brugere og \\
ikke-brugere af to selvbetjente biblioteker og bogbussen.\"\"\"
agenda = [
  "Velkomst og kaffe",
  "Hvad siger brugerne? Anne Mette B. Jensen og Gitte Jacobsen fortæller om undersøgelsen",
  "Frokost",
  "Erfaringer fra det selvbetjente rum",
]
status = "confirmed"
reminder = "P1D"
"""


# -- the receiver ------------------------------------------------------------------------

AIOSMTPD_SINK = """
import sys, threading
from aiosmtpd.controller import Controller

class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: discarded"

controller = Controller(Discard(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
threading.Event().wait()
"""


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Receiver:
    """A discarding SMTP server on 127.0.0.1:port in a child process, stopped by `stop()`."""

    port: int
    kind: str = ""
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if _listening(self.port):
            raise SystemExit(f"something already listens on 127.0.0.1:{self.port}; choose another --port")
        if SMTP_SINK.exists():
            command = [str(SMTP_SINK)]
            if os.geteuid() == 0:
                command += ["-u", "nobody"]  # smtp-sink refuses to run as root otherwise
            command += ["-m", "1000", f"127.0.0.1:{self.port}", "1024"]
            self.kind = "postfix smtp-sink"
        else:
            command = [sys.executable, "-c", AIOSMTPD_SINK, str(self.port)]
            self.kind = "aiosmtpd discarding server (smtp-sink missing: figures mostly measure aiosmtpd)"
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                self.stop()
                raise SystemExit(f"the receiver did not start: {error.strip()}")
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User + system CPU the receiver has used so far (Linux /proc)."""
        if self.process is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / TICKS

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- the project folder ------------------------------------------------------------------


def write_members(path: Path, count: int) -> None:
    """`count` made-up members on *.example domains, Danish names, written as Excel would."""
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        rows = csv.writer(file, delimiter=";")
        rows.writerow(["Navn", "E-mail", "Bibliotek", "Sprog", "Grupper"])
        for n in range(count):
            first = FIRST_NAMES[n % len(FIRST_NAMES)]
            last = LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)]
            library, domain = LIBRARIES[n % len(LIBRARIES)]
            local = f"{first}.{last}.{n}".translate(ASCII).lower()
            language = "en" if n % 10 == 9 else "da"
            rows.writerow([f"{first} {last}", f"{local}@{domain}.example", library, language, "netværk"])


def make_project(folder: Path, members: int, port: int, concurrency: int) -> Path:
    """config.toml, recipients.csv and a copy of the templates; returns the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(CONFIG.format(port=port, concurrency=concurrency, meeting=MEETING_ID), encoding="utf-8")
    write_members(folder / "recipients.csv", members)
    shutil.copytree(TEMPLATES, folder / "templates", dirs_exist_ok=True)
    return config


def clear_journal(settings: Settings) -> None:
    """Remove the state file, so that the next send sends to everyone again."""
    state = settings.resolve(settings.files.state)
    for suffix in ("", "-wal", "-shm"):
        state.with_name(state.name + suffix).unlink(missing_ok=True)


def selection() -> Selection:
    return Selection(template="invitation", meeting_id=MEETING_ID)


def planned(settings: Settings) -> Plan:
    inputs = load_inputs(settings)
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        return make_plan(inputs, journal, selection())


def prebuilt(settings: Settings) -> list[OutgoingMessage]:
    """Every member's finished message, built before any clock starts."""
    clear_journal(settings)
    composer = Composer(settings, now=NOW)
    return [outgoing for _, outgoing in composer.compose(planned(settings).deliveries)]


# -- the measurements --------------------------------------------------------------------


@dataclass
class Timing:
    seconds: float
    cpu: float  # this process
    receiver_cpu: float
    messages: int
    children_cpu: float = 0.0  # the processes it forked and waited for (builders, checkers)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


@dataclass
class Series:
    name: str
    timings: list[Timing] = field(default_factory=list)

    def rates(self) -> list[float]:
        return [t.rate for t in self.timings]

    def median(self) -> float:
        return statistics.median(self.rates())

    def cpu_us(self) -> float:
        return statistics.median(t.cpu / t.messages * 1e6 for t in self.timings)

    def work_us(self) -> float:
        """CPU µs per message of this process and its children: the work done, whatever the load."""
        return statistics.median((t.cpu + t.children_cpu) / t.messages * 1e6 for t in self.timings)

    def receiver_us(self) -> float:
        return statistics.median(t.receiver_cpu / t.messages * 1e6 for t in self.timings)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(receiver: Receiver, run: Callable[[], int]) -> Timing:
    wall, cpu, other, forked = (
        time.perf_counter(),
        time.process_time(),
        receiver.cpu_seconds(),
        children_cpu(),
    )
    sent = run()
    return Timing(
        time.perf_counter() - wall,
        time.process_time() - cpu,
        receiver.cpu_seconds() - other,
        sent,
        children_cpu() - forked,
    )


async def _bare_loop(messages: list[OutgoingMessage], port: int, concurrency: int) -> int:
    """The ceiling: `concurrency` aiosmtplib connections taking prebuilt messages from one list."""
    pending = iter(messages)
    sent = 0

    async def connection() -> None:
        nonlocal sent
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False)
        await client.connect()
        for outgoing in pending:
            errors, _ = await client.sendmail(outgoing.mail_from, [outgoing.rcpt_to], outgoing.data)
            sent += not errors
        await client.quit()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return sent


def run_ceiling(messages: list[OutgoingMessage], port: int, concurrency: int) -> int:
    return asyncio.run(_bare_loop(messages, port, concurrency))


def run_transport(settings: Settings, messages: list[OutgoingMessage]) -> int:
    """mailer's SmtpTransport alone, with the same prebuilt messages (no composing, no journal)."""
    outcomes: list[bool] = []

    def report(outcome: Outcome[int]) -> None:
        outcomes.append(outcome.ok)

    transport = SmtpTransport(settings.smtp, SmtpSignIn(settings))
    asyncio.run(transport.deliver(((n, e) for n, e in enumerate(messages)), report))
    return sum(outcomes)


@contextlib.contextmanager
def journal_writes_off() -> Iterator[None]:
    """`OutcomeLog.append` (how a send records each outcome) a no-op, in this process only, for
    as long as the block runs."""
    original = OutcomeLog.append
    OutcomeLog.append = lambda self, record: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        OutcomeLog.append = original  # type: ignore[method-assign]


@contextlib.contextmanager
def patched(owner: object, name: str, value: object) -> Iterator[None]:
    """`owner.name` replaced by `value`, in this process (and the builders it forks), for as long
    as the block runs."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Settings from the environment (`MAILER_PLAIN`, `MAILER_SMTP__...`) for as long as the block runs."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def shapes_off() -> contextlib.AbstractContextManager[None]:
    """Every template part run by Jinja2 for every member (`Parts`), the rest as it is."""
    original = MessageTemplate.__init__

    def plain_parts(
        self: MessageTemplate, folder: Path, name: str, language: str, *, plain: bool = False
    ) -> None:
        original(self, folder, name, language, plain=True)

    return patched(MessageTemplate, "__init__", plain_parts)


def commit_per_message() -> contextlib.AbstractContextManager[None]:
    """Each outcome committed to SQLite as it comes, instead of the outcome log's batches."""
    original = OutcomeLog.append

    def append_and_commit(self: OutcomeLog, record: DeliveryRecord) -> None:
        original(self, record)
        self.settle()

    return patched(OutcomeLog, "append", append_and_commit)


def sendmail() -> contextlib.AbstractContextManager[None]:
    """Each message sent by aiosmtplib's `sendmail`, as on the plain path."""
    original = smtp._transaction

    async def plain_transaction(client: aiosmtplib.SMTP, outgoing: OutgoingMessage, *, plain: bool) -> str:
        return await original(client, outgoing, plain=True)

    return patched(smtp, "_transaction", plain_transaction)


# Each speed path, and how the benchmark turns it off (and only it) for a full send.
TRICKS: list[tuple[str, Callable[[], contextlib.AbstractContextManager[None]]]] = [
    ("builders in forked processes", lambda: environment(MAILER_SMTP__COMPOSE_PROCESSES="0")),
    ("template parts once per shape", shapes_off),
    ("outcome log, moved in batches", commit_per_message),
    ("MAIL, RCPT and DATA without sendmail", sendmail),
]
PLAIN = "mailer send, MAILER_PLAIN=1"


def run_mailer(settings: Settings, expected: int) -> int:
    """`mailer send invitation --meeting ID --yes`, the whole command, from a fresh journal."""
    clear_journal(settings)
    out = io.StringIO()
    argv = ["--config", str(settings.path), "send", "invitation", "--meeting", MEETING_ID, "--yes"]
    code = cli.main(argv, clock=lambda: NOW, out=out)
    text = out.getvalue()
    if code != 0 or f"sent: {expected}," not in text:
        raise SystemExit(f"mailer send failed (exit {code}):\n{text[-2000:]}")
    return expected


def paired_rounds(
    settings: Settings, messages: list[OutgoingMessage], receiver: Receiver, repeats: int
) -> list[Series]:
    """Each round runs every variant once, in a rotated order, so drifts hit them alike."""
    n, port, concurrency = len(messages), settings.smtp.port, settings.smtp.concurrency

    def without_journal() -> int:
        with journal_writes_off():
            return run_mailer(settings, n)

    def without(trick: Callable[[], contextlib.AbstractContextManager[None]]) -> Callable[[], int]:
        def send() -> int:
            with trick():
                return run_mailer(settings, n)

        return send

    variants: list[tuple[str, Callable[[], int]]] = [
        ("bare aiosmtplib loop (ceiling)", lambda: run_ceiling(messages, port, concurrency)),
        ("mailer transport only, prebuilt", lambda: run_transport(settings, messages)),
        ("mailer send (full)", lambda: run_mailer(settings, n)),
        ("mailer send, journal writes off", without_journal),
        (PLAIN, without(lambda: environment(MAILER_PLAIN="1"))),
        *((f"  without: {name}", without(trick)) for name, trick in TRICKS),
    ]
    series = [Series(name) for name, _ in variants]
    for round_ in range(repeats):
        shift = round_ % len(variants)
        for index in [*range(shift, len(variants)), *range(shift)]:
            series[index].timings.append(timed(receiver, variants[index][1]))
    return series


def warm_up(folder: Path, port: int, concurrency: int) -> None:
    """One small run of each kind first: imports, caches and the receiver's first fork."""
    settings = load_settings(make_project(folder / "warm-up", 200, port, concurrency))
    messages = prebuilt(settings)
    run_ceiling(messages, port, concurrency)
    run_transport(settings, messages)
    run_mailer(settings, len(messages))


# -- composing, step by step ---------------------------------------------------------------


def per_message_us(call: Callable[[], object], count: int) -> float:
    """CPU µs per call: CPU time, not wall time, so that other load on the machine counts less."""
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) / count * 1e6


def stage_costs(settings: Settings, count: int) -> list[tuple[str, float]]:
    """µs per message of each step of composing and recording, one core, no network."""
    clear_journal(settings)
    started = time.process_time()
    inputs = load_inputs(settings)
    load_us = (time.process_time() - started) / len(inputs.members.members) * 1e6
    with Journal(settings.resolve(settings.files.state), readonly=True) as journal:
        started = time.process_time()
        plan = make_plan(inputs, journal, selection())
        plan_us = (time.process_time() - started) / len(plan.deliveries) * 1e6
    deliveries = plan.deliveries[:count]
    campaign = plan.campaign
    assert campaign.meeting is not None and campaign.method is not None
    composer = Composer(settings, now=NOW)
    sender = settings.sender
    calendars = {
        language: PreparedCalendar(
            MeetingEvent(
                campaign.meeting,
                uid=campaign.uid,
                sequence=campaign.sequence,
                dtstamp=NOW,
                method=campaign.method,
                organizer=Person(sender.email, sender.name),
                language=language,
            )
        )
        for language in ("da", "en")
    }
    rendered = [composer.rendered(d) for d in deliveries]
    parts = [calendars[campaign.template.variant(d.member.language)] for d in deliveries]
    items = list(zip(deliveries, rendered, parts, strict=True))
    ics = [c.for_attendee(Person(d.member.address, d.member.name)) for d, _, c in items]

    def each(step: Callable[[Delivery, Rendered, PreparedCalendar], object]) -> float:
        pending = iter(items)
        return per_message_us(lambda: step(*next(pending)), len(items))

    pending_ics = iter(ics)

    def build_only(d: Delivery, r: Rendered, c: PreparedCalendar) -> bytes:
        return build_message(
            Draft(
                sender_name=sender.name,
                sender_email=sender.email,
                to_name=d.member.name,
                to_email=d.member.address,
                rendered=r,
                msg_id="<0123456789abcdef0123456789abcdef@roskilde.example>",
                date=NOW,
                reply_to=sender.reply_to,
                calendar=CalendarPart("REQUEST", next(pending_ics)),
            )
        )

    rows: list[tuple[str, float]] = [
        ("load + validate members (per member)", load_us),
        ("plan (per member, incl. template compile)", plan_us),
        (
            "template context (Composer.context)",
            each(lambda d, r, c: composer.context(d, campaign.template.variant(d.member.language))),
        ),
        ("render subject+text+HTML (Composer.rendered)", each(lambda d, r, c: composer.rendered(d))),
        (
            "calendar (PreparedCalendar.for_attendee)",
            each(lambda d, r, c: c.for_attendee(Person(d.member.address, d.member.name))),
        ),
        (
            "message_id (incl. campaign.version)",
            each(lambda d, r, c: message_id(campaign.key, d.member.key, campaign.version, sender.domain)),
        ),
        ("campaign.fingerprint (json + sha256)", each(lambda d, r, c: campaign.fingerprint)),
        ("build_message (MIME, as_bytes)", each(build_only)),
        ("whole message (Composer.outgoing)", each(lambda d, r, c: composer.outgoing(d))),
    ]
    rows.append(("journal append (outcome log, batched)", journal_cost(settings, count)))
    return rows


def journal_cost(settings: Settings, count: int) -> float:
    """One outcome recorded as a send records it: appended to the outcome log and moved into
    the database in batches (the batches are in the figure)."""
    clear_journal(settings)
    rows = [
        DeliveryRecord(
            campaign=f"invitation:{MEETING_ID}",
            recipient=f"medlem.{n}@roskilde.example",
            email=f"Medlem.{n}@roskilde.example",
            name="Søren Ærø",
            language="da",
            version="0:0123456789abcdef",
            message_id=f"<{n:032x}@roskilde.example>",
            meeting_id=MEETING_ID,
            method="REQUEST",
            sequence=0,
            fingerprint="0123456789abcdef",
            status="sent",
            code=250,
            reply="2.0.0 Ok: queued as 4F2A1B",
            attempts=1,
            at=NOW.isoformat(timespec="seconds"),
        )
        for n in range(count)
    ]
    pending = iter(rows)
    with Journal(settings.resolve(settings.files.state)) as journal:
        cost = per_message_us(lambda: journal.outcomes.append(next(pending)), count)
    clear_journal(settings)
    return cost


# -- peak memory, in a process of its own ------------------------------------------------


def child_send(config: Path) -> None:
    """The memory child: the whole send, progress on stdout, then its own figures as JSON."""
    before = peak_rss_kb("self")
    started = time.perf_counter()
    argv = ["--config", str(config), "send", "invitation", "--meeting", MEETING_ID, "--yes"]
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # the parent reads progress
    code = cli.main(argv, clock=lambda: NOW, out=sys.stdout)
    result = {"exit": code, "seconds": time.perf_counter() - started, "hwm_before_kb": before}
    print("RESULT " + json.dumps(result), flush=True)


def peak_rss_kb(pid: int | str) -> int | None:
    """VmHWM: the peak resident set of this process image alone (Linux /proc).

    Unlike `ru_maxrss`, which Linux carries over fork and exec from the parent, it starts
    afresh at exec, so it cannot show the benchmark's own size instead of the child's.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return int(line.split()[1]) if line else None


@dataclass
class MemoryResult:
    members: int
    seconds: float
    cpu_seconds: float
    peak_mb: float  # VmHWM
    maxrss_mb: float  # ru_maxrss from wait4
    baseline_mb: float | None
    finished: bool
    last_line: str


def measure_memory(folder: Path, members: int, port: int, concurrency: int, limit: float) -> MemoryResult:
    """The whole send to `members` members in a child process; its peak RSS and how far it got."""
    config = make_project(folder / "memory", members, port, concurrency)
    log = folder / "memory.log"
    started = time.perf_counter()
    peak = 0
    with log.open("w") as output:
        child = subprocess.Popen([sys.executable, __file__, "--child-send", str(config)], stdout=output)
        killed = False
        while True:  # os.wait4, not poll(): it also gives the child's rusage, even when killed
            peak = max(peak, peak_rss_kb(child.pid) or 0)
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if not killed and time.perf_counter() - started > limit:
                child.kill()
                killed = True
            time.sleep(0.1)
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    lines = log.read_text(encoding="utf-8").splitlines()
    result = next((json.loads(x[7:]) for x in lines if x.startswith("RESULT ")), None)
    progress = [x for x in lines if "sent" in x and not x.startswith("RESULT ")]
    return MemoryResult(
        members,
        result["seconds"] if result else seconds,
        usage.ru_utime + usage.ru_stime,
        peak / 1024,
        usage.ru_maxrss / 1024,
        result["hwm_before_kb"] / 1024 if result and result["hwm_before_kb"] else None,
        bool(result and result["exit"] == 0) and not killed,
        progress[-1] if progress else "(no progress line)",
    )


# -- profile -----------------------------------------------------------------------------


def profile(settings: Settings, path: Path, count: int) -> None:
    """One full mailer send under cProfile; the top functions, per message."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_mailer(settings, count)
    profiler.disable()
    profiler.dump_stats(path)
    stats = pstats.Stats(profiler)
    for key in ("cumulative", "tottime"):
        print(f"\nprofile of one mailer send ({count} messages), top 25 by {key} (µs per message):")
        print(f"  {'cum µs':>9} {'own µs':>8} {'calls/msg':>9}  function")
        entries = sorted(
            stats.stats.items(),  # type: ignore[attr-defined]
            key=lambda kv: kv[1][3] if key == "cumulative" else kv[1][2],
            reverse=True,
        )
        for (file, line, name), (_, calls, own, cum, _) in entries[:25]:
            where = f"{Path(file).name}:{line}({name})" if line else name
            print(f"  {cum / count * 1e6:9.1f} {own / count * 1e6:8.1f} {calls / count:9.2f}  {where}")
    print(f"\nprofile written to {path} (python -m pstats {path})")


# -- main --------------------------------------------------------------------------------


def machine() -> str:
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
        f"aiosmtplib {aiosmtplib.__version__}, {platform.system()} {platform.release()}"
    )


def print_rounds(series: list[Series], n: int, concurrency: int) -> None:
    ceiling = series[0].median()
    print(f"\nmessages/s, {n} messages, concurrency {concurrency} (wall clock of the whole run):")
    head = "".join(f"{'run ' + str(i + 1):>9}" for i in range(len(series[0].timings)))
    width = max(len(s.name) for s in series) + 2
    print(
        f"  {'sender':<{width}}{head}{'median':>9}{'÷ceiling':>10}{'cpu µs/msg':>12}{'sink µs/msg':>12}"
        f"{'+forked µs':>12}"
    )
    for s in series:
        runs = "".join(f"{r:9.0f}" for r in s.rates())
        print(
            f"  {s.name:<{width}}{runs}{s.median():9.0f}{s.median() / ceiling:10.2f}"
            f"{s.cpu_us():12.0f}{s.receiver_us():12.1f}{s.work_us():12.0f}"
        )
    full, bare = series[2], series[0]
    pairs = [m.rate / c.rate for m, c in zip(full.timings, bare.timings, strict=True)]
    print(
        f"\n  mailer / ceiling: {full.median() / ceiling:.2f} (target >= 0.70); "
        f"per round: {', '.join(f'{p:.2f}' for p in pairs)}"
    )
    print(
        f"  the same from CPU time (ceiling's cpu µs/msg ÷ mailer's): {bare.cpu_us() / full.cpu_us():.2f}"
        " (both are CPU-bound in this process; this one moves less with other load on the machine)"
    )
    transport = series[1]
    own = full.median() / transport.median()
    print(
        f"  mailer / its own transport with the same prebuilt messages: {own:.2f}"
        " (what composing and recording cost); that transport / ceiling: "
        f"{transport.median() / ceiling:.2f} (mailer writes MAIL and RCPT from the addresses it has"
        " checked, without sendmail's two parses of both; DATA is aiosmtplib's, as in the ceiling)"
    )
    off = series[3]
    journal_pairs = [a.rate / b.rate for a, b in zip(full.timings, off.timings, strict=True)]
    print(
        f"  journal: with / without writes: {full.median() / off.median():.2f}; "
        f"per round: {', '.join(f'{p:.2f}' for p in journal_pairs)}"
    )
    plain = series[4]
    print(
        f"  plain path (MAILER_PLAIN=1, every speed path off) / ceiling: {plain.median() / ceiling:.2f}; "
        f"the full send is {full.median() / plain.median():.2f} times as fast"
    )
    print(
        "\nwhat each speed path buys, with only that path off: the full send's rate ÷ that rate (wall"
        " clock, paired rounds),\nand that run's CPU ÷ the full send's (this process and the ones it"
        " forked: work saved, whatever the load);\na path that buys less than 5 % of either is not"
        " worth its code:"
    )
    for trick in series[5:]:
        pairs = [a.rate / b.rate for a, b in zip(full.timings, trick.timings, strict=True)]
        wall, work = statistics.median(pairs), trick.work_us() / full.work_us()
        verdict = "keep" if max(wall, work) >= 1.05 else "below 5 %"
        print(
            f"  {trick.name.removeprefix('  without: '):<40} wall {wall:5.2f}  cpu {work:5.2f}  {verdict:<10}"
            f"per round: {', '.join(f'{p:.2f}' for p in pairs)}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--members-for-memory", type=int, default=100_000, help="0 skips it")
    parser.add_argument("--memory-time-limit", type=float, default=1800, help="seconds")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="also profile one full mailer send; write .pstats here")
    parser.add_argument("--child-send", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_send:
        child_send(args.child_send)
        return 0

    receiver = Receiver(args.port)
    receiver.start()
    try:
        with tempfile.TemporaryDirectory(prefix="mailer-bench-") as temp:
            run(args, receiver, Path(temp))
    finally:
        receiver.stop()
    return 0


def run(args: argparse.Namespace, receiver: Receiver, folder: Path) -> None:
    print(f"mailer send benchmark · {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} · {machine()}")
    print(f"mailer source: {source_version()}")
    print(f"receiver: {receiver.kind} on 127.0.0.1:{args.port}; load average {load()}")
    # The memory child first, while this process is small (see peak_rss_kb on ru_maxrss).
    memory = None
    if args.members_for_memory:
        memory = measure_memory(
            folder, args.members_for_memory, args.port, args.concurrency, args.memory_time_limit
        )
    warm_up(folder, args.port, args.concurrency)
    settings = load_settings(make_project(folder / "run", args.messages, args.port, args.concurrency))
    messages = prebuilt(settings)
    size = statistics.mean(len(e.data) for e in messages)
    print(f"messages: {len(messages)} invitations, {size / 1024:.1f} KB each on average")
    series = paired_rounds(settings, messages, receiver, args.repeats)
    print_rounds(series, len(messages), args.concurrency)
    del messages

    print("\ncomposing and recording, CPU µs per message (one core, no network):")
    for name, us in stage_costs(settings, min(args.messages, 2000)):
        print(f"  {name:<48}{us:9.1f}")
    if memory is not None:
        print_memory(memory, args.concurrency)
    if args.profile:
        profile(settings, args.profile, args.messages)
    print(f"\nload average at the end: {load()}")


def print_memory(memory: MemoryResult, concurrency: int) -> None:
    state = "finished" if memory.finished else "NOT finished (stopped or failed)"
    print(
        f"\npeak memory, full mailer send to {memory.members} members in its own process "
        f"(concurrency {concurrency}):\n  {memory.peak_mb:.0f} MB peak RSS (VmHWM; target < 200 MB); "
        f"ru_maxrss {memory.maxrss_mb:.0f} MB"
    )
    if memory.baseline_mb is not None:
        print(f"  the same process after its imports, before the send: {memory.baseline_mb:.0f} MB")
    rate = memory.members / memory.seconds if memory.finished else 0
    print(
        f"  {state} in {memory.seconds:.0f} s ({rate:.0f} messages/s, {memory.cpu_seconds:.0f} s CPU); "
        f"last progress line: {memory.last_line}"
    )


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def source_version() -> str:
    """The commit, and a digest of mailer/ as it is on disk (it may differ from the commit)."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "mailer").rglob("*.py")):
        digest.update(path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        head = "?"
    return f"commit {head or '?'}, mailer/*.py sha256 {digest.hexdigest()[:12]}"


if __name__ == "__main__":
    sys.exit(main())
