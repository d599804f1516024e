"""One participant's WebRTC peer: an aiortc RTCPeerConnection wired to the media room.

aiortc has no ICE restart: when a connection fails, the participant reconnects into a fresh
peer with the same token. Renegotiation (a track added or dropped) is a new offer on the
same peer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.sdp import SessionDescription, candidate_from_sdp

from courtroom.config import Config
from courtroom.participants import Participant
from courtroom.roles import Permission, may

from .receiver import ask_for_opus_fec, take_over_track
from .room import Downlink, MediaRoom
from .sdp import SdpError, announce_address, check_offer
from .validation import EdgeError, check_candidate

log = logging.getLogger("courtroom.peer")


def rtc_configuration(config: Config) -> RTCConfiguration:
    # Always pass the configured list: with none, aiortc would add a public STUN server.
    servers = [RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in config.ice_servers]
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def _opus_only() -> list[Any]:
    # Our audio receive path (receiver.AudioReceive) decodes Opus itself, with concealment.
    return [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType.lower() == "audio/opus"]


def _h264_only() -> list[Any]:
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in codecs if c.mimeType.lower() in ("video/h264", "video/rtx")]


class PeerSession:
    def __init__(
        self,
        participant: Participant,
        room: MediaRoom,
        config: Config,
        on_failed: Callable[[], Awaitable[None]],
    ) -> None:
        self.participant = participant
        self.room = room
        self.config = config
        self._on_failed = on_failed
        self.pc: RTCPeerConnection | None = None
        self.downlink: Downlink | None = None
        self._lock = asyncio.Lock()

    async def handle_offer(self, sdp: object) -> str:
        offer = check_offer(sdp)
        async with self._lock:
            if self.pc is None:
                self.pc = self._new_pc()
            pc = self.pc
            try:
                self._prepare_transceivers(pc, offer)
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            except Exception as exc:  # aiortc raises ValueError, KeyError, ... on bad SDP
                if pc.remoteDescription is None:
                    await self._reset()
                raise SdpError(f"the offer could not be used: {exc}") from None
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            text = ask_for_opus_fec(pc.localDescription.sdp)
            if self.config.public_ip:
                text = announce_address(text, self.config.public_ip)
            return text

    async def add_candidate(self, message: dict[str, Any]) -> None:
        try:
            checked = check_candidate(message)  # the grammar, at the edge
        except EdgeError as exc:
            raise SdpError(exc.message) from None
        if checked is None:
            return  # end of candidates
        if self.pc is None or self.pc.remoteDescription is None:
            raise SdpError("send the offer before its candidates")
        try:
            parsed = candidate_from_sdp(checked.text)
            parsed.sdpMid = checked.sdp_mid
            parsed.sdpMLineIndex = checked.sdp_mline_index
            await self.pc.addIceCandidate(parsed)
        except (ValueError, IndexError, AssertionError) as exc:
            raise SdpError(f"bad candidate: {exc}") from None

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(rtc_configuration(self.config))
        publishes = may(self.participant.role, Permission.SPEAK)
        self.downlink = self.room.add_downlink(self.participant.id)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if publishes:
                # Before any packet flows: our receive path replaces aiortc's jitter buffers.
                self.room.attach(self.participant.id, track, take_over_track(pc, track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "failed" and pc is self.pc:
                await self._on_failed()

        return pc

    def _prepare_transceivers(self, pc: RTCPeerConnection, offer: str) -> None:
        """Our sending transceivers exist before the offer is applied, so that the H.264-only
        preference shapes the negotiation (our packets are H.264, nothing else). Each is made
        only once the offer has a section of its kind: aiortc cannot answer with a
        transceiver the offer does not mention."""
        assert self.downlink is not None
        kinds = [m.kind for m in SessionDescription.parse(offer).media]
        have = {t.kind for t in pc.getTransceivers()}
        # An observer only watches: it is sent the hearing, nothing of its own is taken.
        direction = "sendrecv" if may(self.participant.role, Permission.SPEAK) else "sendonly"
        for kind in ("audio", "video"):
            if kind not in kinds or kind in have:
                continue
            if kind == "audio":
                pc.addTransceiver(self.downlink.audio, direction=direction).setCodecPreferences(_opus_only())
                continue
            video = pc.addTransceiver(self.downlink.video, direction=direction)
            video.setCodecPreferences(_h264_only())
            sender = video.sender
            original = sender._send_keyframe

            def on_picture_loss(original: Any = original) -> None:
                # Our packets are pre-encoded: the sender's own flag does nothing, the room must act.
                original()
                self.room.request_keyframe()

            sender._send_keyframe = on_picture_loss  # type: ignore[method-assign]

    async def _reset(self) -> None:
        pc, self.pc = self.pc, None
        if self.downlink is not None:
            self.room.remove_downlink(self.participant.id, self.downlink)
            self.downlink = None
        if pc is not None:
            await pc.close()

    async def close(self) -> None:
        async with self._lock:
            await self._reset()
        self.room.detach(self.participant.id)
