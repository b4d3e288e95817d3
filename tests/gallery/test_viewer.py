"""What the lightbox shows (static/js/viewer.js asks for the image page's #viewer-body): the image,
video, audio clip or 3D model, its settings and its actions, without the page around them."""

from __future__ import annotations

import pytest

from runware_web.gallery.templatetags import gallery_tags
from runware_web.media.models import Image
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db

VIEWER = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "viewer-body"}


def test_the_viewer_gets_the_image_its_settings_and_actions_without_the_page(alice_client, user):
    image = make_image(user, "a lighthouse at dusk")
    response = alice_client.get(f"/gallery/{image.pk}/", **VIEWER)
    html = response.content.decode()

    assert response.status_code == 200
    assert "<html" not in html and "topbar" not in html
    assert f'data-viewer-item="{image.pk}"' in html
    assert f'<img src="/gallery/{image.pk}/file"' in html
    assert "a lighthouse at dusk" in html and "401337" in html  # the prompt and the seed
    for action in (
        "Download",
        "Reuse settings",
        "Use as seed image",
        "Variation",
        "Inpaint",
        "Upscale",
        "Favourite",
        "Share with team",
        "Delete",
    ):
        assert f"{action}</" in html, action
    assert f"?reuse={image.pk}&amp;seedImage={image.pk}&amp;strength=0.5&amp;seed=" in html
    assert f"/tools/?image={image.pk}#tool-form-upscale" in html
    assert "Every parameter it was made with" in html
    assert "HX-Request" in response["Vary"]


def test_the_whole_page_is_unchanged_without_htmx(alice_client, user):
    image = make_image(user, "a lighthouse at dusk")
    html = alice_client.get(f"/gallery/{image.pk}/").content.decode()
    assert "<html" in html and "Your gallery" in html and f'data-viewer-item="{image.pk}"' in html


@pytest.mark.parametrize(
    ("media_type", "content_type", "element"),
    [
        ("video", "video/mp4", "<video controls"),
        ("audio", "audio/mpeg", "<audio controls"),
        ("3d", "model/gltf-binary", "<model-viewer src="),
    ],
)
def test_every_kind_of_media_is_shown_with_its_own_player(
    alice_client, user, media_type, content_type, element
):
    image = make_image(user, "something moving", media_type=media_type, content_type=content_type)
    html = alice_client.get(f"/gallery/{image.pk}/", **VIEWER).content.decode()
    assert element in html
    assert f'src="/gallery/{image.pk}/file"' in html
    assert "Variation</" not in html  # the image actions are for images


def test_a_3d_model_without_the_vendored_viewer_shows_its_thumbnail_and_a_download(
    alice_client, user, monkeypatch
):
    monkeypatch.setattr(gallery_tags, "MODEL_VIEWER", "vendor/absent/model-viewer.min.js")
    image = make_image(user, "a teapot", media_type="3d", content_type="model/gltf-binary")
    html = alice_client.get(f"/gallery/{image.pk}/", **VIEWER).content.decode()
    assert "<model-viewer" not in html
    assert f'<img src="/gallery/{image.pk}/thumb"' in html
    assert "download the 3D model" in html


def test_another_members_image_is_not_shown(alice_client, other_user):
    image = make_image(other_user, "not yours")
    assert alice_client.get(f"/gallery/{image.pk}/", **VIEWER).status_code == 404


def test_tiles_and_studio_results_open_in_the_viewer(alice_client, user):
    image = make_image(user, "a lighthouse at dusk")
    tile = f'<a class="tile-thumb" href="/gallery/{image.pk}/" data-viewer>'
    assert tile in alice_client.get("/gallery/").content.decode()
    studio = alice_client.get(f"/studio/g/{image.task_id}/").content.decode()
    assert f'<a href="/gallery/{image.pk}/" data-viewer>' in studio


def test_an_upload_is_shown_with_what_it_is(alice_client, user):
    image = make_image(user, "", kind=Image.Kind.UPLOADED, with_task=False)
    html = alice_client.get(f"/gallery/{image.pk}/", **VIEWER).content.decode()
    assert "Uploaded image" in html and "Uploaded without generation settings." in html
