"""Work handed to forked processes (building messages, checking addresses): each worker ends
with the run that forked it and leaves Ctrl-C to the run."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
BACKGROUND_NICE = 19  # a background worker's niceness: the sending (and the computer) first

_in_background = False


def can_fork() -> bool:
    """Workers inherit what they work on; without fork they would need it pickled to them."""
    return "fork" in multiprocessing.get_all_start_methods()


def pool(processes: int) -> ProcessPoolExecutor:
    """`processes` forked workers."""
    return ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )


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
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the run died before the line above took effect
        os._exit(1)
