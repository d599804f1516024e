"""The media rooms of the live hearings: started when a hearing opens, stopped when it closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from courtroom.court import Change, Court
from courtroom.hearing import Hearing
from courtroom.leases import HeldElsewhere, Leases
from courtroom.participants import Participant
from courtroom.postgres import DatabaseUnavailable
from courtroom.procedure import LIVE

from .hub import Hub
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
        self.hub: Hub | None = None  # told when the picture's layout changes outside a state change
        config = court.config
        self.leases = Leases(court.store, config.pod_name, config.lease_seconds)
        self._renewer: asyncio.Task[None] | None = None
        court.add_listener(self._on_change)

    def exhibit_shown(self, hearing_id: str) -> bool:
        room = self.rooms.get(hearing_id)
        return room is not None and (room.show_exhibit_area or room.exhibit is not None)

    async def room_for(self, hearing: Hearing, people: list[Participant]) -> MediaRoom | None:
        """The hearing's room, started on demand while the hearing is live. Raises
        HeldElsewhere while another pod of the court holds the hearing."""
        if hearing.state not in LIVE:
            return None
        room = self.rooms.get(hearing.id)
        if room is None:
            await self._claim(hearing.id)
            room = self.rooms.get(hearing.id)  # another caller may have started it meanwhile
        if room is None:
            if self._renewer is None or self._renewer.done():
                self._renewer = asyncio.get_running_loop().create_task(self._renew_leases())
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
                tz=config.tz,
                language=config.language,
            )
            self.rooms[hearing.id] = room
            if self.hub is not None:
                hub = self.hub
                room.on_speaker = lambda pid, room=room: hub.speaker(room.hearing, pid)
            room.start()
            for hook in self.on_start:
                await hook(room)
            if self.hub is not None and room.show_exhibit_area:
                await self.hub.refresh(hearing.id)  # an exhibit shown again after a restart: a new layout
        return room

    async def _on_change(self, change: Change) -> None:
        hearing = change.hearing
        room = self.rooms.get(hearing.id)
        if room is not None:
            if change.action in ("start", "recess", "resume", "broadcast_on", "broadcast_off", "protect", "unprotect"):
                room.request_keyframe()  # the replay and the live stream cut cleanly here
            room.update(hearing, change.participants)
            for hook in self.on_update:
                await hook(room)
            if hearing.state not in LIVE:
                await self.stop(hearing.id)
        elif hearing.state in LIVE and change.action in ("open", "start", "resume"):
            try:
                await self.room_for(hearing, change.participants)
            except HeldElsewhere as exc:  # the holder's room follows the change from the store
                log.info("hearing %s: %s", hearing.id, exc)

    async def _claim(self, hearing_id: str) -> None:
        """Claim the hearing's lease. A lease about to expire (its pod died) is waited for, so
        that a participant who reconnects after a pod failure simply gets a slower answer."""
        deadline = time.monotonic() + self.court.config.lease_seconds + 1.0
        while True:
            try:
                await self.court.db.run(self.leases.claim, hearing_id)
                return
            except HeldElsewhere as exc:
                wait = exc.lease.expires - time.time() + 0.05
                if time.monotonic() + wait > deadline:
                    raise
                await asyncio.sleep(max(0.05, wait))

    async def _renew_leases(self) -> None:
        """Renew every running room's lease a few times per lease period. A lease lost to
        another pod (this one stalled past the expiry) stops the room here: never two rooms."""
        interval = max(0.5, self.court.config.lease_seconds / 3)
        while self.rooms:
            await asyncio.sleep(interval)
            for hearing_id in list(self.rooms):
                try:
                    await self.court.db.run(self.leases.claim, hearing_id)
                except HeldElsewhere as exc:
                    log.warning("hearing %s moved to another pod (%s): stopping its room here", hearing_id, exc)
                    await self.stop(hearing_id, release=False)
                except DatabaseUnavailable as exc:  # an outage: keep the media, try again
                    log.warning("renewing the lease of hearing %s: %s", hearing_id, exc)
                except Exception:  # noqa: BLE001 - keep the media, try again
                    log.exception("renewing the lease of hearing %s failed", hearing_id)

    async def stop(self, hearing_id: str, release: bool = True) -> None:
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
        if release:
            try:
                await self.court.db.run(self.leases.release, hearing_id)
            except Exception:  # noqa: BLE001 - it expires on its own
                log.exception("releasing the lease of hearing %s failed", hearing_id)

    async def close(self) -> None:
        for hearing_id in list(self.rooms):
            await self.stop(hearing_id)
        await self.trim.close()
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
