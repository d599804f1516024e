"""Keeps a live public stream's captions current (recorder/hls_subtitles.py writes them into
the stream): every second, what the disclosure rule lets the public read (final lines, on air,
out of the delay, roles only)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from courtroom.court import Court
from recorder.hls_subtitles import PublicCaption, PublicCaptions

log = logging.getLogger("courtroom.public_captions")

REFRESH_SECONDS = 1.0


class CaptionFollower:
    def __init__(self, court: Court, hearing_id: str, captions: PublicCaptions) -> None:
        self.court = court
        self.hearing_id = hearing_id
        self.captions = captions
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"captions-{self.hearing_id}")

    async def refresh(self) -> None:
        from courtroom.disclosure import Viewer
        from courtroom.transcript import TranscriptService

        from .disclose import disclosure_for

        # The disclosure rule decides, as for /live/captions.json: on air, out of the delay,
        # roles never names.
        rule = await disclosure_for(self.court, self.hearing_id)
        lines = rule.segments(Viewer.public(), await TranscriptService(self.court).segments(self.hearing_id))
        self.captions.replace([PublicCaption(float(m["start"]), float(m["end"]), m["label"], m["text"]) for m in lines])

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
