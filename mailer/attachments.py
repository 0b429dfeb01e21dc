"""Which files go with a campaign's messages: the template's `attachments/` folder, then the
meeting's `attachments` from config.toml. Every file is named where it really is, so that a
copied template or a mistyped path cannot attach a file from elsewhere on the computer unseen.

- A symlink in `templates/NAME/attachments/` that leads out of the template's folder is refused.
- A meeting's path outside config.toml's folder is taken only when written absolute
  (`/home/...`, `C:\\...`): a relative one that climbs out (`../../x`) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailer.errors import ConfigError


@dataclass(frozen=True)
class AttachmentFile:
    """One file to attach: where it really is, its size, and whether it is outside the project."""

    name: str  # as members see it: the name in the folder or in config.toml
    path: Path  # resolved: symlinks followed
    size: int
    outside: bool = False  # an absolute path outside config.toml's folder, as written

    def describe(self) -> str:
        where = " (outside the project folder, written as an absolute path)" if self.outside else ""
        return f"{self.name}: {self.path}, {self.size:,} bytes{where}"


def attachment_files(template_folder: Path, project: Path, written: tuple[Path, ...]) -> list[AttachmentFile]:
    """The template's files (sorted by name), then the meeting's paths `written` in config.toml
    (relative to `project`, config.toml's folder). A missing or unreadable file is an error."""
    found = []
    folder = template_folder / "attachments"
    if folder.is_dir():
        home = template_folder.resolve()
        for entry in sorted(folder.iterdir()):
            real = entry.resolve()
            if not real.is_relative_to(home):
                raise ConfigError(
                    f"is a link to {real}, outside the template's folder: mailer does not attach "
                    "files from elsewhere on this computer; copy the file into the folder instead",
                    path=entry,
                )
            if real.is_file():
                found.append(_file(entry, real, outside=False))
    base = project.resolve()
    for path in written:
        real = (path if path.is_absolute() else project / path).resolve()
        outside = not real.is_relative_to(base)
        if outside and not path.is_absolute():
            raise ConfigError(
                f"attachment {str(path)!r} leads out of the project folder (to {real}): write the "
                "full path (starting with / or a drive letter) if that file is really meant",
                path=project / path,
            )
        found.append(_file(path, real, outside=outside))
    return found


def _file(written: Path, real: Path, *, outside: bool) -> AttachmentFile:
    try:
        size = real.stat().st_size
    except OSError as err:
        raise ConfigError(f"attachment cannot be read: {err.strerror}", path=written) from err
    return AttachmentFile(written.name, real, size, outside)
