"""Identity at join: the identity the clerk registered, the check-ins, and the officers' verdict.

The clerk registers who a participant should be (name, ID type, the ID number's last four
characters: never more is stored, listed or logged). At join the participant checks in: a
snapshot from the live camera and, optionally, the ID document's photo page. A face check
(`face_check.py`) helps; the clerk or judge decides (`verify_identity`). The verdict, a
re-check request and a new device are events, so the status is derived from the event log
(it survives a restart and is on the record). The images live under DATA/identity, for the
court only (in a court of pods also in its bucket, `identity/<hearing>/<sha256>`), and are
deleted after the retention period (`identity.images_deleted`).

The rows are kept by the store (`courtroom/storage/identities.py`: `court.store.identities`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .events import Event
from .participants import Participant
from .roles import Role

# The kinds of identity document the clerk may register, with their Chinese names.
ID_TYPES: dict[str, str] = {
    "resident_id": "居民身份证",
    "passport": "护照",
    "hk_macau_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
    "foreign_permanent_residence": "外国人永久居留身份证",
    "other": "其他证件",
}

# Roles whose identity is checked by default before admission (config identity_required_roles).
DEFAULT_REQUIRED_ROLES: tuple[str, ...] = ("plaintiff", "defendant", "agent", "witness")

# Event kinds. The verdict and the re-check request are procedure actions (participant.*).
CHECK_IN = "identity.check_in"
REFUSED = "identity.check_in_refused"
DEVICE = "identity.device"
DELETED = "identity.images_deleted"
ALTERED = "identity.picture_altered"  # a picture in the court's bucket no longer has its digest
VERIFY = "participant.verify_identity"
RECHECK = "participant.recheck_identity"

_LAST4 = re.compile(r"[0-9A-Za-z]{4}")


class IdentityInputError(ValueError):
    pass


@dataclass(frozen=True)
class Registered:
    """Who the clerk says the participant is. `id_last4` is all that is kept of the number."""

    name: str
    id_type: str
    id_last4: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "id_type": self.id_type, "id_type_zh": ID_TYPES.get(self.id_type, ""),
                "id_last4": self.id_last4}


def _text(value: object, what: str, max_len: int) -> str:
    if not isinstance(value, str):
        raise IdentityInputError(f"identity.{what} must be a string")
    text = unicodedata.normalize("NFC", value.strip())
    if not text or len(text) > max_len:
        raise IdentityInputError(f"identity.{what} must be 1 to {max_len} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in text):
        raise IdentityInputError(f"identity.{what} contains control characters")
    return text


def parse_registered(value: object, default_name: str) -> Registered | None:
    """The `identity` object of an added participant: `{"name"?, "id_type", "id_last4"}`, or
    `id_number` instead of `id_last4`, of which only the last four characters are kept (the
    rest is dropped here, before anything is stored or logged)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise IdentityInputError("identity must be an object with id_type and id_last4")
    unknown = set(value) - {"name", "id_type", "id_last4", "id_number"}
    if unknown:
        raise IdentityInputError(f"identity has unknown fields: {', '.join(sorted(unknown))}")
    name = _text(value.get("name", default_name), "name", 100)
    id_type = value.get("id_type")
    if id_type not in ID_TYPES:
        raise IdentityInputError(f"identity.id_type must be one of: {', '.join(ID_TYPES)}")
    raw = value.get("id_last4", value.get("id_number"))
    if not isinstance(raw, str):
        raise IdentityInputError("identity needs id_last4 (the ID number's last four characters)")
    digits = "".join(raw.split())
    last4 = digits[-4:]
    if not _LAST4.fullmatch(last4) or not digits.isascii() or not digits.isalnum():
        raise IdentityInputError("identity.id_last4 must be four letters or digits")
    return Registered(name, str(id_type), last4.upper())


@dataclass
class IdentityCheck:
    """One check-in: the images' hashes (the files are DATA/identity/<hearing>/<sha256>)."""

    id: str
    hearing_id: str
    participant_id: str
    snapshot_sha256: str
    snapshot_size: int
    document_sha256: str | None = None
    document_size: int | None = None
    device: str = ""  # a hash of the browser's device id
    result: dict[str, Any] = field(default_factory=dict)  # the face check, for the officers
    created_at: float = 0.0
    deleted_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["images_deleted"] = self.deleted_at is not None
        return data


def _checked(hearing_id: str, sha256: str) -> None:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", hearing_id):
        raise ValueError("not an identity image")


