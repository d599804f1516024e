"""What a file is, from its first bytes: never from its name or the client's Content-Type.

Only the kinds a court accepts as evidence are recognised: PDF, PNG, JPEG, and short audio
or video (WAV, MP3, MP4/M4A, WebM/Matroska, Ogg). Anything else, an executable renamed
`.pdf` included, is `None`.
"""

from __future__ import annotations

HEAD_BYTES = 4096  # how much of the start of a file `sniff` looks at

# The kinds that can be shown in the courtroom picture's exhibit area.
PRESENTABLE = frozenset({"application/pdf", "image/png", "image/jpeg"})

EXTENSIONS: dict[str, str] = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "audio/ogg": ".ogg",
    "video/ogg": ".ogv",
}

# ISO-BMFF brands that are still pictures or other things, not audio/video evidence.
_NOT_AV_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis", b"crx ", b"jp2 "})
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})


def sniff(head: bytes) -> str | None:
    """The media type of a file that starts with `head` (give it `HEAD_BYTES`), or None."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: the DocType element (0x4282) says webm or matroska.
        header = head[:64]
        if b"\x42\x82" in header and b"webm" in header:
            return "video/webm"
        if b"\x42\x82" in header and b"matroska" in header:
            return "video/x-matroska"
        return None
    if head.startswith(b"OggS"):
        return "video/ogg" if b"\x80theora" in head[:512] else "audio/ogg"
    if head.startswith(b"ID3") and len(head) >= 10:
        return "audio/mpeg"
    if _mp3_frame(head):
        return "audio/mpeg"
    return None


def _iso_bmff(head: bytes) -> str | None:
    """MP4 family: the major brand says audio (M4A) or video; HEIF/AVIF pictures are refused."""
    if int.from_bytes(head[:4], "big") < 16:
        return None
    brand = head[8:12]
    if brand == b"qt  " or brand in _NOT_AV_BRANDS:
        return None
    if brand in _AUDIO_BRANDS:
        return "audio/mp4"
    return "video/mp4"


_MP3_BITRATES_V1_L3 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


def _mp3_frame(head: bytes) -> bool:
    """An MPEG audio layer III frame header, and the next frame where the first says it is."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False

    def valid(h: bytes) -> bool:
        version = (h[1] >> 3) & 0b11  # 01 is reserved
        layer = (h[1] >> 1) & 0b11  # 01 is layer III
        bitrate = h[2] >> 4
        rate = (h[2] >> 2) & 0b11
        return version != 0b01 and layer == 0b01 and bitrate not in (0, 0b1111) and rate != 0b11

    if not valid(head):
        return False
    version = (head[1] >> 3) & 0b11
    if version == 0b11:  # MPEG-1: check the following frame, as players do
        bitrate = _MP3_BITRATES_V1_L3[head[2] >> 4] * 1000
        sample_rate = (44100, 48000, 32000)[(head[2] >> 2) & 0b11]
        length = 144 * bitrate // sample_rate + ((head[2] >> 1) & 1)
        if len(head) >= length + 4:
            nxt = head[length : length + 4]
            return nxt[0] == 0xFF and nxt[1] & 0xE0 == 0xE0 and valid(nxt)
    return True
