"""Timing and progress of a run's stages (a leaf module: it knows no stage)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Progress", "Stages"]

log = logging.getLogger(__name__)

Progress = Callable[[str, str, float | None], None]
"""``progress(event, stage, value)``: ``"start"`` (value ``None``), ``"step"`` (value the
fraction of the stage done, for stages that know it) or ``"done"`` (value the seconds taken)."""


class Stages:
    """Times the stages of a run and tells a progress callback about them."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        """Time ``stage``."""
        if self.progress:
            self.progress("start", stage, None)
        t0 = time.perf_counter()
        yield
        seconds = time.perf_counter() - t0
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds
        log.info("%s took %.2f s", stage, seconds)
        if self.progress:
            self.progress("done", stage, seconds)

    def step(self, stage: str, done: int, total: int) -> None:
        """Tell the progress callback that ``done`` of ``total`` parts of ``stage`` are done.

        Parameters
        ----------
        stage
            The stage's name.
        done, total
            Parts done, of all its parts.
        """
        if self.progress and total > 0:
            self.progress("step", stage, done / total)
