"""The member's running tasks across features: what the list shows, whose, and cancelling one."""

from __future__ import annotations

import pytest
from django.utils import timezone

from runware_web.runner import runner
from runware_web.upstream.models import Task
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def make_task(
    user,
    *,
    feature: str = "studio",
    status: str = Task.Status.RUNNING,
    prompt: str = "a red kite",
    task_type: str = "imageInference",
) -> Task:
    return Task.objects.create(
        user=user,
        feature=feature,
        task_type=task_type,
        status=status,
        params={"positivePrompt": prompt},
        worker=runner.worker_id,
        started_at=timezone.now(),
    )


def test_the_list_shows_the_members_running_tasks_with_where_they_run(client):
    alice, bob = make_user("alice"), make_user("bob")
    running = make_task(alice, prompt="a <b>bold</b> kite")
    make_task(alice, status=Task.Status.DONE, prompt="a finished kite")
    make_task(bob, prompt="bob's secret prompt")
    client.force_login(alice)

    page = client.get("/activity/").content.decode()

    assert "Image generation" in page
    assert "a &lt;b&gt;bold&lt;/b&gt; kite" in page  # escaped
    assert f'href="/studio/g/{running.pk}/"' in page
    assert "a finished kite" not in page
    assert "bob&#x27;s secret prompt" not in page and "secret prompt" not in page


def test_the_headers_poller_polls_only_while_something_runs(client):
    alice = make_user("alice")
    client.force_login(alice)
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "activity-poll"}

    idle = client.get("/activity/", **htmx).content.decode()
    assert 'data-count="0"' in idle
    assert "every " not in idle
    assert "Nothing is running right now." in idle

    make_task(alice, feature="chat", task_type="textInference")
    busy = client.get("/activity/", **htmx).content.decode()
    assert 'data-count="1"' in busy
    assert "every 3s" in busy
    assert "Chat reply" in busy
    assert "<html" not in busy  # the fragment only


@pytest.mark.django_db(transaction=True)  # the view is async: it runs on another thread
def test_a_member_cancels_their_running_generation_from_the_list(client):
    alice = make_user("alice")
    task = make_task(alice)
    client.force_login(alice)

    response = client.post(f"/activity/{task.pk}/cancel", HTTP_REFERER="http://testserver/gallery/")

    assert response.status_code == 302
    assert response["Location"] == "http://testserver/gallery/"
    task.refresh_from_db()
    assert task.status == Task.Status.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_another_members_task_cannot_be_cancelled(client):
    alice, bob = make_user("alice"), make_user("bob")
    task = make_task(bob)
    client.force_login(alice)

    assert client.post(f"/activity/{task.pk}/cancel").status_code == 404
    task.refresh_from_db()
    assert task.status == Task.Status.RUNNING


def test_the_list_needs_a_login(client):
    assert client.get("/activity/").status_code == 302
