"""The app factory: one aiohttp application per pod, background work in cleanup contexts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from asr.pipeline import Transcriber
from asr.plan import load_plan, plan_speech
from asr.record_pass import RecordReader
from courtroom.config import Config
from courtroom.transcript import TranscriptService

from .archiver import Archiver
from .errors import error_middleware
from .evidence_api import EVIDENCE
from .hub import Hub
from .ice import restrict_host_addresses
from .identity_api import IDENTITY
from .latency import latency_gauges
from .network import NetworkMonitor
from .pod import HUB, POD, ROOMS, Pod
from .recorders import Recorders
from .recording_health import RecordingHealth
from .recording_uploads import PartUploads
from .rooms import RoomManager
from .routes import setup_routes
from .speech import Speech
from .transcript_api import TRANSCRIPT
from .validation import EDGE_CONFIG, quiet_parser_errors
from .ws import tell_officers


def create_app(config: Config) -> web.Application:
    pod = Pod.open(config)
    quiet_parser_errors()
    if config.ice_addresses:
        restrict_host_addresses(config.ice_addresses)
    # Uploads are streamed to disk with their own limit; this bounds everything else.
    app = web.Application(middlewares=[error_middleware], client_max_size=config.evidence_max_bytes + (1 << 20))
    app[POD] = pod
    app[EDGE_CONFIG] = config  # read by the edge (body timeouts)
    setup_routes(app)
    app[HUB] = Hub(pod.court)
    pod.court.outbox.listeners.append(lambda status: tell_officers(app[HUB], status))  # database outages
    app[TRANSCRIPT] = TranscriptService(pod.court, pod.config.tz)
    app[ROOMS] = RoomManager(pod.court)
    app[ROOMS].hub = app[HUB]
    app[HUB].exhibit_shown = app[ROOMS].exhibit_shown
    app[HUB].held_at_door = app[IDENTITY].held_at_door  # the controls follow the admission check
    transcriber = _load_speech(config)
    if transcriber is not None:
        speech = Speech(pod.court, app[HUB], app[ROOMS], app[TRANSCRIPT], transcriber, pod.metrics,
                        transcriber.engine.name, config)
        app[ROOMS].speech = speech
        speech.exhibit_labels = _exhibit_labels(app)
        pod.services["speech"] = speech
        pod.metrics.collector(speech.gauges)
    archiver = Archiver(pod.court, pod.blobs) if pod.blobs is not None else None
    if archiver is not None:
        pod.services["archiver"] = archiver
        app.cleanup_ctx.append(_archive_sweep)
    health = RecordingHealth(pod.court, pod.metrics, app[HUB].to_officers, config.health_interval)
    uploads = None
    if pod.blobs is not None:
        uploads = PartUploads(pod.court, pod.blobs, keep_local=config.keep_local_parts)
        pod.services["uploads"] = uploads
    pod.services["recorders"] = Recorders(pod.court, app[ROOMS], archiver, health, uploads)
    pod.metrics.collector(lambda: room_gauges(app[ROOMS]))
    network = NetworkMonitor(app[HUB])
    pod.services["network"] = network
    pod.metrics.collector(network.gauges)
    app.cleanup_ctx.append(_network)
    pod.metrics.collector(lambda: latency_gauges(app[ROOMS]))
    pod.metrics.collector(lambda: held_gauges(app))
    pod.metrics.collector(pod.court.outbox.gauges)
    app.cleanup_ctx.append(_database)
    if uploads is not None:
        app.cleanup_ctx.append(_part_uploads)  # drained after the rooms close, before the database
    app.cleanup_ctx.append(_media)
    app.cleanup_ctx.append(_recording_health)
    return app


async def _recording_health(app: web.Application) -> AsyncIterator[None]:
    """The periodic check of every running recording (drops, writer errors, free disk)."""
    recorders: Recorders = app[POD].services["recorders"]
    assert recorders.health is not None
    task = asyncio.create_task(recorders.health.run(recorders.recordings), name="recording-health")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _exhibit_labels(app: web.Application) -> Callable[[str], Awaitable[list[str]]]:
    async def labels(hearing_id: str) -> list[str]:
        service = app.get(EVIDENCE)
        if service is None:
            return []
        exhibits = await app[POD].db.run(service.store.list, hearing_id)
        return [e.label for e in exhibits]

    return labels


def _load_speech(config: Config) -> Transcriber | None:
    """Load the recognizer once, before serving: a missing or broken model fails here, with a
    clear message, never in the middle of a hearing."""
    plan = plan_speech(config.asr_language or config.language, config.asr_engine, config.asr_model,
                       config.record_engine, config.record_model)
    if plan is None:
        return None
    live, record = load_plan(plan)
    reader = RecordReader(record, max_turns=config.record_backlog) if record is not None else None
    return Transcriber(live, record=reader, recycle_seconds=config.asr_recycle_seconds)


async def _media(app: web.Application) -> AsyncIterator[None]:
    yield
    # Effects still queued (a close's replay, the last notifications) run out first.
    await app[POD].court.effects.drain(60.0)
    await app[ROOMS].close()
    await app[POD].court.effects.drain(60.0)
    speech = app[POD].services.get("speech")
    if speech is not None:
        # Bounded: the last turns' readings are stored, and no decoding thread is cut off
        # by the process exiting (CTranslate2 aborts then).
        await asyncio.to_thread(speech.transcriber.close, 5.0)
        await speech.readings_done(1.0)
    await app[POD].court.outbox.drain(10.0)  # the pod's own writes still waiting (an outage at shutdown)


async def _network(app: web.Application) -> AsyncIterator[None]:
    monitor: NetworkMonitor = app[POD].services["network"]
    monitor.start()
    yield
    await monitor.stop()


async def _archive_sweep(app: web.Application) -> AsyncIterator[None]:
    """Copy to the court's bucket whatever an earlier run deposited but did not copy."""
    task = asyncio.get_running_loop().create_task(app[POD].services["archiver"].sweep())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _part_uploads(app: web.Application) -> AsyncIterator[None]:
    """The archive parts' uploads: started with a sweep of what a crash left behind, and given
    a bounded time at shutdown for the parts the rooms' closing handed over."""
    uploads: PartUploads = app[POD].services["uploads"]
    uploads.start()
    sweep = asyncio.get_running_loop().create_task(uploads.sweep(), name="part-uploads-sweep")
    yield
    sweep.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweep
    await uploads.stop(30.0)


async def _database(app: web.Application) -> AsyncIterator[None]:
    yield
    app[POD].db.close()


def held_gauges(app: web.Application) -> list[tuple[str, str, dict[str, str], float]]:
    """What the per-hearing tables hold: each returns to zero when no hearing is live."""
    pod: Pod = app[POD]
    held = dict(pod.court.held())
    held["hub_sessions"] = len(app[HUB].sessions)
    held["rooms"] = len(app[ROOMS].rooms)
    recorders = pod.services.get("recorders")
    if recorders is not None:
        held["recordings"] = len(recorders.recordings)
        if recorders.health is not None:
            held["recording_health"] = len(recorders.health.free) + len(recorders.health._seen)
    speech = pod.services.get("speech")
    if speech is not None:
        held.update(speech.held())
    evidence = app.get(EVIDENCE)
    if evidence is not None:
        held["evidence_presenting"] = len(evidence.presenting)
        held["evidence_locks"] = len(evidence.locks)
    return [("courtroom_held_entries", "entries of per-hearing tables", {"table": k}, float(v)) for k, v in held.items()]


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
