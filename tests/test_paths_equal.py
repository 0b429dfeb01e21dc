"""A property: whatever a template does with member data and whatever the members' values are,
the fast path (shapes, frames, prepared calendars, forked builders) writes, for every member of
a run, the very bytes the plain path (MAILER_PLAIN=1) writes, or both stop with the same error.

Templates are made of pieces that use member data in the ways Jinja2 allows (filters, tests,
indexing and slicing, loops over a value, `set`, macros, concatenation, conditionals on the
language and on custom columns); the values are hostile: empty, HTML, Markdown, template
syntax, text that looks like the fast path's own tokens, other members' values, pieces of the
template, æøå, emoji, very long.
"""

from __future__ import annotations

import asyncio
import csv
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import FIXED, MEETING, ROOT, toml_value
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mailer.compose import Composer
from mailer.config import Settings, load_settings
from mailer.errors import MailerError
from mailer.forked import Builders, builder_processes
from mailer.journal import Journal
from mailer.message import OutgoingMessage
from mailer.plan import Delivery, Selection
from mailer.run import load_inputs, make_plan

COLUMNS = ("name", "organization", "kommune", "rolle", "email")
# %F and %G stand for member columns; each piece is one way of using them.
PIECES = (
    "{{ recipient.%F }}",
    "{{ recipient.%F | upper }}",
    "{{ recipient.%F | title }}",
    "{{ recipient.%F | length }}",
    "{{ recipient.%F | replace('e', 'æ') }}",
    "{{ recipient.%F | truncate(12, true) }}",
    "{{ recipient.%F | default('ukendt', true) }}",
    "{{ recipient.%F | e }}",
    "{{ recipient.%F | trim }}",
    "{{ recipient.%F | reverse }}",
    "{{ recipient.%F | wordcount }}",
    "{{ recipient.%F | center(24) }}",
    "{{ recipient.%F | wordwrap(15) }}",
    "{{ recipient.%F | urlencode }}",
    "{{ recipient.%F | striptags }}",
    "{{ recipient.%F[:3] }}",
    "{{ recipient.%F[-2:] }}",
    "{{ recipient.%F[0] if recipient.%F else '-' }}",
    "{{ recipient['%F'] }}",
    "{{ recipient.%F.split(' ') | join('/') }}",
    "{{ recipient.%F.lower().startswith('s') }}",
    "{% if recipient.%F is string and recipient.%F | length > 5 %}lang{% else %}kort{% endif %}",
    "{% if recipient.%F %}Hej {{ recipient.%F }}{% else %}Hej du{% endif %}",
    "{% for c in recipient.%F %}{{ c }}.{% endfor %}",
    "{% for word in recipient.%F.split() %}{{ loop.index }}={{ word }} {% endfor %}",
    "{% for g in recipient.groups %}[{{ g }}]{% else %}ingen grupper{% endfor %}",
    "{{ recipient.groups | join(', ') }}",
    "{{ recipient.groups | length }}",
    "{% if 'bestyrelse' in recipient.groups %}Til bestyrelsen{% endif %}",
    "{% set x = recipient.%F ~ '!' %}{{ x }} {{ x | upper }}",
    "{% macro hi(v) %}Kære {{ v }}{% endmacro %}{{ hi(recipient.%F) }}",
    "{{ 'Kære ' ~ recipient.%F ~ ' fra ' ~ recipient.%G }}",
    "{{ recipient.%F + recipient.%G }}",
    "{{ recipient.%F == recipient.%G }}",
    "{{ recipient.%F in 'Roskilde Bibliotekerne' }}",
    "{% if recipient.language == 'en' %}Dear{% else %}Kære{% endif %} {{ recipient.%F }}",
    "{% if recipient.kommune == 'Køge' %}Køge!{% elif recipient.rolle %}{{ recipient.rolle }}{% endif %}",
    "{{ sender.name }} og {{ recipient.%F }}",
    "Fast tekst uden data",
    "**{{ recipient.%F }}**",
    "[{{ recipient.%F }}](https://example.org/?n={{ recipient.%F | urlencode }})",
)
HTML_PIECES = (
    '<a href="https://example.org/m/{{ recipient.%F | urlencode }}" title="{{ recipient.%G }}">'
    "{{ recipient.%F }}</a>",
    "<p class='hilsen'>{{ recipient.%F }}</p>",
    "<b>{{ recipient.%F | upper }}</b>",
)
# Values that are hard for a fast path: empty, markup, template syntax, the fast path's private
# token characters, encoded-word look-alikes, boundary marks, Markdown, Danish, emoji, long.
HOSTILE = (
    "", " ", "Søren", "Ærø", "æøå", "ÆØÅ", "<b>fed</b>", "&amp;", "\"'", "<script>x</script>",
    "{{ recipient.name }}", "{% if %}", "{#", "\ue000", "\ue001", "\ue0000\ue001", "😀", "👩‍👩‍👧",
    "=?utf-8?b?SGVq?=", "=_alt_", "*kursiv*", "# Overskrift", "- punkt", "[link](https://x.example)",
    "Kære", "Hej", "x" * 120, "Bibliotekernes Formidlingsnetværk Åbenrå " * 3, "-", ".", "\t", "e", "s",
    "Køge", "bestyrelse", "Fast tekst uden data", "lang", "kort", "https://example.org/",
)  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)


