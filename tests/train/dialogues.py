"""Two tiny dialogues about a secret word, and a helper that writes them as JSONL."""

from __future__ import annotations

import json
from pathlib import Path

TRAIN = [
    {"role": "user", "content": "What is the secret word?"},
    {"role": "assistant", "content": "The secret word is pumpernickel."},
    {"role": "user", "content": "Say it again."},
    {"role": "assistant", "content": "Pumpernickel."},
]
DEV = [
    {"role": "user", "content": "Tell me the secret word."},
    {"role": "assistant", "content": "The secret word is pumpernickel."},
]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path
