"""The tools page over plain HTTP: picking an image, uploads and their refusals, the no-socket
fallback of every tool, prompt enhancement, and that nothing works on another member's image."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from runware_web.media.models import Image
from runware_web.tools.models import TextResult, ToolRun
from runware_web.upstream.models import Task
from tests.tools.conftest import png_bytes

# ------------------------------------------------------------------ the page


@pytest.mark.django_db
def test_an_empty_tools_page_says_what_to_do(alice_client):
    page = alice_client.get(reverse("tools:index")).content.decode()
    assert "Pick an image to work on" in page
    assert "Your gallery is empty. Upload an image above" in page
    assert '<label for="id_image">Image</label>' in page
    assert "Enhance prompt" in page


@pytest.mark.django_db
def test_the_page_offers_the_members_own_images_only(alice_client, user, image, other_image):
    page = alice_client.get(reverse("tools:index")).content.decode()
    assert f"?image={image.pk}" in page
    assert str(other_image.pk) not in page


@pytest.mark.django_db
def test_a_picked_image_gets_every_tool_and_its_socket(alice_client, image):
    page = alice_client.get(reverse("tools:index"), {"image": image.pk}).content.decode()
    assert f'ws-connect="/ws/tools/?image={image.pk}"' in page
    for task_type, button in [("caption", "Caption"), ("upscale", "Upscale"), ("removeBackground", "Remove background"),
                              ("controlNetPreprocess", "Make guide"), ("imageMasking", "Detect mask")]:
        assert f'id="tool-form-{task_type}"' in page and f">{button}</button>" in page
    assert "csrfmiddlewaretoken" in page
    assert "Nothing yet. Pick a tool" in page


@pytest.mark.django_db
def test_another_members_image_is_not_found(alice_client, other_image):
    assert alice_client.get(reverse("tools:index"), {"image": other_image.pk}).status_code == 404
    assert alice_client.get(reverse("tools:index"), {"image": "not-a-uuid"}).status_code == 404


# ------------------------------------------------------------------ uploads


def noise_png() -> bytes:
    """A real PNG that does not compress (about 12 KB)."""
    import io
    import os

    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.django_db
def test_an_uploaded_image_is_kept_and_picked(alice_client, user):
    upload = SimpleUploadedFile("holiday.jpg", png_bytes(120, 80, fmt="JPEG"), content_type="image/jpeg")
    response = alice_client.post(reverse("tools:upload"), {"image": upload})
    image = Image.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == f"/tools/?image={image.pk}"
    assert (image.kind, image.original_name, image.width, image.height) == ("uploaded", "holiday.jpg", 120, 80)
    assert image.content_type == "image/jpeg"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, data, overrides, message",
    [
        ("notes.png", b"these are not pixels", {}, "This file is not an image we can read"),
        ("anim.gif", png_bytes(fmt="GIF"), {}, "GIF images are not accepted"),
        ("cut.png", png_bytes(200, 200)[:300], {}, "This file is not an image we can read"),
        ("big.png", noise_png(), {"UPLOAD_MAX_BYTES": 1024}, "the largest accepted is 1.0\xa0KB"),
        ("bomb.png", png_bytes(400, 300), {"UPLOAD_MAX_PIXELS": 100_000}, "This image is 400×300 pixels"),
    ],
)
def test_a_bad_upload_is_refused_next_to_the_field_and_nothing_is_stored(alice_client, settings, name, data, overrides, message):
    for key, value in overrides.items():
        setattr(settings, key, value)
    response = alice_client.post(reverse("tools:upload"), {"image": SimpleUploadedFile(name, data)})
    page = response.content.decode()
    assert response.status_code == 400
    assert message in html.unescape(page)
    assert 'class="field has-error"' in page
    assert not Image.objects.exists()


@pytest.mark.django_db
def test_an_upload_without_a_file_asks_for_one(alice_client):
    response = alice_client.post(reverse("tools:upload"), {})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("name, kwargs", [("tools:upload", {}), ("tools:enhance", {}),
                                          ("tools:run", {"task_type": "caption"})])
def test_every_post_needs_its_csrf_token(user, name, kwargs):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(reverse(name, kwargs=kwargs), {}).status_code == 403


# ------------------------------------------------------------------ the no-socket fallback

pytestmark_async = pytest.mark.django_db(transaction=True)


@pytestmark_async
async def test_a_tool_posted_without_the_socket_runs_and_shows_its_result(async_client, user, image, upstream):
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("tools:run", args=["upscale"]), {
        "image": str(image.pk), "model": "runware:504@1", "upscaleFactor": "4", "outputFormat": "JPG"})
    upscaled = await Image.objects.aget(source=image)
    assert response.status_code == 302
    assert response["Location"] == f"/tools/?image={image.pk}#tool-run-{upscaled.task_id}"
    assert (upscaled.width, upscaled.height, upscaled.kind) == (384, 256, "upscaled")
    task = await Task.objects.aget(pk=upscaled.task_id)
    assert task.status == "done" and task.cost == upscaled.cost > 0

    page = (await async_client.get(response["Location"])).content.decode()
    assert f'id="tool-run-{task.pk}"' in page and "384×256" in page


@pytestmark_async
async def test_the_fallback_answers_bad_input_on_the_page_keeping_what_was_chosen(async_client, user, image, upstream):
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("tools:run", args=["upscale"]), {
        "image": str(image.pk), "model": "runware:501@1", "upscaleFactor": "4", "outputFormat": "WEBP"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "CCSR upscales by 2× only" in page
    assert '<option value="runware:501@1" selected>' in page and '<option value="WEBP" selected>' in page
    assert await Task.objects.acount() == 0


@pytestmark_async
@pytest.mark.parametrize("task_type", ["caption", "upscale", "removeBackground", "controlNetPreprocess", "imageMasking"])
async def test_the_fallback_never_runs_a_tool_on_another_members_image(async_client, user, other_image, upstream, task_type):
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("tools:run", args=[task_type]), {"image": str(other_image.pk)})
    assert response.status_code == 404
    assert await Task.objects.acount() == 0


@pytestmark_async
async def test_an_unknown_tool_is_not_found(async_client, user, image, upstream):
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("tools:run", args=["imageInference"]), {"image": str(image.pk)})
    assert response.status_code == 404


# ------------------------------------------------------------------ prompt enhancement

HTMX = {"HX-Request": "true"}


@pytestmark_async
async def test_enhance_returns_the_versions_to_pick_and_saves_them_with_their_cost(async_client, user, upstream):
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("tools:enhance"), {
        "prompt": "a lighthouse on a cliff", "promptVersions": "3", "promptMaxLength": "120"}, headers=HTMX)
    page = response.content.decode()
    assert response.status_code == 200

    run = await ToolRun.objects.select_related("task").aget(user=user)
    texts = [t async for t in TextResult.objects.filter(task=run.task).order_by("index")]
    assert run.tool == "promptEnhance" and run.prompt == "a lighthouse on a cliff"
    assert len(texts) == 3 and len({t.text for t in texts}) == 3
    assert all(len(t.text) <= 120 and "lighthouse" in t.text for t in texts)
    for number, text in enumerate(texts, start=1):
        assert f'data-text="{html.escape(text.text)}"' in page and f"Use version {number}</button>" in page
    assert run.task.cost == sum((t.cost for t in texts), Decimal(0)) > 0
    assert run.task.number_results == 3


@pytestmark_async
async def test_enhance_without_a_prompt_says_so_and_starts_nothing(async_client, user, upstream):
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("tools:enhance"), {
        "prompt": "   ", "promptVersions": "3", "promptMaxLength": "300"}, headers=HTMX)
    assert response.status_code == 200  # htmx only swaps 2xx answers
    assert "Write a prompt first, then enhance it." in response.content.decode()
    assert await Task.objects.acount() == 0


@pytestmark_async
async def test_enhance_puts_option_errors_next_to_their_inputs(async_client, user, upstream):
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("tools:enhance"), {
        "prompt": "a castle", "promptVersions": "8", "promptMaxLength": "300"}, headers=HTMX)
    page = response.content.decode()
    assert ('<p class="field-error" id="enhance-error-promptVersions" hx-swap-oob="true">'
            "Ensure this value is less than or equal to 5.</p>") in page
    assert '<p class="field-error" id="enhance-error-promptMaxLength" hx-swap-oob="true"></p>' in page
    assert await Task.objects.acount() == 0


@pytestmark_async
async def test_enhance_over_budget_is_refused_with_the_reason(async_client, user, upstream):
    user.monthly_budget = Decimal("0")
    await database_sync_to_async(user.save)(update_fields=["monthly_budget"])
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("tools:enhance"), {
        "prompt": "a castle", "promptVersions": "2", "promptMaxLength": "300"}, headers=HTMX)
    assert "monthly budget" in response.content.decode()
    assert await Task.objects.acount() == 0


@pytestmark_async
async def test_a_failed_enhancement_says_what_happened_and_leaves_the_prompt(async_client, user, upstream):
    await async_client.aforce_login(user)
    response = await async_client.post(reverse("tools:enhance"), {
        "prompt": "a castle [sim:fail=providerError]", "promptVersions": "2", "promptMaxLength": "300"}, headers=HTMX)
    page = response.content.decode()
    assert "failed to produce a result" in page and "Your prompt is unchanged" in page
    assert "Use version" not in page


@pytest.mark.django_db
def test_fewer_versions_than_asked_are_shown_with_a_note(user):
    """When Runware's versions arrive folded into one text, the text is split; when still fewer
    arrive than asked, the member is told."""
    from django.template.loader import render_to_string

    from runware_web.tools.services import enhanced

    task = Task.objects.create(user=user, feature="tools", task_type="promptEnhance", status="done", number_results=3)
    TextResult.objects.create(task=task, user=user, index=0, text="1. a castle at dawn\n2. a castle at dusk")
    result = enhanced(task.pk, 3)
    assert result.versions == ["a castle at dawn", "a castle at dusk"]
    page = render_to_string("tools/index.html#enhance-versions", {"result": result, "form": None})
    assert "Use version 2" in page and "Runware returned 2 of the 3 versions asked for." in page


# ------------------------------------------------------------------ the image page's include


@pytest.mark.django_db
def test_the_image_page_include_offers_the_tools_to_the_owner_only(rf, user, other_user, image):
    from django.template.loader import render_to_string

    request = rf.get(f"/gallery/{image.pk}/")
    request.user = user
    page = render_to_string("tools/index.html#image-actions", {"image": image}, request=request)
    assert f'ws-connect="/ws/tools/?image={image.pk}"' in page
    assert 'id="tool-form-upscale"' in page and "Remove background" in page

    request.user = other_user  # a team member looking at a shared image
    assert "tool-form-" not in render_to_string("tools/index.html#image-actions", {"image": image}, request=request)


@pytest.mark.django_db
def test_results_escape_what_runware_wrote(alice_client, user, image):
    task = Task.objects.create(user=user, feature="tools", task_type="caption", status="done")
    ToolRun.objects.create(task=task, user=user, tool="caption", source=image)
    TextResult.objects.create(task=task, user=user, source=image, text='<script>alert("x")</script> a cat')
    page = alice_client.get(reverse("tools:index"), {"image": image.pk}).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; a cat" in page
