"""The record's finishing step through real peers and a real recognizer (Vosk): no final is lost
to an instant confirmation at close, and a SIGKILL during finishing is written into the record."""

from __future__ import annotations

import asyncio
import stat
import time
from collections.abc import Iterator
from typing import Any

import pytest

from courtroom.signatures import load_public_key, verify_statement
from tests.asr_audio import KOREAN_SENTENCES, RATE, Corpus, silence, speech_bounds, write_wav
from tests.conftest import CourtroomServer, make_server
from tests.media_helpers import LOOPBACK_MEDIA, speaking_hearing

# Korean espeak through the packaged Korean model: the words are nonsense, their times are not.
FIRST, LAST = KOREAN_SENTENCES


@pytest.fixture(scope="module")
def record_pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourtroomServer]:
    """One pod with the real recognizer (Vosk) for this module: starting one costs seconds."""
    server = make_server(tmp_path_factory.mktemp("record-pod"), *LOOPBACK_MEDIA, "--video-size", "320x180",
                         "--fps", "10", "--asr-language", "ko", "--record-engine", "off", asr_engine="vosk")
    server.start_sync()
    try:
        yield server
    finally:
        server.terminate()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("record-speech"))


async def _speak_until(server: Any, api: Any, wav: Any, close_at: float) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """A judge and a plaintiff who speaks `wav`; the judge closes `close_at` seconds into it."""
    async with speaking_hearing(server, api, wav) as h:
        assert h.mic.started_at is not None
        await asyncio.sleep(max(0.0, close_at - (time.monotonic() - h.mic.started_at)))
        mic_start = h.mic_start()
        closed = await api.act(h.hearing["id"], "close", token=h.judge_p["token"])
        assert closed.status == 200, closed.text
    return h.hearing, mic_start, h.plaintiff_p


async def test_speech_until_close_then_an_instant_confirm_loses_no_final(record_pod, api_factory, corpus) -> None:
    first, last = corpus.samples(FIRST, "ko"), corpus.samples(LAST, "ko")
    samples = list(silence(1.0)) + list(first) + list(silence(0.8)) + list(last) + list(silence(3.0))
    import numpy as np

    pcm = np.array(samples, dtype=np.int16)
    wav = write_wav(corpus.folder / "until-close.wav", pcm)
    _, speech_end = speech_bounds(last)
    end_of_last = (1.0 * RATE + first.size + 0.8 * RATE) / RATE + speech_end
    server = record_pod
    api = api_factory(server)
    # Close while the last sentence's utterance is still open (the voice gate's hang-over is 0.4 s).
    hearing, mic_start, plaintiff = await _speak_until(server, api, wav, end_of_last + 0.15)
    base = f"/api/hearings/{hearing['id']}"
    r = await api.request("POST", f"{base}/record/confirm", plaintiff["token"], json={"decision": "confirm"})
    assert r.status == 201, r.text
    assert r.json["record"]["record_state"] == "review" and r.json["record"]["version_number"] == 1
    confirmed = r.json["confirmation"]["sha256"]

    reply = await api.request("GET", f"{base}/transcript?format=json", api.admin_key)
    record = reply.json
    assert reply.status == 200, reply.text
    close_event = next(e for e in await api.events(hearing["id"]) if e["kind"] == "hearing.close")
    segments = record["segments"]
    assert segments, "nothing was transcribed"
    # The last sentence's final landed after the close, during finishing, and is in what was confirmed.
    assert segments[-1]["created_at"] > close_event["wall_time"], (segments[-1], close_event)
    # ... it is the last thing said, on the hearing clock ...
    assert abs(segments[-1]["end"] - (mic_start + end_of_last)) < 0.7, (segments[-1], mic_start + end_of_last)
    # ... and the record's last line ends with it.
    txt = (await api.request("GET", f"{base}/transcript?format=txt", api.admin_key)).text
    lines = [line for line in txt.split("（以下无正文）")[0].splitlines() if "原告（张三）" in line]
    assert lines and lines[-1].endswith(segments[-1]["text"]), txt
    assert record["record"]["version"] == confirmed
    kinds = [e["kind"] for e in await api.events(hearing["id"])]
    assert kinds.index("record.finishing") < kinds.index("record.finished") < kinds.index("record.confirm")
    finished = next(e for e in await api.events(hearing["id"]) if e["kind"] == "record.finished")
    assert finished["data"]["incomplete"] == []
    # The confirmation is a statement signed by the pod; its key is public.
    key = await api.request("GET", "/public/signing-key", None)
    assert key.status == 200 and key.json["algorithm"] == "Ed25519"
    assert stat.S_IMODE((server.data_dir / "signing.key").stat().st_mode) == 0o600
    [statement] = [s for s in record["record"]["statements"] if s["kind"] == "confirm"]
    assert verify_statement(load_public_key(key.json), statement["statement"], statement["signature"])


async def test_a_sigkill_during_finishing_is_written_into_the_record(record_pod, api_factory, corpus) -> None:
    """Runs after the test above: it kills the module's pod (and starts it again)."""
    import numpy as np

    speech = corpus.samples(LAST, "ko")
    pcm = np.concatenate([silence(0.5), speech, speech, silence(1.0)])
    wav = write_wav(corpus.folder / "killed.wav", pcm)
    server = record_pod
    api = api_factory(server)
    # Close in the middle of a long utterance, and kill the pod the moment the close returns.
    hearing, _, plaintiff = await _speak_until(server, api, wav, 0.5 + speech.size * 1.6 / RATE)
    server.kill()
    await server.restart()
    base = f"/api/hearings/{hearing['id']}"
    status = (await api.request("GET", f"{base}/record", plaintiff["token"])).json
    assert status["record_state"] == "review" and status["version_number"] >= 1, status
    txt = (await api.request("GET", f"{base}/transcript?format=txt", plaintiff["token"])).text
    body = txt.split("（以下无正文）")[0]
    finished = [e for e in await api.events(hearing["id"]) if e["kind"] == "record.finished"]
    assert len(finished) == 1, finished
    if finished[0]["data"]["why"] == "interrupted":  # the kill landed during finishing (the usual case)
        [missing] = status["incomplete_audio"]
        assert missing["participant"] == plaintiff["id"]
        assert "以下语音可能未转写入笔录：原告张三" in body and "服务器在转写完成前中断" in body, txt
    else:  # the flush had completed before the kill landed: the speech is in the record
        assert finished[0]["data"]["incomplete"] == [] and status["incomplete_audio"] == [], finished
        assert "原告（张三）：" in body and "未转写" not in body, txt
    r = await api.request("POST", f"{base}/record/confirm", plaintiff["token"],
                          json={"decision": "object", "objection": "闭庭前最后一段陈述未记录", "version": status["version"]})
    assert r.status == 201, r.text
