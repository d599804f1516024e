"""The media rooms of the live hearings: started when a hearing opens, stopped when it closes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from courtroom.court import Change, Court
from courtroom.hearing import Hearing
from courtroom.participants import Participant
from courtroom.procedure import LIVE

from .memory import MemoryTrim
from .room import MediaRoom, SpeechSink

log = logging.getLogger("courtroom.rooms")

RoomHook = Callable[[MediaRoom], Awaitable[None]]


class RoomManager:
    def __init__(self, court: Court, speech: SpeechSink | None = None) -> None:
        self.court = court
        self.speech = speech
        self.rooms: dict[str, MediaRoom] = {}
        self.on_start: list[RoomHook] = []  # the recorder attaches here
        self.on_update: list[RoomHook] = []  # after each change of the hearing
        self.on_stop: list[RoomHook] = []
        self.trim = MemoryTrim()  # a hearing's freed memory goes back to the system
        court.add_listener(self._on_change)

    async def room_for(self, hearing: Hearing, people: list[Participant]) -> MediaRoom | None:
        """The hearing's room, started on demand while the hearing is live."""
        if hearing.state not in LIVE:
            return None
        room = self.rooms.get(hearing.id)
        if room is None:
            config = self.court.config
            clock = self.court.clock(hearing)
            room = MediaRoom(
                hearing,
                people,
                width=config.video_width,
                height=config.video_height,
                fps=config.fps,
                bitrate=config.picture_bitrate,
                preset=config.encoder_preset,
                hearing_time=clock.now if clock else (lambda: 0.0),
                speech=self.speech,
            )
            self.rooms[hearing.id] = room
            room.start()
            for hook in self.on_start:
                await hook(room)
        return room

    async def _on_change(self, change: Change) -> None:
        hearing = change.hearing
        room = self.rooms.get(hearing.id)
        if room is not None:
            if change.action in ("start", "recess", "resume", "broadcast_on", "broadcast_off"):
                room.request_keyframe()  # the replay and the live stream cut cleanly here
            room.update(hearing, change.participants)
            for hook in self.on_update:
                await hook(room)
            if hearing.state not in LIVE:
                await self.stop(hearing.id)
        elif hearing.state in LIVE and change.action in ("open", "start", "resume"):
            await self.room_for(hearing, change.participants)

    async def stop(self, hearing_id: str) -> None:
        room = self.rooms.pop(hearing_id, None)
        if room is None:
            return
        for hook in self.on_stop:
            try:
                await hook(room)
            except Exception:  # noqa: BLE001 - the room must stop even if a hook fails
                log.exception("a room stop hook failed")
        await room.stop()
        self.trim.schedule()

    async def close(self) -> None:
        for hearing_id in list(self.rooms):
            await self.stop(hearing_id)
        await self.trim.close()
