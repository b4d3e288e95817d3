"""An image whose file went missing from storage (deleted by hand, a restore without the media):
its owner gets a 404 page saying the file is gone, never a server error, from every route that
serves the file."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from runware_web.gallery.views import download_name
from tests.gallery.factories import make_image, png_bytes

pytestmark = pytest.mark.django_db

GONE = "gone"


def lose_files(image) -> None:
    """The original and its thumbnail vanish from storage; the row stays."""
    image.file.storage.delete(image.file.name)
    image.thumbnail.storage.delete(image.thumbnail.name)


@pytest.mark.parametrize("route", ["gallery:file", "gallery:thumb", "gallery:download"])
def test_a_missing_file_answers_404_with_a_page_saying_it_is_gone(alice_client, user, route):
    image = make_image(user, "a lighthouse at dusk")
    lose_files(image)

    response = alice_client.get(reverse(route, args=[image.pk]))

    assert response.status_code == 404
    page = response.content.decode()
    assert "file is gone" in page.lower() or "files are gone" in page.lower()
    assert "a lighthouse at dusk" in page  # which image it was
    assert reverse("gallery:detail", args=[image.pk]) in page


def test_another_members_missing_file_is_still_just_not_found(client, other_user, user):
    image = make_image(user)
    lose_files(image)
    client.force_login(other_user)

    response = client.get(reverse("gallery:file", args=[image.pk]))

    assert response.status_code == 404
    assert GONE not in response.content.decode().lower()  # nothing said about someone else's image


def test_a_zip_leaves_out_the_missing_file_and_says_so(alice_client, user):
    kept, lost = make_image(user, "a kept harbour"), make_image(user, "a lost lighthouse")
    lose_files(lost)

    response = alice_client.post(reverse("gallery:selection"), {"action": "zip", "ids": [kept.pk, lost.pk]})

    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == sorted([download_name(kept), "MISSING.txt"])
    assert archive.read(download_name(kept)) == png_bytes()
    assert download_name(lost) in archive.read("MISSING.txt").decode()


def test_a_zip_of_only_missing_files_answers_the_404_page(alice_client, user):
    lost = make_image(user, "a lost lighthouse")
    lose_files(lost)

    response = alice_client.post(reverse("gallery:selection"), {"action": "zip", "ids": [lost.pk]})

    assert response.status_code == 404
    assert "a lost lighthouse" in response.content.decode()
