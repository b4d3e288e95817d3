"""The gallery: the member's images newest first, filters in the URL, cursor paging, empty states."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from runware_web.gallery import views
from runware_web.media.models import Image
from tests.gallery.factories import images_over_days, make_image, make_task

pytestmark = pytest.mark.django_db

TILE = re.compile(r'id="tile-([0-9a-f-]{36})"')


def tiles(response) -> list[str]:
    return TILE.findall(response.content.decode())


def test_it_shows_the_members_images_newest_first(alice_client, user):
    old, new = images_over_days(user, 2)[::-1]
    response = alice_client.get(reverse("gallery:index"))
    assert tiles(response) == [str(new.pk), str(old.pk)]
    assert f'href="{reverse("gallery:detail", args=[new.pk])}"' in response.content.decode()
    assert f'src="{reverse("gallery:thumb", args=[new.pk])}"' in response.content.decode()
    assert 'loading="lazy"' in response.content.decode()


def test_it_never_shows_another_members_images(alice_client, user, other_user):
    make_image(other_user, "mallory's secret castle")
    mine = make_image(user, "my own harbour")
    response = alice_client.get(reverse("gallery:index"))
    assert tiles(response) == [str(mine.pk)]
    assert "secret castle" not in response.content.decode()


def test_trashed_images_are_not_in_the_gallery(alice_client, user):
    make_image(user, "binned", deleted_at=timezone.now())
    kept = make_image(user, "kept")
    assert tiles(alice_client.get(reverse("gallery:index"))) == [str(kept.pk)]


def test_prompts_are_escaped(alice_client, user):
    make_image(user, '<script>alert("x")</script> a cat')
    body = alice_client.get(reverse("gallery:index")).content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert" in body


def test_an_empty_gallery_says_how_to_fill_it(alice_client):
    body = alice_client.get(reverse("gallery:index")).content.decode()
    assert "No images yet" in body
    assert reverse("studio:index") in body


# --------------------------------------------------------------------------- paging


def test_pages_continue_after_the_last_tile_without_repeats_or_gaps(alice_client, user, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 4)
    images = images_over_days(user, 10)
    seen, url = [], reverse("gallery:index")
    while url:
        response = alice_client.get(url, headers={"HX-Request": "true", "HX-Target": "load-more"} if seen else {})
        seen += tiles(response)
        match = re.search(r'id="load-more"[^>]*href="([^"]+)"', response.content.decode())
        url = match.group(1).replace("&amp;", "&") if match else None
    assert seen == [str(image.pk) for image in images]


def test_images_made_in_the_same_instant_are_paged_by_id(alice_client, user, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    instant = timezone.now()
    images = [make_image(user, f"twin {n}", created_at=instant, with_task=False) for n in range(5)]
    expected = sorted((str(image.pk) for image in images), reverse=True)
    seen, url = [], reverse("gallery:index")
    while url:
        response = alice_client.get(url)
        seen += tiles(response)
        match = re.search(r'class="load-more btn" href="([^"]+)"', response.content.decode())
        url = match.group(1).replace("&amp;", "&") if match else None
    assert seen == expected


def test_load_more_answers_htmx_with_tiles_only(alice_client, user, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    images_over_days(user, 3)
    first = alice_client.get(reverse("gallery:index")).content.decode()
    next_url = re.search(r'id="load-more"[^>]*href="([^"]+)"', first).group(1).replace("&amp;", "&")
    response = alice_client.get(next_url, headers={"HX-Request": "true", "HX-Target": "load-more"})
    body = response.content.decode()
    assert "<html" not in body and len(tiles(response)) == 1
    assert 'id="load-more"' not in body  # the last page has no "load more"


def test_a_later_page_keeps_the_filters(alice_client, user, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    images_over_days(user, 5, favourite=True)
    images_over_days(user, 3)
    first = alice_client.get(reverse("gallery:index") + "?favourites=on").content.decode()
    next_url = re.search(r'id="load-more"[^>]*href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "favourites=on" in next_url
    response = alice_client.get(next_url)
    assert all(Image.objects.get(pk=pk).favourite for pk in tiles(response))


def test_a_cursor_that_is_not_one_shows_the_first_page(alice_client, user):
    image = make_image(user)
    assert tiles(alice_client.get(reverse("gallery:index") + "?cursor=garbage")) == [str(image.pk)]


# --------------------------------------------------------------------------- filters


def test_filter_by_text_in_the_prompt_ignores_case(alice_client, user):
    hit = make_image(user, "A Lighthouse at dusk")
    make_image(user, "a castle in fog")
    response = alice_client.get(reverse("gallery:index"), {"prompt": "lighthouse"})
    assert tiles(response) == [str(hit.pk)]
    assert 'value="lighthouse"' in response.content.decode()  # what was typed stays in the field


def test_filter_by_model(alice_client, user):
    flux = make_image(user, "flux one", model="runware:101@1")
    make_image(user, "sdxl one", model="civitai:101055@128078")
    response = alice_client.get(reverse("gallery:index"), {"model": "runware:101@1"})
    assert tiles(response) == [str(flux.pk)]
    body = response.content.decode()
    assert '<option value="civitai:101055@128078">' in body  # the member's models are offered


def test_filter_by_kind(alice_client, user):
    make_image(user, "generated")
    upscaled = make_image(user, "bigger", kind=Image.Kind.UPSCALED)
    response = alice_client.get(reverse("gallery:index"), {"kind": "upscaled"})
    assert tiles(response) == [str(upscaled.pk)]


def test_filter_by_date_range_includes_both_days(alice_client, user):
    images = images_over_days(user, 6)  # today, yesterday, … five days ago
    today = timezone.localdate()
    response = alice_client.get(
        reverse("gallery:index"), {"since": today - timedelta(days=3), "until": today - timedelta(days=1)}
    )
    assert tiles(response) == [str(image.pk) for image in images[1:4]]


def test_filter_favourites_only(alice_client, user):
    make_image(user, "meh")
    loved = make_image(user, "loved", favourite=True)
    assert tiles(alice_client.get(reverse("gallery:index"), {"favourites": "on"})) == [str(loved.pk)]


def test_filter_by_task_shows_the_images_of_one_task(alice_client, user):
    task = make_task(user)
    one = make_image(user, "from the task", task=task)
    make_image(user, "another")
    response = alice_client.get(reverse("gallery:index"), {"task": task.pk})
    assert tiles(response) == [str(one.pk)]
    assert "Showing the images of one task" in response.content.decode()


def test_filters_combine(alice_client, user):
    target = make_image(user, "red lighthouse", model="runware:100@1", favourite=True)
    make_image(user, "red lighthouse", model="runware:100@1")
    make_image(user, "red lighthouse", model="runware:101@1", favourite=True)
    response = alice_client.get(
        reverse("gallery:index"), {"prompt": "red", "model": "runware:100@1", "favourites": "on"}
    )
    assert tiles(response) == [str(target.pk)]


def test_a_backwards_date_range_is_explained_next_to_the_field_and_kept(alice_client, user):
    make_image(user)
    response = alice_client.get(
        reverse("gallery:index"), {"prompt": "lighthouse", "since": "2026-05-10", "until": "2026-05-01"}
    )
    body = response.content.decode()
    assert "This date is before the “From” date" in body
    assert 'value="2026-05-01"' in body and 'value="2026-05-10"' in body and 'value="lighthouse"' in body
    assert len(tiles(response)) == 1  # the valid filters still apply


def test_no_match_says_so_and_offers_to_clear(alice_client, user):
    make_image(user, "a cat")
    body = alice_client.get(reverse("gallery:index"), {"prompt": "zeppelin"}).content.decode()
    assert "No images match these filters" in body
    assert "clear the filters" in body


def test_a_shared_link_with_a_model_the_member_never_used_still_works(alice_client, user):
    make_image(user, "a cat", model="runware:101@1")
    response = alice_client.get(reverse("gallery:index"), {"model": "runware:5@1"})
    assert response.status_code == 200
    assert tiles(response) == []
    assert '<option value="runware:5@1" selected>' in response.content.decode()


# --------------------------------------------------------------------------- speed


def test_the_number_of_queries_does_not_grow_with_the_gallery(alice_client, user, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(views, "PAGE_SIZE", 5)
    urls = [reverse("gallery:index"), reverse("gallery:index") + "?prompt=picture&kind=upscaled&favourites=on",
            reverse("gallery:index") + "?model=runware:101@1&since=2020-01-01"]

    def counts() -> list[int]:
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert alice_client.get(url).status_code == 200
            result.append(len(queries))
        return result

    images_over_days(user, 7, kind=Image.Kind.UPSCALED, favourite=True)  # more than a page already
    few = counts()
    images_over_days(user, 30, kind=Image.Kind.UPSCALED, favourite=True)
    assert counts() == few
    # session, user, model list, (search window), page, (a 3D model further on: the viewer's policy)
    assert max(few) <= 6


def test_the_model_list_offers_each_of_the_members_models_once_in_order(alice_client, user, other_user):
    for model in ("runware:101@1", "civitai:4201@4208", "runware:101@1", "runware:100@1"):
        make_image(user, model=model, with_task=False)
    make_image(user, model="runware:5@1", with_task=False, deleted_at=timezone.now())  # in the trash
    make_image(other_user, model="runware:97@1", with_task=False)
    body = alice_client.get(reverse("gallery:index")).content.decode()
    offered = re.findall(r'<option value="([^"]+)"', body.split('name="model"')[1].split("</select>")[0])
    assert offered == ["civitai:4201@4208", "runware:100@1", "runware:101@1"]


def test_a_text_search_reads_a_bounded_window_per_request_and_continues(alice_client, user, monkeypatch):
    """A member with many images and a rare word: each request examines at most WINDOW images and
    hands over a cursor, so no request scans the whole gallery, and every match is still found."""
    from runware_web.lib import paging

    monkeypatch.setattr(paging, "WINDOW", 3)
    images = images_over_days(user, 8)  # "picture number 0" (today) … "picture number 7"
    wanted = {images[1].pk, images[6].pk}
    Image.objects.filter(pk__in=wanted).update(prompt="a zeppelin over the sea")
    found, requests, url = [], 0, reverse("gallery:index") + "?prompt=Zeppelin"
    while url:
        response = alice_client.get(url, headers={"HX-Request": "true", "HX-Target": "load-more"} if requests else {})
        requests += 1
        found += tiles(response)
        match = re.search(r'id="load-more"[^>]*href="([^"]+)"', response.content.decode())
        url = match.group(1).replace("&amp;", "&") if match else None
    assert found == [str(images[1].pk), str(images[6].pk)]
    assert requests == 3  # rows 0-2, 3-5, 6-7
    assert "No more matches." in response.content.decode()


def test_a_search_window_without_a_match_still_offers_to_go_on(alice_client, user, monkeypatch):
    from runware_web.lib import paging

    monkeypatch.setattr(paging, "WINDOW", 2)
    images = images_over_days(user, 4)
    Image.objects.filter(pk=images[3].pk).update(prompt="the zeppelin")
    body = alice_client.get(reverse("gallery:index"), {"prompt": "zeppelin"}).content.decode()
    assert "No images match" not in body
    assert "Search images older than" in body
