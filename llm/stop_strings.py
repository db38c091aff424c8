"""Cut streamed text at the first stop string, without ever showing part of one.

A stop string may arrive split over several deltas ("<|us" + "er|>"), so the tail that
could still become a stop string is held back until the next delta decides it.
"""

from __future__ import annotations

import threading
from typing import Iterable, Iterator


class StopStringFilter:
    """Feed deltas in, get the text that is safe to show out; ``stopped`` once a stop string appeared."""

    def __init__(self, stop: tuple[str, ...] | list[str]) -> None:
        self._stop = tuple(s for s in stop if s)
        self._held = ""
        self.stopped = False
        self.hit = ""  # the stop string that stopped it

    def feed(self, delta: str) -> str:
        """Return the part of ``held + delta`` that can be shown now."""
        if self.stopped:
            return ""
        if not self._stop:
            return delta
        text = self._held + delta
        cut = _first_stop(text, self._stop)
        if cut is not None:
            self.stopped = True
            self.hit = min((s for s in self._stop if s in text), key=text.find)
            self._held = ""
            return text[:cut]
        keep = _longest_partial_suffix(text, self._stop)
        self._held = text[len(text) - keep:] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """Text held back at the end of the stream (it never became a stop string)."""
        held, self._held = self._held, ""
        return "" if self.stopped else held


def show_until_stop(pieces: Iterable[str], stops: StopStringFilter, halt: threading.Event) -> Iterator[str]:
    """The text of ``pieces`` a reader may see: cut at the first stop string, which also
    sets ``halt`` so the generating thread stops at its next look (every local backend's
    reader loop)."""
    for piece in pieces:
        shown = stops.feed(piece) if piece else ""
        if shown:
            yield shown
        if stops.stopped:
            halt.set()
            return
    tail = stops.flush()
    if tail:
        yield tail


def trim_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """``text`` up to (not including) the first stop string."""
    cut = _first_stop(text, tuple(s for s in stop if s))
    return text if cut is None else text[:cut]


def _first_stop(text: str, stop: tuple[str, ...]) -> int | None:
    hits = [i for i in (text.find(s) for s in stop) if i >= 0]
    return min(hits) if hits else None


def _longest_partial_suffix(text: str, stop: tuple[str, ...]) -> int:
    """Length of the longest end of ``text`` that is a proper prefix of some stop string."""
    best = 0
    for s in stop:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:n]):
                best = n
                break
    return best
