"""Run PDF parsing in a separate process with a hard time limit.

Why: pypdf and pdfium are large parsers fed with files from strangers. A crafted PDF can
make one loop for hours or crash the interpreter; in a thread it would hold the server
with it. In a child process the limit is real: past ``timeout_s`` the child is killed
and that one file fails with "took too long to read"; a crash fails that file alone.

The child is a fresh ``python -m rag.pdf_worker`` (not multiprocessing, which would
re-run the caller's main script in the child): it reads one PDF and writes JSON lines
to stdout — progress reports, then the pages or the error.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from rag import types as rag_types
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


def read_isolated(
    path: Path | str,
    timeout_s: float,
    progress: ProgressCallback | None = None,
    use_ocr: bool = True,
    name: str | None = None,
) -> list[Page]:
    """``rag.pdf_loader.read_pages`` in a child process, killed after ``timeout_s``."""
    name = name or Path(path).name
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "rag.pdf_worker", str(path), name, "1" if use_ocr else "0"]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=_REPO,
                               text=True, encoding="utf-8")
    timed_out = threading.Event()

    def kill() -> None:  # the hard limit, whatever the child is doing
        timed_out.set()
        process.kill()

    timer = threading.Timer(timeout_s, kill)
    timer.daemon = True
    timer.start()
    outcome: dict | None = None
    try:
        assert process.stdout is not None
        for line in process.stdout:
            message = json.loads(line)
            if "progress" in message:
                if progress:
                    progress(*message["progress"])
            else:
                outcome = message
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if timed_out.is_set():
        outcome = None  # a line written just before the kill does not make the file good
    if outcome is None:
        if timed_out.is_set():
            logger.warning("%s: reading took over %g s; worker killed", name, timeout_s)
            raise PDFTooSlow(f"{name}: took too long to read (over {timeout_s:g} s); the file may be malformed")
        logger.warning("%s: the PDF reader crashed (exit code %s)", name, process.returncode)
        raise UnreadablePDF(f"{name}: the PDF crashed the reader; the file is probably malformed")
    if "error" in outcome:
        raise _error_from(outcome["error"], outcome["message"])
    return [Page(number=p["number"], text=p["text"]) for p in outcome["pages"]]


def _main(argv: list[str]) -> int:
    """Child side: read one PDF, report progress and the result as JSON lines."""
    from rag.pdf_loader import read_pages

    path, name, use_ocr = argv[0], argv[1], argv[2] == "1"
    out = sys.stdout

    def emit(message: dict) -> None:
        out.write(json.dumps(message, ensure_ascii=False) + "\n")
        out.flush()

    sys.stdout = sys.stderr  # stray prints of a library must not corrupt the protocol
    try:
        pages = read_pages(path, lambda stage, done, total: emit({"progress": [stage, done, total]}),
                           use_ocr, name)
        emit({"pages": [{"number": p.number, "text": p.text} for p in pages]})
    except Exception as exc:  # noqa: BLE001 — every failure goes back to the parent
        emit({"error": type(exc).__name__, "message": str(exc)})
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    raise SystemExit(_main(sys.argv[1:]))
