"""The model search page: filters, paging, the cache, errors and the actions on each card.

Searches go to the session's Runware simulator through the runner's client; the expected answers
come from the simulator's own catalogue.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache

from runware_web.catalog.forms import PAGE_SIZE
from runware_web.catalog.search import cache_key
from runware_web.simulator import catalog as sim
from runware_web.upstream.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true", "HX-Target": "model-results"}


def expected(**query) -> tuple[int, list[sim.ModelInfo]]:
    return sim.search(sim.SearchQuery(limit=PAGE_SIZE, **query))


async def search(client, headers: dict | None = None, **params) -> str:
    """The search page (or the htmx fragment) for these query parameters."""
    return (await client.get("/models/", params, headers=headers or {})).content.decode()


def card_names(page: str) -> list[str]:
    return [html.unescape(name) for name in re.findall(r'<h2 class="model-name"[^>]*>(.*?)</h2>', page)]


def links(page: str, text: str) -> list[str]:
    pattern = rf'<a class="btn[^"]*" href="([^"]+)"[^>]*>{re.escape(text)}'
    return [html.unescape(href) for href in re.findall(pattern, page)]


async def test_a_search_shows_models_as_cards_with_their_details(alice, upstream):
    total, models = expected(search="flux")
    page = await search(alice, search="flux")

    assert f"<strong>{total}</strong> models found" in page
    assert card_names(page) == [model.name for model in models]
    first = models[0]
    assert f"<code>{first.air}</code>" in page
    assert f"/hero/{first.slug}.jpg" in page  # the hero image
    assert "FLUX.1 dev" in page or "FLUX.1 schnell" in page  # architectures by their names
    assert f"<dt>Steps</dt><dd>{first.defaults.steps}</dd>" in page
    assert f"<dd>{first.defaults.scheduler}</dd>" in page


async def test_a_search_is_not_a_task_and_costs_nothing(alice, upstream):
    await alice.get("/models/", {"search": "anime"})
    assert await Task.objects.acount() == 0


async def test_filters_are_sent_to_runware_and_narrow_the_results(alice, upstream, model_searches):
    page = await search(alice, category="lora", architecture="sdxl", tags=" Anime, fantasy ,")

    sent = model_searches[-1]
    assert sent["category"] == "lora" and sent["architecture"] == "sdxl"
    assert sent["tags"] == ["anime", "fantasy"]
    total, models = expected(category="lora", architecture="sdxl", tags=("anime", "fantasy"))
    assert 0 < total < 15
    assert card_names(page) == [model.name for model in models]
    assert 'value="lora" selected' in page and 'value="sdxl" selected' in page  # the filters stay set


async def test_featured_means_runwares_official_models(alice, upstream, model_searches):
    page = await search(alice, search="flux", source="official")

    assert model_searches[-1]["source"] == "official"
    total, models = expected(search="flux", source="official")
    assert card_names(page) == [model.name for model in models]
    assert all(model.source == "official" for model in models)
    assert re.search(r'<input type="checkbox" name="source" value="official"[^>]* checked>', page)


async def test_only_our_teams_models_asks_for_the_accounts_own_models(alice, upstream, model_searches):
    page = await search(alice, visibility="owned")

    assert model_searches[-1]["visibility"] == "owned"
    total, models = expected(visibility="owned")
    assert total == len(card_names(page)) == 4
    assert page.count("Our team's</span>") == 4
    assert "visibility: owned" in page  # the help text says how the filter maps to the API


async def test_a_type_without_a_category_searches_checkpoints(alice, upstream, model_searches):
    page = await search(alice, type="inpainting")

    assert model_searches[-1]["category"] == "checkpoint" and model_searches[-1]["type"] == "inpainting"
    total, _ = expected(category="checkpoint", type="inpainting")
    assert f"<strong>{total}</strong> models found" in page


async def test_a_type_with_another_category_is_refused_next_to_the_field(alice, upstream, model_searches):
    page = await search(alice, search="harbor <b>", category="lora", type="refiner")

    assert model_searches == []  # nothing sent upstream
    assert re.search(r'id="id_type_error">Type applies to checkpoints only', page)
    assert 'value="harbor &lt;b&gt;"' in page  # what was typed is kept, and escaped
    assert "Some filters need a change" in page


async def test_pages_follow_each_other_and_keep_the_query(alice, upstream, model_searches):
    total, _ = expected(search="flux")
    first = await search(alice, search="flux", category="")
    assert f"showing 1–{PAGE_SIZE}" in first and "Page 1 of 4" in first
    assert links(first, "← Previous page") == []
    [next_url] = links(first, "Next page →")
    assert parse_qs(urlsplit(next_url).query) == {"search": ["flux"], "page": ["2"]}

    second = (await alice.get("/models/" + next_url)).content.decode()
    assert model_searches[-1]["offset"] == PAGE_SIZE and model_searches[-1]["limit"] == PAGE_SIZE
    assert card_names(second) == [m.name for m in sim.search(sim.SearchQuery(search="flux", limit=PAGE_SIZE,
                                                                              offset=PAGE_SIZE))[1]]
    assert f"showing {PAGE_SIZE + 1}–{2 * PAGE_SIZE}" in second
    [previous_url] = links(second, "← Previous page")
    assert parse_qs(urlsplit(previous_url).query) == {"search": ["flux"]}

    last = await search(alice, search="flux", page=4)
    assert f"showing {3 * PAGE_SIZE + 1}–{total}" in last and links(last, "Next page →") == []


async def test_a_page_past_the_end_offers_the_first_page(alice, upstream):
    page = await search(alice, search="flux", page=9)
    assert "This page is past the end" in page and 'href="?search=flux"' in page


async def test_a_page_that_is_not_a_number_is_explained(alice, upstream, model_searches):
    page = await search(alice, search="flux", page="two")
    assert "There is no such page of results." in page and model_searches == []


async def test_a_repeated_search_is_answered_from_the_cache(alice, upstream, model_searches):
    await alice.get("/models/", {"search": "flux", "category": "checkpoint"})
    await alice.get("/models/", {"category": "checkpoint", "search": "  FLUX "}, headers=HTMX)  # same search
    assert len(model_searches) == 1

    await alice.get("/models/", {"search": "flux", "category": "checkpoint", "page": 2})
    await alice.get("/models/", {"search": "flux", "category": "lora"})
    assert len(model_searches) == 3  # another page or another filter is another question


async def test_the_cache_time_is_a_setting(alice, upstream, model_searches, settings):
    settings.MODEL_SEARCH_CACHE_SECONDS = 0
    await alice.get("/models/", {"search": "flux"})
    await alice.get("/models/", {"search": "flux"})
    assert len(model_searches) == 2


async def test_htmx_gets_only_the_results_and_the_field_messages(alice, upstream):
    response = await alice.get("/models/", {"search": "flux"}, headers=HTMX)
    page = response.content.decode()
    assert "<html" not in page and page.lstrip().startswith('<section id="model-results"')
    assert 'id="id_search_error" hx-swap-oob="true"' in page  # clears a message from an earlier search
    assert "HX-Request" in response["Vary"]  # a pushed URL never shows the fragment as a page

    restore = await search(alice, {**HTMX, "HX-History-Restore-Request": "true"}, search="flux")
    assert "<html" in restore


async def test_when_runware_cannot_be_reached_the_results_say_so_and_nothing_is_lost(
    alice, upstream, settings
):
    settings.RUNWARE_WS_URL = "ws://127.0.0.1:9/v1"  # nothing listens there
    page = await search(alice, search="lantern", category="lora")

    assert 'role="alert"' in page and "The search did not work." in page
    assert "Runware cannot be reached right now" in page
    assert ">Try again</button>" in page
    assert 'value="lantern"' in page and 'value="lora" selected' in page
    params = {"search": "lantern", "category": "lora", "limit": PAGE_SIZE, "offset": 0}
    assert cache.get(cache_key(params)) is None  # a failure is not remembered


async def test_a_setting_runware_refuses_is_explained_next_to_its_field(alice, upstream, monkeypatch):
    from runware import Runware, create_runware_error

    async def refuse(self, params, options=None):
        raise create_runware_error("invalidArchitecture", "Unknown architecture 'sdxl'.",
                                   parameter="architecture")

    monkeypatch.setattr(Runware, "model_search", refuse)
    page = (await alice.get("/models/", {"architecture": "sdxl"}, headers=HTMX)).content.decode()

    message = r'id="id_architecture_error" hx-swap-oob="true">Runware refused the value of “architecture”'
    assert re.search(message, page)
    assert "Unknown architecture &#x27;sdxl&#x27;." in page  # Runware's own words, escaped


async def test_text_from_runware_is_escaped_and_only_web_images_are_shown(alice, upstream, monkeypatch):
    from runware import Runware

    async def answer(self, params, options=None):
        return [{"taskType": "modelSearch", "totalResults": 1, "results": [{
            "air": "civitai:1@2", "name": "<script>alert(1)</script>", "category": "checkpoint",
            "heroImage": "javascript:alert(2)", "positiveTriggerWords": "<b>go</b>", "tags": ["nsfw"],
        }]}]

    monkeypatch.setattr(Runware, "model_search", answer)
    page = await search(alice)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:alert(2)" not in page
    assert "&lt;b&gt;go&lt;/b&gt;" in page
    assert 'badge-error model-nsfw' in page  # the NSFW marker


async def test_use_in_studio_opens_the_studio_with_the_checkpoint_and_its_defaults(alice, upstream):
    _, models = expected(search="schnell", category="checkpoint")
    model = models[0]
    page = await search(alice, search="schnell", category="checkpoint")

    url = links(page, "Use in studio")[0]
    assert urlsplit(url).path == "/studio/"
    assert parse_qs(urlsplit(url).query) == {
        "model": [model.air], "width": [str(model.defaults.width)], "height": [str(model.defaults.height)],
        "steps": [str(model.defaults.steps)], "CFGScale": ["1"], "scheduler": [model.defaults.scheduler],
    }
    assert links(page, "Add as LoRA") == [] and links(page, "Use for ControlNet") == []


async def test_add_as_lora_adds_it_with_its_weight_and_shows_its_trigger_words(alice, upstream):
    _, models = expected(category="lora", architecture="flux1d")
    page = await search(alice, category="lora", architecture="flux1d")

    urls = links(page, "Add as LoRA")
    assert len(urls) == len(models) and links(page, "Use in studio") == []
    assert parse_qs(urlsplit(urls[0]).query) == {"lora_model": [models[0].air], "lora_weight": ["1"]}
    words = models[0].positive_trigger_words
    assert f"<code>{words}</code>" in page and f'data-copy="{words}">Copy trigger words' in page


async def test_use_for_controlnet_adds_a_controlnet_row(alice, upstream):
    _, models = expected(category="controlnet", architecture="sdxl")
    page = await search(alice, category="controlnet", architecture="sdxl")

    urls = links(page, "Use for ControlNet")
    assert [parse_qs(urlsplit(url).query) for url in urls] == [{"controlnet_model": [m.air]} for m in models]
    assert f"<dt>Conditioning</dt><dd>{models[0].conditioning}</dd>" in page


async def test_an_empty_result_says_what_to_try(alice, upstream):
    page = await search(alice, search="zzzz-no-such-model")
    assert "No model matches this search" in page and "Clear all filters" in page


async def test_every_filter_has_a_visible_label(alice, upstream):
    page = await search(alice)
    for field, label in [("search", "Search"), ("category", "Category"), ("architecture", "Architecture"),
                         ("type", "Type"), ("tags", "Tags"), ("sort", "Sort by")]:
        assert f'<label for="id_{field}">{label}</label>' in page
    assert re.search(r'<label class="checkbox" for="id_source"><input[^>]*> Featured only</label>', page)
    label = r'<label class="checkbox" for="id_visibility"><input[^>]*> Only our team&#x27;s models</label>'
    assert re.search(label, page)


def test_the_search_needs_a_login(client):
    urls = ["/models/?search=flux", "/models/picker/?model=flux",
            "/models/picker/choose/?model=runware:101@1", "/models/picker/chosen/?model=runware:101@1"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
