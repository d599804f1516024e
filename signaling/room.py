"""The media room of one hearing: decode each uplink once, mix, compose, encode once, fan out.

Two clocks drive it. Every 20 ms the audio tick takes one chunk from each speaker, mixes a
mix-minus for every participant and the full mix for the record, and feeds the speech
recognizers. At the picture rate the video tick composes the courtroom picture from each
camera's latest frame and encodes it, in the room's own thread, once per view: the main
picture, and (only while someone is protected) the screened picture. The same packets go to
every participant's sender, the archive and the public stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from courtroom.config import court_tz
from courtroom.disclosure import MAIN, SCREENED, Disclosure, Viewer
from courtroom.hearing import Hearing
from courtroom.participants import Participant, publishes, receives_hearing
from courtroom.procedure import HearingState
from courtroom.roles import Permission, may

from .cadence import CameraCadence
from .compositor import Compositor, Scene
from .disguise import VoiceDisguise, swap_voices
from .encoder import PictureEncoder
from .latency import HoldTimes
from .mixer import ActiveSpeaker, AudioMixer
from .picture_layout import seats_of
from .receiver import AudioReceive, ReceivePath, VideoReceive
from .tracks import AUDIO_CHUNK, AUDIO_RATE, MixAudioTrack, PacketVideoTrack

log = logging.getLogger("courtroom.room")

JITTER_CHUNKS = 6  # at most 120 ms of audio waits per speaker; older chunks are dropped
KEYFRAME_INTERVAL = 1.0  # at most one forced keyframe per second per hearing
VIDEO_TIME_BASE = 90000


async def ticks(period: float, skip_after: float) -> AsyncIterator[int]:
    """Yield every `period` seconds on the loop's clock, without drift. After a stall longer
    than `skip_after` it skips ahead instead of bursting to catch up (yields 1: a late tick)."""
    loop = asyncio.get_running_loop()
    next_tick = loop.time()
    while True:
        next_tick += period
        delay = next_tick - loop.time()
        late = 0
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -skip_after:
            next_tick = loop.time()
            late = 1
        yield late


class SpeechStream(Protocol):
    def push(self, chunk: np.ndarray, hearing_time: float) -> None: ...
    def reset(self) -> None: ...
    def close(self) -> object: ...  # may return a future of the last result; the room does not wait


class SpeechSink(Protocol):
    """The speech pipeline as the room sees it: one stream per speaker."""

    def open_speaker(self, participant: Participant) -> SpeechStream: ...


class RecordSink(Protocol):
    """The recorder as the room sees it; both calls return at once (it has its own thread)."""

    def video(self, view: str, packets: list[av.Packet]) -> None: ...
    # `public`: the same mix with every protected voice disguised (None: nobody is protected)
    def audio(self, samples: np.ndarray, hearing_time: float, public: np.ndarray | None = None) -> None: ...


@dataclass
class Uplink:
    """What one participant sends: audio chunks waiting for the tick, the latest picture."""

    participant_id: str
    chunks: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=JITTER_CHUNKS))
    latest_frame: av.VideoFrame | None = None
    video_frames: int = 0
    audio_frames: int = 0
    chunks_dropped: int = 0
    speech: SpeechStream | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    audio_path: AudioReceive | None = None  # our receive path: the audio tick pulls from it
    video_path: VideoReceive | None = None
    latest_arrival: float | None = None  # when the last packet of latest_frame arrived
    latest_at: float = 0.0  # monotonic time latest_frame was decoded


@dataclass
class Downlink:
    """What one participant receives: the picture's packets and its own mix-minus."""

    participant_id: str
    video: PacketVideoTrack
    audio: MixAudioTrack
    view: str = MAIN


