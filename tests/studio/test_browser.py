"""A member uses the studio in a real browser: images arrive one by one, inputs upload in place."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runware_web.media.models import Image
from runware_web.upstream.models import Task
from tests.browser import log_in
from tests.conftest import make_user
from tests.studio.helpers import PROMPT, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records the number of result images each time the results area changes.
WATCH_IMAGES = """() => {
  window.imageCounts = [];
  const results = document.querySelector('section[aria-label="Results"]');
  new MutationObserver(() => {
    const count = results.querySelectorAll('img').length;
    const seen = window.imageCounts;
    if (seen[seen.length - 1] !== count) seen.push(count);
  }).observe(results, {subtree: true, childList: true});
}"""


def open_studio(page) -> None:
    page.goto("/studio/")
    expect(page.get_by_text("No images yet")).to_be_visible()


def fill_basics(page, prompt: str = PROMPT, images: int = 1) -> None:
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Width").fill("256")
    page.get_by_label("Height").fill("256")
    page.get_by_label("Number of images").fill(str(images))


def generate(page) -> None:
    page.get_by_role("button", name="Generate", exact=True).click()


def test_three_images_arrive_one_by_one_and_are_still_there_after_a_reload(page, simulator):
    make_user("alice")
    simulator.set_latency(0.3)
    log_in(page, "alice")
    open_studio(page)
    fill_basics(page, images=3)
    expect(page.locator("#estimate")).to_contain_text("for 3 images")
    page.evaluate(WATCH_IMAGES)
    generate(page)

    results = page.get_by_role("region", name="Results")
    expect(results.get_by_role("status")).to_have_count(3)  # a placeholder per image, at once
    expect(page.get_by_text("No images yet")).to_have_count(0)
    images = results.get_by_role("img", name=PROMPT)
    expect(images).to_have_count(3)
    expect(results.get_by_text(re.compile(r"3 images · \d+\.\d s · \$0\.\d+"))).to_be_visible()
    expect(results.get_by_role("status")).to_have_count(0)
    arrivals = [count for count in page.evaluate("window.imageCounts") if count]
    assert arrivals == [1, 2, 3], f"each image should replace its placeholder on its own: {arrivals}"

    page.reload()
    expect(results.get_by_role("img", name=PROMPT)).to_have_count(3)
    expect(results.get_by_text(re.compile(r"3 images · \d+\.\d s · \$0\.\d+"))).to_be_visible()


def test_image_to_image_from_an_uploaded_image(page, tmp_path):
    alice = make_user("alice")
    seed_file = tmp_path / "harbour.png"
    seed_file.write_bytes(png_bytes(256, 256, (200, 90, 40)))
    log_in(page, "alice")
    open_studio(page)
    page.get_by_text("Image to image, inpainting, outpainting").click()
    page.get_by_label("Seed image").set_input_files(seed_file)
    expect(page.get_by_role("img", name="Seed image preview")).to_be_visible()
    page.get_by_label("Strength").fill("0.55")
    fill_basics(page, prompt="the harbour at night")
    generate(page)

    expect(page.get_by_role("region", name="Results").get_by_role("img", name="the harbour at night")).to_be_visible()
    expect(page.get_by_text(re.compile(r"1 image · \d+\.\d s · \$0\.\d+"))).to_be_visible()
    uploaded = Image.objects.get(user=alice, kind=Image.Kind.UPLOADED)
    task = Task.objects.get(user=alice)
    assert task.params["seedImage"] == f"portal-image:{uploaded.pk}" and task.params["strength"] == 0.55
    assert Image.objects.get(task=task).source == uploaded


def test_a_lora_row_is_added_in_place_and_sent(page):
    alice = make_user("alice")
    log_in(page, "alice")
    open_studio(page)
    fill_basics(page, prompt="a fox in the snow")
    page.locator("#lora-fold > summary").click()
    page.get_by_role("button", name="Add LoRA").click()
    page.get_by_role("button", name="Add LoRA").click()
    page.get_by_role("button", name="Remove LoRA").first.click()  # rows are removed in place too
    lora = page.get_by_label("LoRA model")
    expect(lora).to_have_count(1)
    expect(lora).to_have_attribute("id", "id_lora_model_0")
    lora.fill("civitai:bad")
    generate(page)
    expect(page.locator("#errors-lora_model-0")).to_contain_text("Enter a model AIR")  # refused beside it

    air = _a_lora_the_simulator_knows()
    lora.fill(air)
    page.get_by_label("LoRA weight").fill("0.7")
    expect(page.locator("#estimate")).to_contain_text("≈ $")
    generate(page)
    expect(page.get_by_role("region", name="Results").get_by_role("img", name="a fox in the snow")).to_be_visible()
    expect(page.locator("#errors-lora_model-0")).to_be_empty()
    task = Task.objects.get(user=alice)
    assert task.params["lora"] == [{"model": air, "weight": 0.7}]


def _a_lora_the_simulator_knows() -> str:
    from runware_web.simulator.catalog import all_models

    return next(model.air for model in all_models() if model.category == "lora" and not model.private
                and model.architecture == "flux1d")
