"""Videos, audio clips and 3D models get what images get: the detail page, zip, team sharing,
favourites, the trash with its undo, history, and "reuse settings" for what has a form behind it."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from runware_web.accounts.models import Team
from runware_web.media.models import Image
from tests.conftest import make_user
from tests.gallery.factories import make_clip, make_image, make_mesh, make_video

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
KINDS = ("video", "audio", "3d")
NOUNS = {"video": "video", "audio": "clip", "3d": "3D model"}


def make_item(kind: str, user, tmp_path) -> Image:
    return {"video": make_video, "audio": make_clip, "3d": make_mesh}[kind](user, tmp_path)


def page(client, image: Image) -> str:
    return client.get(reverse("gallery:detail", args=[image.pk])).content.decode()


def stored_bytes(image: Image) -> bytes:
    with image.file.open("rb") as handle:
        return handle.read()


# ---------------------------------------------------------------------------- zip


def test_a_zip_of_a_video_a_clip_and_a_3d_model_holds_each_file_with_its_extension(alice_client, user, tmp_path):
    items = [make_video(user, tmp_path), make_clip(user, tmp_path), make_mesh(user, tmp_path)]
    response = alice_client.post(
        reverse("gallery:selection"), {"action": "zip", "ids": [str(item.pk) for item in items]}
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        names = archive.namelist()
        assert len(names) == 3
        for item, extension in zip(items, ("mp4", "wav", "glb"), strict=True):
            (name,) = [name for name in names if item.pk.hex[:8] in name]
            assert name.endswith(f".{extension}"), name
            assert archive.read(name) == stored_bytes(item)
    assert stored_bytes(items[0])[4:8] == b"ftyp"  # the real files, not placeholders
    assert stored_bytes(items[1])[:4] == b"RIFF" and stored_bytes(items[2])[:4] == b"glTF"


# ---------------------------------------------------------------------------- sharing


@pytest.mark.parametrize("kind", KINDS)
def test_shared_with_the_team_a_teammate_sees_it_and_another_team_gets_404(alice_client, user, team, tmp_path, kind):
    item = make_item(kind, user, tmp_path)
    bob = make_user("bob", team=team)
    outsider = make_user("eve", team=Team.objects.create(name="Elsewhere"))
    client = Client()
    client.force_login(bob)
    assert client.get(reverse("gallery:detail", args=[item.pk])).status_code == 404  # not shared yet

    response = alice_client.post(reverse("gallery:share", args=[item.pk]), {"value": "1"}, headers=HTMX)
    assert f"Your team sees this {NOUNS[kind]} in the team gallery." in response.content.decode()

    assert f'id="tile-{item.pk}"' in client.get(reverse("gallery:team")).content.decode()
    assert "Shared by" in page(client, item)
    teammate_file = client.get(reverse("gallery:download", args=[item.pk]))
    assert b"".join(teammate_file.streaming_content) == stored_bytes(item)

    client.force_login(outsider)
    assert f'id="tile-{item.pk}"' not in client.get(reverse("gallery:team")).content.decode()
    for name in ("gallery:detail", "gallery:file", "gallery:download", "gallery:thumb"):
        assert client.get(reverse(name, args=[item.pk])).status_code == 404, name


# ---------------------------------------------------------------------------- favourites, trash


@pytest.mark.parametrize("kind", KINDS)
def test_favourite_then_delete_and_undo(alice_client, user, tmp_path, kind):
    item = make_item(kind, user, tmp_path)
    alice_client.post(reverse("gallery:favourite", args=[item.pk]), {"value": "1"}, headers=HTMX)
    favourites = alice_client.get(reverse("gallery:index") + "?favourites=on").content.decode()
    assert f'id="tile-{item.pk}"' in favourites

    response = alice_client.post(reverse("gallery:delete", args=[item.pk]), headers=HTMX).content.decode()
    assert "Moved to the trash." in response and ">Undo</button>" in response
    assert f'id="tile-{item.pk}"' not in alice_client.get(reverse("gallery:index")).content.decode()
    assert f'id="tile-{item.pk}"' in alice_client.get(reverse("gallery:trash")).content.decode()
    assert f"This {NOUNS[kind]} is in the trash." in page(alice_client, item)

    alice_client.post(reverse("gallery:restore", args=[item.pk]), headers=HTMX)
    item.refresh_from_db()
    assert item.deleted_at is None and item.favourite
    assert f'id="tile-{item.pk}"' in alice_client.get(reverse("gallery:index")).content.decode()


@pytest.mark.parametrize("kind", ("audio", "3d"))
def test_the_gallery_filters_by_every_type(alice_client, user, tmp_path, kind):
    item = make_item(kind, user, tmp_path)
    picture = make_image(user, "a still life")
    shown = alice_client.get(reverse("gallery:index") + f"?media={kind}").content.decode()
    assert f'id="tile-{item.pk}"' in shown and f'id="tile-{picture.pk}"' not in shown
    images = alice_client.get(reverse("gallery:index") + "?media=image").content.decode()
    assert f'id="tile-{item.pk}"' not in images and f'id="tile-{picture.pk}"' in images


# ---------------------------------------------------------------------------- the detail page


@pytest.mark.parametrize("kind", KINDS)
def test_the_detail_page_names_the_item_for_what_it_is(alice_client, user, tmp_path, kind):
    item = make_item(kind, user, tmp_path)
    body = page(alice_client, item)
    assert f"Only you see this {NOUNS[kind]}." in body
    assert f'aria-label="About this {NOUNS[kind]}"' in body
    assert "this image" not in body.lower()
    assert "image-tools-card" not in body and "ControlNet guide" not in body  # the image tools take pictures only


def test_a_clip_without_a_prompt_is_titled_as_a_clip(alice_client, user, tmp_path):
    clip = make_clip(user, tmp_path)
    Image.objects.filter(pk=clip.pk).update(prompt="")
    body = page(alice_client, clip)
    assert '<h1 class="image-title">Generated clip</h1>' in body
    assert "<title>Audio" in body


# ---------------------------------------------------------------------------- history


def test_history_lists_each_tasks_kind_and_links_to_its_result(alice_client, user, tmp_path):
    video, clip, mesh = make_video(user, tmp_path), make_clip(user, tmp_path), make_mesh(user, tmp_path)
    body = alice_client.get(reverse("history:index")).content.decode()
    for item, label, results in ((video, "Video", "1 video"), (clip, "Audio", "1 clip"), (mesh, "3D model", "1 3D model")):
        row = body.split(f'id="task-{item.task_id}"', 1)[1].split("</tr>", 1)[0]
        assert f"<td>{label}<div" in row
        assert f'?task={item.task_id}">{results}</a>' in row
    assert '<span title="hello there">hello there</span>' in body  # a speech task shows the words it spoke
    only_audio = alice_client.get(reverse("history:index") + "?taskType=audioInference").content.decode()
    assert f'id="task-{clip.task_id}"' in only_audio and f'id="task-{video.task_id}"' not in only_audio


# ---------------------------------------------------------------------------- reuse settings
# The Video and Audio pages are async views: their database work runs in other threads.


@pytest.mark.django_db(transaction=True)
def test_reuse_settings_of_a_video_fills_the_video_form(alice_client, user, tmp_path):
    frame = make_image(user, "the first frame")
    params = {"model": "alibaba:wan@2.6", "positivePrompt": "a paper boat on a stream",
              "negativePrompt": "people", "duration": 10, "width": 1280, "height": 720, "seed": 11,
              "numberResults": 2, "outputFormat": "MP4", "outputType": "URL",
              "inputs": {"frameImages": [{"image": f"portal-image:{frame.pk}", "frame": "first"}]}}
    video = make_video(user, tmp_path, "a paper boat on a stream", params=params, seed=4242)
    link = f'href="/video/?reuse={video.pk}"'
    assert link in page(alice_client, video)

    form = alice_client.get(f"/video/?reuse={video.pk}").content.decode()
    assert '<option value="alibaba:wan@2.6" selected>' in form
    assert ">\na paper boat on a stream</textarea>" in form and ">\npeople</textarea>" in form
    assert 'name="duration" value="10"' in form and 'name="numberResults" value="2"' in form
    assert 'name="seed" value="4242"' in form  # this video's own seed, to make it again
    assert f'<option value="{frame.pk}" selected>' in form


@pytest.mark.django_db(transaction=True)
def test_reuse_settings_of_a_speech_clip_fills_the_audio_form(alice_client, user, tmp_path):
    params = {"model": "inworld:tts@2", "speech": {"text": "Good morning, crew.", "voice": "Dennis"},
              "numberResults": 1, "outputFormat": "FLAC", "outputType": "URL"}
    clip = make_clip(user, tmp_path, "Good morning, crew.", params=params, seed=99)
    assert f'href="/audio/?reuse={clip.pk}"' in page(alice_client, clip)

    form = alice_client.get(f"/audio/?reuse={clip.pk}").content.decode()
    assert '<option value="inworld:tts@2" selected>' in form
    assert ">\nGood morning, crew.</textarea>" in form
    assert '<option value="Dennis" selected>' in form and '<option value="FLAC" selected>' in form
    assert 'name="seed" value="99"' in form


@pytest.mark.django_db(transaction=True)
def test_reuse_settings_of_a_music_clip_shows_the_music_fields(alice_client, user, tmp_path):
    params = {"model": "elevenlabs:1@1", "positivePrompt": "a slow waltz on a music box", "duration": 42,
              "numberResults": 1, "outputFormat": "MP3", "outputType": "URL"}
    clip = make_clip(user, tmp_path, params=params)
    form = alice_client.get(f"/audio/?reuse={clip.pk}").content.decode()
    assert '<option value="elevenlabs:1@1" selected>' in form
    assert ">\na slow waltz on a music box</textarea>" in form and 'name="duration" value="42"' in form
    assert 'data-fields="sound">' in form  # shown at once, before the page's script runs
    assert 'data-fields="speech" hidden>' in form


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("path", "make"), [("/video/", make_video), ("/audio/", make_clip)])
def test_reuse_never_gives_another_members_settings(alice_client, other_user, tmp_path, path, make):
    theirs = make(other_user, tmp_path)
    Image.objects.filter(pk=theirs.pk).update(prompt="a secret plan")
    theirs.task.params = {**theirs.task.params, "positivePrompt": "a secret plan"}
    theirs.task.save(update_fields=["params"])
    response = alice_client.get(f"{path}?reuse={theirs.pk}")
    body = response.content.decode()
    assert response.status_code == 200
    assert "a secret plan" not in body
    assert "whose settings you wanted to reuse is not available." in body


@pytest.mark.django_db(transaction=True)
def test_reuse_on_the_wrong_page_or_a_bad_id_is_explained(alice_client, user, tmp_path):
    clip = make_clip(user, tmp_path)
    for url in (f"/video/?reuse={clip.pk}", "/audio/?reuse=not-an-id", f"/audio/?reuse={make_image(user).pk}"):
        body = alice_client.get(url).content.decode()
        assert "whose settings you wanted to reuse is not available." in body, url


def test_the_gallery_lets_the_3d_viewer_run_only_when_a_model_is_there_on_this_page_or_further_on(
    alice_client, user, tmp_path, monkeypatch
):
    from runware_web.gallery import views
    from tests.gallery.factories import images_over_days

    monkeypatch.setattr(views, "PAGE_SIZE", 3)

    def viewer_allowed() -> bool:
        return "'wasm-unsafe-eval'" in alice_client.get(reverse("gallery:index"))["Content-Security-Policy"]

    images_over_days(user, 2)
    assert not viewer_allowed()  # pictures only: the strict policy
    make_mesh(user, tmp_path)
    Image.objects.filter(media_type=Image.MediaType.MODEL_3D).update(created_at="2001-01-01T00:00Z")
    images_over_days(user, 4)
    assert viewer_allowed()  # the model is on a later page, which the viewer may reach
