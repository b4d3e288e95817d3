"""The disk where media go is full while members generate, on the production layout (PostgreSQL,
Redis, Daphne workers): a clear message, and the results fetched again once there is room, never lost.

The media root of the workers is a small tmpfs filled to the last byte by a file (tests/full_disk.py).
Runware (the simulator, in a process of its own) makes and bills the images; the portal charges
each once, keeps their URLs in the database, and tells the member. Room is made, and the images
land in the gallery with their files, stored by whichever worker claims each first (two workers
race for them), or by a worker restarted in between (nothing is kept in a worker's memory). The
ledger equals what Runware charged, to the last decimal.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from runware_web.media.models import Image, PendingResult
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.conftest import make_user
from tests.faults.processes import production_only, until
from tests.full_disk import full_disk
from tests.workers import Member

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = 3
RETRY_SECONDS = 0.5
FULL = "The disk where the portal keeps images is full"


@production_only
@pytest.mark.parametrize("restarted", [False, True], ids=["two-workers-race-for-them", "worker-restarted-between"])
def test_images_billed_while_the_disk_is_full_land_once_there_is_room_and_are_charged_once(
    layout, tmp_path, restarted
):
    with full_disk(tmp_path / "media") as disk:
        layout.env["RUNWARE_WEB_MEDIA_ROOT"] = str(disk.path)
        layout.env["RUNWARE_STORE_RETRY_SECONDS"] = str(RETRY_SECONDS)
        disk.fill()
        make_user("alice")
        first, first_url = layout.start_worker()
        second = None if restarted else layout.start_worker()[0]
        balance_before = layout.upstream.balance()

        alice = Member(first_url)
        alice.log_in("alice", "correct horse battery")
        assert alice.post("/studio/generate", {
            "positivePrompt": "a red fox in the snow", "model": "runware:101@1",
            "width": "256", "height": "256", "numberResults": str(IMAGES),
        }) == 200
        task = until(lambda: Task.objects.filter(user__username="alice", finished_at__isnull=False).first(),
                     seconds=30, what="the task to end")

        # Nothing lost: every result charged once and kept; the member is told, in plain words.
        assert task.status == Task.Status.DONE, task.error_message
        assert Charge.objects.filter(task=task).count() == IMAGES
        assert PendingResult.objects.filter(task=task).count() == IMAGES
        assert not Image.objects.filter(task=task).exists() and disk.files() == []
        page = alice.opener.open(first_url + "/studio/", timeout=10).read().decode()
        assert FULL in page and f"{IMAGES} images are waiting and will be saved as soon as there is room" in page
        assert str(disk.path) not in page

        if restarted:
            first.kill()  # SIGKILL: whatever it held in memory is gone
            first.wait(timeout=10)
            assert PendingResult.objects.filter(task=task).count() == IMAGES
        disk.make_room()
        room_made = time.monotonic()
        if restarted:
            layout.start_worker(int(first_url.rsplit(":", 1)[1]))
        until(lambda: not PendingResult.objects.filter(task=task).exists(), seconds=30,
              what="the waiting images to be stored")
        print(f"{IMAGES} images stored {time.monotonic() - room_made:.1f} s after room was made "
              f"(retry every {RETRY_SECONDS} s{', worker restarted' if restarted else ', two workers'})")

        images = list(Image.objects.filter(task=task))
        assert len(images) == IMAGES, "each image stored once, by one worker"
        assert len({image.runware_uuid for image in images}) == IMAGES
        assert all((disk.path / image.file.name).is_file() for image in images)  # the workers' media root
        task.refresh_from_db()
        assert task.status == Task.Status.DONE
        charged = sum(Charge.objects.filter(task=task).values_list("amount", flat=True), Decimal(0))
        assert Charge.objects.filter(task=task).count() == IMAGES
        assert charged == balance_before - layout.upstream.balance()  # every cent Runware charged, once
        assert task.cost == charged == sum(image.cost for image in images)
        page = Member(first_url)
        page.log_in("alice", "correct horse battery")
        gallery = page.opener.open(first_url + "/gallery/", timeout=10).read().decode()
        assert all(str(image.pk) in gallery for image in images)
        assert second is None or second.poll() is None
        layout.stop()  # before the tmpfs goes
