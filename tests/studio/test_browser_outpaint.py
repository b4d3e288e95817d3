"""Outpainting extends the seed image (issue 16), and a model outside the team's rules is refused by
the model field (issue 18): in Chromium, through the real form and the simulator."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from PIL import Image as PILImage
from PIL import ImageStat
from playwright.sync_api import expect

from runware_web.accounts.models import Role, Team
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.browser import log_in
from tests.conftest import make_user
from tests.studio.helpers import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 390, "height": 844}
RED = (220, 30, 30)


def add_a_seed_image(page, tmp_path, width: int, height: int) -> None:
    seed_file = tmp_path / "seed.png"
    seed_file.write_bytes(png_bytes(width, height, RED))
    page.get_by_text("Image to image, inpainting, outpainting").click()
    page.get_by_label("Seed image").set_input_files(seed_file)
    expect(page.get_by_role("img", name="Seed image preview")).to_be_visible()


def test_outpainting_gives_the_seed_image_plus_the_extension(new_page, tmp_path):
    alice = make_user("alice")
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/studio/")
    page.get_by_label("Prompt", exact=True).fill("the coast beyond the frame")
    expect(page.get_by_label("Width")).to_have_value("1024")  # the aspect preset's size
    add_a_seed_image(page, tmp_path, 768, 768)

    page.get_by_label("Extend left").fill("256")
    page.get_by_label("Extend right").fill("256")

    size = page.locator("#outpaint-size")
    expect(size).to_have_text("The result will be 1280×768: the seed image (768×768) plus the extension.")
    expect(page.get_by_label("Width")).to_have_value("1280")
    expect(page.get_by_label("Height")).to_have_value("768")
    expect(page.get_by_label("Width")).not_to_be_editable()
    expect(page.get_by_label("Aspect ratio")).to_be_disabled()
    expect(page.locator("#size-outpaint-note")).to_be_visible()
    page.locator(".studio-form").screenshot(path="/tmp/studioform-outpaint-desktop.png")

    page.get_by_role("button", name="Generate", exact=True).click()
    expect(
        page.get_by_role("region", name="Results").get_by_role("img", name="the coast beyond the frame")
    ).to_be_visible()
    task = Task.objects.get(user=alice)
    assert (task.params["width"], task.params["height"]) == (1280, 768)
    assert task.params["outpaint"] == {"left": 256, "right": 256}
    result = Image.objects.get(task=task)
    assert (result.width, result.height) == (1280, 768)
    with result.file.open("rb") as stored:
        pixels = PILImage.open(io.BytesIO(stored.read())).convert("RGB")
    assert pixels.size == (1280, 768)
    middle = ImageStat.Stat(pixels.crop((300, 200, 980, 560))).mean  # the seed, whole and unstretched
    assert all(abs(got - want) < 12 for got, want in zip(middle, RED, strict=True)), middle
    left_edge_of_seed = ImageStat.Stat(pixels.crop((262, 200, 300, 560))).mean
    assert all(abs(got - want) < 40 for got, want in zip(left_edge_of_seed, RED, strict=True)), (
        left_edge_of_seed
    )

    # Back to plain image to image: the size fields are the member's again, as they were.
    page.get_by_label("Extend left").fill("0")
    page.get_by_label("Extend right").fill("0")
    expect(page.get_by_label("Width")).to_be_editable()
    expect(page.get_by_label("Width")).to_have_value("1024")
    expect(size).to_have_text("")


def test_an_extension_beyond_the_largest_size_is_refused_by_the_field(new_page, tmp_path):
    alice = make_user("alice")
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    page.goto("/studio/")
    page.get_by_label("Prompt", exact=True).fill("a very wide coast")
    add_a_seed_image(page, tmp_path, 1024, 512)

    page.get_by_label("Extend right").fill("1280")

    expect(page.locator("#outpaint-size")).to_contain_text("2304×512")
    expect(page.locator("#outpaint-size")).to_contain_text("over 2048 pixels")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator("#errors-outpaint_right")).to_contain_text(
        "The seed image is 1024×512, so this extension makes the result 2304×512: over 2048 pixels. "
        "Extend left and right by 1024 pixels at most in all."
    )
    expect(page.get_by_label("Extend right")).to_have_value("1280")  # what was typed is kept
    assert not Task.objects.filter(user=alice).exists()
    page.locator("#image-fold").screenshot(path="/tmp/studioform-outpaint-refused-phone.png")


def test_a_model_outside_the_teams_rules_is_refused_by_the_model_field(new_page):
    team = Team.objects.create(name="Pixels", allowed_models="civitai:4384@")
    make_user("tess", team=team, role=Role.TEAM_ADMIN)
    alice = make_user("alice", team=team)
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/studio/")
    page.get_by_label("Prompt", exact=True).fill("a lighthouse at dusk")
    expect(page.get_by_label("Model", exact=True)).to_have_value("runware:101@1")

    page.get_by_role("button", name="Generate", exact=True).click()

    by_the_model = page.locator("#id_model_error")
    expect(by_the_model).to_have_text(
        "Your team's rules allow only civitai:4384@, and runware:101@1 is not one of them. Pick one of those, "
        "or ask a team admin (tess) to change the rules."
    )
    feedback = page.locator("#generate-feedback").get_by_role("alert")
    expect(feedback).to_have_text("Nothing was sent: the Model field above says why.")
    expect(feedback).to_be_focused()
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a lighthouse at dusk")
    assert not Task.objects.filter(user=alice).exists()
    assert not Charge.objects.exists()
    page.screenshot(path="/tmp/studioform-rule-desktop.png")


def test_a_budget_refusal_is_still_shown_by_the_generate_button(new_page):
    make_user("alice", monthly_budget=Decimal("0"))
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    page.goto("/studio/")
    page.get_by_label("Prompt", exact=True).fill("a lighthouse at dusk")
    page.get_by_role("button", name="Generate", exact=True).click()
    refusal = page.locator("#generate-feedback").get_by_role("alert")
    expect(refusal).to_contain_text("budget")
    expect(refusal).to_be_in_viewport()
    expect(page.locator("#id_model_error")).to_be_empty()
