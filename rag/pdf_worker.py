"""Run PDF parsing in a separate process with a hard time limit.

Why: pypdf and pdfium are large parsers fed with files from strangers. A crafted PDF can
make one loop for hours or crash the interpreter; in a thread it would hold the server
with it. In a child process the limit is real: past ``timeout_s`` the child is killed
and that one file fails with "took too long to read"; a crash fails that file alone.

The child is ``python -m rag.pdf_worker --serve`` (not multiprocessing, which would
re-run the caller's main script in the child): it reads one request (a JSON line) at a
time from stdin and writes JSON lines to stdout — progress reports, then the pages or
the error. Starting a child and importing the parsers costs about half a second, more
than parsing a typical PDF, so ``ParseWorkers`` keeps finished children for the next
file; a child that timed out or crashed is never reused, and each retires after
``MAX_USES`` files so one huge PDF's memory is not held forever.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

from rag import types as rag_types
from rag.pdf_loader import read_pages
from rag.types import Page, ProgressCallback, UnreadablePDF

logger = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[1]


class PDFTooSlow(UnreadablePDF):
    """Parsing one PDF passed the time limit; the worker was killed."""


def _error_from(kind: str, message: str) -> Exception:
    """The child's exception, rebuilt as our own class when it is one of ours."""
    cls = getattr(rag_types, kind, None)
    if isinstance(cls, type) and issubclass(cls, rag_types.DocchatError):
        return cls(message)
    return UnreadablePDF(message)


MAX_USES = 100  # files one child parses before it retires
MAX_IDLE = 2  # finished children kept for the next file
IDLE_S = 10.0  # an idle child is stopped after this long without a file


def _spawn() -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "rag.pdf_worker", "--serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=_REPO,
                            text=True, encoding="utf-8")


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


class ParseWorkers:
    """Parser children shared by one knowledge base; ``read`` is safe from many threads.

    Each call takes an idle child (or starts one), so concurrent uploads never wait for
    each other and the time limit counts only this file's parsing.
    """

    def __init__(self, max_idle: int = MAX_IDLE, max_uses: int = MAX_USES, idle_s: float = IDLE_S) -> None:
        self.max_idle, self.max_uses, self.idle_s = max_idle, max_uses, idle_s
        self._idle: list[tuple[subprocess.Popen, int, float]] = []  # (child, files read, idle since)
        self._lock = threading.Lock()
        self.started = 0  # children started so far (the tests read it)
        # Children hold two pipes each: a pool that is dropped, or idle for a while, lets them go.
        weakref.finalize(self, _kill_all, self._idle)

    def read(self, path: Path | str, timeout_s: float, progress: ProgressCallback | None = None,
             use_ocr: bool = True, name: str | None = None) -> list[Page]:
        """``rag.pdf_loader.read_pages`` in a child process, killed after ``timeout_s``."""
        name = name or Path(path).name
        process, uses = self._take()
        healthy = False
        try:
            outcome = _exchange(process, {"path": str(path), "name": name, "ocr": use_ocr}, timeout_s, progress, name)
            healthy = True
        finally:
            if healthy and uses + 1 < self.max_uses:
                self._give_back(process, uses + 1)
            else:
                _kill(process)
        if "error" in outcome:
            raise _error_from(outcome["error"], outcome["message"])
        return [Page(number=p["number"], text=p["text"]) for p in outcome["pages"]]

    def close(self) -> None:
        with self._lock:
            idle = self._idle[:]
            self._idle.clear()
        _kill_all(idle)

    def _take(self) -> tuple[subprocess.Popen, int]:
        with self._lock:
            while self._idle:
                process, uses, _ = self._idle.pop()
                if process.poll() is None:
                    return process, uses
                _kill(process)
            self.started += 1
        return _spawn(), 0

    def _give_back(self, process: subprocess.Popen, uses: int) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append((process, uses, time.monotonic()))
                reaper = threading.Timer(self.idle_s, _reap_if_alive, args=(weakref.ref(self),))
                reaper.daemon = True
                reaper.start()
                return
        _kill(process)

    def _reap(self) -> None:
        """Stop the children idle for ``idle_s`` or more."""
        now = time.monotonic()
        with self._lock:
            old = [entry for entry in self._idle if now - entry[2] >= self.idle_s - 0.05]
            self._idle[:] = [entry for entry in self._idle if entry not in old]
        _kill_all(old)


def _reap_if_alive(pool_ref: "weakref.ref[ParseWorkers]") -> None:
    pool = pool_ref()  # a timer must not keep a dropped pool (and its children) alive
    if pool is not None:
        pool._reap()


def _kill_all(entries: list) -> None:
    for entry in entries:
        _kill(entry[0])


def _exchange(process: subprocess.Popen, request: dict, timeout_s: float,
              progress: ProgressCallback | None, name: str) -> dict:
    """Send one request and read its answer; a kill or crash raises (and leaves the child dead)."""
    timed_out = threading.Event()

    def kill() -> None:  # the hard limit, whatever the child is doing
        timed_out.set()
        process.kill()

    timer = threading.Timer(timeout_s, kill)
    timer.daemon = True
    timer.start()
    outcome: dict | None = None
    try:
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
            process.stdin.flush()
        except OSError:  # the child died while idle
            pass
        for line in process.stdout:
            message = json.loads(line)
            if "progress" in message:
                if progress:
                    progress(*message["progress"])  # may raise (the caller's deadline): the child is killed
            else:
                outcome = message
                break
    finally:
        timer.cancel()
    if timed_out.is_set():
        outcome = None  # a line written just before the kill does not make the file good
    if outcome is None:
        _kill(process)
        if timed_out.is_set():
            logger.warning("%s: reading took over %g s; worker killed", name, timeout_s)
            raise PDFTooSlow(f"{name}: took too long to read (over {timeout_s:g} s); the file may be malformed")
        logger.warning("%s: the PDF reader crashed (exit code %s)", name, process.returncode)
        raise UnreadablePDF(f"{name}: the PDF crashed the reader; the file is probably malformed")
    return outcome


def _serve() -> int:
    """Child side: one JSON request a line on stdin; progress, then the result, as JSON lines."""
    out = sys.stdout

    def emit(message: dict) -> None:
        out.write(json.dumps(message, ensure_ascii=False) + "\n")
        out.flush()

    sys.stdout = sys.stderr  # stray prints of a library must not corrupt the protocol
    for line in sys.stdin:
        request = json.loads(line)
        try:
            pages = read_pages(request["path"], lambda stage, done, total: emit({"progress": [stage, done, total]}),
                               request["ocr"], request["name"])
            emit({"pages": [{"number": p.number, "text": p.text} for p in pages]})
        except Exception as exc:  # noqa: BLE001 — every failure goes back to the parent
            emit({"error": type(exc).__name__, "message": str(exc)})
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    raise SystemExit(_serve())
