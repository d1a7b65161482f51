"""A training run's graceful stop: Ctrl-C or a SIGTERM (a scheduler's, a Space's) ends the run at the next step
boundary, so the loop can write a checkpoint and export the model before exiting."""

from __future__ import annotations

import signal
import threading


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between steps, so a checkpoint can be written. Only the main
    thread can catch signals: a run in another thread (the app's "Adapt to this photo") keeps the defaults."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
