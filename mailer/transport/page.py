"""The preview page's words, in the coordinator's language (`sender.language`): what each
message is in plain words (no calendar terms), what to look at, and the run's summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from mailer.meetings import changed_fields
from mailer.plan import Delivery

WORDS: dict[str, dict[str, str]] = {
    "da": {
        "preview": "Gennemsyn",
        "made": "lavet",
        "nothing_sent": "Intet er sendt.",
        "messages_one": "besked",
        "messages_many": "beskeder",
        "to_look_at": "har noget, du bør se på",
        "new": "Invitation, første udsendelse",
        "update": "Opdatering: {what} ændret",
        "update_plain": "Opdatering",
        "cancel": "Aflysning: mødet fjernes fra kalenderen",
        "newsletter": "Nyhedsbrev",
        "message": "Besked",
        "member": "Medlem",
        "organization": "Bibliotek",
        "language": "Sprog",
        "what": "Hvad",
        "subject": "Emne",
        "attachments": "Vedhæftet",
        "size": "Størrelse",
        "problems": "Se på",
        "no_name": "(intet navn)",
        "to": "Til",
        "file": "åbn som .eml-fil",
        "calendar": "I kalenderen",
        "no_place": "intet sted endnu",
        "unsubscribe": "Nyhedsbrev: medlemmet kan framelde sig via",
        "as_seen": "Som medlemmet ser den",
        "text_part": "Tekstdelen",
        "headers": "Brevhoved (teknisk)",
        "per_language": "Pr. sprog",
        "changed": "Ændret siden sidst",
        "skipped": "{n} har allerede fået denne besked og får den ikke igen.",
        "removed": "{email} blev inviteret, men er ikke længere på listen.",
        "time": "tid",
        "location": "sted",
        "title": "titel",
        "description": "beskrivelse",
        "agenda": "program",
        "status": "status",
        "and": "og",
        "no_text": "tekstdelen er tom",
        "no_html": "ingen HTML-del: medlemmerne ser kun teksten",
        "remote_images": (
            "billeder hentet udefra: mange mailprogrammer viser dem først, når medlemmet tillader det"
        ),
        "no_alt": "et billede har ingen alt-tekst: det vises som ingenting, mens billeder er blokeret",
        "clipped": "HTML fylder {kb} KB: Gmail klipper efter 102 KB",
        "large": "stor besked: {mb} MB",
        "member_no_name": "medlemmet har intet navn på listen: hilsenen bliver en generel",
        "member_no_org": "medlemmet har intet bibliotek på listen",
        "meeting_no_place": "mødet har intet sted endnu",
    },
    "en": {
        "preview": "Preview",
        "made": "made",
        "nothing_sent": "Nothing has been sent.",
        "messages_one": "message",
        "messages_many": "messages",
        "to_look_at": "something to look at",
        "new": "Invitation, first sending",
        "update": "Update: {what} changed",
        "update_plain": "Update",
        "cancel": "Cancellation: the meeting leaves the calendar",
        "newsletter": "Newsletter",
        "message": "Message",
        "member": "Member",
        "organization": "Organization",
        "language": "Language",
        "what": "What",
        "subject": "Subject",
        "attachments": "Attachments",
        "size": "Size",
        "problems": "Look at",
        "no_name": "(no name)",
        "to": "To",
        "file": "open as .eml file",
        "calendar": "In the calendar",
        "no_place": "no place yet",
        "unsubscribe": "Newsletter: the member can unsubscribe via",
        "as_seen": "As the member sees it",
        "text_part": "Text part",
        "headers": "Headers (technical)",
        "per_language": "Per language",
        "changed": "Changed since last time",
        "skipped": "{n} already have this message and are not sent it again.",
        "removed": "{email} was invited but is no longer on the list.",
        "time": "time",
        "location": "place",
        "title": "title",
        "description": "description",
        "agenda": "programme",
        "status": "status",
        "and": "and",
        "no_text": "the text part is empty",
        "no_html": "no HTML part: members see the text only",
        "remote_images": "remote images: many clients block them until the member allows it",
        "no_alt": "an image has no alt text: shown as nothing while images are blocked",
        "clipped": "HTML is {kb} KB: Gmail clips it after 102 KB",
        "large": "large message: {mb} MB",
        "member_no_name": "the member has no name in the list: the greeting falls back to a general one",
        "member_no_org": "the member has no organization in the list",
        "meeting_no_place": "the meeting has no place yet",
    },
}
LANGUAGE_NAMES = {"da": {"da": "dansk", "en": "engelsk"}, "en": {"da": "Danish", "en": "English"}}
# Fields of a meeting as the coordinator says them ("time", not start/end/timezone).
_FIELD_WORDS = {"start": "time", "end": "time", "timezone": "time"}


def words(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["en"])


def changed(delivery: Delivery) -> list[str]:
    """What changed since the member was last told, in the page's words' keys (time, location...)."""
    meeting = delivery.campaign.meeting
    if delivery.kind != "update" or meeting is None:
        return []
    return list(dict.fromkeys(_FIELD_WORDS.get(f, f) for f in changed_fields(delivery.previous, meeting)))


def what(delivery: Delivery, language: str) -> str:
    """'Invitation, first sending', 'Opdatering: tid og sted ændret', 'Nyhedsbrev'."""
    w = words(language)
    if delivery.kind == "new":
        return w["new"]
    if delivery.kind == "cancel":
        return w["cancel"]
    if delivery.kind == "update":
        fields = [w[name] for name in changed(delivery)]
        return w["update"].format(what=joined(fields, language)) if fields else w["update_plain"]
    return w["newsletter"] if delivery.campaign.template.settings.bulk else w["message"]


def joined(items: Sequence[str], language: str) -> str:
    """'tid', 'tid og sted', 'tid, sted og titel'."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {words(language)['and']} {items[-1]}"


def summary(kinds: Sequence[str], member_languages: Sequence[str], language: str) -> dict[str, Any]:
    """The run at a glance: how many of each kind, per member language."""
    names = LANGUAGE_NAMES.get(language, LANGUAGE_NAMES["en"])
    return {
        "kinds": Counter(kinds).most_common(),
        "languages": [(names.get(code, code), n) for code, n in sorted(Counter(member_languages).items())],
    }