class MediaRoom:
    def __init__(
        self,
        hearing: Hearing,
        people: Iterable[Participant],
        *,
        width: int,
        height: int,
        fps: int,
        bitrate: int,
        preset: str,
        hearing_time: Callable[[], float],
        speech: SpeechSink | None = None,
        tz: tzinfo | None = None,
        language: str = "zh",
    ) -> None:
        self.hearing = hearing
        self.tz = tz or court_tz("Asia/Shanghai")
        self.people: dict[str, Participant] = {p.id: p for p in people}
        self.width, self.height, self.fps = width, height, fps
        self.hearing_time = hearing_time
        self.speech = speech
        self.sinks: list[RecordSink] = []
        self.exhibit: np.ndarray | None = None
        self.show_exhibit_area = False
        self.uplinks: dict[str, Uplink] = {}
        self.downlinks: dict[str, Downlink] = {}
        self.mixer = AudioMixer()
        self.disguise = VoiceDisguise()
        self._disguised_for: dict[str, frozenset[str]] = {}  # listener -> whose voice it gets disguised
        self._public_disguised: frozenset[str] = frozenset()
        self._rule = Disclosure(hearing, list(self.people.values()))
        self._apply_rule()
        self.active = ActiveSpeaker()
        self.active_speaker: str | None = None
        self.on_speaker: Callable[[str | None], None] | None = None  # told when the marker moves
        self._compositor = Compositor(width, height, language=language)
        self._encoders = {
            view: PictureEncoder(width, height, fps, bitrate=bitrate, preset=preset) for view in (MAIN, SCREENED)
        }
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"room-{hearing.id}")
        self._render: asyncio.Task[None] | None = None
        self._force: set[str] = set()
        self._last_forced = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._rates_at = time.monotonic()
        self._rate_marks: dict[str, int] = {}
        self.rates: dict[str, float] = {}  # per second, refreshed every second by the picture tick
        self.cadence = CameraCadence(fps)
        self.video_hold = HoldTimes()
        self.audio_hold = HoldTimes()
        self._composed: dict[str, int] = {}  # camera frames already shown, per uplink
        self.stats_counters: dict[str, float] = {
            "frames_encoded": 0, "frames_skipped": 0, "encode_ms": 0.0, "compose_ms": 0.0,
            "audio_ticks": 0, "audio_late": 0, "keyframes_forced": 0,
        }

    # lifecycle
    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._audio_loop()), asyncio.create_task(self._video_loop())]

    async def stop(self) -> None:
        readers = [task for up in self.uplinks.values() for task in up.tasks]
        for task in self._tasks + readers:
            task.cancel()
        for up in self.uplinks.values():
            if up.speech is not None:
                up.speech.close()
        for down in self.downlinks.values():
            down.video.stop()
            down.audio.stop()
        if self._render is not None:
            await asyncio.gather(self._render, return_exceptions=True)
        await asyncio.gather(*self._tasks, *readers, return_exceptions=True)
        self._thread.shutdown(wait=False)

    # state from the court
    def update(self, hearing: Hearing, people: Iterable[Participant]) -> None:
        was_in_session = self.hearing.state is HearingState.IN_SESSION
        self.hearing = hearing
        self.people = {p.id: p for p in people}
        self._rule = Disclosure(hearing, list(self.people.values()))
        self._apply_rule()
        for pid, up in self.uplinks.items():
            p = self.people.get(pid)
            silenced = p is None or p.silenced or not publishes(p, hearing.state)
            if up.speech is not None and (silenced or (was_in_session and hearing.state is not HearingState.IN_SESSION)):
                up.speech.reset()  # an utterance ends where the mute or the recess begins
        for down in self.downlinks.values():
            view = self._view_for(down.participant_id)
            if view != down.view:
                down.view = view
                down.video.waiting_for_keyframe = True
                self.request_keyframe()

    # uplinks
    def attach(self, participant_id: str, track: MediaStreamTrack, path: ReceivePath | None = None) -> None:
        """`path`: our receive path for the track (receiver.take_over), when it has one."""
        up = self.uplinks.get(participant_id)
        if up is None:
            up = self.uplinks[participant_id] = Uplink(participant_id)
        up.tasks = [t for t in up.tasks if not t.done()]  # readers of tracks that ended
        p = self.people.get(participant_id)
        if track.kind == "audio":
            if up.speech is None and self.speech is not None and p is not None and may(p.role, Permission.SPEAK):
                up.speech = self.speech.open_speaker(p)
            if isinstance(path, AudioReceive):
                up.audio_path = path
                up.tasks.append(asyncio.create_task(self._watch_audio(up, track, path)))
            else:
                up.tasks.append(asyncio.create_task(self._read_audio(up, track)))
        elif track.kind == "video":
            if isinstance(path, VideoReceive):
                up.video_path = path
            up.tasks.append(asyncio.create_task(self._read_video(up, track)))

    def detach(self, participant_id: str) -> None:
        up = self.uplinks.pop(participant_id, None)
        if up is None:
            return
        for task in up.tasks:
            task.cancel()
        if up.speech is not None:
            up.speech.close()

    async def _read_audio(self, up: Uplink, track: MediaStreamTrack) -> None:
        # Resampling 20 ms is a few microseconds of C: cheaper here than a thread hop.
        resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE)
        pending = np.zeros(0, dtype=np.int16)
        try:
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)
                up.audio_frames += 1
                for out in resampler.resample(frame):
                    pending = np.concatenate([pending, out.to_ndarray().reshape(-1)])
                while len(pending) >= AUDIO_CHUNK:
                    if len(up.chunks) == up.chunks.maxlen:
                        up.chunks_dropped += 1
                    up.chunks.append(pending[:AUDIO_CHUNK])
                    pending = pending[AUDIO_CHUNK:]
        except MediaStreamError:
            pass

    async def _watch_audio(self, up: Uplink, track: MediaStreamTrack, path: AudioReceive) -> None:
        """The audio tick pulls from the receive path; aiortc's track only tells when it ends."""
        try:
            while True:
                await track.recv()
        except MediaStreamError:
            pass
        finally:
            if up.audio_path is path:
                up.audio_path = None
            path.close()

    async def _read_video(self, up: Uplink, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.VideoFrame)
                now = time.monotonic()
                up.latest_frame = frame  # only the newest counts: older frames are dropped
                up.latest_at = now
                arrival = up.video_path.arrival_of(frame.pts) if up.video_path is not None else None
                up.latest_arrival = arrival if arrival is not None else now
                up.video_frames += 1
                self.cadence.frame_arrived()
        except MediaStreamError:
            pass
        up.latest_frame = None

    # downlinks
    def add_downlink(self, participant_id: str) -> Downlink:
        old = self.downlinks.pop(participant_id, None)
        if old is not None:
            old.video.stop()
            old.audio.stop()
        down = Downlink(participant_id, PacketVideoTrack(self.request_keyframe), MixAudioTrack(), self._view_for(participant_id))
        down.video.on_sent = self.video_hold.since
        down.audio.on_sent = self.audio_hold.since
        self.downlinks[participant_id] = down
        self.request_keyframe()
        return down

    def remove_downlink(self, participant_id: str, down: Downlink | None = None) -> None:
        current = self.downlinks.get(participant_id)
        if current is None or (down is not None and current is not down):
            return
        del self.downlinks[participant_id]
        current.video.stop()
        current.audio.stop()

    def request_keyframe(self) -> None:
        """A new viewer or a picture-loss report: the next picture of each view is a keyframe."""
        self._force.update((MAIN, SCREENED))

    # views: the disclosure rule decides who sees the screened picture and hears a disguise
    def _protected(self) -> list[Participant]:
        return self._rule.protected()

    def _apply_rule(self) -> None:
        rule = self._rule
        self._disguised_for = {pid: rule.disguised(Viewer.of(p)) for pid, p in self.people.items()}
        self._public_disguised = rule.disguised(Viewer.public())

    def _view_for(self, participant_id: str) -> str:
        p = self.people.get(participant_id)
        return self._rule.picture(Viewer.of(p)) if p is not None else MAIN

    def public_view(self) -> str:
        return self._rule.picture(Viewer.public())

    # the audio tick
    async def _audio_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = AUDIO_CHUNK / AUDIO_RATE
        last = loop.time()
        async for late in ticks(period, skip_after=0.2):
            self.stats_counters["audio_late"] += late
            now = loop.time()
            catching_up = now - last < period / 2  # back to back after a stall of the loop
            last = now
            try:
                self._audio_tick(catching_up)
            except Exception:  # noqa: BLE001 - one bad tick must not end the hearing's sound
                log.exception("audio tick failed")

    def _audio_tick(self, catching_up: bool = False) -> None:
        state = self.hearing.state
        now = self.hearing_time() - AUDIO_CHUNK / AUDIO_RATE
        chunks: dict[str, np.ndarray | None] = {}
        silenced: set[str] = set()
        born: list[float] = []
        for pid, up in self.uplinks.items():
            if up.audio_path is not None:
                pulled = up.audio_path.pull(catching_up)  # decodes (or conceals) 20 ms: tens of microseconds
                chunk = pulled.samples
                if pulled.arrival is not None:
                    born.append(pulled.arrival)
                    up.audio_frames += 1
            else:
                chunk = up.chunks.popleft() if up.chunks else None
                if len(up.chunks) > JITTER_CHUNKS // 2:
                    up.chunks.popleft()  # the speaker's clock runs ahead: keep latency bounded
                    up.chunks_dropped += 1
            chunks[pid] = chunk
            p = self.people.get(pid)
            if p is None or p.silenced or not publishes(p, state):
                silenced.add(pid)
        for pid in self.downlinks:
            chunks.setdefault(pid, None)
        in_session = state is HearingState.IN_SESSION
        result = self.mixer.mix(chunks, silenced, record=in_session)
        speaker = self.active.update(result.levels)
        if speaker != self.active_speaker:
            self.active_speaker = speaker
            if self.on_speaker is not None:
                self.on_speaker(speaker)
        voiced = {pid: c for pid, c in chunks.items() if pid not in silenced}
        disguised = self.disguise.disguise(voiced, self._public_disguised) if self._public_disguised else {}
        for pid, down in self.downlinks.items():
            p = self.people.get(pid)
            if p is not None and receives_hearing(p, state):
                who = self._disguised_for.get(pid)
                mix = result.minus[pid]
                down.audio.push(swap_voices(mix, voiced, disguised, who) if who else mix, (min(born),) if born else ())
        # The record's sinks get every tick (silence when not in session) so that the
        # archive and the public stream have continuous audio; only the session is mixed in.
        # The archive keeps the real voices; the public hears the protected ones disguised.
        public = swap_voices(result.full, voiced, disguised, self._public_disguised) if disguised and in_session else None
        for sink in self.sinks:
            sink.audio(result.full, now, public)
        if in_session:
            for pid, up in self.uplinks.items():
                chunk = chunks.get(pid)
                if up.speech is not None and pid not in silenced and chunk is not None:
                    up.speech.push(chunk, now)
        self.stats_counters["audio_ticks"] += 1

    # the video tick
    async def _video_loop(self) -> None:
        while True:
            await self.cadence.next_picture(self._cameras_ready)
            self._update_rates()
            if self._render is not None and not self._render.done():
                # The last picture is still being made: drop this one, never pile up.
                self.stats_counters["frames_skipped"] += 1
                continue
            self._render = asyncio.create_task(self._render_and_send())

    def _update_rates(self) -> None:
        """Frames per second in (per camera) and out (per participant), over the last second."""
        now = time.monotonic()
        elapsed = now - self._rates_at
        if elapsed < 1.0:
            return
        counts = {f"in:{pid}": up.video_frames for pid, up in self.uplinks.items()}
        counts |= {f"out:{pid}": d.video.sent for pid, d in self.downlinks.items()}
        counts["encoded"] = int(self.stats_counters["frames_encoded"])
        self.rates = {k: round((v - self._rate_marks.get(k, v)) / elapsed, 2) for k, v in counts.items()}
        self._rate_marks = counts
        self._rates_at = now

    def _cameras_ready(self) -> bool | None:
        """Has every camera in view delivered a frame not yet shown? None: no camera to follow."""
        recent = time.monotonic() - 2.0 / self.fps  # a camera that paused is not waited for
        seated = self._seated()
        cameras = [
            (pid, up) for pid, up in self.uplinks.items()
            if up.latest_frame is not None and up.latest_at >= recent and pid in seated
        ]
        if not cameras:
            return None
        return all(up.video_frames > self._composed.get(pid, 0) for pid, up in cameras)

    def _seated(self) -> set[str]:
        """Whose cameras are in the picture: the seats the picture is composed of."""
        return {seat.participant_id for seat in seats_of(self.people.values(), self.hearing.state)}

    def _fresh_arrivals(self) -> tuple[float, ...]:
        """When the camera frames about to be shown for the first time arrived; marks them shown."""
        out: list[float] = []
        seated = self._seated()
        for pid, up in self.uplinks.items():
            if up.latest_frame is None or pid not in seated:
                continue
            if up.video_frames > self._composed.get(pid, 0) and up.latest_arrival is not None:
                out.append(up.latest_arrival)
            self._composed[pid] = up.video_frames
        return tuple(out)

    def receive_stats(self, up: Uplink) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if up.audio_path is not None:
            out["audio"] = up.audio_path.stats()
        if up.video_path is not None:
            out["video"] = up.video_path.stats()
        return out

    def _views_needed(self) -> set[str]:
        views = {d.view for d in self.downlinks.values() if self._receives(d.participant_id)}
        # With no media peer at all nothing is composed or encoded, not even for the record: the
        # picture would be empty seats. The first peer back asks for a keyframe (add_downlink).
        if self.sinks and (self.downlinks or self.uplinks):
            views.add(MAIN)
            views.add(self.public_view())
        return views

    def _receives(self, participant_id: str) -> bool:
        p = self.people.get(participant_id)
        return p is not None and receives_hearing(p, self.hearing.state)

    def _scene(self, view: str, hearing_time: float) -> Scene:
        seats = seats_of(self.people.values(), self.hearing.state, self.hearing)  # the seats the state describes
        frames: dict[str, av.VideoFrame | None] = {}
        for seat in seats:
            up = self.uplinks.get(seat.participant_id)
            frames[seat.participant_id] = up.latest_frame if up is not None else None
        protected = [p.id for p in self._protected()] if view == SCREENED else []
        return Scene(
            seats=seats,
            frames=frames,
            active_speaker=self.active_speaker,
            state=self.hearing.state.value,
            case_number=self.hearing.case_number,
            title=self.hearing.title,
            hearing_time=hearing_time,
            date_text=datetime.now(self.tz).strftime("%Y-%m-%d"),  # the court's one clock
            exhibit=self.exhibit,
            show_exhibit_area=self.show_exhibit_area,
            protected=protected,
        )

    async def _render_and_send(self) -> None:
        views = self._views_needed()
        if not views:
            return
        hearing_time = self.hearing_time()
        pts = int(hearing_time * VIDEO_TIME_BASE)
        force: set[str] = set()
        if self._force and time.monotonic() - self._last_forced >= KEYFRAME_INTERVAL:
            force = self._force & views
            self._force -= force
            if force:
                self._last_forced = time.monotonic()
                self.stats_counters["keyframes_forced"] += 1
        born = self._fresh_arrivals()
        scenes = {view: self._scene(view, hearing_time) for view in views}
        loop = asyncio.get_running_loop()
        try:
            packets = await loop.run_in_executor(self._thread, self._make_pictures, scenes, pts, force)
        except Exception:  # noqa: BLE001
            log.exception("rendering the courtroom picture failed")
            return
        for view, view_packets in packets.items():
            for down in self.downlinks.values():
                if down.view == view and self._receives(down.participant_id):
                    for i, packet in enumerate(view_packets):
                        down.video.push(packet, born if i == 0 else ())
            for sink in self.sinks:
                sink.video(view, view_packets)

    def _make_pictures(self, scenes: dict[str, Scene], pts: int, force: set[str]) -> dict[str, list[av.Packet]]:
        """Runs in the room's thread: compose and encode each view once."""
        out: dict[str, list[av.Packet]] = {}
        for view, scene in scenes.items():
            t0 = time.perf_counter()
            frame = self._compositor.compose(scene)
            t1 = time.perf_counter()
            out[view] = self._encoders[view].encode(frame, pts, force_keyframe=view in force)
            t2 = time.perf_counter()
            self.stats_counters["compose_ms"] = (t1 - t0) * 1000
            self.stats_counters["encode_ms"] = (t2 - t1) * 1000
            self.stats_counters["frames_encoded"] += 1
        return out

    def extradata(self) -> bytes:
        """SPS/PPS of the main picture (empty before its first keyframe), for muxers."""
        return self._encoders[MAIN].extradata()

    def latency_stats(self) -> dict[str, Any]:
        """The server's own share of the delay (see latency.py) and how pictures were timed."""
        return {
            "video_hold_ms": self.video_hold.summary(),
            "audio_hold_ms": self.audio_hold.summary(),
            "pictures_on_cameras": self.cadence.early,
            "pictures_on_deadline": self.cadence.on_deadline,
        }

    def stats(self) -> dict[str, Any]:
        return {
            "latency": self.latency_stats(),
            "hearing_id": self.hearing.id,
            "state": self.hearing.state.value,
            "active_speaker": self.active_speaker,
            "fps_encoded": self.rates.get("encoded", 0.0),
            **{k: round(v, 3) for k, v in self.stats_counters.items()},
            "uplinks": {
                pid: {
                    "video_frames_in": up.video_frames,
                    "fps_in": self.rates.get(f"in:{pid}", 0.0),
                    "audio_frames_in": up.audio_frames,
                    "audio_chunks_dropped": up.chunks_dropped,
                    "audio_queue": len(up.chunks),
                    "receive": self.receive_stats(up),
                }
                for pid, up in self.uplinks.items()
            },
            "downlinks": {
                pid: {
                    "view": d.view,
                    "video_packets_sent": d.video.sent,
                    "fps_out": self.rates.get(f"out:{pid}", 0.0),
                    "video_packets_dropped": d.video.dropped,
                    "video_queue": d.video.depth,
                    "audio_dropped": d.audio.dropped,
                    "audio_queue": d.audio.depth,
                }
                for pid, d in self.downlinks.items()
            },
        }
