"""The studio's pages over HTTP: the form and its pre-filling, uploads, the estimate, and the
plain POST that works without JavaScript."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.studio.models import Generation
from runware_web.upstream.models import Task
from tests.conftest import make_user
from tests.studio.helpers import PROMPT, png_bytes

LABELS = [
    "Prompt", "Negative prompt", "Model", "Width", "Height", "Number of images", "Steps", "CFG scale", "Scheduler",
    "Seed", "CLIP skip", "Output format", "NSFW check", "Prompt weighting", "Seed image", "Strength", "Mask image",
    "Extend top", "Edge blur", "Refiner model", "Refiner start step", "Aspect ratio",
]


def upload(client: Client, target: str = "seedImage", data: bytes | None = None, name: str = "in.png"):
    file = SimpleUploadedFile(name, png_bytes() if data is None else data, content_type="image/png")
    return client.post("/studio/upload", {"target": target, f"{target}_file": file}, headers={"HX-Request": "true"})


def own_image(user, **extra) -> Image:
    return save_image(user=user, data=png_bytes(), kind=Image.Kind.UPLOADED, **extra)


@pytest.mark.django_db
def test_the_page_labels_every_control_and_says_what_to_do_before_the_first_image(alice_client):
    page = alice_client.get("/studio/").content.decode()
    for label in LABELS:
        assert re.search(rf"<label[^>]*>\s*(<input[^>]*>\s*)?{re.escape(label)}\s*</label>", page), label
    assert 'aria-label="Results"' in page and "No images yet" in page and "press <strong>Generate</strong>" in page
    assert 'ws-connect="/ws/studio/"' in page and "csrfmiddlewaretoken" in page
    assert 'id="estimate"' in page and "from the price table" in page


@pytest.mark.django_db
def test_links_from_other_pieces_prefill_the_form(alice_client, user, other_user):
    mine, theirs = own_image(user), own_image(other_user)
    page = alice_client.get(
        "/studio/",
        {"model": "runware:100@1", "width": "832", "steps": "4", "positivePrompt": "a <b>bold</b> fox",
         "lora_model": ["civitai:1@2", "civitai:3@4"], "lora_weight": ["0.5", "1.5"], "seedImage": str(mine.pk),
         "maskImage": str(theirs.pk), "controlnet_guide": str(mine.pk), "controlnet_model": "civitai:5@6"},
    ).content.decode()
    assert 'value="runware:100@1"' in page and 'name="width" value="832"' in page
    assert "a &lt;b&gt;bold&lt;/b&gt; fox</textarea>" in page  # escaped, never marked safe
    assert 'id="id_lora_model_0"' in page and 'value="civitai:3@4"' in page and 'value="1.5"' in page
    assert f'name="seedImage" value="{mine.pk}"' in page
    assert f'name="controlnet_guide" value="{mine.pk}"' in page and 'value="civitai:5@6"' in page
    assert str(theirs.pk) not in page and "The mask image is not in your gallery." in page


@pytest.mark.django_db
def test_reuse_restores_every_setting_of_the_task_that_made_the_image(alice_client, user, other_user):
    seed = own_image(user)
    task = Task.objects.create(user=user, feature="studio", task_type="imageInference", model="runware:101@1",
                               params={"positivePrompt": PROMPT}, status=Task.Status.DONE)
    Generation.objects.create(task=task, settings={
        "positivePrompt": PROMPT, "model": "runware:101@1", "width": 768, "height": 512, "numberResults": 2,
        "steps": 12, "CFGScale": 4.5, "scheduler": "Euler a", "seedImage": str(seed.pk), "strength": 0.4,
        "loras": [{"model": "civitai:11@22", "weight": 0.7}],
    })
    made = own_image(user, task=task, seed=424242, prompt=PROMPT)
    page = alice_client.get("/studio/", {"reuse": str(made.pk)}).content.decode()
    for snippet in [f"{PROMPT}</textarea>", 'name="width" value="768"', 'name="steps" value="12"',
                    'name="CFGScale" value="4.5"', '<option value="Euler a" selected>', 'name="seed" value="424242"',
                    f'name="seedImage" value="{seed.pk}"', 'name="strength" value="0.4"', 'value="civitai:11@22"']:
        assert snippet in page, snippet

    stranger = Client()
    stranger.force_login(other_user)
    page = stranger.get("/studio/", {"reuse": str(made.pk)}).content.decode()
    assert PROMPT not in page and "is not available" in page


@pytest.mark.django_db
def test_an_upload_is_stored_as_the_members_image_and_comes_back_as_the_input(alice_client, user):
    response = upload(alice_client)
    image = Image.objects.get()
    assert (image.user, image.kind) == (user, Image.Kind.UPLOADED)
    html = response.content.decode()
    assert f'name="seedImage" value="{image.pk}"' in html and f"/gallery/{image.pk}/thumb" in html

    bad = upload(alice_client, data=b"GIF89a not really", name="fake.png").content.decode()
    assert "This file is not an image we can read" in bad and 'name="seedImage" value=""' in bad
    assert Image.objects.count() == 1


@pytest.mark.django_db
def test_uploads_need_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert upload(client).status_code == 403
    assert not Image.objects.exists()


@pytest.mark.django_db
def test_use_this_image_works_only_with_the_members_own_images(alice_client, user, other_user):
    mine, theirs = own_image(user), own_image(other_user)
    ok = alice_client.get("/studio/image-input", {"target": "seedImage", "image": str(mine.pk)})
    assert f'name="seedImage" value="{mine.pk}"' in ok.content.decode()
    assert alice_client.get("/studio/image-input", {"target": "seedImage", "image": str(theirs.pk)}).status_code == 404
    assert alice_client.get("/studio/image-input", {"target": "seedImage", "image": "nonsense"}).status_code == 404


@pytest.mark.django_db
def test_the_estimate_learns_from_recent_actual_costs_and_falls_back_to_the_price_table(alice_client, user):
    query = {"model": "runware:101@1", "width": "1024", "height": "1024", "steps": "28", "numberResults": "3"}
    table = alice_client.get("/studio/estimate", query).content.decode()
    # 3 × ($0.0005 + $0.0001 × 1.048576 megapixels × 28 steps) = $0.01030803, shown rounded up
    assert "≈ $0.0104" in table and "for 3 images" in table and "from the price table" in table

    Task.objects.create(user=user, feature="studio", task_type="imageInference", model="runware:101@1",
                        status=Task.Status.DONE, number_results=2, results_received=2, cost=Decimal("0.0050"),
                        params={"model": "runware:101@1", "width": 1024, "height": 1024, "steps": 28})
    recent = alice_client.get("/studio/estimate", query).content.decode()
    assert "≈ $0.0075" in recent and "from the actual cost of 2 recent images" in recent

    with_lora = alice_client.get("/studio/estimate", {**query, "lora_model": "civitai:1@2", "lora_weight": "1"})
    assert "≈ $0.0081" in with_lora.content.decode()  # + $0.0002 per image for the LoRA


@pytest.mark.django_db
def test_without_javascript_bad_input_comes_back_with_messages_and_nothing_typed_is_lost(alice_client):
    response = alice_client.post("/studio/generate", {"positivePrompt": "my careful prompt", "model": "runware:101@1",
                                                      "width": "1000", "height": "512", "numberResults": "2"})
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r'id="errors-width"><span>Use a multiple of 64 pixels', page)
    assert "my careful prompt</textarea>" in page and 'name="height" value="512"' in page
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_the_generate_post_needs_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/studio/generate", {"positivePrompt": PROMPT}).status_code == 403


@pytest.mark.django_db(transaction=True)
async def test_without_javascript_the_form_posts_and_the_generation_page_shows_the_result(
    async_client, upstream
):
    alice = await database_sync_to_async(make_user)("alice")
    await async_client.aforce_login(alice)
    response = await async_client.post("/studio/generate", {
        "positivePrompt": PROMPT, "model": "runware:101@1", "width": "256", "height": "256", "numberResults": "2",
        "steps": "4", "seedImage_file": SimpleUploadedFile("seed.png", png_bytes(256, 256), content_type="image/png"),
    })
    assert response.status_code == 302
    task_id = re.search(r"/studio/g/([0-9a-f-]{36})/", response["Location"]).group(1)
    await upstream.wait(task_id)

    page = (await async_client.get(response["Location"])).content.decode()
    assert page.count(f'alt="{PROMPT}"') == 2 and re.search(r"2 images · \d+\.\d s · \$0\.\d+", page)
    task = await Task.objects.aget(pk=task_id)
    upload = await Image.objects.aget(user_id=task.user_id, kind=Image.Kind.UPLOADED)
    assert task.params["seedImage"] == f"portal-image:{upload.pk}"  # the upload went along


@pytest.mark.django_db(transaction=True)
def test_a_generation_and_its_images_are_only_for_their_owner(client, user, other_user):
    task = Task.objects.create(user=user, feature="studio", task_type="imageInference", status=Task.Status.RUNNING,
                               params={"positivePrompt": PROMPT, "width": 256, "height": 256}, number_results=1)
    image = own_image(user, task=task, prompt=PROMPT)
    client.force_login(other_user)
    assert client.get(f"/studio/g/{task.pk}/").status_code == 404
    assert client.post(f"/studio/g/{task.pk}/cancel").status_code == 404
    assert client.get(f"/gallery/{image.pk}/file").status_code == 404
    assert Task.objects.get(pk=task.pk).status == Task.Status.RUNNING

    client.force_login(user)
    page = client.get(f"/studio/g/{task.pk}/").content.decode()
    assert f'alt="{PROMPT}"' in page and 'http-equiv="refresh"' in page  # running: refreshes without JS
    assert client.get(f"/gallery/{image.pk}/file").status_code == 200
    assert client.get(f"/studio/g/{uuid.uuid4()}/").status_code == 404
