"""The desk's Members pages: the list, a new list uploaded in its place, an address put back
(the handlers; app.py binds them to their addresses)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from mailer.bounces import put_back
from mailer.config import Settings
from mailer.desk.editing import Replaced, read_upload, replace_member_list
from mailer.desk.members import member_view
from mailer.desk.problems import Problem, explain, warning_words
from mailer.desk.words import counted, words
from mailer.errors import MailerError
from mailer.journal import Journal

if TYPE_CHECKING:
    from mailer.desk.app import Form, Pages


def members_page(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    return _members(pages, settings, form.get("q", ""), **pages.shown(form))


def _members(pages: Pages, settings: Settings, query: str = "", **shown: Any) -> Response:
    view = member_view(settings, query)
    language = settings.sender.language
    return pages.render("members.html", language, active="members", view=view, query=query, **shown)


def members_upload(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """A new member list in place of the old: at once when it reads without an invalid row and
    keeps most members; else the page shows what is wrong or who would go, and asks."""
    files = request.state.uploads.get("file", [])
    try:
        if not files:
            raise MailerError("choose the file to upload", field="file")
        name, data = files[0]
        current = settings.resolve(settings.files.recipients)
        upload = read_upload(current, name, data, settings.sender.language)
        if upload.asks:
            pages.upload = (secrets.token_urlsafe(16), upload)
            kept = counted(settings.sender.language, "member_n", len(upload.members.members))
            return _members(pages, settings, pending=upload, ticket=pages.upload[0], kept=kept)
        replaced = replace_member_list(pages.config, current, upload, pages.clock())
    except MailerError as err:
        return _members(pages, settings, problem=explain(err, settings.sender.language, settings))
    return _replaced(pages, replaced)


def members_decide(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """Her answer to the question an upload asked: replace the list anyway, or keep it."""
    w = words(settings.sender.language)
    pending, pages.upload = pages.upload, None
    if pending is None or pending[0] != form.get("ticket"):
        return _members(pages, settings, problem=Problem(w["problem"], w["upload_gone"], ""))
    if form.get("choice") != "replace":
        return pages.after("/members", note=w["upload_cancelled"])
    current = settings.resolve(settings.files.recipients)
    try:
        replaced = replace_member_list(pages.config, current, pending[1], pages.clock())
    except MailerError as err:
        return _members(pages, settings, problem=explain(err, settings.sender.language, settings))
    return _replaced(pages, replaced)


def _replaced(pages: Pages, replaced: Replaced) -> Response:
    settings = pages.settings()
    w = words(settings.sender.language)
    note = w["uploaded"].format(
        members=counted(settings.sender.language, "member_n", len(replaced.members.members))
    )
    if replaced.members.invalid:
        note += " " + w["uploaded_invalid"].format(n=len(replaced.members.invalid))
    if replaced.kept is not None:
        note += " " + w["kept_copy"].format(name=replaced.kept.name)
    warnings = [warning_words(found, settings.sender.language) for found in replaced.warnings]
    return pages.after("/members", note=note, warnings=warnings)


def members_put_back(pages: Pages, request: Request, settings: Settings, form: Form) -> Response:
    """`mailer bounced --clear EMAIL`: an address that works again gets messages again."""
    w = words(settings.sender.language)
    address = form.get("email", "")
    with Journal(settings.resolve(settings.files.state)) as journal:
        copy = put_back(journal, address)
    if copy is None:
        return pages.after("/members", note=w["not_bouncing"].format(email=address))
    where = copy.relative_to(settings.base_dir) if copy.is_relative_to(settings.base_dir) else copy
    return pages.after(
        "/members", note=f"{w['put_back_done'].format(email=address)} {w['backup'].format(path=where)}"
    )
