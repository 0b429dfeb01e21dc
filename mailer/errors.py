"""The errors mailer raises: one small hierarchy, each naming the place at fault."""

from __future__ import annotations

from pathlib import Path


class MailerError(Exception):
    """Anything mailer reports to the coordinator as a problem with input or delivery."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def shown_path(self) -> str:
        """The file as the coordinator knows it (its name)."""
        return self.path.name if self.path is not None else ""

    def __str__(self) -> str:
        place = ""
        if self.path is not None:
            shown = self.shown_path()
            place = shown if self.line is None else f"{shown}:{self.line}"
        if self.field:
            place = f"{place}: {self.field}" if place else self.field
        return f"{place}: {self.message}" if place else self.message


class BusyError(MailerError):
    """Another run is sending from the same journal now (it holds the send lock)."""


class ConfigError(MailerError):
    """config.toml (or the environment) is wrong."""


class RecipientsError(MailerError):
    """A recipients CSV (or the suppression list) is wrong."""


class InvalidRows(RecipientsError):
    """Several rows of the member list are invalid; `rows` has one error per row."""

    def __init__(self, rows: list[RecipientsError]) -> None:
        self.rows = rows
        first = rows[0]
        more = f" (and {len(rows) - 1} more invalid rows)" if len(rows) > 1 else ""
        super().__init__(f"{first.message}{more}", path=first.path, line=first.line, field=first.field)


class TemplateError(MailerError):
    """A template is missing, does not compile, or does not render for a member."""

    def shown_path(self) -> str:
        """Template, language and file (`invitation/da/body.txt`): many files share a name."""
        return "/".join(self.path.parts[-3:]) if self.path is not None else ""


class ReplyError(MailerError):
    """An answer (iMIP REPLY) could not be read or matched."""


class DeliveryError(MailerError):
    """The mail server refused or failed; carries the server's code and reply."""

    def __init__(
        self,
        message: str,
        *,
        recipient: str | None = None,
        code: int | None = None,
        reply: str | None = None,
    ) -> None:
        self.recipient = recipient
        self.code = code
        self.reply = reply
        super().__init__(message, field=recipient)


class AuthenticationError(DeliveryError):
    """The server refused our credentials; retrying would only hammer it."""


class UnreachableError(DeliveryError):
    """The server could not be reached at all: an unknown host name, a closed port, no answer.

    Before any connection has worked this stops the run (trying each member again would only
    take minutes to say the same); once one has, a failed connection is retried like any other.
    """


class SecurityError(DeliveryError):
    """TLS could not be set up or verified; nothing may be sent in the clear."""