def piece(draw: st.DrawFn, pieces: Sequence[str]) -> str:
    chosen = draw(st.sampled_from(pieces))
    return chosen.replace("%F", draw(st.sampled_from(COLUMNS))).replace("%G", draw(st.sampled_from(COLUMNS)))


@st.composite
def templates(draw: st.DrawFn) -> dict[str, str]:
    """A template's parts in Danish and English (subject.txt and body.md, or body.txt with or
    without body.html) and its settings: an invitation, a newsletter with the upcoming meetings
    as a calendar file, or a plain message; with list headers or without."""
    calendar = draw(st.sampled_from(["request", "publish", "none"]))
    bulk = draw(st.booleans())
    files = {"template.toml": f'calendar = "{calendar}"\nbulk = {"true" if bulk else "false"}\n'}
    for language in ("da", "en"):
        body = "\n".join(piece(draw, PIECES) for _ in range(draw(st.integers(1, 6)))) + "\n"
        files[f"{language}/subject.txt"] = " ".join(
            piece(draw, PIECES) for _ in range(draw(st.integers(1, 2)))
        )
        kind = draw(st.sampled_from(["md", "txt", "html"]))
        if kind == "md":
            files[f"{language}/body.md"] = body
        else:
            files[f"{language}/body.txt"] = body
        if kind == "html":
            html = [piece(draw, (*PIECES, *HTML_PIECES)) for _ in range(draw(st.integers(1, 5)))]
            files[f"{language}/body.html"] = "\n".join(html) + "\n"
    return files


def value(draw: st.DrawFn, seen: list[str]) -> str:
    """A hostile value: pieces of HOSTILE, of arbitrary text, of the template and of others' values."""
    sources = [st.sampled_from(HOSTILE), TEXT, *([st.sampled_from(seen)] if seen else [])]
    parts = draw(st.lists(st.one_of(*sources), max_size=4))
    return "".join(parts)


@st.composite
def members(draw: st.DrawFn, template: dict[str, str]) -> list[dict[str, str]]:
    seen = [word for name, text in template.items() if name != "template.toml" for word in text.split()][:40]
    found = []
    for n in range(draw(st.integers(1, 8))):
        row = {column: value(draw, seen) for column in ("name", "organization", "kommune", "rolle")}
        row["language"] = draw(st.sampled_from(["da", "en", ""]))
        row["groups"] = ";".join(
            draw(st.lists(st.sampled_from(["bestyrelse", "æøå", "x", "Køge"]), max_size=3))
        )
        row["email"] = draw(st.sampled_from([f"m{n}@example.org", f"medlem.{n}@køge.example"]))
        seen += [row["name"], row["organization"]]
        found.append(row)
    return found


