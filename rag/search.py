"""`python -m rag.search "question" -k 5` — hybrid search of the indexed PDFs from the shell.

Prints file, page, fused score and a snippet for each hit.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rag.ingest import add_common_flags, build_knowledge_base, parse_args

SNIPPET_CHARS = 200


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.search", description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="+", help="the question (several: searched together and fused)")
    parser.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    parser.add_argument("--document-id", action="append", dest="document_ids", help="restrict to a document id")
    add_common_flags(parser)
    settings, args = parse_args(parser, argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    kb = build_knowledge_base(settings)
    results = kb.search(args.question, k=args.k, document_ids=args.document_ids, owner=args.owner)
    if not results:
        print("no results (is anything indexed? python -m rag.ingest PATH...)")
        return 1
    for rank, source in enumerate(results, start=1):
        snippet = " ".join(source.text.split())[:SNIPPET_CHARS]
        print(f"{rank}. {source.filename}  page {source.page}  score {source.score:.4f}\n   {snippet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
