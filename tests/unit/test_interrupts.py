"""Ctrl-C during a drill: the first one stops the method, even when the signal lands in a
finalizer, where Python would print the KeyboardInterrupt and drop it. (A Redis client
collected mid-poll once swallowed the Ctrl-C of the lab test; the drill ran on to exit 0.)"""

from __future__ import annotations

import signal
import sys

import pytest

from gameday.drill import runner


class Finalized:
    """Captures the frame its __del__ runs in, as a signal handler would see it."""

    frame = None

    def __del__(self):
        Finalized.frame = sys._getframe()


def test_a_frame_inside_a_finalizer_is_recognised():
    obj = Finalized()
    del obj
    assert runner.in_finalizer(Finalized.frame)
    assert not runner.in_finalizer(sys._getframe())


def test_an_interrupt_that_lands_in_a_finalizer_is_delivered_again(monkeypatch):
    redelivered = []

    class Timer:
        def __init__(self, delay, fn, args):
            redelivered.append((delay, fn, args))

        def start(self):
            pass

    monkeypatch.setattr(runner.threading, "Timer", Timer)
    obj = Finalized()
    del obj
    with runner.first_interrupt_only():
        handler = signal.getsignal(signal.SIGINT)
        handler(signal.SIGINT, Finalized.frame)  # lands in __del__: no raise, delivered again
        assert len(redelivered) == 1 and redelivered[0][2][1] == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, sys._getframe())  # the redelivery, outside: it stops the drill
        handler(signal.SIGINT, sys._getframe())  # later ones are ignored while cleaning up
    assert signal.getsignal(signal.SIGINT) is not handler
