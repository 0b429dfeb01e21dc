"""Files that hold members' names and addresses (the journal, its backups, the outbox, the
status lists, the suppression list): made readable by their owner only, 0600 files in 0700
folders, whatever the umask says.

On a system without file modes (Windows) the modes are what Python makes of them there.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path) -> Path:
    """`path` as a folder only its owner can open (its parents are made as the umask says,
    since they are the coordinator's own folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=FOLDER_MODE, exist_ok=True)
    _restrict(path, FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """`path` as a file only its owner can read; made empty if it is not there."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    _restrict(path, FILE_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path`, a file only its owner can read, in one step: written beside it
    (`mkstemp` makes it 0600) and moved into place, so that no one ever reads it half-written,
    and a file that was there is replaced whole, mode and all."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def new_private(path: str | os.PathLike[str], flags: int) -> int:
    """An `opener` for `open()`: a file it makes is its owner's only; one that is there keeps
    its mode (a suppression list the coordinator keeps somewhere of their choosing)."""
    return os.open(path, flags, FILE_MODE)


def _restrict(path: Path, mode: int) -> None:
    """Tighten a file or folder made before (by an older mailer, or under another umask)."""
    if path.stat().st_mode & 0o777 != mode:
        # Another account's file is that account's to guard; reading it is all this run does.
        with contextlib.suppress(PermissionError):
            os.chmod(path, mode)
