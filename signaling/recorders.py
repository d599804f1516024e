"""Wires a recorder to every media room, and hands the finished record files to the ledger."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from courtroom.court import Court
from courtroom.hearing import Hearing
from courtroom.ledger import Ledger
from courtroom.procedure import HearingState

from .archiver import Archiver
from .recording import HearingRecording
from .recording_health import RecordingHealth
from .recording_uploads import PartUploads
from .room import MediaRoom
from .rooms import RoomManager

log = logging.getLogger("courtroom.recorders")


class Recorders:
    def __init__(self, court: Court, rooms: RoomManager, archiver: Archiver | None = None,
                 health: RecordingHealth | None = None, uploads: PartUploads | None = None) -> None:
        self.court = court
        self.archiver = archiver
        self.uploads = uploads  # a multi-pod court: archive parts go to the bucket as they close
        self.ledger = Ledger(court.store, court.config.data_dir)
        self.recordings: dict[str, HearingRecording] = {}
        self.health = health
        rooms.on_start.append(self._started)
        rooms.on_update.append(self._updated)
        rooms.on_stop.append(self._stopped)
        court.broadcast_cutters.append(self._cut)

    def _cut(self, hearing_id: str, from_time: float) -> float | None:
        """The off-air press reaches the public stream's delay line at once (see Court._cut)."""
        recording = self.recordings.get(hearing_id)
        if recording is None or recording.public_line is None:
            return None
        return recording.public_line.cut(from_time)

    async def _started(self, room: MediaRoom) -> None:
        recording = HearingRecording(self.court, room, self._deposit, self.uploads)
        self.recordings[room.hearing.id] = recording
        room.sinks.append(recording)
        await recording.update(room.hearing)

    async def _updated(self, room: MediaRoom) -> None:
        recording = self.recordings.get(room.hearing.id)
        if recording is not None:
            await recording.update(room.hearing)

    async def _stopped(self, room: MediaRoom) -> None:
        recording = self.recordings.pop(room.hearing.id, None)
        if recording is None:
            return
        if self.health is not None:
            await self.health.check(room.hearing.id, recording)  # what was lost since the last check is told too
            self.health.forget(room.hearing.id)
        if room.hearing.state is HearingState.CLOSED:
            # Three tracked effects of the close, after the answer: each records done or
            # failed, and a failed one does not skip the next (the deposit takes whatever
            # files exist).
            hid = room.hearing.id
            effects = self.court.effects
            files: list[dict[str, Any]] = []

            async def close_media() -> None:
                files[:] = await recording.close_media()

            async def build_replay() -> None:
                files[:] = await recording.build_replay(files)

            async def deposit() -> None:
                hearing = await self.court.get_hearing(hid)
                await self._deposit(hearing, hearing.extra.get("record_files", []))

            effects.submit(hid, "recording.stop", close_media, report=True)
            effects.submit(hid, "replay.build", build_replay, report=True)
            effects.submit(hid, "ledger.deposit", deposit, report=True)
        else:
            # The server is going down mid-hearing: close the part cleanly (and upload it); a
            # restart continues into the next part.
            await recording.suspend()

    async def _deposit(self, hearing: Hearing, files: list[dict[str, Any]]) -> None:
        """Every record file is deposited; then the hearing's event log and Merkle root."""
        for f in files:
            await self.court.db.run(
                self.ledger.deposit, f["kind"], hearing.id, Path(f["path"]).name, f["sha256"], f["size"]
            )
        await self.court.db.run(self.ledger.seal, hearing.id)
        if self.archiver is not None:
            await self.archiver.publish_replay(hearing.id)
            await self.archiver.mirror_hearing(hearing.id)
