"""Index one big PDF with ``KnowledgeBase.add_file`` and report memory and progress as JSON.

Run as a subprocess by test_large_pdf.py so its RSS is the indexing's own: the
baseline is taken after the embedder is loaded, the peak by a sampler thread and at
every progress callback. ``python -m tests.reliability.large_pdf_worker PDF DATA_DIR``
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

SAMPLE_EVERY_S = 0.05


def main(pdf: Path, data_dir: Path) -> int:
    import psutil

    from rag.embeddings import make_embedder
    from rag.knowledge_base import KnowledgeBase
    from settings import Settings
    from storage.db import Database
    from storage.documents import DocumentRegistry

    process = psutil.Process()
    settings = Settings(data_dir=data_dir, embedding_model="auto", device="cpu")
    db = Database(settings.db_path)
    kb = KnowledgeBase(settings, DocumentRegistry(db), make_embedder(settings))
    kb.search("warm up the embedder and the index", k=1)
    baseline = process.memory_info().rss
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_EVERY_S):
            peak[0] = max(peak[0], process.memory_info().rss)

    stages: dict[str, list[int]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        peak[0] = max(peak[0], process.memory_info().rss)
        stages.setdefault(stage, []).append(done)
        stages[stage + ":total"] = [total]

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = kb.add_file(pdf, pdf.name, progress=progress)
    stop.set()
    sampler.join()
    db.close()
    print(json.dumps({"baseline_rss": baseline, "peak_rss": peak[0], "result": result.to_dict(),
                      "stages": {k: v if k.endswith(":total") else [len(v), v[0], v[-1]]
                                 for k, v in stages.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