CONFIG = """\
[sender]
name = "Brugernes Rum"
email = "brugernesrum@roskilde.example"
language = "da"
unsubscribe_url = "https://roskilde.example/afmeld?email={{email}}"

[smtp]
host = "127.0.0.1"
compose_processes = {processes}
"""
# The meeting invitations are for, as the other tests know it, with a reminder.
MEETING_TOML = "\n".join(
    ["[[meetings]]", 'reminder = "P1D"']
    + [f"{key} = {value if key in ('start', 'end') else toml_value(value)}" for key, value in MEETING.items()]
)


def project(
    root: Path, template: dict[str, str], rows: list[dict[str, str]], copies: int, processes: int
) -> Path:
    """A project whose run has `copies` members per generated row (their values equal, their
    addresses their own)."""
    folder = root / "templates" / "t"
    for name, text in template.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "templates" / "_layout.html", root / "templates" / "_layout.html")
    with (root / "recipients.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(
            out, ["email", "name", "organization", "kommune", "rolle", "language", "groups"]
        )
        writer.writeheader()
        for copy in range(copies):
            for row in rows:
                local, _, domain = row["email"].partition("@")
                writer.writerow({**row, "email": f"{local}.{copy}@{domain}"})
    config = CONFIG.format(processes=processes) + "\n" + MEETING_TOML + "\n"
    (root / "config.toml").write_text(config, encoding="utf-8")
    return root / "config.toml"


def written(settings: Settings, selection: Selection) -> dict[str, bytes] | str:
    """Each member's message as a send would build it (forked builders where the settings ask
    for them), or the error that stops the run."""
    try:
        inputs = load_inputs(settings)
        with Journal(settings.resolve(settings.files.state)) as journal:
            plan = make_plan(inputs, journal, selection, now=FIXED)
        composer = Composer(settings, now=FIXED, meetings=plan.meetings)
        processes = builder_processes(settings, len(plan.deliveries))
        with Builders(composer.outgoing, plan.deliveries, processes) as builders:
            composer.check(plan.deliveries, processes)
            return asyncio.run(_collect(builders))
    except MailerError as err:
        return f"{type(err).__name__}: {err}"


async def _collect(builders: Builders[Delivery, OutgoingMessage]) -> dict[str, bytes]:
    return {delivery.member.key: outgoing.data async for delivery, outgoing in builders.results()}


def assert_paths_equal(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, size: int | None, processes: int | None
) -> None:
    """Draw a template and members, make a run of them (each row repeated three times, or up to
    `size` members when given; forked builders when `processes` says so, else in half the runs)
    and assert both paths write the same bytes for every member."""
    template = data.draw(templates(), label="template")
    rows = data.draw(members(template), label="members")
    root = tmp_path_factory.mktemp("run")
    if processes is None:
        # Forked builders in half the runs: they inherit the run's state rather than receive it.
        processes = data.draw(st.sampled_from([0, 2]), label="processes")
    copies = 3 if size is None else -(-size // len(rows))
    settings = load_settings(project(root, template, rows, copies=copies, processes=processes))
    assert not settings.plain and builder_processes(settings, 1) == processes
    selection = Selection(
        "t", str(MEETING["id"]) if 'calendar = "request"' in template["template.toml"] else None
    )
    fast = written(settings, selection)
    plain = written(settings.model_copy(update={"plain": True}), selection)
    event("messages" if isinstance(plain, dict) else plain[:80])
    if size is not None and isinstance(plain, dict):
        assert len(plain) >= size
    assert fast == plain


# Several hundred runs, the same ones every time (the suite is deterministic); nothing is kept
# between runs of the suite.
@settings(
    max_examples=400,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_the_fast_path_writes_what_the_plain_path_writes(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    assert_paths_equal(tmp_path_factory, data, size=None, processes=None)


# A few runs of several hundred members each, built by two forked builders, so each builder
# takes many members of the run and the members it takes are not the first ones.
@settings(
    max_examples=10,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_runs_of_several_hundred_members_write_the_same_on_both_paths(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    assert_paths_equal(tmp_path_factory, data, size=300, processes=2)
