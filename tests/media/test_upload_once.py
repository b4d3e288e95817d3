"""The same file uploaded twice is stored once (defect 13 of issue 16): the member is handed the copy
they uploaded before and told so, from the studio and from the tools alike; existing uploads are
hashed by the migration that adds the hash (media 0005), streamed, missing files and all."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import StateApps as Apps
from django.utils import timezone

from runware_web.media import store
from runware_web.media.models import Image
from runware_web.media.store import UPLOADED_BEFORE, save_upload
from runware_web.media.uploads import check_image_bytes
from tests.conftest import make_user
from tests.images import png_bytes

AGAIN = "You uploaded this before — using the existing copy."


def upload(name: str = "photo.png", colour: tuple[int, int, int] = (10, 120, 200)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(40, 30, colour), content_type="image/png")


def test_the_same_file_uploaded_twice_is_stored_once_and_the_member_is_told(user):
    first = save_upload(user, check_image_bytes(png_bytes(), name="a.png"))
    again = save_upload(user, check_image_bytes(png_bytes(), name="copy of a.png"))

    assert (first.again, again.again) == (False, True)
    assert again.image.pk == first.image.pk
    assert Image.objects.filter(user=user).count() == 1
    assert first.image.sha256 == hashlib.sha256(first.image.file.open("rb").read()).hexdigest()
    assert UPLOADED_BEFORE == AGAIN


def test_another_file_or_another_member_gets_its_own_copy(user, other_user):
    mine = save_upload(user, check_image_bytes(png_bytes()))
    other_picture = save_upload(user, check_image_bytes(png_bytes(colour=(1, 2, 3))))
    theirs = save_upload(other_user, check_image_bytes(png_bytes()))

    assert not other_picture.again and not theirs.again
    assert len({mine.image.pk, other_picture.image.pk, theirs.image.pk}) == 3


def test_an_upload_in_the_trash_comes_back_when_uploaded_again(user):
    first = save_upload(user, check_image_bytes(png_bytes()))
    Image.objects.filter(pk=first.image.pk).update(deleted_at=timezone.now())

    again = save_upload(user, check_image_bytes(png_bytes()))

    assert again.again and again.image.pk == first.image.pk
    assert Image.objects.get(pk=first.image.pk).deleted_at is None


def test_a_painted_mask_is_stored_each_time(user):
    seed = save_upload(user, check_image_bytes(png_bytes())).image
    masks = [
        save_upload(
            user, check_image_bytes(png_bytes(colour=(255, 255, 255))), kind=Image.Kind.MASK, source=seed
        )
        for _ in range(2)
    ]

    assert [mask.again for mask in masks] == [False, False]
    assert masks[0].image.pk != masks[1].image.pk


def test_two_requests_storing_the_same_file_at_once_end_with_one_copy(user, monkeypatch):
    """The other request stored it between this one's look and its insert: the unique constraint
    refuses the second row, and the first is handed back (its file written for nothing is removed)."""
    winner = save_upload(user, check_image_bytes(png_bytes())).image
    looks = iter([None])
    real = store._earlier_upload
    monkeypatch.setattr(
        store, "_earlier_upload", lambda member, sha256: next(looks, None) or real(member, sha256)
    )

    folder = f"images/{user.pk}/{winner.created_at:%Y/%m}"
    before = set(default_storage.listdir(folder)[1])
    late = save_upload(user, check_image_bytes(png_bytes()))

    assert late.again and late.image.pk == winner.pk
    assert Image.objects.filter(user=user).count() == 1
    assert set(default_storage.listdir(folder)[1]) == before, "the late copy's file is removed"


def test_the_studio_hands_back_the_earlier_upload_with_a_notice(alice_client, user):
    first = alice_client.post(
        "/studio/upload", {"target": "seedImage", "seedImage_file": upload()}, HTTP_HX_REQUEST="true"
    )
    again = alice_client.post(
        "/studio/upload",
        {"target": "seedImage", "seedImage_file": upload("again.png")},
        HTTP_HX_REQUEST="true",
    )

    image = Image.objects.get(user=user)
    assert str(image.pk) in first.content.decode() and str(image.pk) in again.content.decode()
    assert AGAIN not in first.content.decode()
    assert AGAIN in again.content.decode()
    assert 'hx-swap-oob="beforeend:#toasts"' in again.content.decode()


def test_the_tools_hand_back_the_earlier_upload_with_a_notice(alice_client, user):
    alice_client.post("/tools/upload/", {"image": upload()})
    response = alice_client.post("/tools/upload/", {"image": upload("again.png")}, follow=True)

    image = Image.objects.get(user=user)
    assert response.redirect_chain[-1][0].endswith(f"?image={image.pk}")
    assert AGAIN in response.content.decode()


# ---------------------------------------------------------------------- the migration's backfill


@pytest.fixture
def stored_files() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        default_storage.delete(name)


MIGRATION = importlib.import_module("runware_web.media.migrations.0005_image_sha256")


def migrate_media_to(target: str) -> Apps:
    """Migrate media to `target`; the (historical) models of that state."""
    MigrationExecutor(connection).migrate([("media", target)])
    return MigrationExecutor(connection).loader.project_state(("media", target)).apps


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_the_uploads_already_stored_in_pieces(stored_files, monkeypatch):
    """Each upload's file is read a piece at a time; a file gone from storage is passed over, and a
    second copy of a file the member had already uploaded keeps no hash (both copies stay)."""
    alice, bob = make_user("alice"), make_user("bob")
    monkeypatch.setattr(MIGRATION, "PIECE", 100)  # several pieces per file
    reads: list[int] = []
    try:
        old = migrate_media_to("0004_media_type").get_model("media", "Image")
        start = timezone.now() - timedelta(days=1)

        def stored(user, data: bytes, *, kind: str = "uploaded", minutes: int = 0):
            image = old(
                user_id=user.pk,
                kind=kind,
                width=40,
                height=30,
                size_bytes=len(data),
                content_type="image/png",
                created_at=start + timedelta(minutes=minutes),
            )
            image.file.save(f"{image.id}.png", ContentFile(data), save=False)
            image.save()
            stored_files.append(image.file.name)
            return image

        photo = png_bytes(40, 30, (1, 2, 3))
        first = stored(alice, photo, minutes=1)
        second_copy = stored(alice, photo, minutes=2)
        bobs = stored(bob, photo, minutes=3)
        gone = stored(alice, png_bytes(40, 30, (9, 9, 9)), minutes=4)
        default_storage.delete(gone.file.name)
        generated = stored(alice, png_bytes(40, 30, (5, 5, 5)), kind="generated", minutes=5)

        real_open = default_storage.open

        class Counted:
            def __init__(self, name: str, mode: str = "rb") -> None:
                self.handle = real_open(name, mode)

            def read(self, size: int = -1) -> bytes:
                reads.append(size)
                return self.handle.read(size)

            def __enter__(self) -> Counted:
                return self

            def __exit__(self, *exc: object) -> None:
                self.handle.close()

        counting_open = Counted

        monkeypatch.setattr(default_storage, "open", counting_open)
        migrate_media_to("0005_image_sha256")
        monkeypatch.undo()
    finally:
        migrate_to_latest()

    hashes = dict(Image.objects.values_list("pk", "sha256"))
    expected = hashlib.sha256(photo).hexdigest()
    assert hashes[first.pk] == expected
    assert hashes[bobs.pk] == expected
    assert hashes[second_copy.pk] == ""
    assert hashes[gone.pk] == ""
    assert hashes[generated.pk] == ""  # only uploads are recognised
    assert reads and set(reads) == {100}, "every read is one piece, never the whole file"
    # from now on the same file is recognised
    assert save_upload(alice, check_image_bytes(photo)).image.pk == first.pk
