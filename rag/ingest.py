"""`python -m rag.ingest PATH...` — index PDFs (files or folders, e.g. 1,000 of them) into the data dir.

One progress bar over all files. Resumable: a file whose bytes (sha256) are already
indexed is skipped without reading it further, and a run cut short (Ctrl-C, a crash)
is simply started again: the interrupted file is failed out by start-up recovery and
retried. A bad file never stops the run; the failures are listed at the end.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from rag.types import IngestResult
from settings import Settings, add_flags, settings_from_args

logger = logging.getLogger(__name__)


def find_pdfs(paths: list[Path]) -> list[Path]:
    """Files as given, folders searched recursively for *.pdf (case-insensitive), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf"))
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def build_knowledge_base(settings: Settings):
    """Registry + embedder + knowledge base for ``settings`` (from ``parse_args``)."""
    from rag.embeddings import make_embedder
    from rag.knowledge_base import KnowledgeBase
    from storage.db import Database
    from storage.documents import DocumentRegistry

    kb = KnowledgeBase(settings, DocumentRegistry(Database(settings.db_path)), make_embedder(settings))
    kb.recover()
    return kb


# The settings flags the shell tools take, made by settings.add_flags like app.py's.
SETTINGS_FLAGS = ("data_dir", "embedding_model", "device")


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, SETTINGS_FLAGS)
    parser.add_argument("--owner", default=None,
                        help="a user's private collection (the app shows it to that user with --private-docs); "
                             "default: the shared one")


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None = None):
    """(settings, args): env/.env plus the flags; a bad value exits with status 2 and one line."""
    return settings_from_args(parser, argv)


TABLE_MAX_FILES = 50  # above this, only the counts and the failures are printed


@dataclass
class IngestRun:
    """What one bulk run did, file by file (result, seconds)."""

    results: list[tuple[IngestResult, float]] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(result.status == status for result, _ in self.results)

    @property
    def failures(self) -> list[IngestResult]:
        return [result for result, _ in self.results if result.status == "failed"]


def ingest_all(kb, pdfs: list[Path], owner: str | None = None, bar: tqdm | None = None) -> IngestRun:
    """Add every PDF in turn; duplicates (already indexed, same bytes) cost only their hash."""
    run = IngestRun()
    started = time.perf_counter()
    for pdf in pdfs:
        if bar is not None:
            bar.set_description(pdf.name[:40])
        progress = None if bar is None else (
            lambda stage, done, total: bar.set_postfix_str(f"{stage} {done}/{total}", refresh=False))
        file_started = time.perf_counter()
        run.results.append((kb.add_file(pdf, pdf.name, owner=owner, progress=progress),
                            time.perf_counter() - file_started))
        if bar is not None:
            bar.update(1)
    run.seconds = time.perf_counter() - started
    return run


def report(run: IngestRun, kb) -> str:
    """The text printed at the end: a table for small runs, then counts, then every failure."""
    lines: list[str] = []
    if len(run.results) <= TABLE_MAX_FILES:
        width = max(len(r.filename) for r, _ in run.results)
        lines.append(f"{'file':<{width}}  {'status':<9} {'pages':>5} {'chunks':>6} {'secs':>6}")
        lines += [f"{r.filename:<{width}}  {r.status:<9} {r.pages:>5} {r.chunks:>6} {secs:>6.1f}"
                  for r, secs in run.results]
        lines.append("")
    lines.append(f"{run.count('ready')} indexed, {run.count('duplicate')} already indexed (skipped), "
                 f"{run.count('failed')} failed in {run.seconds:.1f} s "
                 f"(embedding model {kb.embedder.name}, data dir {kb.settings.data_dir})")
    if run.failures:
        lines.append("failed:")
        lines += [f"  {r.filename}: {r.error}" for r in run.failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="PDF files or folders")
    parser.add_argument("--fill-sections", action="store_true",
                        help="give documents indexed before sections existed their sections (statement or "
                             "heading of each page), read again from the stored PDFs; nothing is re-embedded")
    add_common_flags(parser)
    settings, args = parse_args(parser, argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.fill_sections:
        kb = build_knowledge_base(settings)
        with tqdm(unit="file", desc="sections") as bar:
            filled = kb.fill_sections(lambda stage, done, total: (setattr(bar, "total", total), bar.update(1)))
        print(f"{filled} document(s) given sections (data dir {settings.data_dir})")
        if not args.paths:
            return 0
    pdfs = find_pdfs(args.paths)
    if not pdfs:
        print("no PDF files found", file=sys.stderr)
        return 2
    kb = build_knowledge_base(settings)
    with tqdm(total=len(pdfs), unit="file") as bar:
        run = ingest_all(kb, pdfs, args.owner, bar)
    print("\n" + report(run, kb))
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
