"""Work handed to forked processes (building messages, checking addresses): each worker ends
with the run that forked it, leaves Ctrl-C to the run, and may run at idle priority."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def can_fork() -> bool:
    """Workers inherit what they work on; without fork they would need it pickled to them."""
    return "fork" in multiprocessing.get_all_start_methods()


def pool(processes: int, *, idle: bool = False) -> ProcessPoolExecutor:
    """`processes` forked workers. `idle`: they use only CPU time nothing else wants."""
    return ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
        initargs=(os.getpid(), idle),
    )


def _worker_start(parent: int, idle: bool) -> None:
    """A run killed with SIGKILL must not leave workers behind (they would wait for work
    forever, holding a copy of the run's data)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle, once
    if idle:
        with contextlib.suppress(AttributeError, OSError):  # Linux only
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the run died before the line above took effect
        os._exit(1)
