"""The app factory: one aiohttp application per pod, background work in cleanup contexts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from asr.engine import make_engine
from asr.pipeline import Transcriber
from courtroom.config import Config
from courtroom.transcript import TranscriptService

from .archiver import Archiver
from .errors import error_middleware
from .hub import Hub
from .ice import restrict_host_addresses
from .latency import latency_gauges
from .pod import HUB, POD, ROOMS, Pod
from .recorders import Recorders
from .rooms import RoomManager
from .routes import setup_routes
from .speech import Speech
from .transcript_api import TRANSCRIPT


def create_app(config: Config) -> web.Application:
    pod = Pod.open(config)
    if config.ice_addresses:
        restrict_host_addresses(config.ice_addresses)
    # Uploads are streamed to disk with their own limit; this bounds everything else.
    app = web.Application(middlewares=[error_middleware], client_max_size=config.evidence_max_bytes + (1 << 20))
    app[POD] = pod
    setup_routes(app)
    app[HUB] = Hub(pod.court)
    app[TRANSCRIPT] = TranscriptService(pod.court)
    app[ROOMS] = RoomManager(pod.court)
    app[ROOMS].hub = app[HUB]
    app[HUB].exhibit_shown = app[ROOMS].exhibit_shown
    transcriber = _load_speech(config)
    if transcriber is not None:
        speech = Speech(pod.court, app[HUB], app[ROOMS], app[TRANSCRIPT], transcriber, pod.metrics, config.asr_engine)
        app[ROOMS].speech = speech
        pod.services["speech"] = speech
        pod.metrics.collector(speech.gauges)
    archiver = Archiver(pod.court, pod.blobs) if pod.blobs is not None else None
    if archiver is not None:
        pod.services["archiver"] = archiver
        app.cleanup_ctx.append(_archive_sweep)
    pod.services["recorders"] = Recorders(pod.court, app[ROOMS], archiver)
    pod.metrics.collector(lambda: room_gauges(app[ROOMS]))
    pod.metrics.collector(lambda: latency_gauges(app[ROOMS]))
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_media)
    return app


def _load_speech(config: Config) -> Transcriber | None:
    """Load the recognizer once, before serving: a missing or broken model fails here, with a
    clear message, never in the middle of a hearing."""
    engine = make_engine(config.asr_engine, config.asr_model, config.asr_language)
    if engine is None:
        return None
    return Transcriber(engine)


async def _media(app: web.Application) -> AsyncIterator[None]:
    yield
    # Effects still queued (a close's replay, the last notifications) run out first.
    await app[POD].court.effects.drain(60.0)
    await app[ROOMS].close()
    await app[POD].court.effects.drain(60.0)
    speech = app[POD].services.get("speech")
    if speech is not None:
        speech.transcriber.close()


async def _archive_sweep(app: web.Application) -> AsyncIterator[None]:
    """Copy to the court's bucket whatever an earlier run deposited but did not copy."""
    task = asyncio.get_running_loop().create_task(app[POD].services["archiver"].sweep())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _database(app: web.Application) -> AsyncIterator[None]:
    yield
    app[POD].db.close()


def room_gauges(rooms: RoomManager) -> list[tuple[str, str, dict[str, str], float]]:
    """Per-hearing and per-peer gauges for /metrics, read at scrape time."""
    samples: list[tuple[str, str, dict[str, str], float]] = [
        ("courtroom_live_rooms", "media rooms running", {}, float(len(rooms.rooms)))
    ]
    for hearing_id, room in rooms.rooms.items():
        h = {"hearing": hearing_id}
        c = room.stats_counters
        samples += [
            ("courtroom_frames_encoded", "courtroom pictures encoded", h, c["frames_encoded"]),
            ("courtroom_frames_skipped", "picture ticks dropped because the last one was not done", h, c["frames_skipped"]),
            ("courtroom_encode_ms", "time to encode the last picture", h, c["encode_ms"]),
            ("courtroom_compose_ms", "time to compose the last picture", h, c["compose_ms"]),
            ("courtroom_audio_late_ticks", "audio ticks the loop was late for", h, c["audio_late"]),
            ("courtroom_peers", "participants receiving media", h, float(len(room.downlinks))),
        ]
        for pid, up in room.uplinks.items():
            p = {**h, "participant": pid}
            samples.append(("courtroom_video_frames_in", "camera frames received", p, float(up.video_frames)))
            samples.append(("courtroom_audio_queue", "audio chunks waiting for the mix", p, float(len(up.chunks))))
        for pid, down in room.downlinks.items():
            p = {**h, "participant": pid}
            samples.append(("courtroom_video_packets_sent", "picture packets handed to the sender", p, float(down.video.sent)))
            samples.append(("courtroom_video_packets_dropped", "picture packets dropped for a slow peer", p, float(down.video.dropped)))
            samples.append(("courtroom_video_queue", "picture packets waiting for the sender", p, float(down.video.depth)))
    return samples
