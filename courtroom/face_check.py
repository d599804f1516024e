"""The face check at check-in: an aid to the officers, never a verdict.

dlib's HOG face detector says whether the snapshot shows exactly one face, frontal and large
enough; with an ID image, dlib's ResNet face recognition model (the 128-d descriptors of the
`face-recognition-models` package, LFW accuracy 99.38 %) gives the distance between the two
faces. dlib is a well-kept, offline, CPU-only library with wheels on PyPI (`dlib-bin`); the
model files ship in a PyPI package, so nothing is ever downloaded from a model hub.

The models are loaded once, on one worker thread that also runs every check (dlib objects
are not shared across threads), and the number of checks waiting is bounded: past it the
check says "busy" and the officers verify by hand, as they do when the model failed to load.
"""

from __future__ import annotations

import asyncio
import io
import logging
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger("courtroom.face_check")

# dlib's own threshold for its model: two faces nearer than 0.6 are the same person
# (the model card: 99.38 % on LFW at this distance).
MATCH_DISTANCE = 0.6
DETECTION_SCORE = 0.5  # HOG detections scoring lower are noise (a shadow, a patch on a suit)
MIN_FACE_FRACTION = 0.12  # the snapshot's face is at least this share of the picture's shorter side
MIN_FACE_PIXELS = 80  # ... and this many pixels wide
MAX_SIDE = 1024  # larger pictures are scaled down before detection (time grows with the area)
MAX_PIXELS = 40_000_000  # a bigger picture is refused unopened (decompression bombs)
MAX_WAITING = 4
_FRONTAL = {0, 3, 4}  # dlib's HOG detector: 0 front, 1/2 profiles left/right, 3/4 front turned


class NotAnImage(ValueError):
    pass


class ImageTooLarge(ValueError):
    pass


@dataclass
class Face:
    left: int
    top: int
    width: int
    height: int
    score: float
    frontal: bool


@dataclass
class FaceCheck:
    """What the officers see beside the images. `ok` means "nothing to remark", not "verified"."""

    available: bool
    ok: bool = False
    faces: int = 0
    reasons: list[str] = field(default_factory=list)  # codes: no_face, several_faces, not_frontal, face_too_small, ...
    message: str = ""  # for people: what to do (shown to the participant too)
    document_faces: int | None = None
    distance: float | None = None  # face descriptor distance snapshot ↔ ID image (lower is closer)
    match: bool | None = None  # distance < MATCH_DISTANCE
    threshold: float = MATCH_DISTANCE
    seconds: float = 0.0  # time the check took on the worker thread
    model: str = "dlib HOG detector + dlib_face_recognition_resnet_model_v1"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode(data: bytes) -> np.ndarray:
    """An RGB array of an image file's bytes; NotAnImage / ImageTooLarge otherwise."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
            if w * h > MAX_PIXELS:
                raise ImageTooLarge(f"the picture is {w}x{h}: at most {MAX_PIXELS // 1_000_000} megapixels")
            if probe.format not in ("JPEG", "PNG", "WEBP"):
                raise NotAnImage("send a JPEG, PNG or WebP picture")
            probe.load()
            image = ImageOps.exif_transpose(probe).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, ImageTooLarge | NotAnImage):
            raise
        raise NotAnImage("this is not a picture that can be opened (JPEG, PNG or WebP)") from None
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.ascontiguousarray(np.asarray(image))


class FaceModel:
    """The loaded dlib models (call only on the FaceChecker's thread)."""

    def __init__(self, model_dir: Path | None) -> None:
        import dlib  # imported here: a broken install makes the check "not available", not the pod

        if model_dir is None:
            import face_recognition_models as models

            predictor = Path(models.pose_predictor_five_point_model_location())
            recognizer = Path(models.face_recognition_model_location())
        else:
            predictor = model_dir / "shape_predictor_5_face_landmarks.dat"
            recognizer = model_dir / "dlib_face_recognition_resnet_model_v1.dat"
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(predictor))
        self.recognizer = dlib.face_recognition_model_v1(str(recognizer))
        self._rect = dlib.rectangle

    def faces(self, image: np.ndarray, upsample: int = 1) -> list[Face]:
        # Upsampled once, faces down to about 40 pixels are found (a second person far behind);
        # without, from about 80 pixels, four times faster.
        rects, scores, kinds = self.detector.run(image, upsample, 0.0)
        return [
            Face(r.left(), r.top(), r.width(), r.height(), round(float(s), 3), int(k) in _FRONTAL)
            for r, s, k in zip(rects, scores, kinds, strict=True)
            if s >= DETECTION_SCORE
        ]

    def descriptor(self, image: np.ndarray, face: Face) -> np.ndarray:
        rect = self._rect(face.left, face.top, face.left + face.width, face.top + face.height)
        shape = self.predictor(image, rect)
        return np.asarray(self.recognizer.compute_face_descriptor(image, shape, 1))


