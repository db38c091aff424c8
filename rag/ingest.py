"""`python -m rag.ingest PATH...` — index PDFs (files or folders) into the data dir.

Prints a progress bar per file and a summary table of ready / duplicate / failed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from tqdm import tqdm

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


def build_knowledge_base(args: argparse.Namespace):
    """Settings from env/.env plus the flags, then registry + embedder + knowledge base."""
    from rag.embeddings import make_embedder
    from rag.knowledge_base import KnowledgeBase
    from settings import Settings
    from storage.db import Database
    from storage.documents import DocumentRegistry

    overrides = {k: v for k, v in {"data_dir": args.data_dir, "embedding_model": args.embedding_model,
                                    "device": args.device}.items() if v is not None}
    settings = Settings(**overrides)
    kb = KnowledgeBase(settings, DocumentRegistry(Database(settings.db_path)), make_embedder(settings))
    kb.recover()
    return kb


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data dir (default: DOCCHAT_DATA_DIR or dbcache)")
    parser.add_argument("--embedding-model", help="embedding model (default: DOCCHAT_EMBEDDING_MODEL or auto)")
    parser.add_argument("--device", help="auto, cpu or cuda")
    parser.add_argument("--owner", default=None, help="user id of a private collection (with private docs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="PDF files or folders")
    add_common_flags(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    pdfs = find_pdfs(args.paths)
    if not pdfs:
        print("no PDF files found", file=sys.stderr)
        return 2
    kb = build_knowledge_base(args)
    results = []
    started = time.perf_counter()
    with tqdm(total=len(pdfs), unit="file") as bar:
        for pdf in pdfs:
            bar.set_description(pdf.name[:40])
            progress = lambda stage, done, total: bar.set_postfix_str(f"{stage} {done}/{total}", refresh=False)  # noqa: E731
            file_started = time.perf_counter()
            results.append((kb.add_file(pdf, pdf.name, owner=args.owner, progress=progress),
                            time.perf_counter() - file_started))
            bar.update(1)
    elapsed = time.perf_counter() - started

    width = max(len(r.filename) for r, _ in results)
    print(f"\n{'file':<{width}}  {'status':<9} {'pages':>5} {'chunks':>6} {'secs':>6}  error")
    for result, secs in results:
        print(f"{result.filename:<{width}}  {result.status:<9} {result.pages:>5} {result.chunks:>6} "
              f"{secs:>6.1f}  {result.error or ''}")
    counts = {s: sum(r.status == s for r, _ in results) for s in ("ready", "duplicate", "failed")}
    print(f"\n{counts['ready']} ready, {counts['duplicate']} duplicate, {counts['failed']} failed "
          f"in {elapsed:.1f} s (embedding model {kb.embedder.name}, data dir {kb.settings.data_dir})")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
