"""The studio keeps a member's draft (issue 16): across other pages and reloads, with links from the
Models page changing only what they name; "Use for ControlNet" adds its row; Ctrl+Enter generates."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runware_web.simulator import catalog as sim
from runware_web.upstream.models import Task
from tests.browser import log_in
from tests.conftest import make_user
from tests.studio.helpers import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1440, "height": 1000}
DRAFT_PROMPT = "a harbour at dawn, fishing boats, watercolour"


def first_model(category: str, **query) -> sim.ModelInfo:
    _, models = sim.search(sim.SearchQuery(category=category, limit=1, **({"architecture": "sdxl"} | query)))
    return models[0]


MODEL = first_model("checkpoint", search="illustrious", architecture=None)


def choose_model(page, model: sim.ModelInfo) -> None:
    """Pick a checkpoint in the studio's model picker, as a member does: search, then click it."""
    page.get_by_label("Model", exact=True).fill(model.name)
    page.locator("#model-picker-options").get_by_role("button", name=model.name).first.click()
    expect(page.locator("#model-picker-chosen")).to_contain_text(model.name)


def write_a_draft(page) -> None:
    """A prompt, a model typed as an AIR, a size, steps and a LoRA row: what a member sets up."""
    page.goto("/studio/")
    page.get_by_label("Prompt", exact=True).fill(DRAFT_PROMPT)
    choose_model(page, MODEL)
    page.get_by_label("Width").fill("512")
    page.get_by_label("Height").fill("768")
    page.get_by_text("Advanced").click()
    page.get_by_label("Steps").fill("12")
    page.locator("#lora-fold > summary").click()
    page.get_by_role("button", name="Add LoRA").click()
    page.get_by_label("LoRA model").fill(first_model("lora").air)
    page.get_by_label("LoRA weight").fill("0.6")


def expect_the_draft(page) -> None:
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(DRAFT_PROMPT)
    expect(page.get_by_label("Model", exact=True)).to_have_value(MODEL.air)
    expect(page.get_by_label("Width")).to_have_value("512")
    expect(page.get_by_label("Height")).to_have_value("768")
    expect(page.get_by_label("Steps")).to_have_value("12")
    expect(page.locator('[name="lora_model"]').first).to_have_value(first_model("lora").air)
    expect(page.locator('[name="lora_weight"]').first).to_have_value("0.6")


def test_the_draft_survives_a_reload_and_another_page(new_page, tmp_path):
    make_user("alice")
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    write_a_draft(page)
    seed_file = tmp_path / "seed.png"
    seed_file.write_bytes(png_bytes(256, 256))
    page.get_by_text("Image to image, inpainting, outpainting").click()
    page.get_by_label("Seed image").set_input_files(seed_file)
    expect(page.get_by_role("img", name="Seed image preview")).to_be_visible()

    page.reload()
    expect_the_draft(page)
    expect(page.locator("#model-picker-chosen")).to_contain_text(MODEL.name)
    expect(page.get_by_role("img", name="Seed image preview")).to_be_visible()

    page.get_by_role("link", name="Gallery").first.click()
    expect(page).to_have_url(re.compile(r"/gallery/"))
    page.go_back()
    expect_the_draft(page)
    page.goto("/studio/")
    expect_the_draft(page)
    expect(page.locator("#estimate")).to_contain_text("for 1 image")


def test_a_link_from_models_changes_only_what_it_names(new_page):
    make_user("alice")
    lora = first_model("lora")
    other_lora = sim.search(sim.SearchQuery(category="lora", architecture="sdxl", limit=2))[1][1]
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    write_a_draft(page)

    # "Add as LoRA" on the Models page: a second LoRA row, the prompt, model and settings kept.
    page.goto("/models/?category=lora&architecture=sdxl")
    page.locator("article.model-card").filter(has_text=other_lora.air).get_by_role(
        "link", name="Add as LoRA"
    ).click()
    expect(page).to_have_url(re.compile(r"/studio/\?lora_model="))
    expect_the_draft(page)
    expect(page.locator('[name="lora_model"]')).to_have_count(2)
    expect(page.locator('[name="lora_model"]').nth(1)).to_have_value(other_lora.air)

    # The same link again changes that row, adding no third one.
    page.go_back()
    page.locator("article.model-card").filter(has_text=lora.air).get_by_role(
        "link", name="Add as LoRA"
    ).click()
    expect(page.locator('[name="lora_model"]')).to_have_count(2)
    expect(page.locator('[name="lora_weight"]').first).to_have_value("1")

    # "Use in studio": the model and its defaults change, the prompt and the LoRAs stay.
    page.goto("/models/?search=schnell&category=checkpoint")
    card = page.locator("article.model-card").filter(has=page.get_by_role("link", name="Use in studio")).first
    air = card.locator(".model-air code").inner_text()
    card.get_by_role("link", name="Use in studio").click()
    expect(page).to_have_url(re.compile(r"/studio/\?model="))
    expect(page.get_by_label("Model", exact=True)).to_have_value(air)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(DRAFT_PROMPT)
    expect(page.locator('[name="lora_model"]')).to_have_count(2)

    # A reload of that address keeps what the member changed since, rather than following the link again.
    choose_model(page, MODEL)
    page.reload()
    expect(page.get_by_label("Model", exact=True)).to_have_value(MODEL.air)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(DRAFT_PROMPT)
    page.screenshot(path="/tmp/studioform-draft-desktop.png", full_page=True)


def test_each_member_has_their_own_draft(new_context):
    make_user("alice")
    make_user("bob")
    context = new_context(viewport=DESKTOP)  # one browser, two people in turn
    page = context.new_page()
    log_in(page, "alice")
    write_a_draft(page)
    page.goto("/studio/")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(DRAFT_PROMPT)
    context.clear_cookies()

    log_in(page, "bob")
    page.goto("/studio/")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("")
    expect(page.locator('[name="lora_model"]')).to_have_count(0)


def test_use_for_controlnet_opens_the_studio_with_its_row(new_page):
    make_user("alice")
    controlnet = first_model("controlnet")
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/models/?category=controlnet&architecture=sdxl")

    page.locator("article.model-card").filter(has_text=controlnet.air).get_by_role(
        "link", name="Use for ControlNet"
    ).click()

    expect(page).to_have_url(re.compile(r"/studio/\?controlnet_model="))
    row = page.locator("#controlnet-rows [data-row]")
    expect(row).to_have_count(1)
    expect(row.get_by_label("ControlNet model")).to_have_value(controlnet.air)
    expect(row.get_by_label("Guide image")).to_be_visible()  # the row asks for its guide image
    expect(page.locator('[data-row-count="controlnet"]')).to_have_text("1")


def test_ctrl_enter_in_the_prompt_generates(new_page):
    alice = make_user("alice")
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/studio/")
    page.get_by_label("Width").fill("256")
    page.get_by_label("Height").fill("256")
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill("a lighthouse at dusk")

    prompt.press("Control+Enter")

    results = page.get_by_role("region", name="Results")
    expect(results.get_by_role("img", name="a lighthouse at dusk")).to_be_visible()
    expect(prompt).to_have_value("a lighthouse at dusk")  # the prompt is kept, not replaced by a newline
    assert Task.objects.filter(user=alice).count() == 1

    page.get_by_label("Negative prompt").fill("blurry")
    page.get_by_label("Negative prompt").press("Meta+Enter")
    expect(results.get_by_role("article")).to_have_count(2)
