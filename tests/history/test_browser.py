"""History shows what each task was about: its prompt and a thumbnail of what it made (issue 16)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import log_in
from tests.conftest import make_user
from tests.studio.test_browser_finish import DESKTOP, PHONE, a_done_generation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_history_lists_each_task_with_its_prompt_and_a_thumbnail(new_page):
    alice = make_user("alice")
    a_done_generation(alice, "a fox in the snow", ago=1)
    a_done_generation(alice, "y" * 3000, ago=2)
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/history/")

    table = page.get_by_role("table")
    expect(table.get_by_role("columnheader", name="Prompt")).to_be_visible()
    row = table.get_by_role("row").filter(has_text="a fox in the snow")
    expect(row.get_by_role("img", name="a fox in the snow")).to_be_visible()
    thumbnail = row.get_by_role("img")
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    box = thumbnail.bounding_box()
    assert box["width"] >= 48 and abs(box["width"] - box["height"]) < 2, f"a square thumbnail, not squeezed: {box}"
    page.screenshot(path="/tmp/finish2-history-desktop.png", full_page=True)

    page.set_viewport_size(PHONE)
    long_row = table.get_by_role("row").filter(has_text="yyyy")
    assert long_row.bounding_box()["height"] < 200, "a long prompt is clamped in its cell"
    page.screenshot(path="/tmp/finish2-history-phone.png", full_page=True)
