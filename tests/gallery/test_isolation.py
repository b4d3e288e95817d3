"""Another member's image, file, thumbnail or task is 404 on every route, whatever the id."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from runware_web.media.models import Image
from tests.gallery.factories import make_image, make_task

pytestmark = pytest.mark.django_db

IMAGE_PAGES = ["detail", "file", "thumb", "download"]
IMAGE_ACTIONS = ["favourite", "share", "delete", "restore"]


@pytest.fixture
def theirs(other_user):
    return make_image(other_user, "mallory's private picture")


@pytest.mark.parametrize("name", IMAGE_PAGES)
def test_another_members_image_is_404(alice_client, theirs, name):
    assert alice_client.get(reverse(f"gallery:{name}", args=[theirs.pk])).status_code == 404


@pytest.mark.parametrize("name", IMAGE_PAGES)
def test_an_unknown_image_is_404(alice_client, name):
    assert alice_client.get(reverse(f"gallery:{name}", args=[uuid.uuid4()])).status_code == 404


@pytest.mark.parametrize("name", IMAGE_ACTIONS)
def test_another_members_image_cannot_be_changed(alice_client, theirs, name):
    response = alice_client.post(reverse(f"gallery:{name}", args=[theirs.pk]), {"value": "1"})
    assert response.status_code == 404
    fresh = Image.objects.get(pk=theirs.pk)
    assert (fresh.favourite, fresh.shared_with_team, fresh.deleted_at) == (False, False, None)


def test_another_members_trashed_image_cannot_be_restored(alice_client, other_user):
    binned = make_image(other_user, deleted_at=timezone.now())
    assert alice_client.post(reverse("gallery:restore", args=[binned.pk])).status_code == 404
    assert Image.objects.get(pk=binned.pk).deleted_at is not None


def test_emptying_my_trash_never_touches_theirs(alice_client, other_user):
    binned = make_image(other_user, deleted_at=timezone.now())
    alice_client.post(reverse("gallery:empty_trash"), {"confirm": "yes"})
    assert Image.objects.filter(pk=binned.pk).exists()


def test_a_teammate_who_did_not_share_is_private(client, user, team):
    from tests.conftest import make_user

    private = make_image(user, "not shared")
    client.force_login(make_user("bob", team=team))
    for name in IMAGE_PAGES:
        assert client.get(reverse(f"gallery:{name}", args=[private.pk])).status_code == 404
    assert "not shared" not in client.get(reverse("gallery:team")).content.decode()


def test_a_shared_image_is_not_visible_to_another_team(client, user):
    from runware_web.accounts.models import Team
    from tests.conftest import make_user

    shared = make_image(user, "for my team", shared_with_team=True)
    client.force_login(make_user("eve", team=Team.objects.create(name="Others")))
    assert client.get(reverse("gallery:detail", args=[shared.pk])).status_code == 404
    assert "for my team" not in client.get(reverse("gallery:team")).content.decode()


def test_another_members_task_row_is_404(alice_client, other_user):
    task = make_task(other_user)
    assert alice_client.get(reverse("history:row", args=[task.pk])).status_code == 404
    assert alice_client.get(reverse("history:row", args=[uuid.uuid4()])).status_code == 404


def test_another_members_task_is_not_in_my_history_nor_its_images_in_my_gallery(alice_client, other_user):
    task = make_task(other_user, model="runware:5@1")
    make_image(other_user, task=task)
    assert str(task.pk) not in alice_client.get(reverse("history:index")).content.decode()
    assert "tile-" not in alice_client.get(reverse("gallery:index"), {"task": task.pk}).content.decode()


@pytest.mark.parametrize(
    "url",
    ["gallery:index", "gallery:team", "gallery:trash", "history:index"],
)
def test_pages_need_a_login(client, url):
    response = client.get(reverse(url))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_files_need_a_login(client, user):
    image = make_image(user)
    for name in IMAGE_PAGES:
        response = client.get(reverse(f"gallery:{name}", args=[image.pk]))
        assert response.status_code == 302, name
