"""Mandarin first: a hearing under the default configuration, with real Mandarin speech.

The speech is real recordings (tests/fixtures/zh, see its README for sources and licence):
espeak-ng's Mandarin is unreadable to Whisper base. The defendant of the hearing is named
广州市房地产中介协会, a name the first clip says; Whisper with the plain prompt writes it
佛地产中间协会, the record engine with the hearing's words writes it right.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from asr.simplify import simplify
from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack, WavTrack, read_wav_48k
from tests.asr_audio import RATE, timeline, write_wav
from tests.media_helpers import LOOPBACK_MEDIA, eventually

FIXTURES = Path(__file__).parent / "fixtures" / "zh"
ASSOCIATION = "广州市房地产中介协会"  # said in aishell-BAC009S0724W0121: 广州市房地产中介协会分析
CLIPS = ["aishell-BAC009S0724W0121.wav", "wenet-mid.wav"]


def is_simplified(text: str) -> bool:
    return simplify(text) == text


def _segments(peer: Participant, final: bool) -> list[dict]:
    return [m["segment"] for m in peer.messages if m["type"] == "transcript" and m["segment"]["final"] is final]


async def test_a_mandarin_hearing_gets_simplified_captions_with_partials_and_a_record_read_by_the_record_engine(
    server_factory, api_factory, tmp_path
):
    clips = [read_wav_48k(FIXTURES / name) for name in CLIPS]
    samples, _ = timeline([1.0, clips[0], 2.5, clips[1], 3.0])
    wav = write_wav(tmp_path / "zh.wav", samples)
    # no --language, no --asr-engine: the default configuration
    server = await server_factory(*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10", asr_engine=None)
    api = api_factory(server)
    hearing, (judge_p, plaintiff_p, defendant_p) = await api.hearing_with(
        ("judge", "王法官"), ("plaintiff", "张三"), ("defendant", ASSOCIATION),
    )
    judge = Participant(server.url, judge_p["token"], ToneTrack(0.0), PatternTrack(160, 90, 10))
    mic = WavTrack(wav)
    defendant = Participant(server.url, defendant_p["token"], mic, PatternTrack(160, 90, 10))
    try:
        await judge.connect()
        state = await judge.wait_for(lambda m: m["type"] == "state")
        assert state["hearing"]["language"] == "zh"  # the pages' default language
        await judge.act("open")
        await defendant.connect()
        await judge.act("admit", defendant_p["id"])
        await judge.act("start")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        await judge.start_media()
        await defendant.start_media()
        assert await eventually(lambda: mic.started_at is not None, 10)
        await asyncio.sleep(samples.size / RATE)

        def turns_read() -> int:
            return len({s["id"] for s in _segments(judge, True) if ASSOCIATION[3:] in s["text"]})

        # The record engine's reading comes after the live final; under a loaded machine, late.
        assert await eventually(lambda: turns_read() > 0, 120, 0.5), _segments(judge, True)
        finals = _segments(judge, True)
        partials = _segments(judge, False)
    finally:
        await judge.close()
        await defendant.close()
    print("partials:", [(p["start"], p["text"]) for p in partials])
    print("finals:", [(f["id"], f["start"], f["text"]) for f in finals])
    assert finals and partials
    for seg in finals + partials:
        assert seg["speaker"] == defendant_p["id"] and seg["role"] == "defendant" and seg["name"] == ASSOCIATION
        assert is_simplified(seg["text"]), seg
    # A partial of the first turn came before its first final.
    first_final = judge.messages.index(next(m for m in judge.messages if m["type"] == "transcript" and m["segment"]["final"]))
    first_partial = judge.messages.index(next(m for m in judge.messages if m["type"] == "transcript" and not m["segment"]["final"]))
    assert first_partial < first_final
    # The record: the turn's text is the record engine's, the live text is in its history.
    stored = (await api.request("GET", f"/api/hearings/{hearing['id']}/transcript?format=json", api.admin_key)).json
    read = [s for s in stored["segments"] if s["engine"] == "whisper-record"]
    assert read, stored["segments"]
    first = min(read, key=lambda s: s["start"])
    assert ASSOCIATION[3:] in first["text"], first
    assert not first["edited"]  # a reading is not a correction
    history = (await api.request("GET", f"/api/hearings/{hearing['id']}/transcript/{first['id']}/history",
                                 api.admin_key)).json
    edits = history["edits"]
    assert edits and edits[0]["editor"] == "asr.record" and edits[0]["after"] == first["text"], edits
    assert edits[0]["before"] and is_simplified(edits[0]["before"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--asr-language", "xx"], "'xx'"),
        (["--asr-engine", "vosk"], "vosk-model-cn"),  # zh by default: the packaged Vosk is Korean
        (["--asr-model", "{partial}"], "model.bin"),
    ],
)
async def test_a_language_or_model_that_cannot_work_stops_the_server_at_start(args, expected, tmp_path):
    from tests.conftest import courtroom_command, free_port

    partial = tmp_path / "partial-whisper"
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    (partial / "tokenizer.json").write_text("{}")
    names = {"{partial}": str(partial)}
    args = [names.get(a, a) for a in args]
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *courtroom_command(), "serve", "--data", str(tmp_path / "d"), "--port", str(free_port()), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 2, text
    assert expected in text and "Traceback" not in text, text
    print(f"{args}: {time.monotonic() - started:.1f} s: {text.strip().splitlines()[-2]}")


def test_the_plan_refuses_a_model_of_the_wrong_kind_or_none_and_never_falls_back_to_korean(tmp_path):
    """The same start-up check, in process (the server calls it before serving)."""
    from asr.models import ModelError, default_vosk_model, whisper_base
    from asr.plan import plan_speech

    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    cases = [
        (("zh", "vosk", whisper_base()), "is a whisper model"),
        (("ko", "auto", tmp_path / "empty"), "neither a Vosk model"),
        (("zh", "auto", tmp_path / "file"), "not a model folder"),
        (("zh", "auto", tmp_path / "missing"), "does not exist"),
        (("zh", "auto", default_vosk_model()), "is Korean"),
        (("xx", "auto", None, "off"), "'xx'"),
    ]
    for args, expected in cases:
        with pytest.raises(ModelError, match=expected):
            plan_speech(*args)
    plan = plan_speech("zh")
    assert plan is not None and plan.live_engine == "whisper" and plan.shared_whisper
    ko = plan_speech("ko")
    assert ko is not None and ko.live_engine == "vosk" and ko.record_model == whisper_base()
    vosk_only = plan_speech("ko", "auto", None, "off")
    assert vosk_only is not None and vosk_only.record_model is None
    assert plan_speech("zh", "off") is None
