"""The trash page, emptying it, and the daily `empty_trash` command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from runware_web.media.models import Image
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def test_the_trash_lists_only_the_members_trashed_images(alice_client, user, other_user):
    binned = make_image(user, "binned", deleted_at=timezone.now())
    make_image(user, "kept")
    make_image(other_user, "theirs", deleted_at=timezone.now())
    body = alice_client.get(reverse("gallery:trash")).content.decode()
    assert f'id="tile-{binned.pk}"' in body
    assert "kept" not in body and "theirs" not in body
    assert "Empty trash" in body


def test_an_empty_trash_says_what_it_is_for(alice_client, settings):
    settings.TRASH_RETENTION_DAYS = 30
    body = alice_client.get(reverse("gallery:trash")).content.decode()
    assert "The trash is empty" in body and "30 days" in body


def test_restore_from_the_trash_page_returns_to_it(alice_client, user):
    image = make_image(user, deleted_at=timezone.now())
    response = alice_client.post(
        reverse("gallery:restore", args=[image.pk]), {"next": reverse("gallery:trash")}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("gallery:trash")
    assert "Image restored." in response.content.decode()
    image.refresh_from_db()
    assert image.deleted_at is None


def test_emptying_the_trash_deletes_rows_and_files_of_that_member_only(
    alice_client, user, other_user, django_capture_on_commit_callbacks
):
    binned = make_image(user, deleted_at=timezone.now())
    kept = make_image(user)
    theirs = make_image(other_user, deleted_at=timezone.now())
    files = [binned.file.name, binned.thumbnail.name]
    with django_capture_on_commit_callbacks(execute=True):  # files go once the deletion is committed
        response = alice_client.post(reverse("gallery:empty_trash"), {"confirm": "yes"}, follow=True)
    assert "1 image deleted for good." in response.content.decode()
    assert not Image.objects.filter(pk=binned.pk).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert Image.objects.filter(pk__in=[kept.pk, theirs.pk]).count() == 2
    assert default_storage.exists(kept.file.name) and default_storage.exists(theirs.file.name)


def test_the_command_empties_what_is_older_than_the_retention(
    settings, user, other_user, django_capture_on_commit_callbacks
):
    settings.TRASH_RETENTION_DAYS = 30
    now = timezone.now()
    old = make_image(user, deleted_at=now - timedelta(days=31))
    also_old = make_image(other_user, deleted_at=now - timedelta(days=45))
    recent = make_image(user, deleted_at=now - timedelta(days=29))
    alive = make_image(user, created_at=now - timedelta(days=400))
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("empty_trash", stdout=out)
    assert "Deleted 2 images" in out.getvalue()
    assert set(Image.objects.values_list("pk", flat=True)) == {recent.pk, alive.pk}
    assert not default_storage.exists(old.file.name) and not default_storage.exists(also_old.thumbnail.name)
    assert default_storage.exists(recent.file.name)


def test_without_javascript_emptying_the_trash_asks_first(alice_client, user):
    binned = make_image(user, deleted_at=timezone.now())
    body = alice_client.post(reverse("gallery:empty_trash")).content.decode()
    assert "Empty the trash?" in body and "1 image will be deleted for good" in body
    assert 'name="confirm" value="yes"' in body
    assert Image.objects.filter(pk=binned.pk).exists()  # nothing deleted yet


def test_the_trash_page_confirms_in_a_dialog_before_emptying(alice_client, user):
    make_image(user, deleted_at=timezone.now())
    body = alice_client.get(reverse("gallery:trash")).content.decode()
    assert 'hx-confirm="Delete every image in the trash for good? This cannot be undone."' in body
    assert """hx-vals='{"confirm": "yes"}'""" in body
