"""The studio's model picker: search as you type, recent models first, the chosen model's name."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from django import forms
from django.template.loader import render_to_string
from django.utils import timezone

from runware_web.catalog.forms import PICKER_SIZE
from runware_web.simulator import catalog as sim
from runware_web.upstream.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

FLUX_DEV = "runware:101@1"
SDXL = "civitai:101055@128078"


class StudioLikeForm(forms.Form):
    model = forms.CharField(label="Model")


def options(page: str) -> list[tuple[str, str]]:
    """(name, AIR) of every option, in order."""
    pattern = r'<span class="picker-name">(.*?)</span>.*?<code class="picker-air">(.*?)</code>'
    found = re.findall(pattern, page, re.S)
    return [(html.unescape(name), html.unescape(air)) for name, air in found]


def studio_picker(**data) -> str:
    """The picker as the studio includes it, for a form like the studio's."""
    form = StudioLikeForm(data=data) if data else StudioLikeForm()
    return render_to_string("catalog/index.html#model-picker", {"field": form["model"]})


def chosen(page: str) -> str:
    match = re.search(r'<p id="model-picker-chosen"[^>]*>(.*?)</p>', page, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(match.group(1)))).strip()


async def used(user, air: str, *, minutes_ago: int, task_type: str = "imageInference") -> None:
    await Task.objects.acreate(user=user, feature="studio", task_type=task_type, model=air,
                               created_at=timezone.now() - timedelta(minutes=minutes_ago))


async def test_typing_lists_matching_checkpoints_by_name(alice, upstream, model_searches):
    page = (await alice.get("/models/picker/", {"model": "schnell"})).content.decode()

    sent = {"search": "schnell", "category": "checkpoint", "limit": PICKER_SIZE, "offset": 0}
    assert model_searches[-1] == sent
    _, models = sim.search(sim.SearchQuery(search="schnell", category="checkpoint", limit=PICKER_SIZE))
    assert options(page) == [(model.name, model.air) for model in models]
    assert "Matching checkpoints" in page
    assert chosen(page) == "No model chosen yet: pick one from the list below."


async def test_the_members_recent_models_come_first_newest_first(alice, upstream, user, other_user):
    schnell = sim.search(sim.SearchQuery(search="schnell", category="checkpoint"))[1][0]
    await used(user, SDXL, minutes_ago=30)
    await used(user, FLUX_DEV, minutes_ago=20)
    await used(user, SDXL, minutes_ago=10)  # used again: the newest
    await used(user, schnell.air, minutes_ago=5, task_type="upscale")  # not an image generation
    await used(other_user, schnell.air, minutes_ago=1)  # someone else's

    page = (await alice.get("/models/picker/")).content.decode()

    listed = options(page)
    assert [air for _, air in listed[:2]] == [SDXL, FLUX_DEV]
    assert listed[0][0] == sim.get_model(SDXL).name and listed[1][0] == sim.get_model(FLUX_DEV).name
    assert "Recently used" in page and "Popular checkpoints" in page
    assert [air for _, air in listed].count(SDXL) == 1  # not listed twice
    assert schnell.air not in [air for _, air in listed[:2]]


async def test_recent_models_that_do_not_match_the_words_are_left_out(alice, upstream, user):
    await used(user, SDXL, minutes_ago=10)
    await used(user, FLUX_DEV, minutes_ago=5)
    page = (await alice.get("/models/picker/", {"model": "flux dev"})).content.decode()
    assert options(page)[0] == (sim.get_model(FLUX_DEV).name, FLUX_DEV)
    assert SDXL not in [air for _, air in options(page)]


async def test_choosing_a_model_shows_its_name_beside_its_air(alice, upstream):
    model = sim.get_model(FLUX_DEV)
    response = await alice.get("/models/picker/choose/", {"model": FLUX_DEV})
    page = response.content.decode()

    assert re.search(rf'<input type="text" name="model" id="id_model" value="{re.escape(FLUX_DEV)}"', page)
    assert '<label for="id_model">Model</label>' in page
    assert chosen(page) == f"Chosen: {model.name} FLUX.1 dev {FLUX_DEV}"
    event = json.loads(response["HX-Trigger"])["modelChosen"]
    defaults = {"width": 1024, "height": 1024, "steps": 28, "CFGScale": 3.5,
                "scheduler": "FlowMatchEulerDiscreteScheduler"}
    assert event == {"air": FLUX_DEV, "name": model.name, "defaults": defaults}


async def test_a_typed_air_is_named_and_an_unknown_one_is_flagged(alice, upstream):
    page = (await alice.get("/models/picker/", {"model": SDXL})).content.decode()
    assert chosen(page).startswith(f"Chosen: {sim.get_model(SDXL).name}")
    assert 'hx-swap-oob="true"' in page

    page = (await alice.get("/models/picker/", {"model": "civitai:1@1"})).content.decode()
    assert chosen(page) == "Runware does not list civitai:1@1 . Check the AIR, or pick a model from the list."


async def test_the_studio_include_renders_a_labelled_search_as_you_type_input(alice, upstream):
    await alice.get("/models/", {"search": "flux dev"})  # the portal has seen FLUX.1 dev
    page = studio_picker(model=FLUX_DEV)

    assert '<label for="id_model">Model</label>' in page
    field = r'<input type="text" name="model" id="id_model" value="runware:101@1"[^>]*\brequired'
    assert re.search(field, page)
    assert 'hx-get="/models/picker/"' in page
    assert 'hx-trigger="click, input changed delay:300ms, search"' in page
    assert chosen(page).startswith(f"Chosen: {sim.get_model(FLUX_DEV).name}")
    assert "catalog.css" in page and "catalog.js" in page


async def test_an_unseen_model_gets_its_name_once_the_page_has_loaded(alice, upstream):
    page = studio_picker(model=SDXL)
    assert "looking up its name" in page
    lookup = re.search(r'hx-get="([^"]+)" hx-trigger="load"', page).group(1)

    fragment = (await alice.get(html.unescape(lookup))).content.decode()
    assert chosen(fragment).startswith(f"Chosen: {sim.get_model(SDXL).name}")


async def test_the_picker_shows_the_studios_field_errors(alice, upstream):
    page = studio_picker(model="")
    assert 'aria-invalid="true"' in page and "This field is required." in page
    assert "No model chosen: type to search" in page


async def test_when_runware_cannot_be_reached_the_list_says_so_and_recent_models_remain(
    alice, upstream, user, settings
):
    await used(user, FLUX_DEV, minutes_ago=5)
    settings.RUNWARE_WS_URL = "ws://127.0.0.1:9/v1"
    page = (await alice.get("/models/picker/")).content.decode()
    assert "The model search did not work. Runware cannot be reached right now" in page
    assert options(page) == [(FLUX_DEV, FLUX_DEV)]  # still offered, by AIR, and still choosable


async def test_words_are_escaped(alice, upstream):
    page = (await alice.get("/models/picker/", {"model": "<img src=x onerror=alert(1)>"})).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