def check_images(model: FaceModel, snapshot: np.ndarray, document: np.ndarray | None) -> FaceCheck:
    """The check itself (synchronous): detection on the snapshot, a match with the ID image."""
    started = time.perf_counter()
    result = FaceCheck(available=True)
    faces = model.faces(snapshot)
    result.faces = len(faces)
    if not faces:
        result.reasons.append("no_face")
    elif len(faces) > 1:
        result.reasons.append("several_faces")
    else:
        face = faces[0]
        if not face.frontal:
            result.reasons.append("not_frontal")
        short = min(snapshot.shape[0], snapshot.shape[1])
        if face.width < MIN_FACE_PIXELS or face.width < MIN_FACE_FRACTION * short:
            result.reasons.append("face_too_small")
    if document is not None:
        # An ID photo page is searched as it is first; only when no face shows, at twice the size.
        doc_faces = model.faces(document, 0) or model.faces(document, 1)
        result.document_faces = len(doc_faces)
        if not doc_faces:
            result.reasons.append("no_face_on_document")
        elif len(faces) == 1:
            # The largest face of the ID image: a photo page may carry a small ghost image too.
            doc_face = max(doc_faces, key=lambda f: f.width)
            distance = float(np.linalg.norm(model.descriptor(snapshot, faces[0]) - model.descriptor(document, doc_face)))
            result.distance = round(distance, 4)
            result.match = distance < MATCH_DISTANCE
            if not result.match:
                result.reasons.append("faces_differ")
    result.ok = not result.reasons
    result.message = message_for(result.reasons)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


_MESSAGES = {
    "no_face": "No face was found in the picture: face the camera in good light.",
    "several_faces": "More than one face is in the picture: only you should be in front of the camera.",
    "not_frontal": "Look straight at the camera.",
    "face_too_small": "Your face is too small in the picture: come closer to the camera.",
    "no_face_on_document": "No face was found on the ID document's picture: show its photo page.",
    "faces_differ": "The face does not look like the ID document's photo; the court will check by hand.",
}


def message_for(reasons: list[str]) -> str:
    return " ".join(_MESSAGES[r] for r in reasons if r in _MESSAGES)


def unavailable(why: str) -> FaceCheck:
    return FaceCheck(available=False, message=f"The automatic face check is not available ({why}); the court checks by hand.",
                     reasons=["not_available"])


class FaceChecker:
    """The model, loaded once on its own thread; checks run there, a bounded number waiting."""

    def __init__(self, model_dir: Path | None = None, enabled: bool = True) -> None:
        self.model_dir = model_dir
        self.enabled = enabled
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="face")
        self._model: FaceModel | None = None
        self.error = "" if enabled else "switched off in the configuration"
        self.load_seconds = 0.0
        self.memory_bytes = 0  # the process's peak RSS growth while loading the model
        self._waiting = 0

    @property
    def available(self) -> bool:
        return self._model is not None

    def _load(self) -> None:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        try:
            self._model = FaceModel(self.model_dir)
        except Exception as e:  # noqa: BLE001 - any failure means "not available", never a crash
            log.warning("the face check is not available: %s", e)
            self.error = f"the face model did not load: {type(e).__name__}"
            return
        self.load_seconds = time.perf_counter() - started
        self.memory_bytes = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
        log.info("face model loaded in %.2f s", self.load_seconds)

    async def load(self) -> None:
        if self.enabled and self._model is None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    async def check(self, snapshot: np.ndarray, document: np.ndarray | None) -> FaceCheck:
        if self._model is None:
            return unavailable(self.error or "the face model is not loaded")
        if self._waiting >= MAX_WAITING:
            return unavailable("too many check-ins at once")
        self._waiting += 1
        try:
            model = self._model
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, check_images, model, snapshot, document
            )
        except Exception as e:  # noqa: BLE001 - the aid failed; the officers still decide
            log.exception("the face check failed")
            return unavailable(f"the check failed: {type(e).__name__}")
        finally:
            self._waiting -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
