"""Every process a run forks, and the one place that decides how many: the workers that build
messages a few batches ahead of the sending (`Builders`) and the children that check a run's
messages once before it (`check_all`, each a `Child`). Work is handed over when the process
forks (it inherits what it works on, nothing is pickled to it); only results come back. Each
process ends with the run that forked it, leaves Ctrl-C to the run, closes the locks it
inherited, and its death is told as one clear error (`stopped_unexpectedly`). MAILER_PLAIN=1
forks none."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import BrokenExecutor  # BrokenProcessPool's base, without the pool
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from mailer.errors import MailerError

if TYPE_CHECKING:  # asyncio and multiprocessing are imported where a pool is made, not by every command
    import asyncio
    from concurrent.futures import ProcessPoolExecutor

    from mailer.config import Settings

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
BACKGROUND_NICE = 19  # a background worker's niceness: the sending (and the computer) first

_in_background = False
T = TypeVar("T")
R = TypeVar("R")

PARALLEL_FROM = 200  # smaller runs are built in this process: a worker's start costs more
BATCH = 64  # items a worker builds per request
FIRST_BATCH = 8  # the first request is small, so that the sending starts at once
LOOKAHEAD = 6  # batches asked of each worker ahead of the sending: room to absorb its pauses


def builder_processes(settings: Settings, count: int) -> int:
    """How many worker processes build a run's `count` messages (0: none, built in this
    process): `smtp.compose_processes` when set; otherwise one per spare core (at most four)
    for runs of PARALLEL_FROM or more; none on the plain path."""
    if settings.plain:
        return 0
    if settings.smtp.compose_processes is not None:
        return settings.smtp.compose_processes
    if count < PARALLEL_FROM or not can_fork():
        return 0
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def can_fork() -> bool:
    """Workers inherit what they work on; without fork they would need it pickled to them."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def pool(processes: int, handed: object = None) -> ProcessPoolExecutor:
    """`processes` forked workers, each handed `handed` as it forks (inherited, not pickled)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
        initargs=(os.getpid(), handed),
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


# In a worker only: what it was handed as it forked (see `pool`).
_handed: Any = None


def _worker_start(parent: int, handed: object = None) -> None:
    """A run killed with SIGKILL must not leave workers behind (they would wait for work
    forever, holding a copy of the run's data)."""
    global _handed
    _handed = handed
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


@contextlib.contextmanager
def stopped_unexpectedly(doing: str, then: str = "") -> Iterator[None]:
    """A forked process that died (killed, out of memory) told as one clear error:
    "a process DOING stopped unexpectedly (out of memory?)THEN"."""
    try:
        yield
    except (BrokenExecutor, ChildDied) as err:
        raise MailerError(f"a process {doing} stopped unexpectedly (out of memory?){then}") from err


def check_all(check: Callable[[T], object], items: Sequence[T], processes: int = 0) -> None:
    """`check(item)` for every item; the first failure is raised (a child's too).

    With `processes`, as many forked children each check a range of their own while this
    process checks the first: they start at once, where a pool's workers would get a range
    only once the pool's threads had had the GIL from this busy thread (10-20 ms late).
    Measured on 2 cores, 5,000 messages: 74-78 -> 65 ms.
    """
    total = len(items)
    mine = -(-total // (processes + 1)) if processes > 0 and total else total
    children: list[Child[None]] = []
    try:
        for start in range(mine, total, mine):
            children.append(Child(partial(_check_range, check, items[start : start + mine])))
        for item in items[:mine]:
            check(item)
        for child in children:
            child.result()
    finally:
        for child in children:
            child.end()


def _check_range(check: Callable[[T], object], items: Sequence[T]) -> None:
    """In a child: its range checked."""
    for item in items:
        check(item)


class Builders(Generic[T, R]):
    """`build(item)` for each of `items`, in order, by `processes` forked workers a few batches
    ahead of the caller, who takes the results as they come (memory stays bounded); in this
    process when `processes` is 0. The workers are handed `build` and `items` as they fork."""

    def __init__(self, build: Callable[[T], R], items: Sequence[T], processes: int = 0) -> None:
        self.build = build
        self.items = items
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Builders[T, R]:
        if self.processes > 0:
            self._pool = pool(self.processes, (self.build, self.items))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def results(self, count: int | None = None) -> AsyncIterator[tuple[T, R]]:
        """The first `count` (all) items with what was built of them, in order. A worker's
        death raises `BrokenProcessPool` here, once."""
        import asyncio

        total = len(self.items) if count is None else min(count, len(self.items))
        if self._pool is None:
            for item in self.items[:total]:
                yield item, self.build(item)
            return
        loop = asyncio.get_running_loop()
        batches = _batches(total)
        pending: deque[tuple[int, asyncio.Future[list[R]]]] = deque()
        workers = self._pool

        def submit() -> None:
            batch = next(batches, None)
            if batch is not None:
                pending.append((batch[0], loop.run_in_executor(workers, _build_batch, *batch)))

        broken = False
        try:
            for _ in range(self.processes * LOOKAHEAD):
                submit()
            while pending:
                start, future = pending.popleft()
                try:
                    built = await future
                except BrokenExecutor:
                    broken = True
                    raise
                submit()
                for offset, result in enumerate(built):
                    yield self.items[start + offset], result
        finally:
            # A broken pool fails every batch still asked of it, from its own thread; cancelling
            # them here as well races with that, and on CPython 3.11 the pool's thread can die
            # of it before stopping the other workers (the run then hangs at its exit).
            for _, future in pending:
                if broken:
                    future.add_done_callback(_retrieved)  # the error was told once, not per batch
                else:
                    future.cancel()


def _batches(total: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of each request to the workers, in order."""
    start, size = 0, FIRST_BATCH
    while start < total:
        stop = min(start + size, total)
        yield start, stop
        start, size = stop, BATCH


def _build_batch(start: int, stop: int) -> list[Any]:
    """In a worker: what it was handed built for items[start:stop]."""
    assert _handed is not None, "a worker started without the fork start method"
    # Building runs ahead of the sending: on a machine short of cores it must not take turns
    # with it. (The check before sending, which the run waits for, ran at full priority.)
    # Measured on 2 cores: 0.56 -> 0.63-0.68 of the SMTP ceiling.
    into_background()
    build, items = _handed
    return [build(items[index]) for index in range(start, stop)]


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
