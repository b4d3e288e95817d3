"""An image uploaded on the 3D page to build from: kept in the gallery and picked, a bad file refused
next to the upload with nothing else changed, and no member ever picks another's upload."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.threed.forms import IMAGE_CHOICES, ThreeDForm
from tests.conftest import make_user
from tests.gallery.factories import png_bytes

pytestmark = pytest.mark.django_db

MODEL = "tencent:hunyuan-3d@3.1-rapid"
AGAIN = "You uploaded this before — using the existing copy."


def upload(client, name: str, data: bytes, **values) -> str:
    return send(client, name, data, **values).content.decode()


def send(client, name: str, data: bytes, **values):
    response = client.post(
        "/3d/image",
        {
            "model": MODEL,
            "positivePrompt": "a stone lighthouse",
            **values,
            "imageUpload": SimpleUploadedFile(name, data, content_type="image/png"),
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    return response


def picked(page: str) -> list[str]:
    """The values of the picker's selected options."""
    select = re.search(r'<select name="image".*?</select>', page, re.S).group(0)
    return re.findall(r'<option value="([^"]*)" selected>', select)


def test_an_uploaded_image_goes_into_the_gallery_and_is_picked(client):
    alice = make_user("alice")
    client.force_login(alice)
    response = send(client, "lighthouse.png", png_bytes(size=(64, 64)))
    page = response.content.decode()
    image = Image.objects.get(user=alice)
    assert image.kind == Image.Kind.UPLOADED and image.original_name == "lighthouse.png"
    assert picked(page) == [str(image.pk)]
    assert re.search(r'id="errors-imageUpload"></div>', page)
    assert "a stone lighthouse" not in page  # only the picker is drawn again: the prompt stays as typed
    assert response.headers["HX-Trigger-After-Settle"] == '{"upload-picked": {}}'  # the estimate follows


def test_the_same_file_uploaded_again_is_the_earlier_copy_even_when_older_than_the_newest_choices(client):
    alice = make_user("alice")
    client.force_login(alice)
    data = png_bytes((10, 200, 10), size=(64, 64))
    upload(client, "first.png", data)
    earlier = Image.objects.get(user=alice)
    for index in range(IMAGE_CHOICES):  # the upload is no longer among the newest images offered
        save_image(user=alice, data=png_bytes(size=(48, 32)), prompt=f"made {index}")

    page = upload(client, "again.png", data)
    assert picked(page) == [str(earlier.pk)]
    assert AGAIN in page  # told, in a toast
    assert Image.objects.filter(user=alice, kind=Image.Kind.UPLOADED).count() == 1


def test_a_file_that_is_not_an_image_is_refused_next_to_the_upload_and_the_picked_image_stays(client):
    alice = make_user("alice")
    client.force_login(alice)
    mine = save_image(user=alice, data=png_bytes(), prompt="a red door")
    page = upload(client, "notes.png", b"not a picture at all", image=str(mine.pk))
    assert re.search(r'id="errors-imageUpload"><span>This file is not an image we can read', page)
    assert picked(page) == [str(mine.pk)]
    assert re.search(r'id="errors-image"></div>', page)
    assert Image.objects.filter(user=alice).count() == 1  # nothing stored


def test_another_members_upload_is_never_offered_nor_accepted(client):
    alice, bob = make_user("alice"), make_user("bob")
    client.force_login(bob)
    upload(client, "bobs-secret.png", png_bytes((1, 2, 3), size=(64, 64)))
    theirs = Image.objects.get(user=bob)

    client.force_login(alice)
    page = upload(client, "notes.png", b"not a picture", image=str(theirs.pk))
    assert str(theirs.pk) not in page and "bobs-secret" not in page
    assert picked(page) == []

    # Nor may a generation name it (the form the page's socket checks).
    form = ThreeDForm(
        {"model": MODEL, "positivePrompt": "", "image": str(theirs.pk), "numberResults": "1"}, user=alice
    )
    assert not form.is_valid()
    assert form.errors["image"] == [
        f"Select a valid choice. {theirs.pk} is not one of the available choices."
    ]
