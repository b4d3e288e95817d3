"""The gallery's main view shows what the portal made; uploads, masks and guides show when asked for
(defect 13 of issue 16)."""

from __future__ import annotations

import pytest

from runware_web.media.models import Image
from tests.gallery.factories import make_image, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def pictures(user):
    return {
        "generated": make_image(user, "a lighthouse at dusk"),
        "upscaled": make_image(user, "a lighthouse, upscaled", kind=Image.Kind.UPSCALED),
        "uploaded": make_image(user, "", kind=Image.Kind.UPLOADED, with_task=False),
        "mask": make_image(user, "", kind=Image.Kind.MASK, with_task=False),
        "guide": make_image(user, "", kind=Image.Kind.GUIDE, with_task=False),
    }


def shown(client, query: str = "") -> set[str]:
    page = client.get(f"/gallery/{query}").content.decode()
    return {image.kind for image in Image.objects.all() if f'id="tile-{image.pk}"' in page}


def test_the_main_view_leaves_inputs_out_and_says_where_they_are(alice_client, pictures):
    assert shown(alice_client) == {"generated", "upscaled"}
    page = alice_client.get("/gallery/").content.decode()
    assert "Your uploads, masks and guides are kept out of this view." in page
    assert 'href="/gallery/?kind=inputs">Show inputs</a>' in page


def test_inputs_show_when_asked_for(alice_client, pictures):
    assert shown(alice_client, "?kind=inputs") == {"uploaded", "mask", "guide"}
    assert shown(alice_client, "?kind=all") == {"generated", "upscaled", "uploaded", "mask", "guide"}
    assert shown(alice_client, "?kind=mask") == {"mask"}
    assert shown(alice_client, "?kind=upscaled") == {"upscaled"}


def test_one_tasks_images_are_all_shown_whatever_they_are(alice_client, user):
    task = make_task(user, task_type="imageMasking", feature="tools")
    mask = make_image(user, "", kind=Image.Kind.MASK, task=task)
    page = alice_client.get(f"/gallery/?task={task.pk}").content.decode()
    assert f'id="tile-{mask.pk}"' in page


def test_a_member_with_only_uploads_is_shown_where_they_are(alice_client, user):
    make_image(user, "", kind=Image.Kind.UPLOADED, with_task=False)
    page = alice_client.get("/gallery/").content.decode()
    assert "No images yet" in page
    assert "what you upload is under" in page
