"""Live speech recognition for the hearing record, independent of HTTP and WebRTC.

Each speaker's 48 kHz mono int16 audio goes through a voice gate, a bounded backlog and a
shared engine (Vosk streaming or Whisper per utterance) on low-priority worker threads;
segments come back on the event loop with times on the hearing clock.  See docs/asr.md.

    engine = make_engine("vosk")                       # at start-up; None when "off"
    transcriber = Transcriber(engine, on_overload=...)
    speaker = transcriber.open_speaker("p1", on_result, loop)
    speaker.push(chunk, hearing_time)                  # every 20 ms, on the loop
    await asyncio.wrap_future(speaker.close())

Names are imported lazily, so ``import asr`` stays cheap and ``python -m asr.models`` runs
cleanly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine, RecognitionResult, RecognizerStream, Word, make_engine
    from .gate import GateConfig, VoiceGate
    from .models import (
        ModelError,
        check_model,
        default_model,
        default_vosk_model,
        whisper_base,
        whisper_tiny_en,
    )
    from .pipeline import (
        OverloadReport,
        SpeakerResult,
        SpeakerStats,
        SpeakerStream,
        Transcriber,
        TranscriberStats,
        default_workers,
    )

_EXPORTS = {
    "Engine": "engine",
    "RecognitionResult": "engine",
    "RecognizerStream": "engine",
    "Word": "engine",
    "make_engine": "engine",
    "GateConfig": "gate",
    "VoiceGate": "gate",
    "ModelError": "models",
    "check_model": "models",
    "default_model": "models",
    "default_vosk_model": "models",
    "whisper_base": "models",
    "whisper_tiny_en": "models",
    "OverloadReport": "pipeline",
    "SpeakerResult": "pipeline",
    "SpeakerStats": "pipeline",
    "SpeakerStream": "pipeline",
    "Transcriber": "pipeline",
    "TranscriberStats": "pipeline",
    "default_workers": "engine",
}

__all__ = [
    "Engine",
    "GateConfig",
    "ModelError",
    "OverloadReport",
    "RecognitionResult",
    "RecognizerStream",
    "SpeakerResult",
    "SpeakerStats",
    "SpeakerStream",
    "Transcriber",
    "TranscriberStats",
    "VoiceGate",
    "Word",
    "check_model",
    "default_model",
    "default_vosk_model",
    "default_workers",
    "make_engine",
    "whisper_base",
    "whisper_tiny_en",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'asr' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
