"""Favourite, share, delete with Undo, restore; several images at once; download as zip."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from runware_web.media.models import Image
from tests.conftest import make_user
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def test_favourite_and_unfavourite_from_the_image_page(alice_client, user):
    image = make_image(user)
    response = alice_client.post(reverse("gallery:favourite", args=[image.pk]), {"value": "1"}, headers=HTMX)
    image.refresh_from_db()
    assert image.favourite
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="image-panel"')  # htmx gets the panel, not a page
    assert 'aria-pressed="true"' in body and "Added to your favourites." in body
    alice_client.post(reverse("gallery:favourite", args=[image.pk]), {"value": "0"}, headers=HTMX)
    image.refresh_from_db()
    assert not image.favourite


def test_without_javascript_an_action_comes_back_to_the_image_page(alice_client, user):
    image = make_image(user)
    response = alice_client.post(reverse("gallery:favourite", args=[image.pk]), {"value": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("gallery:detail", args=[image.pk])
    assert "Added to your favourites." in response.content.decode()


def test_share_with_team_shows_it_in_the_team_gallery(alice_client, user, team, client):
    image = make_image(user, "for the team")
    alice_client.post(reverse("gallery:share", args=[image.pk]), {"value": "1"}, headers=HTMX)
    image.refresh_from_db()
    assert image.shared_with_team
    bob = make_user("bob", team=team)
    client.force_login(bob)
    assert f'id="tile-{image.pk}"' in client.get(reverse("gallery:team")).content.decode()


def test_sharing_without_a_team_explains_why_not(client):
    loner = make_user("loner")
    client.force_login(loner)
    image = make_image(loner)
    response = client.post(reverse("gallery:share", args=[image.pk]), {"value": "1"}, headers=HTMX)
    assert "You are not in a team yet" in response.content.decode()
    image.refresh_from_db()
    assert not image.shared_with_team


def test_delete_moves_to_the_trash_with_an_undo(alice_client, user):
    image = make_image(user)
    response = alice_client.post(reverse("gallery:delete", args=[image.pk]), headers=HTMX)
    image.refresh_from_db()
    assert image.deleted_at is not None
    body = response.content.decode()
    assert "Moved to the trash." in body and ">Undo<" in body
    assert reverse("gallery:restore", args=[image.pk]) in body
    alice_client.post(reverse("gallery:restore", args=[image.pk]), headers=HTMX)
    image.refresh_from_db()
    assert image.deleted_at is None


def test_deleting_keeps_the_cost_in_the_ledger(alice_client, user):
    from decimal import Decimal

    from runware_web.money.models import Charge

    image = make_image(user)
    Charge.objects.create(task=image.task, user=user, task_type="imageInference", result_key="#0",
                          amount=Decimal("0.0041"))
    alice_client.post(reverse("gallery:delete", args=[image.pk]))
    alice_client.post(reverse("gallery:empty_trash"), {"confirm": "yes"})
    assert not Image.objects.filter(pk=image.pk).exists()
    assert Charge.objects.get(task=image.task).amount == Decimal("0.0041")


# --------------------------------------------------------------------------- several at once


def select(client, action, images, **extra):
    return client.post(
        reverse("gallery:selection"), {"action": action, "ids": [str(image.pk) for image in images]}, **extra
    )


def test_favourite_and_share_several(alice_client, user):
    images = [make_image(user, f"n{n}") for n in range(3)]
    select(alice_client, "favourite", images[:2], headers=HTMX)
    select(alice_client, "share", images[1:], headers=HTMX)
    assert [(i.favourite, i.shared_with_team) for i in Image.objects.order_by("prompt")] == [
        (True, False), (True, True), (False, True)
    ]


def test_delete_several_marks_their_tiles_and_offers_one_undo(alice_client, user):
    images = [make_image(user, f"n{n}") for n in range(2)]
    kept = make_image(user, "kept")
    response = select(alice_client, "delete", images, headers=HTMX)
    body = response.content.decode()
    assert "2 images moved to the trash." in body and ">Undo<" in body
    for image in images:
        assert f'id="tile-{image.pk}" hx-swap-oob="true"' in body
    assert str(kept.pk) not in body
    assert Image.objects.trashed().count() == 2
    select(alice_client, "restore", images, headers=HTMX)
    assert Image.objects.trashed().count() == 0


def test_without_javascript_a_selection_goes_back_where_it_came_from(alice_client, user):
    image = make_image(user)
    response = alice_client.post(
        reverse("gallery:selection"),
        {"action": "favourite", "ids": [str(image.pk)], "next": "/gallery/?kind=generated"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/gallery/?kind=generated"
    assert "1 image added to your favourites." in response.content.decode()


def test_an_empty_selection_is_explained(alice_client, user):
    response = alice_client.post(reverse("gallery:selection"), {"action": "delete"}, headers=HTMX)
    assert "Select at least one image first." in response.content.decode()


def test_a_selection_may_not_leave_the_site(alice_client, user):
    image = make_image(user)
    response = alice_client.post(
        reverse("gallery:selection"), {"action": "favourite", "ids": [str(image.pk)], "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("gallery:index")


def test_download_several_as_a_zip(alice_client, user):
    images = [make_image(user, "a lighthouse"), make_image(user, "a castle")]
    response = select(alice_client, "zip", images)
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        for image in images:
            name = f"{image.prompt.replace(' ', '-')}-{image.pk.hex[:8]}.png"  # a-lighthouse-1b7a0f8e.png
            assert archive.read(name) == image.file.open("rb").read()
        assert len(archive.namelist()) == 2


def test_a_selection_with_someone_elses_image_changes_nothing(alice_client, user, other_user):
    mine = make_image(user)
    theirs = make_image(other_user)
    for action in ("favourite", "share", "delete", "zip"):
        assert select(alice_client, action, [mine, theirs]).status_code == 404, action
    for image in (mine, theirs):
        image.refresh_from_db()
        assert (image.favourite, image.shared_with_team, image.deleted_at) == (False, False, None)
