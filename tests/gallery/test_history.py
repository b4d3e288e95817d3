"""History: every task of the member with kind, model, status, duration, cost and results."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from runware_web.history import views as history
from runware_web.upstream.models import Task
from tests.gallery.factories import make_image, make_task

pytestmark = pytest.mark.django_db

ROW = re.compile(r'id="task-([0-9a-f-]{36})"')


def rows(response) -> list[str]:
    return ROW.findall(response.content.decode())


def test_it_lists_the_members_tasks_newest_first_with_their_facts(alice_client, user):
    start = timezone.now() - timedelta(minutes=5)
    older = make_task(user, created_at=start, started_at=start, finished_at=start + timedelta(seconds=3.2),
                      cost=Decimal("0.0082000000"))
    newer = make_task(user, feature="chat", task_type="textInference", model="openai:gpt@5-mini",
                      params={"model": "openai:gpt@5-mini"}, cost=Decimal("0.00012"))
    response = alice_client.get(reverse("history:index"))
    assert rows(response) == [str(newer.pk), str(older.pk)]
    body = response.content.decode()
    for text in ("Image generation", "Chat reply", "runware:101@1", "openai:gpt@5-mini", "3.2 s", "$0.0082",
                 "$0.00012", "status-done"):
        assert text in body, text


def test_image_tasks_link_to_their_images_and_chat_tasks_to_the_conversation(alice_client, user):
    images_task = make_task(user)
    make_image(user, task=images_task)
    make_image(user, task=images_task)
    chat = make_task(user, feature="chat", task_type="textInference")
    body = alice_client.get(reverse("history:index")).content.decode()
    assert f'href="/gallery/?task={images_task.pk}">2 images</a>' in body
    assert f'href="/chat/?task={chat.pk}"' in body


def test_a_failed_task_shows_its_error(alice_client, user):
    make_task(user, status=Task.Status.FAILED, error_message="The safety filter blocked this request. <b>x</b>")
    body = alice_client.get(reverse("history:index")).content.decode()
    assert "status-failed" in body
    assert "The safety filter blocked this request. &lt;b&gt;x&lt;/b&gt;" in body


def test_a_running_task_shows_progress_and_is_watched(alice_client, user):
    task = make_task(user, status=Task.Status.RUNNING, number_results=4, results_received=1)
    body = alice_client.get(reverse("history:index")).content.decode()
    assert "1 of 4 results" in body
    assert f'hx-get="{reverse("history:row", args=[task.pk])}" hx-trigger="every 2s"' in body
    Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE, results_received=4,
                                           started_at=timezone.now(), finished_at=timezone.now())
    row = alice_client.get(reverse("history:row", args=[task.pk])).content.decode()
    assert "status-done" in row and "hx-trigger" not in row  # done: the page stops asking


def test_filter_by_kind_and_status(alice_client, user):
    failed = make_task(user, status=Task.Status.FAILED)
    make_task(user)
    make_task(user, feature="tools", task_type="imageUpscale", status=Task.Status.FAILED)
    upscale = make_task(user, feature="tools", task_type="upscale")
    response = alice_client.get(reverse("history:index"), {"taskType": "imageInference", "status": "failed"})
    assert rows(response) == [str(failed.pk)]
    both_names = alice_client.get(reverse("history:index"), {"taskType": "upscale"})
    assert len(rows(both_names)) == 2 and str(upscale.pk) in rows(both_names)  # legacy name included


def test_no_tasks_says_where_to_start(alice_client):
    body = alice_client.get(reverse("history:index")).content.decode()
    assert "No tasks yet" in body


def test_history_pages_by_cursor(alice_client, user, monkeypatch):
    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    now = timezone.now()
    tasks = [make_task(user, created_at=now - timedelta(minutes=n)) for n in range(5)]
    seen, url = [], reverse("history:index")
    while url:
        response = alice_client.get(url, headers={"HX-Request": "true", "HX-Target": "load-more"} if seen else {})
        seen += rows(response)
        match = re.search(r'id="load-more"[^>]*hx-get="([^"]+)"', response.content.decode())
        url = match.group(1).replace("&amp;", "&") if match else None
    assert seen == [str(task.pk) for task in tasks]


def test_history_queries_do_not_grow_with_tasks(alice_client, user, django_assert_max_num_queries):
    make_task(user)
    with django_assert_max_num_queries(3) as few:
        alice_client.get(reverse("history:index"))
    for _ in range(20):
        make_image(user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        alice_client.get(reverse("history:index"))
