"""A member finds models in Chromium, pages through them and takes one to the studio."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runware_web.simulator import catalog as sim
from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_search_page_on_and_use_a_checkpoint_in_the_studio(page):
    total, _ = sim.search(sim.SearchQuery(search="flux"))
    make_user("alice")
    log_in(page, "alice")
    page.goto("/models/")

    page.get_by_label("Search", exact=True).fill("flux")
    summary = page.locator(".results-summary")
    expect(summary).to_contain_text(f"{total} models found")
    expect(page).to_have_url(re.compile(r"/models/\?search=flux$"))  # the query is in the URL, tidy

    page.get_by_role("link", name="Next page").click()
    expect(summary).to_contain_text("showing 25–48")
    expect(page).to_have_url(re.compile(r"/models/\?search=flux&page=2$"))
    expect(page.get_by_label("Search", exact=True)).to_have_value("flux")

    card = page.locator("article.model-card").filter(has=page.get_by_role("link", name="Use in studio")).first
    name = card.locator(".model-name").inner_text()
    air = card.locator(".model-air code").inner_text()
    card.get_by_role("link", name="Use in studio").click()

    expect(page).to_have_url(re.compile(r"/studio/\?model="))
    expect(page.get_by_label("Model", exact=True)).to_have_value(air)
    expect(page.locator("#model-picker-chosen")).to_contain_text(name)


def test_filters_narrow_the_results_and_add_a_lora_to_the_studio(page):
    total, models = sim.search(sim.SearchQuery(category="lora", architecture="flux1d"))
    make_user("alice")
    log_in(page, "alice")
    page.goto("/models/")

    page.get_by_label("Category").select_option("lora")
    page.get_by_label("Architecture").select_option("flux1d")
    expect(page.locator(".results-summary")).to_contain_text(f"{total} models found")
    expect(page).to_have_url(re.compile(r"category=lora&architecture=flux1d"))
    card = page.locator("article.model-card").first
    expect(card.locator(".model-name")).to_have_text(models[0].name)
    expect(card.locator(".trigger-words code")).to_have_text(models[0].positive_trigger_words)

    card.get_by_role("link", name="Add as LoRA").click()
    expect(page).to_have_url(re.compile(r"/studio/\?lora_model="))
    expect(page.locator(f'[name="lora_model"][value="{models[0].air}"]')).to_be_visible()


def test_a_refused_filter_is_explained_next_to_it_and_the_typed_words_stay(page):
    make_user("alice")
    log_in(page, "alice")
    page.goto("/models/")

    page.get_by_label("Search", exact=True).fill("harbor")
    expect(page.locator(".results-summary")).to_contain_text("models found")
    page.get_by_label("Category").select_option("lora")
    page.get_by_label("Type").select_option("refiner")
    expect(page.locator("#id_type_error")).to_have_text(re.compile("Type applies to checkpoints only"))
    expect(page.get_by_role("alert")).to_contain_text("Some filters need a change")
    expect(page.get_by_label("Search", exact=True)).to_have_value("harbor")

    page.get_by_label("Type").select_option("")
    expect(page.locator("#id_type_error")).to_have_text("")
    expect(page.locator(".results-summary")).to_contain_text("models found")


def studio_picker(page, words: str):
    """Alice on the studio page: its Model field, and the checkpoints the simulator lists for `words`."""
    _, models = sim.search(sim.SearchQuery(search=words, category="checkpoint"))
    make_user("alice")
    log_in(page, "alice")
    page.goto("/studio/")
    return page.get_by_label("Model", exact=True), models


def test_the_studio_picker_searches_as_one_types_and_shows_the_chosen_name(page):
    model, models = studio_picker(page, "schnell")
    model.fill("schnell")
    option = page.locator("#model-picker-options").get_by_role("button", name=models[0].name)
    expect(option).to_be_visible()
    expect(page.locator("#model-picker-chosen")).to_contain_text("No model chosen yet")
    option.click()

    expect(page.get_by_label("Model", exact=True)).to_have_value(models[0].air)
    expect(page.locator("#model-picker-chosen")).to_contain_text(models[0].name)
    expect(page.locator("#model-picker-options")).to_be_empty()


def test_enter_typed_before_the_list_arrives_picks_the_first_match_of_what_was_typed(page):
    """A quick typist: Enter comes before the search has even started (it waits for a pause in
    typing). The pick waits for the list of what was typed, not an earlier one."""
    model, models = studio_picker(page, "illustrious")
    model.fill("flux")
    expect(page.locator(".picker-option").first).to_be_visible()  # a list for other words is open
    model.fill("illustrious")
    model.press("Enter")

    expect(page.locator("#model-picker-chosen")).to_contain_text(models[0].name)
    expect(page.get_by_label("Model", exact=True)).to_have_value(models[0].air)


def test_enter_in_the_picker_picks_the_first_match_instead_of_generating(page):
    model, models = studio_picker(page, "illustrious")
    model.fill("illustrious")
    expect(page.locator("#model-picker-options").get_by_role("button", name=models[0].name)).to_be_visible()
    model.press("Enter")

    expect(page.locator("#model-picker-chosen")).to_contain_text(models[0].name)
    expect(page.get_by_label("Model", exact=True)).to_have_value(models[0].air)

    expect(page.get_by_label("Model", exact=True)).to_be_focused()  # keyboard users stay in the field
    page.keyboard.press("ArrowDown")  # opens the list again
    expect(page.locator(".picker-option").first).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(page.locator(".picker-option").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#model-picker-options")).to_be_empty()
    expect(page.get_by_label("Model", exact=True)).to_be_focused()
