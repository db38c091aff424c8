"""Feed every file of a folder through ``KnowledgeBase.add_bytes``, one JSON line per file.

Run by test_fuzzing.py as a subprocess so the parent can enforce a per-file time limit
(a hang inside pypdf cannot be interrupted from a thread) and see a crash as an exit
code. ``python -m tests.reliability.fuzz_worker INPUT_DIR DATA_DIR``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(input_dir: Path, data_dir: Path) -> int:
    from rag.embeddings import make_embedder
    from rag.knowledge_base import KnowledgeBase
    from settings import Settings
    from storage.db import Database
    from storage.documents import DocumentRegistry

    settings = Settings(data_dir=data_dir, embedding_model="auto", device="cpu")
    db = Database(settings.db_path)
    kb = KnowledgeBase(settings, DocumentRegistry(db), make_embedder(settings))
    print(json.dumps({"loaded": True}), flush=True)
    for path in sorted(input_dir.glob("*.pdf")):
        print(json.dumps({"start": path.name}), flush=True)
        result = kb.add_bytes(path.read_bytes(), path.name)
        print(json.dumps({"file": path.name, "status": result.status, "error": result.error}), flush=True)
    db.close()
    print(json.dumps({"done": True}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
