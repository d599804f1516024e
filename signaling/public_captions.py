"""Keeps a live public stream's captions current (recorder/hls_subtitles.py writes them into
the stream): every second, the hearing's final lines, roles only, on-air stretches only."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from courtroom.court import Court
from courtroom.record import role_title
from recorder.hls_subtitles import PublicCaptions, public_captions

log = logging.getLogger("courtroom.public_captions")

REFRESH_SECONDS = 1.0


async def public_lines(court: Court, hearing_id: str) -> list[tuple[float, float, str, str]]:
    """(start, end, role label, text) of the record so far, and the on-air stretches."""
    from courtroom.transcript import TranscriptService

    segments = await TranscriptService(court).segments(hearing_id)
    return [(s.start, s.end, role_title(s.role), s.text) for s in segments]


class CaptionFollower:
    def __init__(self, court: Court, hearing_id: str, captions: PublicCaptions) -> None:
        self.court = court
        self.hearing_id = hearing_id
        self.captions = captions
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"captions-{self.hearing_id}")

    async def refresh(self) -> None:
        from .recording import on_air_intervals

        hearing = await self.court.get_hearing(self.hearing_id)
        now = self.court.hearing_time(hearing)
        on_air = on_air_intervals(await self.court.events(self.hearing_id), now)
        self.captions.replace(public_captions(await public_lines(self.court, self.hearing_id), on_air))

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - captions are best effort; the stream goes on
                log.exception("refreshing the public captions of %s failed", self.hearing_id)
            await asyncio.sleep(REFRESH_SECONDS)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
