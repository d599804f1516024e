"""The face check with real faces and dlib's real model: same person across crops, scales and
JPEG re-encodes; different people apart; a cat has no face; bad pictures refused clearly."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from courtroom.face_check import (
    MATCH_DISTANCE,
    FaceChecker,
    FaceModel,
    ImageTooLarge,
    NotAnImage,
    check_images,
    decode,
)
from tests import face_images as fi


@pytest.fixture(scope="module")
def checker() -> Iterator[FaceChecker]:
    """The pod's checker, its model loaded once for the module (on its own thread)."""
    checker = FaceChecker(None)
    asyncio.run(checker.load())
    yield checker
    checker.close()


@pytest.fixture(scope="module")
def model(checker: FaceChecker) -> FaceModel:
    assert checker._model is not None, checker.error
    return checker._model


def _descriptor(model: FaceModel, image: np.ndarray) -> np.ndarray:
    faces = model.faces(image)
    assert len(faces) == 1, faces
    return model.descriptor(image, faces[0])


def test_the_same_person_matches_across_crops_scales_and_reencodes(model: FaceModel) -> None:
    for original, head in ((fi.astronaut(), fi.ASTRONAUT_HEAD), (fi.grace_hopper(), fi.GRACE_HEAD)):
        base = _descriptor(model, original)
        left, top, right, bottom = head
        variants = [
            np.ascontiguousarray(original[max(0, top - 20):bottom + 60, max(0, left - 30):right + 30]),  # a crop
            fi.scaled(original, 0.6),
            fi.scaled(original, 1.25),
            fi.reencoded(original, 35),
            fi.reencoded(fi.scaled(original, 0.75), 50),
        ]
        for variant in variants:
            distance = float(np.linalg.norm(base - _descriptor(model, variant)))
            assert distance < MATCH_DISTANCE, distance


def test_different_people_do_not_match(model: FaceModel) -> None:
    a = _descriptor(model, fi.astronaut())
    g = _descriptor(model, fi.grace_hopper())
    assert float(np.linalg.norm(a - g)) > MATCH_DISTANCE
    check = check_images(model, fi.astronaut(), fi.id_card(fi.grace_hopper(), fi.GRACE_HEAD))
    assert check.available and check.match is False and "faces_differ" in check.reasons
    assert not check.ok and check.distance is not None and check.distance > MATCH_DISTANCE


def test_a_snapshot_matches_its_own_id_card(model: FaceModel) -> None:
    snapshot = fi.reencoded(fi.grace_hopper(), 70)
    card = fi.reencoded(fi.id_card(fi.grace_hopper(), fi.GRACE_HEAD), 60)
    check = check_images(model, snapshot, card)
    assert check.ok, check
    assert check.match is True and check.faces == 1 and check.document_faces == 1
    assert check.distance is not None and check.distance < MATCH_DISTANCE


def test_a_cat_has_no_face(model: FaceModel) -> None:
    check = check_images(model, fi.cat(), None)
    assert check.faces == 0 and check.reasons == ["no_face"] and not check.ok
    assert "No face" in check.message


def test_two_people_are_several_faces(model: FaceModel) -> None:
    check = check_images(model, fi.side_by_side(fi.astronaut(), fi.scaled(fi.grace_hopper(), 0.85)), None)
    assert check.faces == 2 and "several_faces" in check.reasons and not check.ok


def test_a_small_face_is_remarked(model: FaceModel) -> None:
    far = np.full((720, 1280, 3), 200, np.uint8)
    far[300:300 + 128, 600:600 + 128] = fi.scaled(fi.grace_hopper(), 0.25)[:128, :128]
    check = check_images(model, far, None)
    assert check.faces == 1 and check.reasons == ["face_too_small"]


def test_pictures_that_are_not_pictures_or_are_huge_are_refused() -> None:
    with pytest.raises(NotAnImage):
        decode(b"%PDF-1.4 not a picture at all")
    with pytest.raises(NotAnImage):
        decode(fi.jpeg(fi.astronaut())[:200])  # truncated
    with pytest.raises(NotAnImage):
        out = io.BytesIO()
        Image.new("RGB", (64, 64)).save(out, "GIF")
        decode(out.getvalue())
    bomb = io.BytesIO()
    Image.new("1", (9000, 6000)).save(bomb, "PNG")  # 54 megapixels in a few kilobytes
    with pytest.raises(ImageTooLarge):
        decode(bomb.getvalue())
    big = decode(fi.jpeg(fi.scaled(fi.astronaut(), 3.0)))
    assert max(big.shape[:2]) <= 1024  # scaled down before the check


async def test_the_checker_loads_once_and_a_broken_model_is_not_available(checker: FaceChecker, tmp_path: Path) -> None:
    broken = FaceChecker(tmp_path)  # no model files there
    await broken.load()
    result = await broken.check(fi.astronaut(), None)
    assert not broken.available and not result.available and "not available" in result.message
    broken.close()
    off = FaceChecker(None, enabled=False)
    await off.load()
    assert not (await off.check(fi.astronaut(), None)).available and "configuration" in off.error
    off.close()

    assert checker.available
    loaded = checker._model
    await checker.load()  # once: a second call keeps the same model
    assert checker._model is loaded
    times = []
    for _ in range(2):
        started = time.perf_counter()
        result = await checker.check(decode(fi.jpeg(fi.grace_hopper())), decode(fi.jpeg(fi.id_card(fi.grace_hopper(), fi.GRACE_HEAD))))
        times.append(time.perf_counter() - started)
        assert result.ok and result.match
    print(f"\nface model: load {checker.load_seconds:.2f} s, memory +{checker.memory_bytes / 2**20:.0f} MiB peak RSS; "
          f"check with ID image: {min(times) * 1000:.0f}-{max(times) * 1000:.0f} ms")