def image_path(data_dir: Path, hearing_id: str, sha256: str) -> Path:
    _checked(hearing_id, sha256)
    return data_dir / "identity" / hearing_id / sha256


# In a court of pods each picture is also kept in the court's bucket, under a prefix of its own
# (never `ledger/`: a picture is personal data under retention, not a court file).
BUCKET_PREFIX = "identity/"


def bucket_key(hearing_id: str, sha256: str) -> str:
    _checked(hearing_id, sha256)
    return f"{BUCKET_PREFIX}{hearing_id}/{sha256}"


def parse_bucket_key(key: str) -> tuple[str, str] | None:
    """(hearing, sha256) of a picture's bucket key; None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != BUCKET_PREFIX:
        return None
    try:
        _checked(parts[1], parts[2])
    except ValueError:
        return None
    return parts[1], parts[2]


# -- the officers' verdict --------------------------------------------------------------------


def verdict(data: dict[str, Any]) -> dict[str, Any]:
    """The event data of `verify_identity`: `verified` (true/false), a `reason` when not."""
    verified = data.get("verified")
    if not isinstance(verified, bool):
        raise IdentityInputError("verify_identity needs verified: true or false")
    reason = data.get("reason", "")
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or len(reason) > 500 or any(
        unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in reason
    ):
        raise IdentityInputError("reason must be text of at most 500 characters, without control characters")
    reason = unicodedata.normalize("NFC", reason.strip())
    if not verified and not reason:
        raise IdentityInputError("say why the identity is not verified (reason)")
    return {"verified": verified, "reason": reason}


# -- the status, derived from the events ------------------------------------------------------


@dataclass
class IdentityStatus:
    participant_id: str
    required: bool
    registered: Registered | None
    check: IdentityCheck | None  # the latest check-in
    checks: int
    state: str  # not_checked_in | checked_in | verified | not_verified | recheck_requested
    verified_by: str | None = None
    verified_at: float | None = None
    verified_hearing_time: float | None = None
    reason: str = ""
    new_device: bool = False  # a device not seen before joined since the last verdict
    problem: str = ""  # the last refused check-in's message

    @property
    def verified(self) -> bool:
        return self.state == "verified"

    def to_dict(self) -> dict[str, Any]:
        return {
            "participant": self.participant_id,
            "required": self.required,
            "registered": self.registered.to_dict() if self.registered else None,
            "check": self.check.to_dict() if self.check else None,
            "checks": self.checks,
            "state": self.state,
            "verified_by": self.verified_by,
            "verified_at": self.verified_at,
            "reason": self.reason,
            "new_device": self.new_device,
            "problem": self.problem,
        }

    def own_dict(self) -> dict[str, Any]:
        """What the participant itself is told: no scores, no images, no registered number."""
        return {"required": self.required, "state": self.state, "checked_in": self.check is not None,
                "recheck": self.state == "recheck_requested", "problem": self.problem}


def required_for(role: Role, roles: Sequence[str]) -> bool:
    return role.value in roles


def status_of(
    p: Participant, registered: Registered | None, checks: Sequence[IdentityCheck], events: Sequence[Event],
    required_roles: Sequence[str],
) -> IdentityStatus:
    """One participant's identity status from its check-ins and the hearing's events."""
    mine = [c for c in checks if c.participant_id == p.id]
    latest = mine[-1] if mine else None
    state = "checked_in" if latest else "not_checked_in"
    # Checked where the clerk registered who should appear, for the roles the court names.
    required = registered is not None and required_for(p.role, required_roles)
    status = IdentityStatus(p.id, required, registered, latest, len(mine), state)
    for e in events:
        if e.subject != p.id:
            continue
        if e.kind == VERIFY:
            ok = bool(e.data.get("verified"))
            status.state = "verified" if ok else "not_verified"
            status.verified_by, status.verified_at = e.actor, e.wall_time
            status.verified_hearing_time = e.hearing_time
            status.reason = str(e.data.get("reason", ""))
            status.new_device = False
            status.problem = ""
        elif e.kind == RECHECK:
            status.state = "recheck_requested"
            status.verified_by = status.verified_at = status.verified_hearing_time = None
            status.reason = ""
        elif e.kind == CHECK_IN and status.state in ("not_checked_in", "recheck_requested"):
            status.state = "checked_in"
            status.problem = ""
        elif e.kind == CHECK_IN:
            status.problem = ""
        elif e.kind == REFUSED:
            status.problem = str(e.data.get("message", ""))
        elif e.kind == DEVICE and e.data.get("new"):
            status.new_device = True
    return status
