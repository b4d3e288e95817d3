"""The finish a daily user expects in the studio (issue 16): a refusal is seen, long prompts keep the
layout, a card says what a generation used, and older generations are reachable."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.upstream.models import Task
from tests.browser import log_in
from tests.conftest import make_user
from tests.studio.helpers import PROMPT, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 390, "height": 844}


def a_done_generation(user, prompt: str = PROMPT, *, ago: int = 0, image: bool = True, **params) -> Task:
    """A finished studio generation of `user`, made `ago` minutes ago, with one stored image."""
    task = Task.objects.create(
        user=user, feature="studio", task_type="imageInference", model="runware:101@1",
        params={"positivePrompt": prompt, "model": "runware:101@1", "width": 256, "height": 256, **params},
        status=Task.Status.DONE, number_results=1, results_received=1 if image else 0, cost=Decimal("0.0013"),
        created_at=timezone.now() - timedelta(minutes=ago), finished_at=timezone.now(),
    )
    if image:
        save_image(user=user, data=png_bytes(256, 256), kind=Image.Kind.GENERATED, task=task, prompt=prompt,
                   model=task.model, cost=Decimal("0.0013"))
    return task


def open_studio(page) -> None:
    """The studio, once its socket has sent the results list (which replaces the page's) and its images
    have loaded: measuring or paging before that would race the swap."""
    page.add_init_script(
        "document.addEventListener('htmx:wsAfterMessage', () => { window.studioSynced = true; });")
    page.goto("/studio/")
    page.wait_for_function("() => window.studioSynced === true")
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete)")


def test_a_budget_refusal_is_shown_by_the_generate_button_and_focused(new_page):
    make_user("alice", monthly_budget=Decimal("0"))
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/studio/")
    page.get_by_label("Prompt", exact=True).fill(PROMPT)

    page.get_by_role("button", name="Generate", exact=True).click()

    refusal = page.locator("#generate-feedback").get_by_role("alert")
    expect(refusal).to_contain_text("budget")
    expect(refusal).to_be_in_viewport()
    expect(refusal).to_be_focused()
    button = page.get_by_role("button", name="Generate", exact=True).bounding_box()
    box = refusal.bounding_box()
    assert abs(box["y"] - button["y"]) < 200, f"the refusal is drawn far from the button: {box} vs {button}"
    page.screenshot(path="/tmp/finish2-refusal-desktop.png")


def test_long_prompts_stay_inside_their_card_on_a_phone(new_page):
    alice = make_user("alice")
    long_prompt = ("a lighthouse on a cliff at dusk with waves and gulls, " * 60)[:3000]
    unbroken = "x" * 600
    a_done_generation(alice, long_prompt, ago=2)
    a_done_generation(alice, unbroken, ago=1)
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    open_studio(page)

    cards = page.get_by_role("region", name="Results").get_by_role("article")
    expect(cards).to_have_count(2)
    for index in range(2):
        card = cards.nth(index)
        outer = card.bounding_box()
        for part in card.locator(".generation-prompt, .generation-head, .tile, .generation-meta").all():
            box = part.bounding_box()
            assert box["x"] >= outer["x"] - 1 and box["x"] + box["width"] <= outer["x"] + outer["width"] + 1, \
                f"a part of card {index} overflows it: {box} in {outer}"
        assert outer["x"] + outer["width"] <= PHONE["width"] + 1
        prompt = card.locator(".generation-prompt")
        assert prompt.bounding_box()["height"] < 140, "a long prompt is clamped to a few lines"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # the whole prompt stays available
    expect(cards.last.locator(".generation-prompt")).to_have_attribute("title", long_prompt)
    expect(cards.last.get_by_text("Full prompt (3000 characters)")).to_be_visible()
    page.screenshot(path="/tmp/finish2-long-prompts-phone.png", full_page=True)


def test_a_prompt_pasted_over_the_limit_is_kept_and_the_field_says_so(new_page):
    make_user("alice")
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    page.goto("/studio/")
    prompt = page.get_by_label("Prompt", exact=True)

    prompt.fill("a" * 3500)

    assert len(prompt.input_value()) == 3500, "what was pasted is kept, not cut silently"
    expect(page.locator("#prompt-limit")).to_contain_text("3,500 characters")
    expect(page.locator("#prompt-limit")).to_contain_text("3,000")
    page.locator("#prompt-limit").screenshot(path="/tmp/finish2-limit-phone.png")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator("#errors-positivePrompt")).to_contain_text("3000")
    expect(page.get_by_role("region", name="Results").get_by_role("article")).to_have_count(0)
    prompt.fill("a short prompt")
    expect(page.locator("#prompt-limit")).to_be_hidden()


def test_a_card_says_inpainting_outpainting_controlnet_and_refiner(new_page):
    alice = make_user("alice")
    a_done_generation(alice, "plain image to image", ago=5, seedImage="portal-image:x", strength=0.6)
    a_done_generation(alice, "inpainted", ago=4, seedImage="portal-image:x", maskImage="portal-image:y")
    a_done_generation(alice, "outpainted", ago=3, seedImage="portal-image:x",
                      outpaint={"left": 256, "right": 256})
    a_done_generation(alice, "guided", ago=2, controlNet=[{"model": "runware:25@1", "guideImage": "portal-image:z"}],
                      refiner={"model": "civitai:101055@128080", "startStep": 20})
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    open_studio(page)

    results = page.get_by_role("region", name="Results")

    def meta(prompt: str):
        return results.get_by_role("article", name=f"Generation: {prompt}").locator(".generation-meta")

    expect(meta("plain image to image")).to_contain_text("image to image")
    expect(meta("inpainted")).to_contain_text("inpainting")
    expect(meta("inpainted")).not_to_contain_text("seed image")
    expect(meta("outpainted")).to_contain_text("outpainting")
    expect(meta("outpainted")).not_to_contain_text("seed image")
    expect(meta("guided")).to_contain_text("ControlNet runware:25@1")
    expect(meta("guided")).to_contain_text("refiner civitai:101055@128080")
    page.screenshot(path="/tmp/finish2-uses-desktop.png")


def test_older_generations_are_shown_on_request(new_page):
    alice = make_user("alice")
    for minutes in range(14):
        a_done_generation(alice, f"generation number {minutes}", ago=minutes, image=False)
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    open_studio(page)
    cards = page.get_by_role("region", name="Results").get_by_role("article")
    expect(cards).to_have_count(12)

    page.get_by_role("link", name="Show older generations").click()

    expect(cards).to_have_count(14)
    expect(cards.last).to_have_accessible_name("Generation: generation number 13")
    expect(page.get_by_role("link", name="Show older generations")).to_have_count(0)
    expect(page.get_by_role("link", name="All your tasks in History")).to_be_visible()
    page.screenshot(path="/tmp/finish2-older-desktop.png", full_page=True)
