"""Script payloads typed by a member (or written by a model) render as text in a real browser.

Every test listens for JavaScript dialogs: an `alert(1)` that runs is a dialog, and fails the test.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from runware_web.media.models import Image
from tests.browser import log_in
from tests.conftest import make_user
from tests.hardening.helpers import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
SVG = '"><svg onload=alert(1)>'
PAYLOAD = f"{IMG} {SCRIPT} {SVG}"


@pytest.fixture
def dialogs(page):
    """Every dialog the page opens (each one a script that ran)."""
    opened: list[str] = []

    def record(dialog):
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return opened


@pytest.fixture
def alice_page(page):
    make_user("alice")
    log_in(page, "alice")
    return page


def test_a_prompt_with_script_renders_as_text_everywhere_it_is_shown(alice_page, dialogs):
    page = alice_page
    page.goto("/studio/")
    page.get_by_label("Prompt", exact=True).fill(f"a lighthouse {PAYLOAD}")
    page.get_by_label("Width").fill("256")
    page.get_by_label("Height").fill("256")
    page.get_by_role("button", name="Generate").click()

    card = page.locator("article.generation").first
    expect(card.locator(".generation-prompt")).to_have_text(f"a lighthouse {PAYLOAD}")
    expect(card.locator("img").first).to_be_visible()  # the result arrived and was rendered around it

    image = Image.objects.get(user__username="alice")
    for url in ["/gallery/", "/history/"]:  # the prompt is in attributes (alt, title) here
        page.goto(url)
        expect(page.locator("main")).to_be_visible()
    for url in [f"/gallery/{image.pk}/", "/studio/"]:
        page.goto(url)
        expect(page.get_by_text(IMG).first).to_be_visible()
    page.goto(f"/studio/?reuse={image.pk}")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(f"a lighthouse {PAYLOAD}")
    assert dialogs == []


def test_a_chat_message_and_a_reply_with_script_render_as_text(alice_page, dialogs, monkeypatch):
    from runware_web.simulator import text as simulated_text

    monkeypatch.setattr(simulated_text, "_answer", lambda *args, **kwargs: f"Sure: {PAYLOAD} and `{SCRIPT}`")
    page = alice_page
    page.goto("/chat/")
    page.get_by_role("button", name="New conversation").click()
    page.get_by_label("Message", exact=True).fill(f"what does {PAYLOAD} do?")
    page.get_by_role("button", name="Send").click()

    thread = page.locator(".message")
    expect(thread.filter(has_text=f"what does {IMG}")).to_have_count(1)
    expect(thread.filter(has_text="Sure:")).to_contain_text(SCRIPT)
    expect(page.get_by_role("button", name="Send")).to_be_enabled()  # the reply has ended
    page.reload()
    expect(page.locator(".message").filter(has_text=f"what does {IMG}")).to_have_count(1)
    expect(page.locator("script:not([src])").filter(has_text="alert(1)")).to_have_count(0)
    assert dialogs == []


def test_a_model_name_with_script_is_kept_as_text(alice_page, dialogs):
    page = alice_page
    page.goto("/studio/")
    model = page.get_by_label("Model", exact=True)
    model.fill(PAYLOAD)
    page.get_by_label("Prompt", exact=True).fill("a lighthouse")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("Enter a model AIR").first).to_be_visible()
    expect(model).to_have_value(PAYLOAD)

    page.goto("/models/")
    search = page.get_by_label("Search", exact=True)
    search.fill(PAYLOAD)
    search.press("Enter")
    expect(page.get_by_label("Search", exact=True)).to_have_value(PAYLOAD)
    page.goto("/models/?search=" + PAYLOAD.replace("#", ""))
    expect(page.get_by_label("Search", exact=True)).to_have_value(PAYLOAD)
    assert dialogs == []


@pytest.mark.parametrize("name", [f"{IMG}.png", f"{SVG}.png"])
def test_an_uploaded_file_name_with_script_renders_as_text(alice_page, dialogs, name):
    page = alice_page
    page.goto("/tools/")
    page.get_by_label("Image", exact=True).set_input_files({"name": name, "mimeType": "image/png", "buffer": png_bytes()})
    page.get_by_role("button", name="Upload").click()
    sent = name.replace('"', "%22")  # browsers escape quotes in a multipart file name (HTML spec)
    expect(page.get_by_text(sent)).to_be_visible()
    image = Image.objects.get(user__username="alice")
    assert image.original_name == sent
    page.goto(f"/gallery/{image.pk}/")
    expect(page.get_by_role("heading").first).to_be_visible()
    assert dialogs == []
