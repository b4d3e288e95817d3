"""The media store on a disk that is really full (a small tmpfs, see tests/full_disk.py), and the
rows that keep billed results until there is room (media.pending)."""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image as PILImage

from runware_web.media import pending
from runware_web.media.models import Image, PendingResult
from runware_web.media.store import StorageFull, free_space, has_room, is_full, save_image
from tests.full_disk import full_disk
from tests.hardening.helpers import make_task, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def disk(settings, tmp_path):
    with full_disk(tmp_path / "media") as mounted:
        settings.MEDIA_ROOT = str(mounted.path)
        yield mounted


def noise_png(side: int = 400) -> bytes:
    """A PNG that does not compress: several hundred KB, more than the room a test leaves."""
    out = io.BytesIO()
    PILImage.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


def test_an_image_on_a_full_disk_is_refused_as_full_and_leaves_no_file_and_no_row(disk, user):
    disk.fill()
    assert not has_room()

    with pytest.raises(StorageFull) as refused:
        save_image(user=user, data=png_bytes(), prompt="a lighthouse")

    assert is_full(refused.value)
    assert "No space left" in str(refused.value)
    assert disk.files() == [] and not Image.objects.exists()


def test_an_image_that_only_half_fits_is_not_left_half_written(disk, user):
    data = noise_png()
    disk.fill(leave=len(data) // 3)

    with pytest.raises(StorageFull):
        save_image(user=user, data=data, prompt="static")

    assert disk.files() == [], "the part that fitted was removed"
    assert not Image.objects.exists()


def test_once_there_is_room_the_same_image_is_stored(disk, user):
    disk.fill()
    with pytest.raises(StorageFull):
        save_image(user=user, data=png_bytes(), prompt="a lighthouse")

    disk.make_room()
    image = save_image(user=user, data=png_bytes(), prompt="a lighthouse")

    assert has_room() and free_space() > 0
    assert image.file.storage.exists(image.file.name) and image.file.storage.exists(image.thumbnail.name)


def test_a_result_is_kept_once_however_often_it_finds_no_room(user):
    task = make_task(user, status="running")
    item = {"imageUUID": "b1-runware", "imageURL": "https://im.runware.ai/b1.png", "cost": 0.0013}

    pending.keep(task.pk, "b1-runware", item, "ENOSPC")
    pending.keep(task.pk, "b1-runware", {**item, "seed": 7}, "ENOSPC again")

    row = PendingResult.objects.get()
    assert row.item["seed"] == 7 and row.last_error == "ENOSPC again"
    assert pending.waiting_for([task.pk]) == {task.pk: 1} and pending.waiting_count() == 1


def test_of_two_workers_claiming_a_waiting_result_only_one_gets_it(user):
    task = make_task(user)
    row = pending.keep(task.pk, "b1-runware", {"imageUUID": "b1-runware"}, "ENOSPC")

    first = pending.claim(row.pk, "worker-a")
    second = pending.claim(row.pk, "worker-b")

    assert first is not None and first.claimed_by == "worker-a"
    assert second is None
    assert pending.due() == []


def test_a_result_not_stored_is_tried_again_later_and_a_dead_workers_claim_runs_out(user):
    task = make_task(user)
    row = pending.keep(task.pk, "b1-runware", {"imageUUID": "b1-runware"}, "ENOSPC")

    claimed = pending.claim(row.pk, "worker-a")
    pending.release(claimed, "no room yet", retry_in=60)
    assert pending.due() == [] and pending.claim(row.pk, "worker-b") is None  # not before its time
    PendingResult.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert pending.due() == [row.pk]

    assert pending.claim(row.pk, "worker-a") is not None  # worker-a dies holding it
    PendingResult.objects.filter(pk=row.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    taken_over = pending.claim(row.pk, "worker-b")
    assert taken_over is not None and taken_over.claimed_by == "worker-b" and taken_over.attempts == 1
