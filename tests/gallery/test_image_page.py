"""One image's page, its files and its download; what a teammate sees of a shared image."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image as PILImage

from runware_web.media.models import Image
from tests.conftest import make_user
from tests.gallery.factories import make_image, make_task, png_bytes

pytestmark = pytest.mark.django_db


def test_it_shows_the_image_and_every_parameter_it_was_made_with(alice_client, user):
    task = make_task(
        user, prompt="a lighthouse at dusk", params={
            "model": "runware:101@1", "positivePrompt": "a lighthouse at dusk", "negativePrompt": "blurry",
            "width": 1024, "height": 768, "steps": 28, "CFGScale": 3.5, "scheduler": "Euler a",
            "lora": [{"model": "civitai:943001@1055701", "weight": 0.8}],
            "seedImage": "data:image/png;base64," + "A" * 4000,
        },
    )
    image = make_image(user, "a lighthouse at dusk", task=task, seed=987654321)
    body = alice_client.get(reverse("gallery:detail", args=[image.pk])).content.decode()
    assert reverse("gallery:file", args=[image.pk]) in body
    for text in ("negativePrompt", "blurry", "CFGScale", "3.5", "Euler a", "civitai:943001@1055701",
                 "987654321", "runware:101@1", "$0.0041", "48 × 32"):
        assert text in body, text
    assert "A" * 200 not in body  # a seed image's base64 is summarised, not dumped
    assert "[image/png, 2.9" in body


def test_the_cost_is_shown_exactly_as_runware_reported_it(alice_client, user):
    from decimal import Decimal

    image = make_image(user, cost=Decimal("0.0013500000"))
    assert "$0.00135" in alice_client.get(reverse("gallery:detail", args=[image.pk])).content.decode()


def test_the_owner_gets_reuse_seed_image_and_copy_prompt(alice_client, user):
    image = make_image(user, 'a "quoted" prompt & more')
    body = alice_client.get(reverse("gallery:detail", args=[image.pk])).content.decode()
    assert f'href="/studio/?reuse={image.pk}"' in body
    assert f'href="/studio/?seedImage={image.pk}"' in body
    assert 'data-copy="a &quot;quoted&quot; prompt &amp; more"' in body


def test_download_sends_the_original_with_a_readable_name(alice_client, user):
    image = make_image(user, "Lighthouse at dusk, oil painting!")
    response = alice_client.get(reverse("gallery:download", args=[image.pk]))
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="lighthouse-at-dusk-oil-painting-{image.pk.hex[:8]}.png"' in disposition
    assert b"".join(response.streaming_content) == image.file.open("rb").read()


def test_a_download_without_a_prompt_is_named_after_its_kind(alice_client, user):
    image = make_image(user, "", kind=Image.Kind.UPSCALED, with_task=False)
    response = alice_client.get(reverse("gallery:download", args=[image.pk]))
    assert f'filename="upscaled-{image.pk.hex[:8]}.png"' in response["Content-Disposition"]


def test_file_and_thumbnail_are_served_to_the_owner(alice_client, user):
    image = make_image(user)
    file = alice_client.get(reverse("gallery:file", args=[image.pk]))
    assert file["Content-Type"] == "image/png"
    assert b"".join(file.streaming_content) == png_bytes()
    thumb = alice_client.get(reverse("gallery:thumb", args=[image.pk]))
    assert thumb["Content-Type"] == "image/webp"


def test_a_missing_thumbnail_is_made_once_and_kept(alice_client, user):
    image = make_image(user)
    Image.objects.filter(pk=image.pk).update(thumbnail="")
    response = alice_client.get(reverse("gallery:thumb", args=[image.pk]))
    assert response.status_code == 200
    from io import BytesIO

    with PILImage.open(BytesIO(response.content)) as thumb:
        assert thumb.format == "WEBP"
    image.refresh_from_db()
    assert image.thumbnail.name.endswith(".webp")
    stored = image.thumbnail.name
    alice_client.get(reverse("gallery:thumb", args=[image.pk]))
    image.refresh_from_db()
    assert image.thumbnail.name == stored  # made once


def test_a_teammate_sees_a_shared_image_but_cannot_change_it(client, user, team):
    image = make_image(user, "team harbour", shared_with_team=True)
    bob = make_user("bob", team=team)
    client.force_login(bob)
    body = client.get(reverse("gallery:detail", args=[image.pk])).content.decode()
    assert "team harbour" in body and "Shared by" in body
    assert "Reuse settings" not in body and ">Delete<" not in body
    assert client.get(reverse("gallery:download", args=[image.pk])).status_code == 200
    assert client.get(reverse("gallery:thumb", args=[image.pk])).status_code == 200
    for action in ("favourite", "share", "delete", "restore"):
        assert client.post(reverse(f"gallery:{action}", args=[image.pk]), {"value": "1"}).status_code == 404
    image.refresh_from_db()
    assert image.deleted_at is None and not image.favourite and image.shared_with_team


def test_a_shared_image_in_its_owners_trash_is_gone_for_the_team(client, user, team):
    image = make_image(user, shared_with_team=True, deleted_at=timezone.now())
    client.force_login(make_user("bob", team=team))
    for name in ("detail", "file", "thumb", "download"):
        assert client.get(reverse(f"gallery:{name}", args=[image.pk])).status_code == 404, name


def test_the_owner_can_still_open_an_image_in_the_trash_and_restore_it(alice_client, user):
    image = make_image(user, deleted_at=timezone.now())
    body = alice_client.get(reverse("gallery:detail", args=[image.pk])).content.decode()
    assert "This image is in the trash" in body
    assert ">Restore<" in body
