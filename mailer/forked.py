"""Work handed to forked processes (building messages, checking templates): each worker ends
with the run that forked it, leaves Ctrl-C to the run, and closes the locks it inherited."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, NoReturn, TypeVar

from mailer.errors import MailerError

if TYPE_CHECKING:  # multiprocessing is imported where a pool is made, not by every command
    from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
BACKGROUND_NICE = 19  # a background worker's niceness: the sending (and the computer) first

_in_background = False
T = TypeVar("T")


def can_fork() -> bool:
    """Workers inherit what they work on; without fork they would need it pickled to them."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def pool(processes: int) -> ProcessPoolExecutor:
    """`processes` forked workers."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )


class ChildDied(Exception):
    """A forked process ended without handing back its result (killed, out of memory)."""


class ChildFailed(MailerError):
    """A forked process's error that could not be handed back as it was (it does not pickle)."""


class Child(Generic[T]):
    """One forked process working out one value while this one goes on, for work handed over
    once. It is at work 2-3 ms after it is asked for, where a pool's worker gets its first
    task only once the pool's threads have had the GIL from this busy thread (10-20 ms). The
    work inherits what it works on; only its result (or exception) is pickled back.
    """

    def __init__(self, work: Callable[[], T]) -> None:
        parent = os.getpid()
        readable, writable = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(readable)
            os.close(writable)
            raise
        if pid == 0:
            _child(work, parent, readable, writable)
        os.close(writable)
        self._pid: int | None = pid
        self._pipe: int | None = readable

    def result(self) -> T:
        """The value, once the child has it; the child's exception is raised here."""
        assert self._pipe is not None, "a child's result is read once"
        with open(self._pipe, "rb") as pipe:
            self._pipe = None
            data = pipe.read()
        if not data:  # the pipe closed before the child wrote its result
            raise ChildDied("a forked process ended without its result")
        try:
            done, value = pickle.loads(data)
        except Exception as err:
            raise ChildFailed(f"a forked process's result could not be read: {err}") from err
        if not done:
            raise value
        return value

    def end(self) -> None:
        """The child stopped (if it still works) and reaped; it holds a copy of the run's data."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):  # (reaped already)
                os.kill(self._pid, signal.SIGKILL)  # a child that has exited stays a zombie until reaped
                os.waitpid(self._pid, 0)
            self._pid = None


def _child(work: Callable[[], object], parent: int, readable: int, writable: int) -> NoReturn:
    """Run in the forked child: whatever happens, it ends here, never in the parent's code."""
    code = 1
    try:
        os.close(readable)
        _worker_start(parent)
        try:
            outcome: tuple[bool, object] = (True, work())
        except Exception as err:
            outcome = (False, err)
        try:
            data = pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
        except Exception:  # what does not pickle is told as text, not lost as a dead child
            value = outcome[1]
            data = pickle.dumps((False, ChildFailed(f"{type(value).__name__}: {value}")))
        with open(writable, "wb") as pipe:
            pipe.write(data)
        code = 0
    finally:
        os._exit(code)


def into_background() -> None:
    """From now on this worker yields the CPU to the sending and to the computer's other work
    (it still has the time they leave, which on a machine short of cores is what there is).
    For good: an ordinary process may lower its priority but not raise it again."""
    global _in_background
    if not _in_background:
        _in_background = True
        os.nice(BACKGROUND_NICE)


def _worker_start(parent: int) -> None:
    """A run killed with SIGKILL must not leave workers behind (they would wait for work
    forever, holding a copy of the run's data)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle, once
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the run died before the line above took effect
        os._exit(1)


# Descriptors of locks this process holds (the journal's send lock). A process forked while
# holding one (a builder) closes its copy at once: a lock shared with a worker would outlive a
# killed run and refuse every run after it.
_CLOSED_IN_CHILDREN: set[int] = set()


def lock_held(fd: int) -> None:
    """`fd` is a lock this process now holds: a process forked from now on closes its copy at once."""
    _CLOSED_IN_CHILDREN.add(fd)


def lock_released(fd: int) -> None:
    """`fd` is no longer held (it is about to be closed): forked processes leave it alone."""
    _CLOSED_IN_CHILDREN.discard(fd)


def _close_inherited_locks() -> None:
    for fd in _CLOSED_IN_CHILDREN:
        with contextlib.suppress(OSError):
            os.close(fd)
    _CLOSED_IN_CHILDREN.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)
