"""A one-shot forked child: its value or its exception comes back; a child that dies, or that is
no longer wanted, is never left behind and never a traceback."""

from __future__ import annotations

import os
import signal
import time

import pytest

from mailer import forked
from mailer.errors import TemplateError

pytestmark = pytest.mark.skipif(not forked.can_fork(), reason="workers are forked")


def test_the_value_comes_back_from_the_child() -> None:
    parent = os.getpid()
    child = forked.Child(lambda: (os.getpid() != parent, [None, ("a", "b"), "c"]))
    try:
        assert child.result() == (True, [None, ("a", "b"), "c"])
    finally:
        child.end()


def test_the_childs_exception_is_raised_in_the_parent() -> None:
    def fails() -> None:
        raise TemplateError("'dict object' has no attribute 'telefon'", path="invitation/da/body.txt")

    child = forked.Child(fails)
    try:
        with pytest.raises(TemplateError, match=r"invitation/da/body\.txt: 'dict object'"):
            child.result()
    finally:
        child.end()


def test_a_child_that_dies_is_one_exception() -> None:
    child = forked.Child(lambda: os._exit(1))  # as the kernel's out-of-memory killer would end it
    try:
        with pytest.raises(forked.ChildDied):
            child.result()
    finally:
        child.end()


def test_ctrl_c_is_the_runs_not_the_childs() -> None:
    def interrupted() -> str:
        os.kill(os.getpid(), signal.SIGINT)
        return "still here"

    child = forked.Child(interrupted)
    try:
        assert child.result() == "still here"
    finally:
        child.end()


def test_a_child_no_longer_wanted_is_stopped_not_waited_for() -> None:
    child = forked.Child(lambda: time.sleep(60))
    started = time.monotonic()
    child.end()
    assert time.monotonic() - started < 10


class _Unpicklable(Exception):
    def __init__(self, message: str, *, hook: object) -> None:
        super().__init__(message)
        self.hook = hook


def test_an_error_that_does_not_pickle_is_told_as_text_not_as_a_dead_child() -> None:
    def fails() -> None:
        raise _Unpicklable("the member list changed while it was read", hook=lambda: None)

    child = forked.Child(fails)
    try:
        with pytest.raises(forked.ChildFailed, match="_Unpicklable: the member list changed"):
            child.result()
    finally:
        child.end()


def test_a_child_ended_twice_or_reaped_elsewhere_is_no_error() -> None:
    child = forked.Child(lambda: 1)
    assert child.result() == 1
    child.end()
    child.end()
