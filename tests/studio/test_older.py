"""Older generations page by keyset; without JavaScript the "Show older" link is a page of its own, and a
prompt over the limit is refused beside its field, never cut (issue 16)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from runware_web.upstream.models import Task
from tests.studio.helpers import PROMPT


def generations(user, count: int) -> None:
    now = timezone.now()
    for minutes in range(count):
        Task.objects.create(user=user, feature="studio", task_type="imageInference", model="runware:101@1",
                            params={"positivePrompt": f"generation number {minutes}"}, status=Task.Status.DONE,
                            created_at=now - timedelta(minutes=minutes))


def older_link(page: str) -> str:
    start = page.index('href="/studio/?older=') + len('href="')
    return page[start:page.index('"', start)]


@pytest.mark.django_db
def test_show_older_pages_through_every_generation_once(alice_client, user):
    generations(user, 27)
    first = alice_client.get("/studio/").content.decode()
    assert first.count('class="card generation') == 12 and "Show older generations" in first

    seen = [f"generation number {n}<" for n in range(12)]
    assert all(name in first for name in seen)
    second = alice_client.get(older_link(first), headers={"HX-Request": "true", "HX-Target": "results-more"})
    html = second.content.decode()
    assert "<html" not in html and html.count('class="card generation') == 12  # only the next cards
    assert "generation number 12<" in html and "generation number 23<" in html and "generation number 11<" not in html
    third = alice_client.get(older_link(html), headers={"HX-Request": "true", "HX-Target": "results-more"})
    html = third.content.decode()
    assert html.count('class="card generation') == 3 and "Show older generations" not in html
    assert "All your tasks in History" in html


@pytest.mark.django_db
def test_without_javascript_the_older_link_opens_the_studio_at_that_page(alice_client, user):
    generations(user, 14)
    first = alice_client.get("/studio/").content.decode()
    page = alice_client.get(older_link(first)).content.decode()
    assert "<html" in page and 'id="studio-form"' in page
    assert page.count('class="card generation') == 2 and "generation number 13<" in page


@pytest.mark.django_db
def test_a_prompt_over_the_limit_is_not_cut_by_the_browser_and_is_refused_beside_it(alice_client, user):
    page = alice_client.get("/studio/").content.decode()
    assert 'maxlength="3000"' not in page and 'data-limit="3000"' in page
    answer = alice_client.post("/studio/generate", {"positivePrompt": PROMPT * 200, "model": "runware:101@1",
                                                    "width": "256", "height": "256", "numberResults": "1",
                                                    "outputFormat": "PNG"})
    html = answer.content.decode()
    assert answer.status_code == 400 and "Shorten this to 3000 characters or fewer" in html
    assert not Task.objects.filter(user=user).exists()
