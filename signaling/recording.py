"""The room's recorder: the archive of every hearing, the delayed public stream, the replay.

It is a sink of the media room: the room hands it the same H.264 packets it sends to the
participants (never encoded again) and the full audio mix. Writers run on their own threads
(`recorder.Pump`); nothing here blocks the event loop. The archive parts list lives in the
hearing's `extra`, written before a part starts, so a crash leaves a list that still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import shutil
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import av
import numpy as np

from courtroom.blobs import BlobError
from courtroom.court import Court
from courtroom.disclosure import Disclosure, Viewer, on_air_intervals
from courtroom.hearing import Hearing
from courtroom.ledger import file_digest
from courtroom.procedure import HearingState
from recorder import (
    ArchiveWriter,
    DelayLine,
    DiskSpaceError,
    HlsWriter,
    Pump,
    RecordFile,
    Slate,
    check_free_space,
    next_part_path,
    read_start_hearing_time,
)
from recorder.chapters import chapter_titles, statement_titles
from recorder.hls_subtitles import PublicCaptions, SubtitleRendition
from recorder.slate import slate_lines

from .public_captions import CaptionFollower
from .recording_uploads import PartUploads
from .room import MAIN, MediaRoom

log = logging.getLogger("courtroom.recording")

AUDIO_TB = fractions.Fraction(1, 48000)
RECORDING = (HearingState.IN_SESSION, HearingState.RECESS)


def hearing_dir(court: Court, hearing_id: str) -> Path:
    return court.config.recordings / hearing_id


class HearingRecording:
    """One hearing's record sink (the `RecordSink` of `MediaRoom`)."""

    def __init__(self, court: Court, room: MediaRoom,
                 on_finished: Callable[[Hearing, list[dict[str, Any]]], Awaitable[None]] | None = None,
                 uploads: PartUploads | None = None) -> None:
        self.court = court
        # The court's bucket (a multi-pod court): each part is uploaded as it closes, and the
        # archive rolls to a new part every `archive_part_seconds` so parts land while it runs.
        self.uploads = uploads
        self.room = room
        self.hearing = room.hearing
        self.dir = hearing_dir(court, room.hearing.id)
        self.archive: Pump | None = None
        self.archive_path: Path | None = None
        self.public: Pump | None = None
        # The public picture and sound (screened, disguised) recorded as their own stream:
        # the replay is cut from it, never from the court's archive.
        self.public_archive: Pump | None = None
        self.public_archive_path: Path | None = None
        self._next: dict[str, tuple[Pump, Path]] = {}  # "archive"/"public_archive": the part to roll to
        self._roller: asyncio.Task[None] | None = None
        self._part_closes: set[asyncio.Task[None]] = set()  # rolled-out parts being finalised
        self.public_line: DelayLine | None = None
        self.caption_follower: CaptionFollower | None = None  # captions inside the live stream
        self.closing = False
        self.refused: str | None = None
        self._on_finished = on_finished
        self._lock = asyncio.Lock()  # changes come one after another; never two archives at once
        self._public_view: str | None = None  # the picture the public stream carries now

    # RecordSink
    def video(self, view: str, packets: list[av.Packet]) -> None:
        if self.closing:
            return
        if view == MAIN and self.archive is not None:
            if packets and packets[0].is_keyframe and "archive" in self._next:
                self._roll("archive")  # a part starts on a keyframe: nothing of the picture is lost
            for p in packets:
                self.archive.put_video(p)
        publics = [pump for pump in (self.public, self.public_archive) if pump is not None]
        if publics and view == self.room.public_view():
            # A switch between the main and the screened picture lands on a keyframe of the
            # new picture; nothing of the old one goes out after the switch was asked for.
            if view != self._public_view:
                if not packets or not packets[0].is_keyframe:
                    return
                self._public_view = view
            if packets and packets[0].is_keyframe and "public_archive" in self._next:
                self._roll("public_archive")
                publics = [pump for pump in (self.public, self.public_archive) if pump is not None]
            for pump in publics:
                for p in packets:
                    pump.put_video(p)

    def audio(self, samples: np.ndarray, hearing_time: float, public: np.ndarray | None = None) -> None:
        """The full mix for the archive; `public` (protected voices disguised) for the public
        stream and the public picture's record, from which the replay is cut."""
        if self.closing or (self.archive is None and self.public is None and self.public_archive is None):
            return
        frame = _frame(samples, hearing_time)
        public_frame = frame if public is None else _frame(public, hearing_time)
        if self.archive is not None:
            self.archive.put_audio(frame)
        if self.public is not None:
            self.public.put_audio(public_frame)
        if self.public_archive is not None:
            self.public_archive.put_audio(public_frame)

    async def update(self, hearing: Hearing) -> None:
        async with self._lock:
            await self._update(hearing)

    async def _update(self, hearing: Hearing) -> None:
        self.hearing = hearing
        if self.closing:
            return
        if hearing.state in RECORDING and self.archive is None and self.refused is None:
            await self._start_archive()
        if hearing.broadcastable and hearing.ever_broadcast and self.public is None and hearing.state is not HearingState.CLOSED:
            await self._start_public()
        # The public picture's own record, from which the replay is cut: only once the hearing
        # has been on air (there is nothing to replay before).
        if (hearing.broadcastable and hearing.ever_broadcast and self.public_archive is None
                and self.archive is not None and hearing.state in RECORDING):
            await self._start_public_archive()
        if self.public_line is not None:
            self.public_line.set_on_air(hearing.broadcast and hearing.state is HearingState.IN_SESSION)

    async def _start_archive(self) -> None:
        try:
            self.archive, self.archive_path = await self._new_part("archive")
        except DiskSpaceError as exc:
            self.refused = str(exc)
            log.error("not recording hearing %s: %s", self.hearing.id, exc)
            await self.court.record_event(self.hearing.id, "recording.refused", "system", reason=str(exc))
            return
        self._start_roller()

    async def _start_public_archive(self) -> None:
        self.public_archive, self.public_archive_path = await self._new_part("public_archive")
        self._start_roller()

    async def _new_part(self, which: str) -> tuple[Pump, Path]:
        """A new part of the court's archive or of the public picture's record, listed in the
        hearing before a byte of it is written (a crash leaves a list that holds)."""
        config = self.court.config
        archive = which == "archive"
        folder = self.dir if archive else self.dir / "public"
        list_name = "archive_parts" if archive else "public_parts"
        parts = list(self.hearing.extra.get(list_name, []))
        taken = {Path(str(p.get("path", ""))).name for p in parts if isinstance(p, dict)}

        def prepare() -> Path:
            folder.mkdir(parents=True, exist_ok=True)
            if archive:
                check_free_space(folder, config.disk_floor_bytes)
            return next_part_path(folder, taken)

        path = await asyncio.to_thread(prepare)
        if self.uploads is not None:
            self.uploads.writing.add(path)  # before it is listed: the start-up sweep leaves it alone
        parts.append({"path": str(path), "started_at": self.room.hearing_time()})
        self.hearing = await self.court.update_extra(self.hearing.id, **{list_name: parts})
        metadata = {"case_number": self.hearing.case_number, "hearing_id": self.hearing.id}
        if not archive:
            metadata["picture"] = "public"
        writer = await asyncio.to_thread(
            ArchiveWriter, path, self.room.width, self.room.height, self.room.fps, self.room.extradata(),
            metadata=metadata,
        )
        if archive:
            await self.court.record_event(self.hearing.id, "recording.part", "system", path=path.name, part=len(parts))
        return Pump.for_archive(writer, self.room.fps), path

    # Parts in the bucket: the archive rolls to a new part every `archive_part_seconds`.
    def _start_roller(self) -> None:
        seconds = self.court.config.archive_part_seconds
        if self.uploads is not None and seconds > 0 and (self._roller is None or self._roller.done()):
            self._roller = asyncio.get_running_loop().create_task(self._roll_every(seconds),
                                                                  name=f"archive-roll-{self.hearing.id}")

    async def _roll_every(self, seconds: float) -> None:
        """Prepare the next part every `seconds`; `video` switches to it on the next keyframe."""
        while not self.closing:
            await asyncio.sleep(seconds)
            async with self._lock:
                if self.closing or self.refused is not None:
                    return
                for which in ("archive", "public_archive"):
                    if getattr(self, which) is not None and which not in self._next:
                        try:
                            self._next[which] = await self._new_part(which)
                        except DiskSpaceError:
                            pass  # the current part goes on; the health check tells of the disk
                        except Exception:  # noqa: BLE001 - the current part goes on; try again later
                            log.exception("preparing the next archive part of hearing %s failed", self.hearing.id)

    def _roll(self, which: str) -> None:
        """On the event loop, at a keyframe: the prepared part takes the packets from now on;
        the part before it is finalised off the loop and uploaded."""
        pump, path = self._next.pop(which)
        old, old_path = getattr(self, which), getattr(self, f"{which}_path")
        setattr(self, which, pump)
        setattr(self, f"{which}_path", path)
        if old is not None and old_path is not None:
            task = asyncio.get_running_loop().create_task(self._close_part(old, old_path))
            self._part_closes.add(task)
            task.add_done_callback(self._part_closes.discard)

    async def _close_part(self, pump: Pump, path: Path) -> None:
        try:
            await asyncio.to_thread(pump.close, 30.0)
        except Exception:  # noqa: BLE001 - what was written stays playable, and is uploaded as it is
            log.exception("closing archive part %s failed", path)
        self._part_closed(path)

    def _part_closed(self, path: Path | None) -> None:
        if self.uploads is not None and path is not None:
            self.uploads.writing.discard(path)
            self.uploads.submit(self.hearing.id, path)

    async def _end_parts(self) -> None:
        """Stop rolling; finalise the parts prepared but never started and those rolled out."""
        if self._roller is not None:
            self._roller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._roller
        pending, self._next = list(self._next.values()), {}
        for pump, path in pending:
            await asyncio.to_thread(pump.close, 5.0)  # never received a keyframe: nothing was written
            if self.uploads is not None:
                self.uploads.writing.discard(path)
        if self._part_closes:
            await asyncio.gather(*list(self._part_closes), return_exceptions=True)

    async def suspend(self) -> None:
        """The server is going down mid-hearing: close the parts cleanly (and upload them); a
        restart, here or on another pod, continues into the next part."""
        self.closing = True
        await self._end_parts()
        for which in ("archive", "public", "public_archive"):
            pump = getattr(self, which)
            if pump is not None:
                await asyncio.to_thread(pump.close, 30.0)
                if which != "public":
                    self._part_closed(getattr(self, f"{which}_path"))

    async def _start_public(self) -> None:
        config = self.court.config
        live = self.dir / "live"
        width, height, fps, extradata = self.room.width, self.room.height, self.room.fps, self.room.extradata()

        captions = PublicCaptions()

        def prepare() -> tuple[Slate, HlsWriter]:
            shutil.rmtree(live, ignore_errors=True)  # a restart begins a fresh live stream
            live.mkdir(parents=True, exist_ok=True)
            slate = Slate.create(width, height, fps, slate_lines(config.language))
            subtitles = SubtitleRendition(live, captions, config.picture_bitrate + 64000, width, height)
            return slate, HlsWriter(live, width, height, fps, extradata, segment_seconds=config.hls_segment_seconds,
                                    on_playlist=subtitles.on_playlist)

        slate, writer = await asyncio.to_thread(prepare)
        self.caption_follower = CaptionFollower(self.court, self.hearing.id, captions)
        self.caption_follower.start()
        self.public_line = DelayLine(config.broadcast_delay, fps, slate=slate, on_air=False)
        self.public = Pump(self.public_line, writer, name="recorder-public")

    async def stop_for_disk(self, reason: str) -> bool:
        """Stop recording cleanly (the archive part and the live stream are finalised off the
        loop) and record no more in this hearing: True the first time."""
        async with self._lock:
            if self.refused is not None or self.closing:
                return False
            self.refused = reason
            pumps, self.archive, self.public = (self.archive, self.public), None, None
        await self._end_parts()
        for pump in pumps:
            if pump is not None:
                try:
                    await asyncio.to_thread(pump.close, 30.0)
                except Exception:  # noqa: BLE001 - what was written stays playable; the court is told anyway
                    log.exception("closing a recording for lack of disk failed")
        self._part_closed(self.archive_path)
        return True

    def public_segments(self) -> int:
        """Finished segments of the live stream so far."""
        if self.public is not None and isinstance(self.public.sink, HlsWriter):
            return len(self.public.sink.segments)
        return 0

    def stats(self) -> dict[str, Any]:
        """How far the record and the public stream trail the live picture (seconds)."""
        now = self.room.hearing_time()
        out: dict[str, Any] = {"archive_lag_s": None, "hls_segment_lag_s": None, "refused": self.refused,
                               "archive": self.archive_path.name if self.archive_path else None}
        if self.archive is not None and isinstance(self.archive.sink, ArchiveWriter):
            until = self.archive.sink.written_until
            if until is not None:
                out["archive_lag_s"] = round(max(0.0, now - until), 3)  # until counts the last frame whole
        if self.public is not None and isinstance(self.public.sink, HlsWriter) and self.public.sink.segments:
            last = self.public.sink.segments[-1]
            delay = self.public_line.delay if self.public_line is not None else 0.0
            out["hls_segment_lag_s"] = round(now - delay - (last.start + last.duration), 3)
        return out

    async def finish(self) -> None:
        """At close, in one go: finalise the archive, end the live stream, build the replay,
        deposit. `Recorders` runs the same steps as separate tracked effects instead."""
        files = await self.close_media()
        files = await self.build_replay(files)
        if self._on_finished is not None:
            hearing = await self.court.get_hearing(self.hearing.id)
            await self._on_finished(hearing, files)

    async def close_media(self) -> list[dict[str, Any]]:
        """Finalise the archive and end the live stream; the archive parts become the
        hearing's record files (the replay, if any, is added by `build_replay`)."""
        self.closing = True
        await self._end_parts()
        archive, public, public_archive = self.archive, self.public, self.public_archive
        self.archive = self.public = self.public_archive = None
        for pump, path in ((archive, self.archive_path), (public_archive, self.public_archive_path)):
            if pump is None:
                continue
            try:
                await asyncio.to_thread(pump.close, 30.0)
            except Exception:  # noqa: BLE001 - what was written stays playable; say so and go on
                log.exception("closing an archive failed")
            self._part_closed(path)
        if self.caption_follower is not None:
            await self.caption_follower.stop()
        if public is not None:
            try:
                await asyncio.to_thread(public.close, 30.0)
            except Exception:  # noqa: BLE001
                log.exception("closing the live stream failed")
        hearing = await self.court.get_hearing(self.hearing.id)
        files = await self._describe_parts(hearing)
        if not (hearing.broadcastable and hearing.ever_broadcast and files):
            await self._store_files(hearing, files)  # nothing more to come: the record is complete
        return files

    async def build_replay(self, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The public replay of a broadcast hearing, cut from the archive; then the record files
        (archive parts, replay, captions) are stored with the hearing. A failed replay is
        reported (`replay.failed`) and the archive still becomes the record."""
        hearing = await self.court.get_hearing(self.hearing.id)
        if hearing.broadcastable and hearing.ever_broadcast and files:
            try:
                files = files + await self._build_replay(hearing, files)
            except Exception:  # noqa: BLE001 - the archive is the record; a failed replay is reported
                log.exception("building the replay failed")
                await self.court.record_event(hearing.id, "replay.failed", "system")
            await self._store_files(hearing, files)
        return files

    async def _store_files(self, hearing: Hearing, files: list[dict[str, Any]]) -> None:
        await self.court.update_extra(hearing.id, record_files=[_public_file(f) for f in files])
        await self.court.record_event(hearing.id, "recording.finished", "system", files=len(files))

    async def _describe_parts(self, hearing: Hearing, key: str = "archive_parts") -> list[dict[str, Any]]:
        out = []
        for part in hearing.extra.get(key, []):
            path = await self._local_part(hearing.id, Path(part["path"]))
            if path is None:
                continue
            info = await asyncio.to_thread(describe_archive, path, float(part.get("started_at", 0.0)))
            if info is not None:
                out.append({"kind": "archive", **info})
        return out

    async def _local_part(self, hearing_id: str, path: Path) -> Path | None:
        """A part on this pod's disk; in a multi-pod court, one this pod did not write (or no
        longer keeps) is fetched from the bucket, checked against its digest. A part the
        bucket holds altered is left out and the officers are told: it is never used."""
        if self.uploads is None:
            return path
        try:
            return await self.uploads.local_copy(hearing_id, path, self.dir)
        except (BlobError, OSError) as exc:
            log.error("hearing %s: archive part %s cannot be read from the bucket: %s", hearing_id, path.name, exc)
            await self.court.record_event(hearing_id, "archive.part_refused", "system", name=path.name, reason=str(exc))
            return None

    async def _build_replay(self, hearing: Hearing, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from recorder import Cue, build_chapters, build_replay, write_captions, write_chapters

        events = await self.court.events(hearing.id)
        end = hearing.closed_at or self.court.hearing_time(hearing)
        on_air = on_air_intervals(events, end)
        out = self.dir / "replay"
        await asyncio.to_thread(shutil.rmtree, out, True)  # a replay built again starts clean
        # Cut from the public picture's own record (screened, disguised); a hearing recorded
        # before it existed falls back to the archive.
        public_parts = await self._describe_parts(hearing, "public_parts")
        source = public_parts or parts
        records = [RecordFile(Path(p["path"]), p["sha256"], p["size"], p["duration"], p["start_hearing_time"]) for p in source]
        replay = await asyncio.to_thread(build_replay, records, on_air, out)
        segments = await self._transcript(hearing)
        cues = [Cue(s["start"], s["end"], s["label"], s["text"]) for s in segments]
        await asyncio.to_thread(write_captions, out, cues, replay.time_map)
        chapter_names = chapter_titles(self.court.config.language)
        titles = [(e.hearing_time, title) for e in events if (title := chapter_names.get(e.kind))]
        titles += statement_chapters(segments, self.court.config.language)
        chapters = build_chapters(titles, replay.time_map, replay.duration)
        await asyncio.to_thread(write_chapters, out, chapters)
        # The same segments as the captions: every one that overlaps what the replay shows.
        transcript = [
            {**s, "replay_start": replay.time_map.to_output_next(s["start"])}
            for s in segments
            if any(p.hearing_start < s["end"] and s["start"] < p.hearing_end for p in replay.time_map.pieces)
        ]
        await asyncio.to_thread((out / "transcript.json").write_text, _json(transcript), "utf-8")
        files = []
        for name, kind in (("replay.mp4", "replay"), ("captions.vtt", "captions")):
            path = out / name
            sha, size = await asyncio.to_thread(file_digest, path)
            files.append({"kind": kind, "path": str(path), "sha256": sha, "size": size})
        return files

    async def _transcript(self, hearing: Hearing) -> list[dict[str, Any]]:
        """The corrected record as the public replay shows it: roles, never names (a protected
        participant's name must not reach the public, and the public needs roles only)."""
        from courtroom.transcript import TranscriptService

        # The public at the close, with nothing left in the delay: the disclosure rule keeps
        # only what was on air and not dumped, with roles for names.
        end = hearing.closed_at if hearing.closed_at is not None else self.court.hearing_time(hearing)
        rule = Disclosure(hearing, [], await self.court.events(hearing.id), end, 0.0)
        return rule.segments(Viewer.public(), await TranscriptService(self.court).segments(hearing.id))


def statement_chapters(segments: Iterable[dict[str, Any]], language: str = "zh") -> list[tuple[float, str]]:
    """A chapter where each side's first words are on the record (titles: recorder.chapters)."""
    names = statement_titles(language)
    first: dict[str, float] = {}
    for s in segments:
        if s["role"] in names and s["role"] not in first:
            first[s["role"]] = s["start"]
    return [(t, names[role]) for role, t in first.items()]


def describe_archive(path: Path, started_at: float) -> dict[str, Any] | None:
    """A finished or crash-cut archive part: its hash, size, duration and place on the clock."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    sha, size = file_digest(path)
    start = read_start_hearing_time(path)
    duration = 0.0
    try:
        with av.open(str(path)) as container:
            if container.duration:
                duration = container.duration / 1_000_000
    except av.error.FFmpegError:
        log.warning("archive part %s does not open", path)
    return {
        "path": str(path),
        "sha256": sha,
        "size": size,
        "duration": duration,
        "start_hearing_time": start if start is not None else started_at,
    }


def _frame(samples: np.ndarray, hearing_time: float) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 48000
    frame.pts = int(round(hearing_time * 48000))
    frame.time_base = AUDIO_TB
    return frame


def _public_file(f: dict[str, Any]) -> dict[str, Any]:
    return {k: f[k] for k in ("kind", "path", "sha256", "size") if k in f} | (
        {"duration": f["duration"], "start_hearing_time": f["start_hearing_time"]} if "duration" in f else {}
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=1)
